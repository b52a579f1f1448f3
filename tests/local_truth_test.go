package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
)

// Local truth and local health (DESIGN §11), driven through the binary
// against fakes that speak Ollama's native API and OpenAI's as the
// captures in testdata/ollama show them.

// newFakeOllamaNative serves Ollama's discovery API for one model,
// qwen3:8b, whose /api/show reports a context length of 8192 and no tools
// capability, and its OpenAI-compatible chat through fakeOpenAI (whose
// reqs then hold chat requests only).
func newFakeOllamaNative(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.URL.Path {
		case "/api/tags":
			// As 05-api-tags.body, without the context_length and
			// capabilities newer servers add, so /api/show must be asked.
			io.WriteString(w, `{"models":[{"name":"qwen3:8b","model":"qwen3:8b","modified_at":"2026-12-03T11:40:42.776046136Z",`+
				`"size":5225376047,"digest":"500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41",`+
				`"details":{"parent_model":"","format":"gguf","family":"qwen3","families":["qwen3"],"parameter_size":"8.2B","quantization_level":"Q4_K_M"}}]}`)
		case "/api/show":
			var req struct {
				Model string `json:"model"`
			}
			body, _ := io.ReadAll(r.Body)
			if json.Unmarshal(body, &req) != nil || (req.Model != "qwen3:8b" && req.Model != "qwen3") {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"error":"model '%s' not found"}`, req.Model)
				return
			}
			io.WriteString(w, `{"modelfile":"FROM qwen3:8b","parameters":"","template":"{{ .Prompt }}",`+
				`"details":{"parent_model":"","format":"gguf","family":"qwen3","families":["qwen3"],"parameter_size":"8.2B","quantization_level":"Q4_K_M"},`+
				`"model_info":{"general.architecture":"qwen3","general.parameter_count":8190735360,"qwen3.context_length":8192,"qwen3.embedding_length":4096},`+
				`"capabilities":["completion"],"modified_at":"2026-12-03T11:40:42.776046136Z"}`)
		case "/api/ps":
			io.WriteString(w, `{"models":[]}`)
		case "/v1/models":
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1796298042,"owned_by":"library"}]}`)
		default:
			f.serve(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// localTruthConfig routes to the local side by default, qwen3:8b on a local
// provider whose config lists no models: all it knows of them is learned.
func localTruthConfig(localURL, remoteURL, extra string) string {
	return "server:\n  port: PORT\n" +
		"routing:\n  default: local\n  local_model: qwen3:8b\n  remote_model: deepseek-chat\n" + extra +
		"providers:\n" +
		"  localprov:\n    api_key: " + upstreamKey + "\n    base_url: " + localURL + "/v1\n    local: true\n" +
		"  deepseek:\n    api_key: " + upstreamKey + "\n    base_url: " + remoteURL + "/v1\n    local: false\n    models: [deepseek-chat]\n"
}

// words is a prompt of about n tokens by LocalRouter's estimate (four
// characters a token).
func words(n int) string { return strings.Repeat("abc ", n) }

func (g *gateway) modelIDs(t *testing.T) map[string]string {
	t.Helper()
	r, err := g.request(http.MethodGet, "/v1/models", "", nil, false)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("/v1/models: %v %v", r, err)
	}
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("/v1/models: %v: %s", err, r.body)
	}
	out := map[string]string{}
	for _, m := range list.Data {
		out[m.ID] = m.DisplayName
	}
	return out
}

func TestLocalContextAndCapabilities(t *testing.T) {
	local := newFakeOllamaNative(t)
	remote := newFakeOpenAI(t)
	in := newInstance(t, localTruthConfig(local.URL, remote.URL, ""))
	g := in.start(t)
	eventually(t, "the probe learns the backend's models", func() (bool, string) {
		ids := g.modelIDs(t)
		_, ok := ids["localprov/qwen3:8b"]
		return ok, fmt.Sprint(ids)
	})
	if d := g.modelIDs(t)["localprov/qwen3:8b"]; !strings.Contains(d, "local backend") {
		t.Errorf("/v1/models: localprov/qwen3:8b display_name %q does not say the local backend holds it", d)
	}
	tags, err := g.request(http.MethodGet, "/api/tags", "", nil, false)
	if err != nil || tags.status != http.StatusOK || !strings.Contains(tags.body, `"localprov/qwen3:8b`) {
		t.Errorf("/api/tags does not list the backend's model: %v %v", tags, err)
	}
	// Ollama clients (Copilot, Zed) size their prompts by /api/show: it
	// reports the context the backend does.
	show, err := g.request(http.MethodPost, "/api/show", `{"model":"localprov/qwen3:8b"}`, nil, false)
	if err != nil || show.status != http.StatusOK || !strings.Contains(show.body, `.context_length":8192`) {
		t.Errorf("/api/show localprov/qwen3:8b: %v %v, want the backend's context length 8192", show, err)
	}

	localBefore, remoteBefore := upstreamHits(local), upstreamHits(remote)
	big := g.mustChat(t, "auto", false, words(20000), nil)
	if big.status != http.StatusOK || big.route != "remote:deepseek/deepseek-chat (default side, exceeds local context 8192)" {
		t.Errorf("20k-token request: %v, want remote with the reason", big)
	}

	tools := `{"model":"auto","messages":[{"role":"user","content":"weather in Paris?"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
	r, err := g.request(http.MethodPost, "/v1/chat/completions", tools, nil, false)
	if err != nil || r.status != http.StatusOK || r.route != "remote:deepseek/deepseek-chat (default side, local model has no tools)" {
		t.Errorf("request with tools: %v %v, want remote: the local model has no tools capability", r, err)
	}
	if n := upstreamHits(local) - localBefore; n != 0 {
		t.Errorf("the local backend got %d chat requests, want none: neither fits it", n)
	}
	if n := upstreamHits(remote) - remoteBefore; n != 2 {
		t.Errorf("remote got %d requests, want 2", n)
	}

	small := g.mustChat(t, "auto", false, words(2000), nil)
	if small.status != http.StatusOK || small.route != "local:localprov/qwen3:8b (default side)" || small.text != "Hello from qwen3:8b." {
		t.Errorf("2k-token request: %v text %q, want it served locally", small, small.text)
	}
	// An explicit provider/model is sent as asked, tools and all.
	r, err = g.request(http.MethodPost, "/v1/chat/completions", strings.Replace(tools, `"auto"`, `"localprov/qwen3:8b"`, 1), nil, false)
	if err != nil || r.status != http.StatusOK || !strings.HasPrefix(r.route, "local:localprov/qwen3:8b (provider named") {
		t.Errorf("explicit localprov/qwen3:8b with tools: %v %v, want it sent local", r, err)
	}
	if n := upstreamHits(local) - localBefore; n != 2 {
		t.Errorf("the local backend got %d chat requests, want 2", n)
	}

	// context_guard off: the request is sent local as the strategy says.
	in.write(t, localTruthConfig(local.URL, remote.URL, "  context_guard: false\n"))
	eventually(t, "context_guard: false applied", func() (bool, string) {
		r := g.mustChat(t, "auto", false, words(20000), nil)
		return r.route == "local:localprov/qwen3:8b (default side)", r.String()
	})
}

// flakyLocal is a local OpenAI-compatible server that lists qwen3 and
// answers chat with status while it is set, else as fakeOpenAI does.
type flakyLocal struct {
	*fakeOpenAI
	status atomic.Int64
	body   atomic.Pointer[string]
}

func newFlakyLocal(t *testing.T) *flakyLocal {
	f := &flakyLocal{fakeOpenAI: &fakeOpenAI{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen3","object":"model","owned_by":"library"}]}`)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/v1/chat") {
			http.NotFound(w, r)
			return
		}
		if st := f.status.Load(); st != 0 {
			io.Copy(io.Discard, r.Body)
			f.mu.Lock()
			f.reqs = append(f.reqs, seen{path: r.URL.Path})
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(st))
			io.WriteString(w, *f.body.Load())
			return
		}
		f.serve(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flakyLocal) fail(status int, body string) {
	f.body.Store(&body)
	f.status.Store(int64(status))
}

func TestLocalDegradedBacksOff(t *testing.T) {
	local := newFlakyLocal(t)
	remote := newFakeOpenAI(t)
	// The back-off is long enough for the requests below that must find it
	// running, and short enough that waiting out its end is cheap.
	in := newInstance(t, strings.Replace(routingSetup{localURL: local.URL, remoteURL: remote.URL,
		extra: "  local_backoff: 3s\n"}.yaml(), "default: remote", "default: local", 1))
	g := in.start(t)
	eventually(t, "local side up and routed to", func() (bool, string) {
		r := g.mustChat(t, "auto", false, "hi", nil)
		return strings.HasPrefix(r.route, routeLocal) && g.health(t).LocalUp, r.String()
	})

	local.fail(http.StatusInternalServerError, `{"error":{"message":"llama runner process has terminated: exit status 2","type":"api_error","param":null,"code":null}}`)
	localBefore, remoteBefore := upstreamHits(local.fakeOpenAI), upstreamHits(remote)
	r := g.mustChat(t, "auto", false, "hi", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.route, routeRemote+" (fallback from localprov/qwen3") {
		t.Errorf("first request with local failing: %v, want remote by fallback", r)
	}
	h := g.health(t)
	if !h.LocalDegraded {
		t.Errorf("/health local_degraded false after a local 500")
	}
	for i := range 3 {
		r := g.mustChat(t, "auto", i%2 == 1, "hi", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.route, routeRemote) || !strings.Contains(r.route, "local degraded") {
			t.Errorf("request %d in the back-off: %v, want remote at once", i, r)
		}
	}
	if n := upstreamHits(local.fakeOpenAI) - localBefore; n != 1 {
		t.Errorf("the failing local server got %d requests, want 1: one failed try, then none in the back-off", n)
	}
	if n := upstreamHits(remote) - remoteBefore; n != 4 {
		t.Errorf("remote got %d requests, want 4", n)
	}

	local.status.Store(0) // it recovers
	eventually(t, "local again once the back-off ends", func() (bool, string) {
		r := g.mustChat(t, "auto", false, "hi", nil)
		return r.route == routeLocal+" (default side)" && r.text == "Hello from qwen3.", r.String()
	})
	if h := g.health(t); h.LocalDegraded {
		t.Errorf("/health local_degraded true after the back-off ended and local answered")
	}
}

func TestLocalModelNotFoundFallsBack(t *testing.T) {
	local := newFlakyLocal(t)
	remote := newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
	g := in.start(t)
	g.waitStrategy(t, "local")
	// As Ollama answers for a model it does not hold (20-v1-chat-unknown-model).
	local.fail(http.StatusNotFound, `{"error":{"message":"model 'qwen3' not found","type":"not_found_error","param":null,"code":null}}`)
	for _, stream := range []bool{false, true} {
		r := g.mustChat(t, "auto", stream, "hi", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.route, routeRemote+" (fallback from localprov/qwen3") ||
			!strings.Contains(r.route, "local model not found") {
			t.Errorf("stream %v: %v, want remote by fallback, saying the local model was not found", stream, r)
		}
	}
	if h := g.health(t); h.LastFallback == nil || !strings.Contains(h.LastFallback.Error, "not found") {
		t.Errorf("last_fallback = %+v, want the upstream's not found", h.LastFallback)
	}
	// A 404 is no failure of the server: the side is not degraded, and an
	// explicit provider/model gets the upstream's answer.
	r := g.mustChat(t, "localprov/qwen3", false, "hi", nil)
	if r.status != http.StatusNotFound || !strings.Contains(r.body, "model 'qwen3' not found") {
		t.Errorf("explicit localprov/qwen3: %v, want the upstream's 404", r)
	}
	if n := upstreamHits(local.fakeOpenAI); n != 3 {
		t.Errorf("local got %d requests, want 3: a 404 does not back off", n)
	}
}

// TestLocalAnthropicWithoutKey: a local server that speaks Messages and
// takes no key (Ollama's, LM Studio's, llama.cpp's), configured as type
// anthropic: it serves, gets no x-api-key, and the probe learns its models.
func TestLocalAnthropicWithoutKey(t *testing.T) {
	local, remote := newFakeLocalMessages(t), newFakeOpenAI(t)
	in := newInstance(t, "server:\n  port: PORT\n"+
		"routing:\n  default: local\n  local_model: qwen3-coder\n  remote_model: deepseek-chat\n"+
		"providers:\n"+
		"  box:\n    type: anthropic\n    base_url: "+local.URL+"\n    local: true\n"+
		"  deepseek:\n    api_key: "+upstreamKey+"\n    base_url: "+remote.URL+"/v1\n    local: false\n    models: [deepseek-chat]\n")
	g := in.start(t)
	eventually(t, "the probe learns the local Messages server's models", func() (bool, string) {
		ids := g.modelIDs(t)
		_, ok := ids["box/qwen3-coder"]
		return ok, fmt.Sprint(ids)
	})
	rec := &sdkRecorder{}
	c := claudeSDKAuth(t, g.p, rec, "")
	msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "auto", MaxTokens: 64,
		Messages: []anthropic.MessageParam{userText("hi")}})
	if err != nil {
		t.Fatalf("Messages through a keyless local anthropic provider: %v\n%s", err, g.p.Logs())
	}
	if r := rec.route(); !strings.HasPrefix(r, "local:box/qwen3-coder") || textOf(msg) == "" {
		t.Errorf("route %q, answer %s", r, msg.RawJSON())
	}
	if h := local.last(t).header; h.Get("X-Api-Key") != "" || h.Get("Authorization") != "" {
		t.Errorf("the local server got credentials: x-api-key %q, authorization %q", h.Get("X-Api-Key"), h.Get("Authorization"))
	}
	if h := g.health(t); !h.LocalUp {
		t.Errorf("/health local_up false with the local Messages server up: %+v", h)
	}
}

package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ollama/ollama/api"
)

// The tests in this file drive the Ollama front door (GET /, /api/version,
// /api/tags, /api/ps, /api/show, /api/chat, /api/generate, /api/embed,
// /api/embeddings) end to end, with Ollama's own Go client and with
// requests shaped like those of Copilot's BYOK Ollama provider and Zed's
// edit prediction, against every kind of backend: an upstream that serves
// Ollama's API itself (pass-through), an OpenAI-compatible server,
// Anthropic and Gemini (translation, and FIM and embeddings through the
// completions and embeddings APIs).

// olBackends are the four upstreams of the Ollama config.
type olBackends struct {
	chat   *fakeChat     // provider llamacpp: OpenAI-compatible, local, translated and bridged
	api    *fakeMessages // provider anthropic: translated; no FIM, no embeddings
	gemini *fakeGemini   // provider google: translated; embeddings through batchEmbedContents
	native *fakeOllama   // provider ollama: protocols [ollama], local, pass-through
}

func newOlBackends(t *testing.T) *olBackends {
	return &olBackends{chat: newFakeChat(t), api: newFakeAnthropicAPI(t), gemini: newFakeGemini(t), native: newFakeOllama(t)}
}

// config is a gateway over the four backends: local is the OpenAI-compatible
// server, remote Anthropic; routing is appended to its section.
func (b *olBackends) config(routing string) string {
	return `server:
  port: PORT
routing:
  default: remote
  local_model: qwen3
  remote_model: claude-sonnet-4-5
  fallback: false
  aliases:
    coder: ollama/qwen2.5-coder:1.5b
    claude-*: remote
` + routing + `providers:
  anthropic:
    api_key: "` + anthropicKey + `"
    base_url: ` + b.api.URL + `
    local: false
    context_window: 200000
    models: [claude-sonnet-4-5]
  google:
    api_key: ` + geminiKey + `
    base_url: ` + b.gemini.URL + `
    local: false
    models: [gemini-3-flash, ` + geminiEmbedModel + `]
  llamacpp:
    type: openai
    api_key: ` + upstreamKey + `
    base_url: ` + b.chat.URL + `/v1
    local: true
    context_window: 32768
    models: [qwen3, qwen2.5-coder-7b, text-embedding-3-small]
  ollama:
    type: openai
    base_url: ` + b.native.URL + `/v1
    local: true
    protocols: [ollama]
    models: ["llama3.2", "qwen2.5-coder:1.5b", nomic-embed-text]
`
}

// olBackend is one way an Ollama request can be served, with what its
// fake answers.
type olBackend struct {
	name     string
	chat     string // the model the client names for chat
	fim      string // … for fill-in-the-middle; a route without FIM when noFIM
	embed    string // … for embeddings; a route without them when noEmbed
	upstream string // the upstream's name of chat
	route    string // prefix of X-LocalRouter-Route for chat
	native   bool   // the upstream speaks Ollama's API: pass-through
	noFIM    bool
	noEmbed  bool
	hello    string // answer to a plain prompt
	results  string // answer to one tool result
	body     func(t *testing.T) []byte
	count    func() int // requests the upstream took
}

func (b *olBackends) table() []olBackend {
	return []olBackend{
		{name: "openai-compatible", chat: "llamacpp/qwen3", fim: "llamacpp/qwen2.5-coder-7b", embed: "llamacpp/text-embedding-3-small",
			upstream: "qwen3", route: "local:llamacpp/qwen3", hello: "Hello from qwen3.", results: "The tools answered.",
			body: func(t *testing.T) []byte { return b.chat.last(t).body }, count: func() int { return len(b.chat.requests()) }},
		{name: "anthropic", chat: "anthropic/claude-sonnet-4-5", fim: "anthropic/claude-sonnet-4-5", embed: "anthropic/claude-sonnet-4-5",
			upstream: "claude-sonnet-4-5", route: "remote:anthropic/claude-sonnet-4-5", noFIM: true, noEmbed: true,
			hello: "Hello from Claude.", results: "Got 1 tool results.",
			body: func(t *testing.T) []byte { return b.api.last(t).body }, count: func() int { return len(b.api.requests()) }},
		{name: "gemini", chat: "google/gemini-3-flash", fim: "google/gemini-3-flash", embed: "google/" + geminiEmbedModel,
			upstream: "gemini-3-flash", route: "remote:google/gemini-3-flash", noFIM: true,
			hello: "Hello from Gemini.", results: "It is 18°C and sunny in Paris.",
			body: func(t *testing.T) []byte { return b.gemini.lastBody(t) }, count: func() int {
				b.gemini.mu.Lock()
				defer b.gemini.mu.Unlock()
				return len(b.gemini.bodies)
			}},
		{name: "native", chat: "ollama/llama3.2", fim: "ollama/qwen2.5-coder:1.5b", embed: "ollama/nomic-embed-text",
			upstream: "llama3.2", route: "local:ollama/llama3.2", native: true,
			hello: nativeHello("llama3.2"), results: nativeResults("llama3.2"),
			body: func(t *testing.T) []byte { return b.native.last(t).body }, count: func() int { return len(b.native.requests()) }},
	}
}

// reported is the model an answer of be names: a pass-through relays the
// upstream's word, a translation names the model the client asked for.
func (be olBackend) reported(client, upstream string) string {
	if be.native {
		return upstream
	}
	return client
}

// upstreamOf is the part of a provider/model name after the provider.
func upstreamOf(name string) string {
	_, m, _ := strings.Cut(name, "/")
	return m
}

// olWeatherTool is the tool the fakes call, in Ollama's form.
var olWeatherTool = func() api.Tool {
	var tl api.Tool
	if err := json.Unmarshal([]byte(`{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",`+
		`"parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city","unit"]}}}`), &tl); err != nil {
		panic(err)
	}
	return tl
}()

// olReply is what the client got for one Chat, its responses merged.
type olReply struct {
	parts    []api.ChatResponse
	text     string
	thinking string
	calls    []api.ToolCall
	last     api.ChatResponse
}

// olChat sends req through the client, streamed or not, and merges what it got.
func olChat(ctx context.Context, c *api.Client, req *api.ChatRequest) (*olReply, error) {
	r := &olReply{}
	err := c.Chat(ctx, req, func(resp api.ChatResponse) error {
		r.parts = append(r.parts, resp)
		r.text += resp.Message.Content
		r.thinking += resp.Message.Thinking
		r.calls = append(r.calls, resp.Message.ToolCalls...)
		r.last = resp
		return nil
	})
	return r, err
}

// olGenerate is olChat for Generate: the response text and the last response.
func olGenerate(ctx context.Context, c *api.Client, req *api.GenerateRequest) (string, []api.GenerateResponse, error) {
	var text string
	var parts []api.GenerateResponse
	err := c.Generate(ctx, req, func(resp api.GenerateResponse) error {
		text += resp.Response
		parts = append(parts, resp)
		return nil
	})
	return text, parts, err
}

// checkWire checks the bytes the client got for a call to an Ollama door
// against the captures: the stream's lines (checkNDJSON) and content type
// as in the capture 30, or one object and a JSON content type as in 31.
func checkWire(t *testing.T, tap *respTap, stream, generate bool) *ndjsonAnswer {
	t.Helper()
	status, header, body := tap.got()
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	shape := captureShape(t, generate)
	ct := header.Get("Content-Type")
	var a *ndjsonAnswer
	var err error
	if stream {
		if want := captureContentType(t, "30-api-chat-stream"); ct != want {
			t.Errorf("Content-Type %q, a real Ollama streams as %q", ct, want)
		}
		a, err = checkNDJSON(body, shape)
	} else {
		want, _, _ := mime.ParseMediaType(captureContentType(t, "31-api-chat"))
		if got, _, _ := mime.ParseMediaType(ct); got != want {
			t.Errorf("Content-Type %q, a real Ollama answers as %q", ct, want)
		}
		a, err = checkOllamaObject(body, shape)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if a.err != "" {
		t.Fatalf("the answer ended with an error: %s", a.err)
	}
	return a
}

// versionAtLeast compares dotted versions as Copilot's Ollama provider
// does: numbers left to right, a missing one is 0, a pre-release tag after
// "-" is ignored.
func versionAtLeast(v, min string) bool {
	parse := func(s string) []int {
		s, _, _ = strings.Cut(s, "-")
		var out []int
		for _, p := range strings.Split(s, ".") {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range max(len(a), len(b)) {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return x > y
		}
	}
	return true
}

// TestOllamaDiscovery: what clients read before their first request —
// GET / and /api/version as the captures 36 and 00, /api/tags and /api/ps
// listing every routable name with the fields of the capture 05 and parsed
// by Ollama's own client, /api/show made from the config or, for a native
// upstream, its own answer.
func TestOllamaDiscovery(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	tap := &respTap{}
	c := ollamaClient(t, p, tap)
	// The lists hold what the local backends really serve once the probe
	// has asked them: the llamacpp server also lists deepseek-chat.
	eventually(t, "the probe learns the local backends' models", func() (bool, string) {
		list, err := c.List(ctx)
		if err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(list.Models, func(m api.ListModelResponse) bool { return m.Name == "llamacpp/deepseek-chat" }), fmt.Sprint(list.Models)
	})

	t.Run("root", func(t *testing.T) {
		status, header, body := olGet(t, p, "/")
		if want := capture(t, "36-root.body"); status != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET / = %d %q, want %q", status, body, want)
		}
		if ct, want := header.Get("Content-Type"), captureContentType(t, "36-root"); ct != want {
			t.Errorf("Content-Type %q, want %q", ct, want)
		}
		if err := c.Heartbeat(ctx); err != nil {
			t.Errorf("the client's heartbeat (HEAD /): %v", err)
		}
	})

	t.Run("version", func(t *testing.T) {
		v, err := c.Version(ctx)
		if err != nil || v != "0.13.5" {
			t.Fatalf("Version() = %q, %v; want 0.13.5", v, err)
		}
		// Copilot refuses a server below 0.6.4.
		if !versionAtLeast(v, "0.6.4") {
			t.Errorf("version %s is below 0.6.4", v)
		}
		_, _, body := tap.got()
		var got, want map[string]json.RawMessage
		json.Unmarshal(body, &got)
		json.Unmarshal(capture(t, "00-api-version.body"), &want)
		if !maps.Equal(kinds(got), kinds(want)) {
			t.Errorf("/api/version %s, a real Ollama's has the fields of %s", body, capture(t, "00-api-version.body"))
		}
	})

	wantNames := []string{"auto", "local", "remote", "coder",
		"anthropic/claude-sonnet-4-5", "google/gemini-3-flash", "google/" + geminiEmbedModel,
		"llamacpp/qwen3", "llamacpp/qwen2.5-coder-7b", "llamacpp/text-embedding-3-small",
		"ollama/llama3.2", "ollama/qwen2.5-coder:1.5b", "ollama/nomic-embed-text", "llamacpp/deepseek-chat"}

	t.Run("tags", func(t *testing.T) {
		list, err := c.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range list.Models {
			names = append(names, m.Name)
			if m.Model != m.Name || m.ModifiedAt.IsZero() || len(m.Digest) != 64 || m.Details.Format == "" || m.Details.Family == "" ||
				!slices.Contains(m.Details.Families, m.Details.Family) || m.Details.ParameterSize == "" || m.Details.QuantizationLevel == "" {
				t.Errorf("model %+v lacks what a client reads", m)
			}
		}
		if !cmp.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(wantNames))) {
			t.Errorf("/api/tags lists %v, want every routable name %v (no glob aliases)", names, wantNames)
		}
		_, _, body := tap.got()
		checkTagsFields(t, body, capture(t, "05-api-tags.body"))
		m := tagOf(t, body, "llamacpp/qwen2.5-coder-7b")
		if m.Details.Family != "qwen2" || m.Details.ParameterSize != "7B" || !slices.Contains(m.Capabilities, "insert") {
			t.Errorf("llamacpp/qwen2.5-coder-7b: %+v; want family qwen2, 7B, and insert (its provider has a completions API)", m)
		}
		if m := tagOf(t, body, "anthropic/claude-sonnet-4-5"); slices.Contains(m.Capabilities, "insert") || !slices.Contains(m.Capabilities, "tools") {
			t.Errorf("anthropic/claude-sonnet-4-5 capabilities %v: tools, and no insert (Anthropic has no FIM)", m.Capabilities)
		}
		if m := tagOf(t, body, "ollama/qwen2.5-coder:1.5b"); m.Details.ParameterSize != "1.5B" {
			t.Errorf("ollama/qwen2.5-coder:1.5b parameter_size %q, want 1.5B", m.Details.ParameterSize)
		}
	})

	t.Run("ps", func(t *testing.T) {
		ps, err := c.ListRunning(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ps.Models {
			names = append(names, m.Name)
			if m.ExpiresAt.IsZero() || m.Details.Family == "" {
				t.Errorf("running model %+v lacks expires_at or details", m)
			}
		}
		if !cmp.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(wantNames))) {
			t.Errorf("/api/ps lists %v, want %v", names, wantNames)
		}
	})

	t.Run("show", func(t *testing.T) {
		for _, tc := range []struct {
			name, route, arch, basename string
			context                     float64 // 0: no context length
			caps                        []string
			native                      bool
		}{
			{"llamacpp/qwen3", "local:llamacpp/qwen3", "qwen3", "qwen3", 32768, []string{"completion", "tools", "insert"}, false},
			{"local:latest", "local:llamacpp/qwen3", "qwen3", "qwen3", 32768, []string{"completion", "tools", "insert"}, false},
			{"anthropic/claude-sonnet-4-5", "remote:anthropic/claude-sonnet-4-5", "claude", "claude-sonnet-4-5", 200000, []string{"completion", "tools"}, false},
			{"claude-opus-4-1", "remote:anthropic/claude-sonnet-4-5", "claude", "claude-sonnet-4-5", 200000, []string{"completion", "tools"}, false},
			{"google/gemini-3-flash", "remote:google/gemini-3-flash", "gemini", "gemini-3-flash", 0, []string{"completion", "tools"}, false},
			// The native upstream's own answer: the capture's llama model.
			{"ollama/llama3.2", "local:ollama/llama3.2", "llama", "", 4096, []string{"completion", "tools"}, true},
			{"coder", "local:ollama/qwen2.5-coder:1.5b", "llama", "", 4096, []string{"completion", "tools", "insert"}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(b.native.requests())
				show, err := c.Show(ctx, &api.ShowRequest{Model: tc.name})
				if err != nil {
					t.Fatal(err)
				}
				if r := tap.route(); !strings.HasPrefix(r, tc.route) {
					t.Errorf("X-LocalRouter-Route = %q, want %s…", r, tc.route)
				}
				var caps []string
				for _, c := range show.Capabilities {
					caps = append(caps, string(c))
				}
				if !cmp.Equal(caps, tc.caps) {
					t.Errorf("capabilities %v, want %v", caps, tc.caps)
				}
				if arch, _ := show.ModelInfo["general.architecture"].(string); arch != tc.arch || show.Details.Family != tc.arch {
					t.Errorf("general.architecture %v, details.family %q; want %s", show.ModelInfo["general.architecture"], show.Details.Family, tc.arch)
				}
				if n, _ := show.ModelInfo[tc.arch+".context_length"].(float64); n != tc.context {
					t.Errorf("%s.context_length = %v, want %v", tc.arch, show.ModelInfo[tc.arch+".context_length"], tc.context)
				}
				if show.Details.ParameterSize == "" || show.Details.Format == "" {
					t.Errorf("details %+v", show.Details)
				}
				if tc.native {
					var want api.ShowResponse
					json.Unmarshal(capture(t, "06-api-show.body"), &want)
					if show.Template != want.Template || len(show.Tensors) != len(want.Tensors) {
						t.Errorf("the native upstream's template and tensors were not relayed")
					}
					if n := len(b.native.requests()) - before; n != 1 {
						t.Fatalf("the native upstream got %d requests, want 1", n)
					}
					var up api.ShowRequest
					if json.Unmarshal(b.native.last(t).body, &up); up.Model != strings.TrimPrefix(tc.route, "local:ollama/") {
						t.Errorf("the upstream was asked for %q: %s", up.Model, b.native.last(t).body)
					}
					return
				}
				if base, _ := show.ModelInfo["general.basename"].(string); base != tc.basename {
					t.Errorf("general.basename %v, want %s", show.ModelInfo["general.basename"], tc.basename)
				}
			})
		}

		t.Run("legacy name", func(t *testing.T) {
			status, header, body := olPost(t, p, "/api/show", `{"name":"remote"}`, nil)
			var show api.ShowResponse
			if err := json.Unmarshal(body, &show); err != nil || status != 200 || show.Details.Family != "claude" {
				t.Errorf("status %d: %s", status, body)
			}
			if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "remote:anthropic/claude-sonnet-4-5") {
				t.Errorf("X-LocalRouter-Route = %q", r)
			}
		})

		t.Run("unknown", func(t *testing.T) {
			_, err := c.Show(ctx, &api.ShowRequest{Model: "nope/x"})
			var se api.StatusError
			if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(se.ErrorMessage, "nope/x") {
				t.Errorf("Show(nope/x): %v; want a 404 naming the model, as the capture 34", err)
			}
			_, _, body := tap.got()
			if ollamaError(body) == "" || ollamaError(capture(t, "34-api-show-unknown.body")) == "" {
				t.Errorf("body %s is not in the shape of the capture 34 %s", body, capture(t, "34-api-show-unknown.body"))
			}
		})
	})
}

func olGet(t *testing.T, p *proc, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(p.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, []byte(readAll(t, resp.Body))
}

// tagEntry is an /api/tags entry with what Ollama's client type lacks.
type tagEntry struct {
	api.ListModelResponse
	Capabilities []string `json:"capabilities"`
}

func tagOf(t *testing.T, body []byte, name string) tagEntry {
	t.Helper()
	var list struct{ Models []tagEntry }
	json.Unmarshal(body, &list)
	for _, m := range list.Models {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("/api/tags has no %s", name)
	return tagEntry{}
}

// checkTagsFields checks that every /api/tags entry has the fields a real
// Ollama's have, of the same kinds (the capture 05), capabilities and
// details included.
func checkTagsFields(t *testing.T, body, capture []byte) {
	t.Helper()
	type entries struct {
		Models []map[string]json.RawMessage `json:"models"`
	}
	var got, want entries
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(capture, &want)
	ref := kinds(want.Models[0])
	var refDetails map[string]json.RawMessage
	json.Unmarshal(want.Models[0]["details"], &refDetails)
	for _, m := range got.Models {
		for k, kind := range ref {
			if jsonKind(m[k]) != kind {
				t.Errorf("entry %s: %s is %q, a real Ollama's is a %s", m["name"], k, jsonKind(m[k]), kind)
			}
		}
		var d map[string]json.RawMessage
		json.Unmarshal(m["details"], &d)
		for _, k := range []string{"format", "family", "families", "parameter_size", "quantization_level"} {
			if jsonKind(d[k]) != jsonKind(refDetails[k]) {
				t.Errorf("entry %s: details.%s is %q, a real Ollama's is a %s", m["name"], k, jsonKind(d[k]), jsonKind(refDetails[k]))
			}
		}
	}
}

// TestOllamaChat drives Ollama's client's Chat through each kind of
// backend, streamed and not: a plain answer and a tool round trip, the
// bytes on the wire checked line by line against the captures.
func TestOllamaChat(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	for _, be := range b.table() {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", be.name, stream), func(t *testing.T) {
				tap := &respTap{}
				c := ollamaClient(t, p, tap)

				t.Run("hello", func(t *testing.T) {
					r, err := olChat(ctx, c, &api.ChatRequest{Model: be.chat, Stream: &stream, Messages: []api.Message{
						{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Say hello"}}})
					if err != nil {
						t.Fatal(err)
					}
					if r.text != be.hello || !r.last.Done || r.last.DoneReason != "stop" || r.last.Model != be.reported(be.chat, be.upstream) {
						t.Errorf("answer %q from %q, done %v (%q); want %q from %q, done stop", r.text, r.last.Model, r.last.Done, r.last.DoneReason, be.hello, be.reported(be.chat, be.upstream))
					}
					a := checkWire(t, tap, stream, false)
					if stream && a.lines < 3 {
						t.Errorf("%d lines: the answer was not streamed piece by piece", a.lines)
					}
					if r := tap.route(); !strings.HasPrefix(r, be.route) {
						t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
					}
					if up := be.body(t); !bytes.Contains(up, []byte("Be brief.")) || !bytes.Contains(up, []byte("Say hello")) {
						t.Errorf("the system prompt or the question did not reach the upstream: %.600s", up)
					}
					if be.native {
						checkPassedThrough(t, tap, b.native, be.chat, be.upstream)
						if path := b.native.last(t).path; path != "/api/chat" {
							t.Errorf("the native upstream was asked at %s, want /api/chat", path)
						}
					}
				})

				t.Run("tool round trip", func(t *testing.T) {
					ask := api.Message{Role: "user", Content: "What is the weather in Paris?"}
					req := &api.ChatRequest{Model: be.chat, Stream: &stream, Tools: api.Tools{olWeatherTool}, Messages: []api.Message{ask}}
					first, err := olChat(ctx, c, req)
					if err != nil {
						t.Fatal(err)
					}
					if len(first.calls) != 1 || first.calls[0].Function.Name != "get_weather" || first.text != "" {
						t.Fatalf("turn 1: calls %+v, text %q; want one get_weather call", first.calls, first.text)
					}
					args := first.calls[0].Function.Arguments
					if city, _ := args.Get("city"); city != "Paris" {
						t.Errorf("arguments %s, want city Paris", args.String())
					}
					if unit, _ := args.Get("unit"); unit != "celsius" {
						t.Errorf("arguments %s, want unit celsius", args.String())
					}
					a := checkWire(t, tap, stream, false)
					// Whole: the call comes in one line, its arguments an object.
					if a.callLines != 1 || len(a.calls) != 1 {
						t.Errorf("the call came in %d lines as %d calls, want one whole call in one line", a.callLines, len(a.calls))
					}
					if first.last.DoneReason != "stop" {
						t.Errorf("done_reason %q after a tool call: Ollama says stop", first.last.DoneReason)
					}

					req.Messages = []api.Message{ask,
						{Role: "assistant", ToolCalls: first.calls},
						{Role: "tool", Content: `{"temperature_c":18,"sky":"sunny"}`, ToolName: "get_weather"}}
					second, err := olChat(ctx, c, req)
					if err != nil {
						t.Fatal(err)
					}
					if second.text != be.results || len(second.calls) != 0 {
						t.Errorf("turn 2: %q (calls %+v), want %q", second.text, second.calls, be.results)
					}
					checkWire(t, tap, stream, false)
					up := be.body(t)
					switch be.name {
					case "openai-compatible":
						// The tool message answers the assistant's call by its id.
						r := parseChatRequest(t, up)
						var id, answered string
						for _, m := range r.Messages {
							for _, tc := range m.ToolCalls {
								var a map[string]string
								if json.Unmarshal([]byte(tc.Function.Arguments), &a) != nil || a["city"] != "Paris" {
									t.Errorf("the call's arguments reached Chat as %q", tc.Function.Arguments)
								}
								id = tc.ID
							}
							if m.Role == "tool" {
								answered = m.ToolCallID
								if !strings.Contains(m.text(), "sunny") {
									t.Errorf("tool message %q", m.text())
								}
							}
						}
						if id == "" || answered != id {
							t.Errorf("the tool result answers %q, the call is %q: %s", answered, id, up)
						}
					case "anthropic":
						// The fake checks tool_result ids pair with tool_use ids.
						if !bytes.Contains(up, []byte(`"tool_result"`)) || !bytes.Contains(up, []byte("sunny")) {
							t.Errorf("no tool_result with the output: %.800s", up)
						}
					case "gemini":
						if !bytes.Contains(up, []byte(`"functionResponse"`)) || !bytes.Contains(up, []byte("sunny")) {
							t.Errorf("no functionResponse with the output: %.800s", up)
						}
					case "native":
						if !bytes.Contains(up, []byte(`"tool_name":"get_weather"`)) {
							t.Errorf("the tool message lost its tool_name: %s", up)
						}
						checkPassedThrough(t, tap, b.native, be.chat, be.upstream)
					}
				})
			})
		}
	}
}

// checkPassedThrough checks a pass-through: the upstream got the client's
// bytes with only the model replaced, and the client got the upstream's
// bytes unchanged.
func checkPassedThrough(t *testing.T, tap *respTap, f *fakeOllama, client, upstream string) {
	t.Helper()
	_, sent := tap.sent()
	want := bytes.Replace(sent, []byte(`"model":`+js(client)), []byte(`"model":`+js(upstream)), 1)
	if got := f.last(t).body; !bytes.Equal(got, want) {
		t.Errorf("the upstream got\n%s\nwant the client's body with only the model replaced\n%s", got, want)
	}
	if _, _, got := tap.got(); !bytes.Equal(got, f.lastSent()) {
		t.Errorf("the client got\n%s\nthe upstream sent\n%s", got, f.lastSent())
	}
}

// TestOllamaChatTranslation: what /api/chat carries beside messages —
// images, format, think, options — reaches a Chat Completions server in
// its form, which the fake validates as the API does; a native upstream
// gets it as sent, num_ctx included; a request without messages (a load)
// is answered as Ollama answers it.
func TestOllamaChatTranslation(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	png, _ := base64.StdEncoding.DecodeString(onePixelPNG)
	schema := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"temperature_c":{"type":"number"}},"required":["city","temperature_c"]}`)
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			tap := &respTap{}
			c := ollamaClient(t, p, tap)
			chat := func(t *testing.T, req *api.ChatRequest) *olReply {
				t.Helper()
				req.Stream = &stream
				r, err := olChat(ctx, c, req)
				if err != nil {
					t.Fatal(err)
				}
				checkWire(t, tap, stream, false)
				return r
			}
			user := func(s string) []api.Message { return []api.Message{{Role: "user", Content: s}} }

			t.Run("images", func(t *testing.T) {
				r := chat(t, &api.ChatRequest{Model: "llamacpp/qwen3", Messages: []api.Message{{Role: "user", Content: "What is this?", Images: []api.ImageData{png}}}})
				if r.text != "I see an image." {
					t.Errorf("answer %q", r.text)
				}
				if up := b.chat.last(t).body; !bytes.Contains(up, []byte(`"url":"data:image/png;base64,`+onePixelPNG+`"`)) {
					t.Errorf("the image did not reach Chat as a data URL: %s", up)
				}
				r = chat(t, &api.ChatRequest{Model: "anthropic/claude-sonnet-4-5", Messages: []api.Message{{Role: "user", Content: "What is this?", Images: []api.ImageData{png}}}})
				if r.text != "I see an image/png image." {
					t.Errorf("Anthropic's answer %q: the image did not reach it as a PNG", r.text)
				}
			})

			t.Run("format json", func(t *testing.T) {
				r := chat(t, &api.ChatRequest{Model: "llamacpp/qwen3", Format: json.RawMessage(`"json"`), Messages: user("Weather in Paris as JSON")})
				if rf := parseChatRequest(t, b.chat.last(t).body).ResponseFormat; string(rf) != `{"type":"json_object"}` || r.text != weatherJSON {
					t.Errorf("response_format %s, answer %q", rf, r.text)
				}
			})

			t.Run("format schema", func(t *testing.T) {
				r := chat(t, &api.ChatRequest{Model: "llamacpp/qwen3", Format: schema, Messages: user("Weather in Paris as JSON")})
				var rf struct {
					Type       string `json:"type"`
					JSONSchema struct {
						Name   string          `json:"name"`
						Schema json.RawMessage `json:"schema"`
					} `json:"json_schema"`
				}
				json.Unmarshal(parseChatRequest(t, b.chat.last(t).body).ResponseFormat, &rf)
				var got, want any
				json.Unmarshal(rf.JSONSchema.Schema, &got)
				json.Unmarshal(schema, &want)
				if rf.Type != "json_schema" || rf.JSONSchema.Name == "" || !cmp.Equal(got, want) || r.text != weatherJSON {
					t.Errorf("response_format %+v, answer %q", rf, r.text)
				}
			})

			for _, tc := range []struct {
				think  string
				effort string // "" for none
			}{{"true", "medium"}, {`"high"`, "high"}, {`"low"`, "low"}, {"false", ""}} {
				t.Run("think "+tc.think, func(t *testing.T) {
					var think api.ThinkValue
					json.Unmarshal([]byte(tc.think), &think)
					r := chat(t, &api.ChatRequest{Model: "llamacpp/qwen3", Think: &think, Messages: user("Say hello")})
					got := parseChatRequest(t, b.chat.last(t).body).ReasoningEffort
					wantThinking := map[bool]string{true: "Thinking it over, locally."}[tc.effort != ""]
					if got != tc.effort || r.thinking != wantThinking || r.text != "Hello from qwen3." {
						t.Errorf("reasoning_effort %q, thinking %q, text %q; want %q, %q", got, r.thinking, r.text, tc.effort, wantThinking)
					}
				})
			}

			t.Run("options", func(t *testing.T) {
				chat(t, &api.ChatRequest{Model: "llamacpp/qwen3", Messages: user("Say hello"), Options: map[string]any{
					"num_predict": 128, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stop": []string{"\n\n"}, "seed": 42, "num_ctx": 8192}})
				var got map[string]json.RawMessage
				json.Unmarshal(b.chat.last(t).body, &got)
				for k, want := range map[string]string{"max_tokens": "128", "temperature": "0.2", "top_p": "0.9", "top_k": "40", "stop": `["\n\n"]`, "seed": "42"} {
					if string(got[k]) != want {
						t.Errorf("%s = %s, want %s", k, got[k], want)
					}
				}
				// The fake refuses what Chat has no parameter for; num_ctx is Ollama's alone.
				chat(t, &api.ChatRequest{Model: "ollama/llama3.2", Messages: user("Say hello"), Options: map[string]any{"num_predict": 128, "num_ctx": 8192}})
				var native api.ChatRequest
				if json.Unmarshal(b.native.last(t).body, &native); native.Options["num_ctx"] != float64(8192) || native.Options["num_predict"] != float64(128) {
					t.Errorf("the native upstream got options %v", native.Options)
				}
			})
		})
	}

	// Ollama's clients name models with the default tag, which no
	// provider knows: the door routes the name without it.
	t.Run("latest tag", func(t *testing.T) {
		for _, tc := range []struct{ path, body, route, model string }{
			{"/api/chat", `{"model":"local:latest","stream":false,"messages":[{"role":"user","content":"hi"}]}`, "local:llamacpp/qwen3", "local:latest"},
			{"/api/chat", `{"model":"ollama/llama3.2:latest","stream":false,"messages":[{"role":"user","content":"hi"}]}`, "local:ollama/llama3.2", "llama3.2"},
			{"/api/generate", `{"model":"coder:latest","prompt":"a","suffix":"b","stream":false}`, "local:ollama/qwen2.5-coder:1.5b", "qwen2.5-coder:1.5b"},
			{"/api/embed", `{"model":"ollama/nomic-embed-text:latest","input":"a"}`, "local:ollama/nomic-embed-text", "nomic-embed-text"},
		} {
			status, header, body := olPost(t, p, tc.path, tc.body, nil)
			if r := header.Get("X-LocalRouter-Route"); status != 200 || !strings.HasPrefix(r, tc.route) {
				t.Errorf("%s %s: %d, route %q: %s; want %s…", tc.path, tc.body, status, r, body, tc.route)
			}
			if !bytes.Contains(body, []byte(`"model":`+js(tc.model))) {
				t.Errorf("%s: the answer names %s, want %s", tc.path, body, tc.model)
			}
		}
	})

	// Ollama answers a load with done and done_reason load, and no
	// metrics: nothing was evaluated.
	t.Run("load", func(t *testing.T) {
		for _, be := range b.table() {
			before := be.count()
			status, _, body := olPost(t, p, "/api/chat", `{"model":`+js(be.chat)+`}`, nil)
			var r api.ChatResponse
			if err := json.Unmarshal(body, &r); err != nil || status != 200 || !r.Done || r.DoneReason != "load" || r.Message.Role != "assistant" || r.CreatedAt.IsZero() {
				t.Errorf("%s: a load answered %d %s; want done, done_reason load", be.name, status, body)
			}
			if n := be.count() - before; !be.native && n != 0 {
				t.Errorf("%s: a load reached a translated upstream %d times: it has nothing to load", be.name, n)
			}
		}
		status, _, body := olPost(t, p, "/api/generate", `{"model":"llamacpp/qwen3"}`, nil)
		var r api.GenerateResponse
		if err := json.Unmarshal(body, &r); err != nil || status != 200 || !r.Done || r.DoneReason != "load" {
			t.Errorf("/api/generate load answered %d %s", status, body)
		}
	})
}

// olFIMPrompt and olFIMSuffix are a fill-in-the-middle request's two halves.
const (
	olFIMPrompt = "def add(a, b):\n    "
	olFIMSuffix = "\n\nprint(add(1, 2))\n"
)

// TestOllamaGenerate drives the client's Generate through each kind of
// backend, streamed and not: with a suffix (FIM) to the native upstream's
// /api/generate as sent, to an OpenAI-compatible server's /v1/completions
// (prompt, suffix, max_tokens, …), and to Anthropic and Gemini, which have
// no completions API, a 400 naming the route; without one, a one-turn chat
// on every backend.
func TestOllamaGenerate(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	for _, be := range b.table() {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", be.name, stream), func(t *testing.T) {
				tap := &respTap{}
				c := ollamaClient(t, p, tap)

				t.Run("suffix", func(t *testing.T) {
					before := be.count()
					req := &api.GenerateRequest{Model: be.fim, Prompt: olFIMPrompt, Suffix: olFIMSuffix, Stream: &stream,
						Options: map[string]any{"num_predict": 32, "temperature": 0.1, "stop": []string{"\n\n", "<|endoftext|>"}}}
					text, parts, err := olGenerate(ctx, c, req)
					if be.noFIM {
						var se api.StatusError
						if !errors.As(err, &se) || se.StatusCode != 400 || !strings.Contains(se.ErrorMessage, "has no completions API") ||
							!strings.Contains(se.ErrorMessage, upstreamOf(be.fim)) {
							t.Errorf("FIM to %s: %v; want a 400 naming the route and its missing completions API", be.fim, err)
						}
						if _, _, body := tap.got(); ollamaError(body) == "" {
							t.Errorf("the refusal %s is not Ollama's {\"error\"}", body)
						}
						if r := tap.route(); !strings.HasPrefix(r, strings.Replace(be.route, be.upstream, upstreamOf(be.fim), 1)) {
							t.Errorf("X-LocalRouter-Route = %q on the refusal", r)
						}
						if n := be.count() - before; n != 0 {
							t.Errorf("the upstream got %d requests", n)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					up := upstreamOf(be.fim)
					last := parts[len(parts)-1]
					if text != fimText(up) || !last.Done || last.DoneReason != "stop" || last.Model != be.reported(be.fim, up) {
						t.Errorf("answer %q from %q, done %v %q; want %q from %q", text, last.Model, last.Done, last.DoneReason, fimText(up), be.reported(be.fim, up))
					}
					a := checkWire(t, tap, stream, true)
					if stream && a.lines < 3 {
						t.Errorf("%d lines: the answer was not streamed piece by piece", a.lines)
					}
					if be.native {
						checkPassedThrough(t, tap, b.native, be.fim, up)
						if rq := b.native.last(t); rq.path != "/api/generate" {
							t.Errorf("the native upstream was asked at %s", rq.path)
						}
						return
					}
					rq := b.chat.last(t)
					var got struct {
						Model         string   `json:"model"`
						Prompt        string   `json:"prompt"`
						Suffix        string   `json:"suffix"`
						MaxTokens     int      `json:"max_tokens"`
						Temperature   float64  `json:"temperature"`
						Stop          []string `json:"stop"`
						Stream        bool     `json:"stream"`
						StreamOptions *struct {
							IncludeUsage bool `json:"include_usage"`
						} `json:"stream_options"`
					}
					json.Unmarshal(rq.body, &got)
					if rq.path != "/v1/completions" || got.Model != up || got.Prompt != olFIMPrompt || got.Suffix != olFIMSuffix || got.MaxTokens != 32 ||
						got.Temperature != 0.1 || !slices.Equal(got.Stop, []string{"\n\n", "<|endoftext|>"}) || got.Stream != stream ||
						stream != (got.StreamOptions != nil && got.StreamOptions.IncludeUsage) {
						t.Errorf("%s got %s", rq.path, rq.body)
					}
				})

				t.Run("one-turn chat", func(t *testing.T) {
					text, parts, err := olGenerate(ctx, c, &api.GenerateRequest{Model: be.chat, System: "Be brief.", Prompt: "Say hello", Stream: &stream})
					if err != nil {
						t.Fatal(err)
					}
					last := parts[len(parts)-1]
					if text != be.hello || !last.Done || last.Model != be.reported(be.chat, be.upstream) {
						t.Errorf("answer %q from %q; want %q from %q", text, last.Model, be.hello, be.reported(be.chat, be.upstream))
					}
					checkWire(t, tap, stream, true)
					if r := tap.route(); !strings.HasPrefix(r, be.route) {
						t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
					}
					switch up := be.body(t); {
					case be.native:
						checkPassedThrough(t, tap, b.native, be.chat, be.upstream)
					case be.name == "openai-compatible":
						r := parseChatRequest(t, up)
						if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[0].text() != "Be brief." ||
							r.Messages[1].Role != "user" || r.Messages[1].text() != "Say hello" {
							t.Errorf("the chat request %s: want the system prompt and the prompt as two messages", up)
						}
					default:
						if !bytes.Contains(up, []byte("Be brief.")) || !bytes.Contains(up, []byte("Say hello")) {
							t.Errorf("the upstream got %.500s", up)
						}
					}
				})
			})
		}
	}
}

// TestOllamaEmbed drives the client's Embed, and the legacy Embeddings,
// through each kind of backend: the native upstream's /api/embed as sent,
// an OpenAI-compatible server's /v1/embeddings, Gemini's
// batchEmbedContents, and Anthropic, which has no embeddings API: a 400.
func TestOllamaEmbed(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	// want is what each fake embeds input i into (dims 0: its default).
	want := map[string]func(i, dims int) []float32{
		"openai-compatible": func(i, dims int) []float32 { return embedVector(1, i, dims, 4) },
		"gemini":            func(i, dims int) []float32 { return embedVector(100, i, dims, 3) },
		"native":            func(i, dims int) []float32 { return embedVector(10, i, dims, 6) },
	}
	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			tap := &respTap{}
			c := ollamaClient(t, p, tap)
			for _, tc := range []struct {
				name   string
				input  any
				n      int
				dims   int
				inputs []string
			}{
				{"string", "The quick brown fox", 1, 0, []string{"The quick brown fox"}},
				{"array", []string{"first", "second", "third"}, 3, 0, []string{"first", "second", "third"}},
				{"dimensions", []string{"first", "second"}, 2, 2, []string{"first", "second"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := be.count()
					resp, err := c.Embed(ctx, &api.EmbedRequest{Model: be.embed, Input: tc.input, Dimensions: tc.dims})
					if r := tap.route(); r == "" {
						t.Error("no X-LocalRouter-Route")
					}
					if be.noEmbed {
						var se api.StatusError
						if !errors.As(err, &se) || se.StatusCode != 400 || !strings.Contains(se.ErrorMessage, "has no embeddings API") ||
							!strings.Contains(se.ErrorMessage, upstreamOf(be.embed)) {
							t.Errorf("embeddings from %s: %v; want a 400 naming the route and its missing embeddings API", be.embed, err)
						}
						if _, _, body := tap.got(); ollamaError(body) == "" {
							t.Errorf("the refusal %s is not Ollama's {\"error\"}", body)
						}
						if n := be.count() - before; n != 0 {
							t.Errorf("the upstream got %d requests", n)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					var vs [][]float32
					for i := range tc.n {
						vs = append(vs, want[be.name](i, tc.dims))
					}
					if !cmp.Equal(resp.Embeddings, vs) || resp.Model != be.reported(be.embed, upstreamOf(be.embed)) {
						t.Errorf("embeddings %v from %q; want %v from %q", resp.Embeddings, resp.Model, vs, be.reported(be.embed, upstreamOf(be.embed)))
					}
					_, _, body := tap.got()
					var raw map[string]json.RawMessage
					json.Unmarshal(body, &raw)
					for _, k := range []string{"model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"} {
						if _, ok := raw[k]; !ok {
							t.Errorf("the answer lacks %s, which Ollama's has: %s", k, body)
						}
					}
					up := be.body(t)
					switch be.name {
					case "native":
						checkPassedThrough(t, tap, b.native, be.embed, upstreamOf(be.embed))
					case "openai-compatible":
						var got struct {
							Model      string          `json:"model"`
							Input      json.RawMessage `json:"input"`
							Dimensions int             `json:"dimensions"`
						}
						json.Unmarshal(up, &got)
						var in any
						json.Unmarshal(got.Input, &in)
						wantIn, _ := json.Marshal(tc.input)
						var w any
						json.Unmarshal(wantIn, &w)
						if rq := b.chat.last(t); rq.path != "/v1/embeddings" || got.Model != "text-embedding-3-small" || !cmp.Equal(in, w) || got.Dimensions != tc.dims {
							t.Errorf("%s got %s", rq.path, up)
						}
					case "gemini":
						var got struct {
							Requests []struct {
								Model   string `json:"model"`
								Content struct {
									Parts []struct{ Text string }
								} `json:"content"`
								OutputDimensionality int `json:"outputDimensionality"`
							} `json:"requests"`
						}
						json.Unmarshal(up, &got)
						var texts []string
						for _, r := range got.Requests {
							for _, pt := range r.Content.Parts {
								texts = append(texts, pt.Text)
							}
							if r.OutputDimensionality != tc.dims {
								t.Errorf("outputDimensionality %d, want %d", r.OutputDimensionality, tc.dims)
							}
						}
						if !slices.Equal(texts, tc.inputs) {
							t.Errorf("Gemini embedded %q, want %q: %s", texts, tc.inputs, up)
						}
					}
				})
			}

			t.Run("legacy", func(t *testing.T) {
				resp, err := c.Embeddings(ctx, &api.EmbeddingRequest{Model: be.embed, Prompt: "The quick brown fox"})
				if be.noEmbed {
					var se api.StatusError
					if !errors.As(err, &se) || se.StatusCode != 400 {
						t.Errorf("legacy embeddings from %s: %v; want a 400", be.embed, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var w []float64
				for _, x := range want[be.name](0, 0) {
					w = append(w, float64(x))
				}
				if !cmp.Equal(resp.Embedding, w) {
					t.Errorf("embedding %v, want %v", resp.Embedding, w)
				}
				if _, _, body := tap.got(); !bytes.HasPrefix(body, []byte(`{"embedding":[`)) {
					t.Errorf("the legacy answer %s is not {\"embedding\":[…]}", body)
				}
				if be.native {
					checkPassedThrough(t, tap, b.native, be.embed, upstreamOf(be.embed))
					if rq := b.native.last(t); rq.path != "/api/embeddings" {
						t.Errorf("the native upstream was asked at %s", rq.path)
					}
				}
			})
		})
	}
}

// olDo sends a request with headers to the gateway and returns the status,
// the headers and the whole body.
func olDo(t *testing.T, p *proc, method, path, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, []byte(readAll(t, resp.Body))
}

// copilotHeaders are what Copilot's BYOK Ollama provider sends with every
// request: its User-Agent, the fetcher it used, and an empty bearer token
// (BYOKAuthType.None still emits one).
var copilotHeaders = map[string]string{
	"User-Agent":                          "GitHubCopilotChat/0.33.2",
	"Authorization":                       "Bearer ",
	"X-VSCode-User-Agent-Library-Version": "node-fetch",
}

// copilotChatHeaders are the ones it adds to chat requests.
var copilotChatHeaders = map[string]string{
	"Content-Type":         "application/json",
	"X-Request-Id":         "5f0e6b5c-2b1f-4c39-9a57-1e8a3f0c7d21",
	"X-Interaction-Type":   "conversation-agent",
	"OpenAI-Intent":        "conversation-agent",
	"X-GitHub-Api-Version": "2025-05-01",
}

// TestOllamaCopilotDiscovery replays what Copilot's BYOK Ollama provider
// does when pointed at the gateway (github.copilot.chat.byok.ollamaEndpoint):
// GET /api/version (refused below 0.6.4), GET /api/tags, POST /api/show
// for every model (context window from model_info[<arch>.context_length],
// else 4096; tools and vision from capabilities; the name from
// general.basename), then chat over /v1/chat/completions and
// /chat/completions with its body and headers.
func TestOllamaCopilotDiscovery(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	hdr := func(extra map[string]string) map[string]string {
		h := maps.Clone(copilotHeaders)
		maps.Copy(h, extra)
		return h
	}

	status, _, body := olDo(t, p, http.MethodGet, "/api/version", "", hdr(nil))
	var version struct{ Version string }
	if err := json.Unmarshal(body, &version); err != nil || status != 200 || !versionAtLeast(version.Version, "0.6.4") {
		t.Fatalf("GET /api/version: %d %s; Copilot wants a version of at least 0.6.4", status, body)
	}

	status, _, body = olDo(t, p, http.MethodGet, "/api/tags", "", hdr(nil))
	var tags struct {
		Models []struct {
			Name, Model string
		}
	}
	if err := json.Unmarshal(body, &tags); err != nil || status != 200 || len(tags.Models) == 0 {
		t.Fatalf("GET /api/tags: %d %s", status, body)
	}
	// What Copilot derives from /api/show for each model.
	type info struct {
		context int
		tools   bool
		name    string
	}
	wantContext := map[string]int{"llamacpp/": 32768, "anthropic/": 200000, "ollama/": 4096, "google/": 4096}
	chatModels := []string{}
	for _, m := range tags.Models {
		if m.Model == "" {
			t.Errorf("a model without its model id: %+v", m)
			continue
		}
		status, header, body := olDo(t, p, http.MethodPost, "/api/show", `{"model":`+js(m.Model)+`}`, hdr(map[string]string{"Content-Type": "application/json"}))
		var show struct {
			Capabilities []string       `json:"capabilities"`
			ModelInfo    map[string]any `json:"model_info"`
		}
		if err := json.Unmarshal(body, &show); err != nil || status != 200 || show.ModelInfo == nil {
			t.Errorf("POST /api/show %s: %d %s", m.Model, status, body)
			continue
		}
		arch, _ := show.ModelInfo["general.architecture"].(string)
		var in info
		in.context = 4096
		if n, ok := show.ModelInfo[arch+".context_length"].(float64); ok {
			in.context = int(n)
		}
		in.tools = slices.Contains(show.Capabilities, "tools")
		in.name, _ = show.ModelInfo["general.basename"].(string)
		if in.name == "" {
			in.name = m.Model
		}
		if header.Get("X-LocalRouter-Route") == "" {
			t.Errorf("/api/show %s: no X-LocalRouter-Route", m.Model)
		}
		for prefix, want := range wantContext {
			if strings.HasPrefix(m.Model, prefix) && in.context != want {
				t.Errorf("%s: Copilot reads a context window of %d, want %d", m.Model, in.context, want)
			}
		}
		if strings.HasPrefix(m.Model, "ollama/nomic") {
			if in.tools || !slices.Contains(show.Capabilities, "embedding") {
				t.Errorf("%s: capabilities %v; the native upstream says embedding only", m.Model, show.Capabilities)
			}
			continue
		}
		if !in.tools {
			t.Errorf("%s: capabilities %v lack tools: Copilot would not offer it in agent mode", m.Model, show.Capabilities)
		}
		// A config cannot tell an embedding model from a chat model (the
		// native upstream can, above); Copilot's user would not pick one.
		if !strings.Contains(m.Model, "embed") {
			chatModels = append(chatModels, m.Model)
		}
	}
	if len(chatModels) < 8 {
		t.Fatalf("only %d chat models listed: %v", len(chatModels), chatModels)
	}

	for _, m := range chatModels {
		for _, path := range []string{"/v1/chat/completions", "/chat/completions"} {
			t.Run(m+path, func(t *testing.T) {
				req := `{"messages":[{"role":"system","content":"You are an expert AI programming assistant."},{"role":"user","content":"Say hello"}],` +
					`"model":` + js(m) + `,"temperature":0,"top_p":1,"n":1,"stream":true,"stream_options":{"include_usage":true},` +
					`"tools":[{"type":"function","function":{"name":"read_file","description":"Read a file.","parameters":{"type":"object","properties":{"filePath":{"type":"string"}},"required":["filePath"]}}}],"tool_choice":"auto"}`
				status, header, body := olDo(t, p, http.MethodPost, path, req, hdr(copilotChatHeaders))
				if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
					t.Fatalf("%d %s: %s", status, header.Get("Content-Type"), body)
				}
				evs, err := parseSSE(body)
				if err != nil || len(evs) < 2 || evs[len(evs)-1].data != "[DONE]" {
					t.Fatalf("not an SSE stream ending in [DONE] (%v): %s", err, body)
				}
				said := false
				for _, ev := range evs[:len(evs)-1] {
					var c struct {
						Choices []struct {
							Delta struct {
								Content   string          `json:"content"`
								ToolCalls json.RawMessage `json:"tool_calls"`
							} `json:"delta"`
						} `json:"choices"`
					}
					json.Unmarshal([]byte(ev.data), &c)
					for _, ch := range c.Choices {
						said = said || ch.Delta.Content != "" || len(ch.Delta.ToolCalls) > 0
					}
				}
				if !said {
					t.Errorf("the stream said nothing: %s", body)
				}
				if header.Get("X-LocalRouter-Route") == "" {
					t.Error("no X-LocalRouter-Route")
				}
			})
		}
	}
}

// zedStops are the stop tokens Zed's Ollama edit prediction sends.
var zedStops = []string{"<|endoftext|>", "<|file_separator|>", "<|fim_pad|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
	"<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<PRE>", "<SUF>", "<MID>", "[PREFIX]", "[SUFFIX]"}

// zedRequest is the body Zed's Ollama edit prediction posts to
// /api/generate (crates/edit_prediction, OllamaGenerateRequest as serde
// writes it): a prompt it formatted in the model's FIM tokens itself, raw,
// not streamed, and its options.
func zedRequest(model, prompt string) string {
	stops, _ := json.Marshal(zedStops)
	return `{"model":` + js(model) + `,"prompt":` + js(prompt) + `,"raw":true,"stream":false,"options":{"num_predict":64,"temperature":0.2,"stop":` + string(stops) + `}}`
}

const zedUserAgent = "Zed/0.210.4 (macos; aarch64)"

// TestOllamaZedEditPrediction replays Zed's edit prediction against the
// Ollama door: the native upstream gets it as sent, an OpenAI-compatible
// server as a completion of the raw prompt (no suffix: Zed put the FIM
// tokens in the prompt), and Zed reads the one answer's response.
func TestOllamaZedEditPrediction(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	prompt := "<|fim_prefix|>fn add(a: i32, b: i32) -> i32 {\n    <|fim_suffix|>\n}\n<|fim_middle|>"
	for _, tc := range []struct {
		name, model, upstream, route string
	}{
		{"native", "ollama/qwen2.5-coder:1.5b", "qwen2.5-coder:1.5b", "local:ollama/qwen2.5-coder:1.5b"},
		{"alias", "coder", "qwen2.5-coder:1.5b", "local:ollama/qwen2.5-coder:1.5b"},
		{"openai-compatible", "llamacpp/qwen2.5-coder-7b", "qwen2.5-coder-7b", "local:llamacpp/qwen2.5-coder-7b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := zedRequest(tc.model, prompt)
			status, header, answer := olDo(t, p, http.MethodPost, "/api/generate", body, map[string]string{"Content-Type": "application/json", "User-Agent": zedUserAgent})
			if status != 200 {
				t.Fatalf("status %d: %s", status, answer)
			}
			// Zed deserializes {response} and reads nothing else.
			var got struct {
				Response *string `json:"response"`
			}
			if err := json.Unmarshal(answer, &got); err != nil || got.Response == nil || *got.Response != fimText(tc.upstream) {
				t.Errorf("answer %s, want response %q", answer, fimText(tc.upstream))
			}
			if _, err := checkOllamaObject(answer, captureShape(t, true)); err != nil {
				t.Errorf("%v: %s", err, answer)
			}
			if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, tc.route) {
				t.Errorf("X-LocalRouter-Route = %q, want %s…", r, tc.route)
			}
			if tc.name != "openai-compatible" {
				want := strings.Replace(body, `"model":`+js(tc.model), `"model":`+js(tc.upstream), 1)
				if up := b.native.last(t); up.path != "/api/generate" || string(up.body) != want {
					t.Errorf("the native upstream got %s %s\nwant %s", up.path, up.body, want)
				}
				return
			}
			up := b.chat.last(t)
			var req struct {
				Model       string   `json:"model"`
				Prompt      string   `json:"prompt"`
				Suffix      *string  `json:"suffix"`
				MaxTokens   int      `json:"max_tokens"`
				Temperature float64  `json:"temperature"`
				Stop        []string `json:"stop"`
				Stream      bool     `json:"stream"`
			}
			json.Unmarshal(up.body, &req)
			if up.path != "/v1/completions" || req.Model != tc.upstream || req.Prompt != prompt || req.Suffix != nil && *req.Suffix != "" ||
				req.MaxTokens != 64 || req.Temperature != 0.2 || !slices.Equal(req.Stop, zedStops) || req.Stream {
				t.Errorf("%s got %s", up.path, up.body)
			}
		})
	}
}

// TestOllamaRulesSeeEndpointAndClient: rules see the endpoint (an Ollama
// FIM request is "completions", as /v1/completions is) and the client
// named by the User-Agent, so FIM and Zed stay local while chat goes to
// the remote default; the route header says which rule, and the request
// log both.
func TestOllamaRulesSeeEndpointAndClient(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(`  rules:
    - {when: 'endpoint == "completions"', use: local}
    - {when: 'client == "zed"', use: local}
    - {when: 'endpoint == "embeddings"', use: ollama/nomic-embed-text}
`))
	const (
		local  = "local:llamacpp/qwen3"
		remote = "remote:anthropic/claude-sonnet-4-5"
	)
	zed := map[string]string{"Content-Type": "application/json", "User-Agent": zedUserAgent}
	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		route            string // the whole X-LocalRouter-Route, or a prefix ending in " ("
		answer           string
	}{
		{"api/generate FIM", "/api/generate", `{"model":"auto","prompt":` + js(olFIMPrompt) + `,"suffix":` + js(olFIMSuffix) + `,"stream":false}`, nil,
			local + " (rule 1 (config, on endpoint))", fimText("qwen3")},
		{"v1/completions FIM", "/v1/completions", `{"model":"auto","prompt":` + js(olFIMPrompt) + `,"suffix":` + js(olFIMSuffix) + `}`, nil,
			local + " (rule 1 (config, on endpoint))", fimText("qwen3")},
		{"api/chat", "/api/chat", `{"model":"auto","stream":false,"messages":[{"role":"user","content":"hi"}]}`, nil, remote + " (", "Hello from Claude."},
		{"api/generate without suffix", "/api/generate", `{"model":"auto","stream":false,"prompt":"hi"}`, nil, remote + " (", "Hello from Claude."},
		{"v1/chat/completions", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`, nil, remote + " (", "Hello from Claude."},
		{"api/chat from Zed", "/api/chat", `{"model":"auto","stream":false,"messages":[{"role":"user","content":"hi"}]}`, zed,
			local + " (rule 2 (config, on client))", "Hello from qwen3."},
		{"Zed's edit prediction", "/api/generate", zedRequest("auto", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"), zed,
			local + " (rule 1 (config, on endpoint))", fimText("qwen3")},
		{"api/embed", "/api/embed", `{"model":"auto","input":"hi"}`, nil, "local:ollama/nomic-embed-text (rule 3 (config, on endpoint))", "nomic-embed-text"},
		{"v1/embeddings", "/v1/embeddings", `{"model":"auto","input":"hi"}`, nil, "local:ollama/nomic-embed-text (rule 3 (config, on endpoint))", "nomic-embed-text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := olDo(t, p, http.MethodPost, tc.path, tc.body, withJSON(tc.hdr))
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			r := header.Get("X-LocalRouter-Route")
			if strings.HasSuffix(tc.route, " (") && (!strings.HasPrefix(r, tc.route) || strings.Contains(r, "rule")) ||
				!strings.HasSuffix(tc.route, " (") && r != tc.route {
				t.Errorf("X-LocalRouter-Route = %q, want %s", r, tc.route)
			}
			if !bytes.Contains(body, []byte(js(tc.answer))) {
				t.Errorf("answer %s, want %q", body, tc.answer)
			}
		})
	}
	// The log is complete once the process has exited.
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
	var fim, embed, fromZed string
	for line := range strings.Lines(p.Logs()) {
		switch {
		case strings.Contains(line, "path=/api/generate") && strings.Contains(line, "rule 1"):
			fim = line
		case strings.Contains(line, "path=/api/embed ") && strings.Contains(line, "rule 3"):
			embed = line
		case strings.Contains(line, "path=/api/chat") && strings.Contains(line, "rule 2"):
			fromZed = line
		}
	}
	if !strings.Contains(fim, "endpoint=completions") {
		t.Errorf("the log line of a FIM /api/generate does not say endpoint=completions: %q", fim)
	}
	if !strings.Contains(embed, "endpoint=embeddings") {
		t.Errorf("the log line of /api/embed does not say endpoint=embeddings: %q", embed)
	}
	// Issue 12: both endpoint and client are in the request log.
	if !strings.Contains(fromZed, "client=zed") {
		t.Errorf("the log line of Zed's /api/chat does not say client=zed: %q", fromZed)
	}
}

// withJSON is hdr with Content-Type: application/json unless it sets one.
func withJSON(hdr map[string]string) map[string]string {
	out := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		out[k] = v
	}
	return out
}

// TestOllamaEndpointModels: with routing.fim_model and
// routing.embedding_model, auto, local, remote and unknown names use them
// on the completions and embeddings endpoints (of both doors) instead of
// the side's chat model; chat keeps local_model and remote_model, and a
// provider/model named by the client is kept.
func TestOllamaEndpointModels(t *testing.T) {
	b := newOlBackends(t)
	cloud := newFakeChat(t)
	p := start(t, b.config(`  fim_model: {local: "ollama/qwen2.5-coder:1.5b", remote: cloud/codestral-latest}
  embedding_model: {local: ollama/nomic-embed-text, remote: "google/`+geminiEmbedModel+`"}
`)+`  cloud:
    type: openai
    api_key: `+upstreamKey+`
    base_url: `+cloud.URL+`/v1
    local: false
    models: [codestral-latest]
`)
	fim := func(model string) string {
		return `{"model":` + js(model) + `,"prompt":` + js(olFIMPrompt) + `,"suffix":` + js(olFIMSuffix) + `,"stream":false}`
	}
	embed := func(model string) string { return `{"model":` + js(model) + `,"input":["first","second"]}` }
	nativeFIM := "local:ollama/qwen2.5-coder:1.5b"
	cloudFIM := "remote:cloud/codestral-latest"
	nativeEmbed := "local:ollama/nomic-embed-text"
	geminiEmbed := "remote:google/" + geminiEmbedModel
	for _, tc := range []struct {
		name, path, body string
		route, why       string // prefix of X-LocalRouter-Route and what its reason says; "" for no fim or embedding model
		model            string // the upstream's model
	}{
		{"api/generate local", "/api/generate", fim("local"), nativeFIM, "fim model", "qwen2.5-coder:1.5b"},
		{"api/generate remote", "/api/generate", fim("remote"), cloudFIM, "fim model", "codestral-latest"},
		{"api/generate auto", "/api/generate", fim("auto"), cloudFIM, "fim model", "codestral-latest"},
		{"api/generate unknown name", "/api/generate", fim("qwen2.5-coder"), cloudFIM, "fim model", "codestral-latest"},
		{"api/generate provider/model", "/api/generate", fim("llamacpp/qwen2.5-coder-7b"), "local:llamacpp/qwen2.5-coder-7b", "", "qwen2.5-coder-7b"},
		{"v1/completions local", "/v1/completions", fim("local"), nativeFIM, "fim model", "qwen2.5-coder:1.5b"},
		{"v1/completions remote", "/v1/completions", fim("remote"), cloudFIM, "fim model", "codestral-latest"},
		{"api/chat local", "/api/chat", `{"model":"local","stream":false,"messages":[{"role":"user","content":"hi"}]}`, "local:llamacpp/qwen3", "", "qwen3"},
		{"api/chat remote", "/api/chat", `{"model":"remote","stream":false,"messages":[{"role":"user","content":"hi"}]}`, "remote:anthropic/claude-sonnet-4-5", "", "claude-sonnet-4-5"},
		{"api/embed local", "/api/embed", embed("local"), nativeEmbed, "embedding model", "nomic-embed-text"},
		{"api/embed remote", "/api/embed", embed("remote"), geminiEmbed, "embedding model", geminiEmbedModel},
		{"api/embed auto", "/api/embed", embed("auto"), geminiEmbed, "embedding model", geminiEmbedModel},
		{"api/embeddings local", "/api/embeddings", `{"model":"local","prompt":"first"}`, nativeEmbed, "embedding model", "nomic-embed-text"},
		{"v1/embeddings local", "/v1/embeddings", embed("local"), nativeEmbed, "embedding model", "nomic-embed-text"},
		{"v1/embeddings remote", "/v1/embeddings", embed("remote"), geminiEmbed, "embedding model", geminiEmbedModel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := olDo(t, p, http.MethodPost, tc.path, tc.body, withJSON(nil))
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			r := header.Get("X-LocalRouter-Route")
			if !strings.HasPrefix(r, tc.route) || tc.why != "" && !strings.Contains(r, tc.why) ||
				tc.why == "" && (strings.Contains(r, "fim model") || strings.Contains(r, "embedding model")) {
				t.Errorf("X-LocalRouter-Route = %q, want %s… (%s)", r, tc.route, tc.why)
			}
			// Which upstream took it, with which model.
			var up []byte
			switch provider, _, _ := strings.Cut(strings.SplitN(tc.route, ":", 2)[1], "/"); provider {
			case "ollama":
				up = b.native.last(t).body
			case "cloud":
				up = cloud.last(t).body
			case "llamacpp":
				up = b.chat.last(t).body
			case "anthropic":
				up = b.api.last(t).body
			case "google":
				up = b.gemini.lastBody(t)
				if !bytes.Contains(up, []byte(`"model":"models/`+tc.model+`"`)) {
					t.Errorf("Gemini got %s, want model %s", up, tc.model)
				}
				return
			}
			if !bytes.Contains(up, []byte(`"model":`+js(tc.model))) {
				t.Errorf("the upstream got %s, want model %s", up, tc.model)
			}
		})
	}
}

// TestOllamaBadInput: the gateway's own refusals on the Ollama door come
// in Ollama's shape, {"error":"…"} alone (the captures 33 and 34), with
// the status Ollama would use and a message that says what is wrong, and
// nothing reaches an upstream.
func TestOllamaBadInput(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	hi := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		says             []string // in the message
	}{
		{"unknown model", "/api/chat", `{"model":"nope/x",` + hi + `}`, nil, 404, []string{"nope/x"}},
		{"unknown model, streamed", "/api/chat", `{"model":"nope/x","stream":true,` + hi + `}`, nil, 404, []string{"nope/x"}},
		{"unknown model", "/api/generate", `{"model":"nope/x","prompt":"hi"}`, nil, 404, []string{"nope/x"}},
		{"unknown model, FIM", "/api/generate", `{"model":"nope/x","prompt":"a","suffix":"b"}`, nil, 404, []string{"nope/x"}},
		{"unknown model", "/api/embed", `{"model":"nope/x","input":"hi"}`, nil, 404, []string{"nope/x"}},
		{"unknown model", "/api/embeddings", `{"model":"nope/x","prompt":"hi"}`, nil, 404, []string{"nope/x"}},
		{"unknown model", "/api/show", `{"model":"nope/x"}`, nil, 404, []string{"nope/x"}},
		{"FIM to a route without FIM", "/api/generate", `{"model":"anthropic/claude-sonnet-4-5","prompt":"def f(","suffix":")","stream":false}`, nil, 400,
			[]string{"anthropic/claude-sonnet-4-5", "completions"}},
		{"raw to a route without FIM, streamed", "/api/generate", `{"model":"google/gemini-3-flash","prompt":"<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>","raw":true}`, nil, 400,
			[]string{"google/gemini-3-flash", "completions"}},
		{"embeddings from Anthropic", "/api/embed", `{"model":"anthropic/claude-sonnet-4-5","input":["a","b"]}`, nil, 400,
			[]string{"anthropic/claude-sonnet-4-5", "embeddings"}},
		{"legacy embeddings from Anthropic", "/api/embeddings", `{"model":"remote","prompt":"a"}`, nil, 400,
			[]string{"anthropic/claude-sonnet-4-5", "embeddings"}},
		{"invalid JSON", "/api/chat", `{"model":"local",`, nil, 400, nil},
		{"invalid JSON", "/api/generate", `{"model":"local","prompt":`, nil, 400, nil},
		{"invalid JSON", "/api/embed", `{"model":"local","input":[`, nil, 400, nil},
		{"invalid JSON", "/api/embeddings", `{"model":`, nil, 400, nil},
		{"invalid JSON", "/api/show", `{"model":`, nil, 400, nil},
		{"messages not a list", "/api/chat", `{"model":"local","messages":"hi"}`, nil, 400, []string{"messages"}},
		{"missing model", "/api/chat", `{` + hi + `}`, nil, 400, []string{"model"}},
		{"missing model", "/api/generate", `{"prompt":"hi"}`, nil, 400, []string{"model"}},
		{"missing model", "/api/embed", `{"input":"hi"}`, nil, 400, []string{"model"}},
		{"missing model", "/api/show", `{}`, nil, 400, []string{"model"}},
		{"foreign Host", "/api/chat", `{"model":"local",` + hi + `}`, map[string]string{"Host": "evil.example:11434"}, 403, []string{"evil.example"}},
		{"foreign Host", "/api/generate", `{"model":"local","prompt":"a","suffix":"b"}`, map[string]string{"Host": "evil.example"}, 403, []string{"evil.example"}},
		{"foreign Host", "/api/show", `{"model":"local"}`, map[string]string{"Host": "evil.example"}, 403, []string{"evil.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name+tc.path, func(t *testing.T) {
			status, header, body := olDo(t, p, http.MethodPost, tc.path, tc.body, withJSON(tc.hdr))
			msg := ollamaError(body)
			if status != tc.status || msg == "" {
				t.Errorf("status %d, body %s; want %d and Ollama's {\"error\":\"…\"}", status, body, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(msg, s) {
					t.Errorf("the error %q does not say %q", msg, s)
				}
			}
			if ct, _, _ := mime.ParseMediaType(header.Get("Content-Type")); ct != "application/json" {
				t.Errorf("Content-Type %q", header.Get("Content-Type"))
			}
			if tc.status == 404 && tc.path != "/api/show" && !strings.HasPrefix(header.Get("X-LocalRouter-Route"), "none") {
				t.Errorf("X-LocalRouter-Route = %q, want none (…)", header.Get("X-LocalRouter-Route"))
			}
		})
	}
	t.Run("foreign Host/api/tags", func(t *testing.T) {
		status, _, body := olDo(t, p, http.MethodGet, "/api/tags", "", map[string]string{"Host": "evil.example"})
		if status != 403 || ollamaError(body) == "" {
			t.Errorf("status %d, body %s; want 403 {\"error\"}", status, body)
		}
	})
	// Ollama's client reads the refusals as StatusErrors.
	t.Run("client", func(t *testing.T) {
		c := ollamaClient(t, p, &respTap{})
		_, err := olChat(context.Background(), c, &api.ChatRequest{Model: "nope/x", Messages: []api.Message{{Role: "user", Content: "hi"}}})
		var se api.StatusError
		if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(se.ErrorMessage, "nope/x") {
			t.Errorf("Chat(nope/x): %v", err)
		}
	})
	if n := len(b.chat.requests()) + len(b.api.requests()) + len(b.native.requests()); n > 0 {
		t.Errorf("refused requests reached an upstream %d times", n)
	}
}

// TestOllamaUpstreamErrors: an upstream's error before the first byte
// reaches the client with its status, in Ollama's shape, streamed or not:
// the native upstream's own (the v0.33 capture of a runner that cannot
// start), an OpenAI-compatible server's 429 with Retry-After and vLLM's
// refusal of a suffix, Anthropic's 529.
func TestOllamaUpstreamErrors(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	v033 := capture(t, "v0.33-30-api-chat-stream.body")
	for _, tc := range []struct {
		name, path, model string
		status            int
		retryAfter        string
		says              string
		setup             func()
	}{
		{"native runner cannot start", "/api/chat", "ollama/llama3.2", 500, "", ollamaError(v033), func() {
			b.native.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				w.Header().Set("Content-Type", captureContentType(t, "v0.33-30-api-chat-stream"))
				w.WriteHeader(500)
				w.Write(v033)
				return true
			})
		}},
		{"openai-compatible rate limit", "/api/chat", "llamacpp/qwen3", 429, "17", "Rate limit reached", func() {
			b.chat.setHook(func(w http.ResponseWriter, r *http.Request, _ map[string]json.RawMessage) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "17")
				w.WriteHeader(429)
				io.WriteString(w, openAIErrorJSON("Rate limit reached for requests", "requests", "", "rate_limit_exceeded"))
				return true
			})
		}},
		{"vLLM refuses a suffix", "/api/generate", "llamacpp/qwen2.5-coder-7b", 400, "", "suffix is not currently supported", func() {
			b.chat.setHook(func(w http.ResponseWriter, r *http.Request, _ map[string]json.RawMessage) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				// vLLM's own error shape.
				io.WriteString(w, `{"object":"error","message":"suffix is not currently supported","type":"BadRequestError","param":null,"code":400}`)
				return true
			})
		}},
		{"anthropic overloaded", "/api/chat", "anthropic/claude-sonnet-4-5", 529, "", "Overloaded", func() {
			b.api.setHook(func(w http.ResponseWriter, r *http.Request, _ *msgReq) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(529)
				io.WriteString(w, anthropicErrorJSON("overloaded_error", "Overloaded"))
				return true
			})
		}},
	} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				tc.setup()
				defer func() { b.native.setHook(nil); b.chat.setHook(nil); b.api.setHook(nil) }()
				body := `{"model":` + js(tc.model) + `,"stream":` + strconv.FormatBool(stream) + `,"messages":[{"role":"user","content":"hi"}]}`
				if tc.path == "/api/generate" {
					body = `{"model":` + js(tc.model) + `,"stream":` + strconv.FormatBool(stream) + `,"prompt":"a","suffix":"b"}`
				}
				status, header, got := olDo(t, p, http.MethodPost, tc.path, body, withJSON(nil))
				msg := ollamaError(got)
				if status != tc.status || !strings.Contains(msg, tc.says) {
					t.Errorf("status %d, body %s; want %d and {\"error\"} saying %q", status, got, tc.status, tc.says)
				}
				if ra := header.Get("Retry-After"); ra != tc.retryAfter {
					t.Errorf("Retry-After = %q, want %q", ra, tc.retryAfter)
				}
				if header.Get("X-LocalRouter-Route") == "" {
					t.Error("no X-LocalRouter-Route on an upstream error")
				}
			})
		}
	}
}

// TestOllamaStreamFailures: a stream that fails after it began — the
// upstream's connection cut, its own error line (the capture 43 of a
// runner killed mid-stream), an error event, a stream that just stops —
// ends with one last line {"error":"…"} and no done line, on every path:
// native NDJSON relayed, Chat and Messages translated, FIM bridged; and
// Ollama's client reports it.
func TestOllamaStreamFailures(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	killed := dechunk(t, capture(t, "43-api-chat-stream-runner-killed.raw"))
	nativeStart := func(w http.ResponseWriter, model string) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, ollamaChatLine(model, "Once ", "", ""))
		io.WriteString(w, ollamaChatLine(model, "upon a time", "", ""))
		w.(http.Flusher).Flush()
	}
	chatStart := func(w http.ResponseWriter, model string) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunk(model, `{"role":"assistant","content":""}`, ""))
		io.WriteString(w, chunk(model, `{"content":"Once "}`, ""))
		io.WriteString(w, chunk(model, `{"content":"upon a time"}`, ""))
		w.(http.Flusher).Flush()
	}
	completionsStart := func(w http.ResponseWriter, model string) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, s := range []string{"Once ", "upon a time"} {
			fmt.Fprintf(w, `data: {"id":"cmpl-e2e","object":"text_completion","created":1764000000,"model":%s,"choices":[{"text":%s,"index":0,"logprobs":null,"finish_reason":null}]}`+"\n\n", js(model), js(s))
		}
		w.(http.Flusher).Flush()
	}
	cases := []struct {
		name, path, model string
		native            func(w http.ResponseWriter, model string)
		chat              func(w http.ResponseWriter, model string)
		api               func(w http.ResponseWriter, req *msgReq)
		says              string // in the error line
		whole             []byte // the whole answer, when it is the upstream's relayed
	}{
		{name: "native cut", path: "/api/chat", model: "ollama/llama3.2", native: func(w http.ResponseWriter, model string) {
			nativeStart(w, model)
			panic(http.ErrAbortHandler)
		}},
		{name: "native stops without done", path: "/api/chat", model: "ollama/llama3.2", native: nativeStart},
		{name: "native runner killed", path: "/api/chat", model: "ollama/llama3.2", whole: killed, says: "unexpected EOF",
			native: func(w http.ResponseWriter, _ string) {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Write(killed)
			}},
		{name: "native FIM cut", path: "/api/generate", model: "ollama/qwen2.5-coder:1.5b", native: func(w http.ResponseWriter, model string) {
			w.Header().Set("Content-Type", "application/x-ndjson")
			io.WriteString(w, ollamaHead(model)+`,"response":"Once ","done":false}`+"\n")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
		{name: "translated cut", path: "/api/chat", model: "llamacpp/qwen3", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			panic(http.ErrAbortHandler)
		}},
		{name: "translated error event", path: "/api/chat", model: "llamacpp/qwen3", says: "maximum context length", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			io.WriteString(w, `data: {"error":{"message":"This model's maximum context length is 32768 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`+"\n\n")
		}},
		{name: "translated generate cut", path: "/api/generate-chat", model: "llamacpp/qwen3", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			panic(http.ErrAbortHandler)
		}},
		{name: "anthropic cut", path: "/api/chat", model: "anthropic/claude-sonnet-4-5", api: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, messagesEvents(req.Model, []aBlock{{typ: "text", text: "Once upon a time there was"}}, "end_turn")[:5])
			panic(http.ErrAbortHandler)
		}},
		{name: "anthropic error event", path: "/api/chat", model: "anthropic/claude-sonnet-4-5", says: "Overloaded", api: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, append(messagesEvents(req.Model, []aBlock{{typ: "text", text: "Once upon a time there was"}}, "end_turn")[:5],
				`event: error`+"\n"+`data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
		}},
		{name: "FIM bridge cut", path: "/api/generate", model: "llamacpp/qwen2.5-coder-7b", chat: func(w http.ResponseWriter, model string) {
			completionsStart(w, model)
			panic(http.ErrAbortHandler)
		}},
		{name: "FIM bridge stops without DONE", path: "/api/generate", model: "llamacpp/qwen2.5-coder-7b", chat: completionsStart},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case tc.native != nil:
				b.native.setHook(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
					var req struct{ Model string }
					json.Unmarshal(body, &req)
					tc.native(w, req.Model)
					return true
				})
				defer b.native.setHook(nil)
			case tc.chat != nil:
				b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
					var model string
					json.Unmarshal(req["model"], &model)
					tc.chat(w, model)
					return true
				})
				defer b.chat.setHook(nil)
			default:
				b.api.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
					tc.api(w, req)
					return true
				})
				defer b.api.setHook(nil)
			}
			path, body := tc.path, `{"model":`+js(tc.model)+`,"messages":[{"role":"user","content":"Tell me a story"}]}`
			generate := strings.HasPrefix(path, "/api/generate")
			switch path {
			case "/api/generate":
				body = `{"model":` + js(tc.model) + `,"prompt":"Once","suffix":"the end."}`
			case "/api/generate-chat":
				path, body = "/api/generate", `{"model":`+js(tc.model)+`,"prompt":"Tell me a story"}`
			}
			status, _, raw := olPost(t, p, path, body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if tc.whole != nil && !bytes.Equal(raw, tc.whole) {
				t.Errorf("the upstream's lines were not relayed as they came:\n got %s\nwant %s", raw, tc.whole)
			}
			a, err := checkNDJSON(raw, captureShape(t, generate))
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			if a.err == "" || a.done != nil {
				t.Errorf("a failed stream must end with an {\"error\"} line and no done line:\n%s", raw)
			}
			if !strings.HasPrefix(a.text, "Once ") && tc.whole == nil {
				t.Errorf("what came before the failure was not relayed: %q", a.text)
			}
			if !strings.Contains(a.err, tc.says) {
				t.Errorf("the error %q does not say %q", a.err, tc.says)
			}
			// Ollama's client reports the failure after what came before it.
			c := ollamaClient(t, p, &respTap{})
			var got string
			var cerr error
			if generate {
				var req api.GenerateRequest
				json.Unmarshal([]byte(body), &req)
				got, _, cerr = olGenerate(context.Background(), c, &req)
			} else {
				var req api.ChatRequest
				json.Unmarshal([]byte(body), &req)
				var r *olReply
				r, cerr = olChat(context.Background(), c, &req)
				got = r.text
			}
			if cerr == nil || tc.says != "" && !strings.Contains(cerr.Error(), tc.says) {
				t.Errorf("the client returned %v after %q; want the stream's error", cerr, got)
			}
		})
	}
}

// abortDeadline bounds the wait for an upstream to see its request
// canceled: a hang detector, far above the milliseconds it takes.
const abortDeadline = 10 * time.Second

// TestOllamaClientAbort: a client that goes away mid-stream, or while it
// waits for a whole answer, cancels the upstream request, on every path:
// native pass-through, translated, FIM bridged; the first line reached the
// client while the upstream was still at work; the gateway then serves
// the next request.
func TestOllamaClientAbort(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	const holdOn = "Hold on"
	for _, tc := range []struct {
		name, model string
		fim         bool
	}{
		{"native chat", "ollama/llama3.2", false},
		{"native FIM", "ollama/qwen2.5-coder:1.5b", true},
		{"translated chat", "llamacpp/qwen3", false},
		{"anthropic chat", "anthropic/claude-sonnet-4-5", false},
		{"FIM bridge", "llamacpp/qwen2.5-coder-7b", true},
	} {
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				started, canceled := make(chan struct{}), make(chan struct{})
				// The upstream sends its first event (in a stream), then waits
				// for the gateway to give up on it.
				hold := func(w http.ResponseWriter, r *http.Request, ct, first string) {
					if stream {
						w.Header().Set("Content-Type", ct)
						io.WriteString(w, first)
						w.(http.Flusher).Flush()
					}
					close(started)
					<-r.Context().Done()
					close(canceled)
				}
				b.native.setHook(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
					if !bytes.Contains(body, []byte(holdOn)) {
						return false
					}
					var req struct{ Model string }
					json.Unmarshal(body, &req)
					first := ollamaChatLine(req.Model, "Hel", "", "")
					if tc.fim {
						first = ollamaHead(req.Model) + `,"response":"ret","done":false}` + "\n"
					}
					hold(w, r, "application/x-ndjson", first)
					return true
				})
				b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
					if !bytes.Contains(req["messages"], []byte(holdOn)) && !bytes.Contains(req["prompt"], []byte(holdOn)) {
						return false
					}
					first := chunk("qwen3", `{"role":"assistant","content":"Hel"}`, "")
					if tc.fim {
						first = `data: {"id":"cmpl-e2e","object":"text_completion","created":1764000000,"model":"qwen2.5-coder-7b","choices":[{"text":"ret","index":0,"logprobs":null,"finish_reason":null}]}` + "\n\n"
					}
					hold(w, r, "text/event-stream", first)
					return true
				})
				b.api.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
					if last := req.lastTurn(); len(last) == 0 || last[0].Text == nil || *last[0].Text != holdOn {
						return false
					}
					hold(w, r, "text/event-stream", strings.Join(messagesEvents(req.Model, []aBlock{{typ: "text", text: "Hi"}}, "end_turn")[:4], "\n\n")+"\n\n")
					return true
				})
				defer func() { b.native.setHook(nil); b.chat.setHook(nil); b.api.setHook(nil) }()

				c := ollamaClient(t, p, &respTap{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				run := func(ctx context.Context, prompt string, first func()) (string, error) {
					if tc.fim {
						var text string
						err := c.Generate(ctx, &api.GenerateRequest{Model: tc.model, Prompt: prompt, Suffix: "}", Stream: &stream}, func(r api.GenerateResponse) error {
							text += r.Response
							first()
							return nil
						})
						return text, err
					}
					var text string
					err := c.Chat(ctx, &api.ChatRequest{Model: tc.model, Stream: &stream, Messages: []api.Message{{Role: "user", Content: prompt}}}, func(r api.ChatResponse) error {
						text += r.Message.Content
						first()
						return nil
					})
					return text, err
				}
				errc := make(chan error, 1)
				gotFirst := make(chan string, 1)
				go func() {
					_, err := run(ctx, holdOn, func() {
						select {
						case gotFirst <- "first":
						default:
						}
					})
					errc <- err
				}()
				if stream {
					// The first line came while the upstream still held the request.
					select {
					case <-gotFirst:
					case err := <-errc:
						t.Fatalf("the stream ended before its first line: %v", err)
					}
				} else {
					<-started
				}
				cancel()
				// Ollama's client ends a stream whose body fails to read
				// without an error (it does not check its scanner's).
				if err := <-errc; !errors.Is(err, context.Canceled) && !(stream && err == nil) {
					t.Errorf("the canceled request returned %v", err)
				}
				select {
				case <-canceled:
				case <-time.After(abortDeadline):
					t.Fatalf("the upstream request was still running %v after the client went away\n%s", abortDeadline, p.Logs())
				}

				text, err := run(context.Background(), "Say hello", func() {})
				if err != nil || text == "" {
					t.Fatalf("the request after the abort: %q, %v", text, err)
				}
			})
		}
	}
}

package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/localrouter/localrouter/config"
)

const testKey = "sk-test-0123456789abcdef"

// upstream is a fake OpenAI-compatible server that records what it got.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex // guards reqs
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func newUpstream(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Header.Clone(), body})
		u.mu.Unlock()
		h(w, r, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) recorded {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream got no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// completion answers like OpenAI's non-streamed Chat Completions.
func completion(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Model string `json:"model"`
	}
	json.Unmarshal(body, &req)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Hi there."},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12},"vendor_extra":{"kept":true}}`, req.Model)
}

// chunks answers like OpenAI's streamed Chat Completions with the given
// content pieces, a usage chunk when asked, then [DONE].
func chunks(pieces ...string) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req struct {
			Model         string `json:"model"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		json.Unmarshal(body, &req)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i, p := range pieces {
			role := ""
			if i == 0 {
				role = `"role":"assistant",`
			}
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{%s\"content\":%q},\"finish_reason\":null}]}\n\n", req.Model, role, p)
			f.Flush()
		}
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", req.Model)
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", req.Model, len(pieces), 5+len(pieces))
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
}

// gateway builds a Server from YAML (with UPSTREAM replaced by the URL) and
// serves it on loopback.
func gateway(t testing.TB, yaml string, upstreamURL string) (*Server, *httptest.Server) {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "UPSTREAM", upstreamURL)
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	var logs bytes.Buffer
	s, err := New(Options{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

const oneProvider = `
providers:
  deepseek:
    api_key: ` + testKey + `
    base_url: UPSTREAM
    local: false
    models: [deepseek-chat]
routing:
  default: remote
  remote_model: deepseek-chat
mock:
  token_delay: 0s
`

func post(t testing.TB, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sseData reads an SSE body and returns the data of each event.
func sseData(t testing.TB, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

type errorShape struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t testing.TB, b []byte) errorShape {
	t.Helper()
	var e errorShape
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body (%v): %s", err, b)
	}
	return e
}

// streamText joins the content deltas of an SSE chat stream.
func streamText(t testing.TB, body []byte) string {
	t.Helper()
	var b strings.Builder
	for _, d := range sseData(t, bytes.NewReader(body)) {
		if d == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct{ Content string }
			}
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("bad chunk %q: %v", d, err)
		}
		for _, ch := range c.Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	return b.String()
}

// either answers as a stream or not, as the request asks.
func either(w http.ResponseWriter, r *http.Request, body []byte) {
	if strings.Contains(string(body), `"stream":true`) {
		chunks("a", "b", "c")(w, r, body)
		return
	}
	completion(w, r, body)
}

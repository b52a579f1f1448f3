package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const upstreamKey = "sk-e2e-upstream-key-4f2a9c"

// fakeOpenAI is an httptest server speaking OpenAI's Chat Completions wire
// format as documented: JSON for non-stream, `data: <chunk>` events ending
// with `data: [DONE]` for stream, a usage chunk with empty choices when
// stream_options.include_usage is set, and tool calls streamed as an id+name
// delta followed by argument fragments.
type fakeOpenAI struct {
	*httptest.Server
	mu   sync.Mutex // guards reqs
	reqs []seen
}

type seen struct {
	path   string
	header http.Header
	body   []byte
}

type chatReq struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools    []json.RawMessage `json:"tools"`
	Messages []struct {
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

func newFakeOpenAI(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOpenAI) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("upstream got no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{r.URL.Path, r.Header.Clone(), body})
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+upstreamKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		// Real vendors echo (part of) the key they rejected.
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		return
	}
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req chatReq
	if err := json.Unmarshal(body, &req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":null}}`, err.Error())
		return
	}
	switch {
	case !req.Stream:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-e2e","object":"chat.completion","created":1764000000,"model":%q,`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from %s.","refusal":null},"logprobs":null,"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_e2e"}`, req.Model, req.Model)
	case len(req.Tools) > 0:
		f.streamTool(w, req)
	default:
		delay := time.Duration(0)
		if strings.HasPrefix(req.Model, "slow") {
			delay = 100 * time.Millisecond
		}
		f.streamText(w, r, req, []string{"The", " quick", " brown", " fox", "."}, delay)
	}
}

func chunk(model, delta, finish string) string {
	if finish == "" {
		finish = "null"
	} else {
		finish = `"` + finish + `"`
	}
	return fmt.Sprintf(`data: {"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1764000000,"model":%q,"system_fingerprint":"fp_e2e","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}`+"\n\n", model, delta, finish)
}

func (f *fakeOpenAI) streamText(w http.ResponseWriter, r *http.Request, req chatReq, pieces []string, delay time.Duration) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	io.WriteString(w, chunk(req.Model, `{"role":"assistant","content":""}`, ""))
	fl.Flush()
	for _, p := range pieces {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		b, _ := json.Marshal(p)
		io.WriteString(w, chunk(req.Model, `{"content":`+string(b)+`}`, ""))
		fl.Flush()
	}
	io.WriteString(w, chunk(req.Model, `{}`, "stop"))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		fmt.Fprintf(w, `data: {"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1764000000,"model":%q,"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n", req.Model, len(pieces), 12+len(pieces))
	}
	io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

// streamTool streams one get_weather call the way OpenAI does: id, type and
// name on the first delta, then the arguments in fragments.
func (f *fakeOpenAI) streamTool(w http.ResponseWriter, req chatReq) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	io.WriteString(w, chunk(req.Model, `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":""}}]}`, ""))
	for _, frag := range []string{`{"ci`, `ty":"Par`, `is","unit"`, `:"celsius"}`} {
		b, _ := json.Marshal(frag)
		io.WriteString(w, chunk(req.Model, `{"tool_calls":[{"index":0,"function":{"arguments":`+string(b)+`}}]}`, ""))
		fl.Flush()
	}
	io.WriteString(w, chunk(req.Model, `{}`, "tool_calls"))
	io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

func providerConfig(upstreamURL string) string {
	return `
routing:
  default: remote
  remote_model: deepseek-chat
providers:
  deepseek:
    api_key: ` + upstreamKey + `
    base_url: ` + upstreamURL + `/v1
    local: false
    models: [deepseek-chat]
`
}

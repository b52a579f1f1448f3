package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

// What Continue's autocomplete sends to /v1/completions, with a field
// LocalRouter does not model: it must reach an OpenAI-compatible upstream
// byte for byte.
const fimBody = `{"model":"qwen2.5-coder:1.5b","prompt":"def fib(n):\n    ","suffix":"\n    return a","max_tokens":128,` +
	`"temperature":0.01,"stop":["\n\n","<|endoftext|>"],"stream":true,"x_vendor":{"keep":[1, 2]}}`

// OpenAI's completions stream, with include_usage: text chunks, the
// finish chunk, the usage chunk, [DONE].
var (
	complChunks = []string{
		`{"id":"cmpl-AB1","object":"text_completion","created":1736000000,"choices":[{"text":"a, b = 0,","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct:20230824-v2"}`,
		`{"id":"cmpl-AB1","object":"text_completion","created":1736000000,"choices":[{"text":" 1","index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct:20230824-v2"}`,
		`{"id":"cmpl-AB1","object":"text_completion","created":1736000000,"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}],"model":"gpt-3.5-turbo-instruct:20230824-v2"}`,
		`{"id":"cmpl-AB1","object":"text_completion","created":1736000000,"choices":[],"model":"gpt-3.5-turbo-instruct:20230824-v2","usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`,
	}
	complUsage = &providers.Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17}
)

const complAnswer = `{"id":"cmpl-AB2","object":"text_completion","created":1736000000,"model":"gpt-3.5-turbo-instruct:20230824-v2",` +
	`"choices":[{"text":"a, b = 0, 1","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`

const embedAnswer = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347]},` +
	`{"object":"embedding","index":1,"embedding":[-0.0011,0.0042,0.0031]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`

// forward runs Forward as the proxy does: with stream set it reads out
// until Forward returns.
func forward(ctx context.Context, c *Client, req providers.NativeRequest, stream bool) ([]string, *providers.NativeResponse, error) {
	if !stream {
		resp, err := c.Forward(ctx, req, nil)
		return nil, resp, err
	}
	out := make(chan []byte)
	type result struct {
		resp *providers.NativeResponse
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := c.Forward(ctx, req, sinktest.Chan(ctx, out))
		res <- result{resp, err}
		close(out)
	}()
	var got []string
	for ev := range out {
		got = append(got, string(ev))
	}
	r := <-res
	return got, r.resp, r.err
}

// events is the SSE wire form of each data.
func events(datas ...string) []string {
	out := make([]string, len(datas))
	for i, d := range datas {
		out[i] = data(d)
	}
	return out
}

func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestSpeaks(t *testing.T) {
	all := []providers.Protocol{providers.ProtocolCompletions, providers.ProtocolEmbeddings, providers.ProtocolOllama,
		providers.ProtocolAnthropic, providers.ProtocolResponses}
	for _, tc := range []struct {
		base      string
		protocols []providers.Protocol
		want      []bool // in the order of all
	}{
		{"http://127.0.0.1:11434/v1", nil, []bool{true, true, false, false, false}},
		{"http://127.0.0.1:11434/v1", []providers.Protocol{providers.ProtocolOllama, providers.ProtocolAnthropic}, []bool{true, true, true, true, false}},
		{"https://api.openai.com/v1", []providers.Protocol{providers.ProtocolResponses}, []bool{true, true, false, false, true}},
		{"https://api.deepseek.com/v1", nil, []bool{true, false, false, false, false}},
		{"https://API.DeepSeek.com", []providers.Protocol{providers.ProtocolEmbeddings}, []bool{true, true, false, false, false}},
		{"https://api.mistral.ai/v1", nil, []bool{true, true, false, false, false}},
		{"https://codestral.mistral.ai/v1", nil, []bool{true, true, false, false, false}},
		{"https://api.groq.com/openai/v1", nil, []bool{false, false, false, false, false}},
	} {
		c := newClient(t, tc.base, func(o *Options) { o.Protocols = tc.protocols })
		got := make([]bool, len(all))
		for i, p := range all {
			got[i] = c.Speaks(p)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %v: Speaks %v (-want +got):\n%s", tc.base, tc.protocols, all, diff)
		}
	}
}

func TestForwardCompletions(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		up := newUpstream(t, sseHandler(append(events(complChunks...), done)...))
		c := newClient(t, up.URL+"/v1", nil)
		got, resp, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolCompletions,
			Path: "/v1/completions", Body: []byte(fimBody)}, true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append(events(complChunks...), done), got); diff != "" {
			t.Errorf("relayed events (-want +got):\n%s", diff)
		}
		if !cmp.Equal(resp.Usage, complUsage) {
			t.Errorf("got usage %+v, want %+v", resp.Usage, complUsage)
		}
		checkNative(t, up.requests(), "/v1/completions", fimBody, "text/event-stream")
	})
	t.Run("non-stream", func(t *testing.T) {
		up := newUpstream(t, jsonHandler(http.StatusOK, complAnswer))
		c := newClient(t, up.URL+"/v1", nil)
		body := strings.Replace(fimBody, `"stream":true`, `"stream":false`, 1)
		_, resp, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolCompletions,
			Path: "/v1/completions", Body: []byte(body)}, false)
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != complAnswer || resp.Status != http.StatusOK || !cmp.Equal(resp.Usage, complUsage) {
			t.Errorf("got %d %s usage %+v, want the upstream's answer and its usage", resp.Status, resp.Body, resp.Usage)
		}
		checkNative(t, up.requests(), "/v1/completions", body, "application/json")
	})
	t.Run("deepseek beta", func(t *testing.T) {
		up := newUpstream(t, jsonHandler(http.StatusOK, complAnswer))
		c := newClient(t, up.URL+"/v1", nil)
		c.vendor, c.origin = vendorDeepSeek, up.URL // as for https://api.deepseek.com/v1
		_, _, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolCompletions,
			Path: "/v1/completions", Body: []byte(fimBody)}, false)
		if err != nil {
			t.Fatal(err)
		}
		checkNative(t, up.requests(), "/beta/completions", fimBody, "application/json")
	})
}

// checkNative asserts what the upstream received for one pass-through.
func checkNative(t *testing.T, got []received, path, body, accept string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != path {
		t.Errorf("got %s %s, want POST %s", r.Method, r.Path, path)
	}
	if r.Body != body {
		t.Errorf("upstream got body\n%s\nwant\n%s", r.Body, body)
	}
	if got := r.Header.Get("Accept"); got != accept {
		t.Errorf("got Accept %q, want %q", got, accept)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("got Authorization %q, want the key", got)
	}
}

func TestForwardCompletionsErrors(t *testing.T) {
	errEvent := `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`
	const badRequest = `{"error":{"message":"suffix is not supported for this model","type":"invalid_request_error","param":"suffix","code":null}}`
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		want     []string // events relayed
		relayed  bool     // the error wraps ErrRelayedFailure
		status   int
		raw      string
		msg      string
		sentinel error
	}{
		{name: "error event mid-stream", handler: sseHandler(data(complChunks[0]), data(errEvent)),
			want: events(complChunks[0], errEvent), relayed: true, msg: "The server had an error"},
		{name: "error event first", handler: sseHandler(data(errEvent)),
			raw: errEvent, msg: "The server had an error"},
		{name: "cut before [DONE]", handler: sseHandler(data(complChunks[0]), data(complChunks[1])),
			want: events(complChunks[:2]...), sentinel: ErrNoDone},
		{name: "error status", handler: jsonHandler(http.StatusBadRequest, badRequest),
			status: http.StatusBadRequest, raw: badRequest, msg: "suffix is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			c := newClient(t, up.URL+"/v1", nil)
			got, _, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolCompletions,
				Path: "/v1/completions", Body: []byte(fimBody)}, true)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("relayed events (-want +got):\n%s", diff)
			}
			e := asError(t, err)
			if errors.Is(err, providers.ErrRelayedFailure) != tt.relayed {
				t.Errorf("got ErrRelayedFailure %v, want %v", !tt.relayed, tt.relayed)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("got %v, want %v", err, tt.sentinel)
			}
			if e.Status != tt.status || string(e.Raw) != tt.raw || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("got status %d raw %q message %q, want %d %q …%s…", e.Status, e.Raw, e.Message, tt.status, tt.raw, tt.msg)
			}
		})
	}
}

// TestForwardCompletionsIncremental: the first event reaches out while
// the upstream still works on the rest; cancelling the client ends the
// upstream's request.
func TestForwardCompletionsIncremental(t *testing.T) {
	upstreamDone := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		sseHandler(data(complChunks[0]))(w, r)
		<-r.Context().Done()
	})
	c := newClient(t, up.URL+"/v1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan []byte)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Forward(ctx, providers.NativeRequest{Protocol: providers.ProtocolCompletions, Body: []byte(fimBody)}, sinktest.Chan(ctx, out))
		errc <- err
	}()
	select {
	case first := <-out:
		if string(first) != data(complChunks[0]) {
			t.Errorf("got first event %q, want %q", first, data(complChunks[0]))
		}
	case err := <-errc:
		t.Fatalf("stream ended with %v before the first event", err)
	case <-time.After(5 * time.Second):
		t.Fatal("first event not received while the upstream waits: the client buffers")
	}
	cancel()
	select {
	case <-upstreamDone:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request context still alive after the client cancelled")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
}

func TestForwardEmbeddings(t *testing.T) {
	const body = `{"model":"text-embedding-3-small","input":["def fib(n):","return a"],"encoding_format":"float","dimensions":3}`
	up := newUpstream(t, jsonHandler(http.StatusOK, embedAnswer))
	c := newClient(t, up.URL+"/v1", nil)
	req := providers.NativeRequest{Protocol: providers.ProtocolEmbeddings, Path: "/v1/embeddings", Body: []byte(body)}
	_, resp, err := forward(context.Background(), c, req, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&providers.Usage{PromptTokens: 8, TotalTokens: 8}); string(resp.Body) != embedAnswer || !cmp.Equal(resp.Usage, want) {
		t.Errorf("got %s usage %+v, want the upstream's answer and usage %+v", resp.Body, resp.Usage, want)
	}
	checkNative(t, up.requests(), "/v1/embeddings", body, "application/json")

	if _, _, err := forward(context.Background(), c, req, true); !errors.Is(err, errEmbeddingsStream) {
		t.Errorf("streamed embeddings: got %v, want errEmbeddingsStream", err)
	}
	ds := newClient(t, "https://api.deepseek.com/v1", nil)
	if _, err := ds.Forward(context.Background(), req, nil); err == nil || !strings.Contains(err.Error(), "does not serve the embeddings protocol") {
		t.Errorf("embeddings to DeepSeek: got %v, want a refusal before any request", err)
	}
}

// TestForwardOllama passes Ollama's own API through to the server's root,
// below the base URL's /v1.
func TestForwardOllama(t *testing.T) {
	lines := []string{
		`{"model":"qwen3","created_at":"2026-12-03T11:40:44.160664279Z","message":{"role":"assistant","content":"Hi"},"done":false}` + "\n",
		`{"model":"qwen3","created_at":"2026-12-03T11:40:44.171990472Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":15610016,"load_duration":1131127,"prompt_eval_count":26,"prompt_eval_duration":198335,"eval_count":2,"eval_duration":11007972}` + "\n",
	}
	const show = `{"modelfile":"FROM qwen3","details":{"family":"qwen3","parameter_size":"8.2B"},"model_info":{"qwen3.context_length":40960},"capabilities":["completion","tools"]}`
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/show" {
			jsonHandler(http.StatusOK, show)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		writeEvents(w, lines...)
	})
	c := newClient(t, up.URL+"/v1", func(o *Options) { o.Protocols = []providers.Protocol{providers.ProtocolOllama} })
	const chat = `{"model":"qwen3","messages":[{"role":"user","content":"hi"}],"options":{"num_ctx":8192}}`
	got, resp, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolOllama,
		Path: "/api/chat", Body: []byte(chat)}, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lines, got); diff != "" {
		t.Errorf("relayed lines (-want +got):\n%s", diff)
	}
	if want := (&providers.Usage{PromptTokens: 26, CompletionTokens: 2, TotalTokens: 28}); !cmp.Equal(resp.Usage, want) {
		t.Errorf("got usage %+v, want %+v", resp.Usage, want)
	}
	checkNative(t, up.requests(), "/api/chat", chat, "application/x-ndjson")

	_, resp, err = forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolOllama,
		Path: "/api/show", Body: []byte(`{"model":"qwen3"}`)}, false)
	if err != nil || string(resp.Body) != show {
		t.Errorf("/api/show: got %v, %v; want Ollama's answer", resp, err)
	}
	if _, err := c.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolOllama, Path: "/v1/chat/completions"}, nil); err == nil {
		t.Error("a path outside /api/ was sent to the Ollama API")
	}
	plain := newClient(t, up.URL+"/v1", nil)
	if _, err := plain.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolOllama, Path: "/api/chat"}, nil); err == nil {
		t.Error("a client without protocols: [ollama] forwarded Ollama's API")
	}
}

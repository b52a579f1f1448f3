package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

const testKey = "sk-test-0123456789abcdef"

// clientBody is what a client such as an IDE plugin sends: fields LocalRouter
// does not model, odd spacing and escapes must all reach the upstream as is.
const clientBody = `{"model":"auto", "messages":[{"role":"system","content":"caf\u00e9"},` +
	`{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],` +
	`"temperature":0.70,"x_vendor":{"model":"inner","keep":[1, 2]},"logit_bias":{"50256":-100}}`

// upstreamBody is clientBody as the upstream must receive it.
var upstreamBody = strings.Replace(clientBody, `"model":"auto"`, `"model":"gpt-4o-mini"`, 1)

// Real Chat Completions chunks, as OpenAI sends them with include_usage.
const (
	chunkRole    = `{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`
	chunkHello   = `{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}`
	chunkWorld   = `{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" wörld 👋"},"logprobs":null,"finish_reason":null}],"usage":null}`
	chunkStop    = `{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`
	chunkUsage   = `{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":3,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`
	chunkToolArg = `{"id":"chatcmpl-AB2","object":"chat.completion.chunk","created":1736000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"error\": \"usage\"}"}}]},"finish_reason":null}]}`
)

var wantUsage = &providers.Usage{
	PromptTokens: 19, CompletionTokens: 3, TotalTokens: 22,
	PromptTokensDetails:     &providers.PromptTokensDetails{CachedTokens: 4},
	CompletionTokensDetails: &providers.CompletionTokensDetails{ReasoningTokens: 1},
}

const nonStreamBody = `{
  "id": "chatcmpl-AB3",
  "object": "chat.completion",
  "created": 1736000000,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello wörld", "refusal": null, "annotations": []},
    "logprobs": null, "finish_reason": "stop"}],
  "usage": {"prompt_tokens": 19, "completion_tokens": 3, "total_tokens": 22,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 1, "audio_tokens": 0}},
  "service_tier": "default",
  "system_fingerprint": "fp_0ba0d124f1"
}
`

// received is one request as the upstream saw it.
type received struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// fakeUpstream is an httptest server that records each request and answers
// with handle.
type fakeUpstream struct {
	*httptest.Server
	mu   sync.Mutex // guards reqs
	reqs []received
}

func newUpstream(t *testing.T, handle http.HandlerFunc) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, received{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *fakeUpstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.reqs...)
}

func newClient(t *testing.T, base string, edit func(*Options)) *Client {
	t.Helper()
	o := Options{Name: "testai", BaseURL: base, APIKey: testKey}
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parse(t *testing.T, body, model string) *providers.ChatCompletionRequest {
	t.Helper()
	req, err := providers.ParseRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Model = model
	return req
}

// sseHandler answers with a 200 event stream made of events, each written
// and flushed on its own.
func sseHandler(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		writeEvents(w, events...)
	}
}

// writeEvents writes and flushes each event on its own.
func writeEvents(w http.ResponseWriter, events ...string) {
	for _, e := range events {
		io.WriteString(w, e)
		http.NewResponseController(w).Flush()
	}
}

func data(s string) string { return "data: " + s + "\n\n" }

const done = "data: [DONE]\n\n"

// collect runs a stream to its end, as the proxy does: it reads out until
// the provider returns, then closes out.
func collect(ctx context.Context, p providers.Provider, req *providers.ChatCompletionRequest) ([]*providers.ChatCompletionStreamResponse, error) {
	out := make(chan *providers.ChatCompletionStreamResponse)
	errc := make(chan error, 1)
	go func() {
		errc <- p.ChatCompletionStream(ctx, req, sinktest.Chan(ctx, out))
		close(out)
	}()
	var got []*providers.ChatCompletionStreamResponse
	for c := range out {
		got = append(got, c)
	}
	return got, <-errc
}

func raws(chunks []*providers.ChatCompletionStreamResponse) []string {
	s := make([]string, len(chunks))
	for i, c := range chunks {
		s[i] = string(c.Raw)
	}
	return s
}

// asError returns err as a *providers.Error or fails the test.
func asError(t *testing.T, err error) *providers.Error {
	t.Helper()
	var e *providers.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want a *providers.Error", err, err)
	}
	return e
}

// checkRequest asserts what the upstream received for one chat request.
func checkRequest(t *testing.T, got []received, wantBody, wantAccept string, wantHeader map[string]string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" {
		t.Errorf("got %s %s, want POST /v1/chat/completions", r.Method, r.Path)
	}
	if got, want := r.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("got Content-Type %q, want %q", got, want)
	}
	if got := r.Header.Get("Accept"); got != wantAccept {
		t.Errorf("got Accept %q, want %q", got, wantAccept)
	}
	for k, want := range wantHeader {
		if got := r.Header.Get(k); got != want {
			t.Errorf("got header %s %q, want %q", k, got, want)
		}
	}
	if r.Body != wantBody {
		t.Errorf("upstream got body\n%s\nwant\n%s", r.Body, wantBody)
	}
}

func TestChatCompletion(t *testing.T) {
	built := &providers.ChatCompletionRequest{Model: "llama3.2", Messages: []providers.Message{
		{Role: "user", Content: providers.Content{Text: "hi"}},
	}}
	tests := []struct {
		name       string
		req        func(t *testing.T) *providers.ChatCompletionRequest
		opts       func(*Options)
		base       string // appended to the server URL
		wantBody   string
		wantHeader map[string]string
	}{
		{
			name:     "raw body forwarded with model replaced",
			req:      func(t *testing.T) *providers.ChatCompletionRequest { return parse(t, clientBody, "gpt-4o-mini") },
			base:     "/v1",
			wantBody: upstreamBody,
			opts: func(o *Options) {
				o.Headers = map[string]string{"HTTP-Referer": "https://localrouter.dev", "X-Title": "LocalRouter"}
				o.UserAgent = "localrouter/test"
			},
			wantHeader: map[string]string{
				"Authorization": "Bearer " + testKey, "HTTP-Referer": "https://localrouter.dev",
				"X-Title": "LocalRouter", "User-Agent": "localrouter/test",
			},
		},
		{
			name:       "trailing slash on base url",
			req:        func(t *testing.T) *providers.ChatCompletionRequest { return parse(t, clientBody, "gpt-4o-mini") },
			base:       "/v1/",
			wantBody:   upstreamBody,
			wantHeader: map[string]string{"Authorization": "Bearer " + testKey},
		},
		{
			name:       "no key sends no authorization",
			req:        func(t *testing.T) *providers.ChatCompletionRequest { return parse(t, clientBody, "gpt-4o-mini") },
			opts:       func(o *Options) { o.APIKey = "" },
			base:       "/v1",
			wantBody:   upstreamBody,
			wantHeader: map[string]string{"Authorization": ""},
		},
		{
			name:       "request built in code is encoded",
			req:        func(*testing.T) *providers.ChatCompletionRequest { return built },
			base:       "/v1",
			wantBody:   `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`,
			wantHeader: map[string]string{"Authorization": "Bearer " + testKey},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, nonStreamBody)
			})
			c := newClient(t, up.URL+tc.base, tc.opts)
			req := tc.req(t)
			rawBefore := string(req.Raw)
			resp, err := c.ChatCompletion(context.Background(), req)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkRequest(t, up.requests(), tc.wantBody, "application/json", tc.wantHeader)
			if string(resp.Raw) != nonStreamBody {
				t.Errorf("got Raw\n%s\nwant the upstream body byte for byte\n%s", resp.Raw, nonStreamBody)
			}
			if body, _ := resp.Body(); string(body) != nonStreamBody {
				t.Errorf("got Body() %s, want the upstream body", body)
			}
			if diff := cmp.Diff(wantUsage, resp.Usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
			if string(req.Raw) != rawBefore {
				t.Errorf("request Raw modified: got %s, want %s", req.Raw, rawBefore)
			}
		})
	}
}

func TestChatCompletionStream(t *testing.T) {
	tests := []struct {
		name      string
		events    []string
		want      []string // Raw of each chunk
		wantUsage []*providers.Usage
	}{
		{
			name:      "openai with include_usage",
			events:    []string{data(chunkRole), data(chunkHello), data(chunkWorld), data(chunkStop), data(chunkUsage), done},
			want:      []string{chunkRole, chunkHello, chunkWorld, chunkStop, chunkUsage},
			wantUsage: []*providers.Usage{nil, nil, nil, nil, wantUsage},
		},
		{
			name: "comments, crlf and an event sent in pieces",
			events: []string{": OPENROUTER PROCESSING\n\n", "data: " + chunkHello[:40], chunkHello[40:] + "\r\n\r\n",
				": keep-alive\n", data(chunkStop), "data: [DO", "NE]\n\n"},
			want:      []string{chunkHello, chunkStop},
			wantUsage: []*providers.Usage{nil, nil},
		},
		{
			name:      "strings that mention error and usage are content",
			events:    []string{data(chunkToolArg), data(`{"id":"x","choices":[],"error":null}`), done},
			want:      []string{chunkToolArg, `{"id":"x","choices":[],"error":null}`},
			wantUsage: []*providers.Usage{nil, nil},
		},
		{
			name:      "nothing after done is read",
			events:    []string{data(chunkHello), done, data(chunkWorld)},
			want:      []string{chunkHello},
			wantUsage: []*providers.Usage{nil},
		},
		{
			name: "big tool call event",
			events: []string{data(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` +
				strings.Repeat("a", 300<<10) + `"}}]}}]}`), done},
			want: []string{`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` +
				strings.Repeat("a", 300<<10) + `"}}]}}]}`},
			wantUsage: []*providers.Usage{nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, sseHandler(tc.events...))
			c := newClient(t, up.URL+"/v1", func(o *Options) { o.Headers = map[string]string{"X-Extra": "1"} })
			got, err := collect(context.Background(), c, parse(t, clientBody, "gpt-4o-mini"))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			checkRequest(t, up.requests(), upstreamBody, "text/event-stream",
				map[string]string{"Authorization": "Bearer " + testKey, "X-Extra": "1"})
			if diff := cmp.Diff(tc.want, raws(got)); diff != "" {
				t.Errorf("chunks mismatch (-want +got):\n%s", diff)
			}
			var usages []*providers.Usage
			for _, c := range got {
				usages = append(usages, c.Usage)
			}
			if diff := cmp.Diff(tc.wantUsage, usages); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChatCompletionStreamIncremental proves chunks are relayed as they
// arrive: the upstream sends one event and then waits until the test has
// received it.
func TestChatCompletionStreamIncremental(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		sseHandler(data(chunkRole))(w, r)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		writeEvents(w, data(chunkHello), done)
	})
	c := newClient(t, up.URL+"/v1", nil)
	out := make(chan *providers.ChatCompletionStreamResponse)
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(context.Background(), parse(t, clientBody, "m"), sinktest.Chan(context.Background(), out))
	}()

	select {
	case first := <-out:
		if string(first.Raw) != chunkRole {
			t.Errorf("got first chunk %s, want %s", first.Raw, chunkRole)
		}
	case err := <-errc:
		t.Fatalf("stream ended with %v before the first chunk", err)
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("first chunk not received while the upstream waits: the client buffers")
	}
	close(release)
	select {
	case second := <-out:
		if string(second.Raw) != chunkHello {
			t.Errorf("got second chunk %s, want %s", second.Raw, chunkHello)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second chunk not received")
	}
	if err := <-errc; err != nil {
		t.Errorf("got error %v, want none", err)
	}
}

func TestChatCompletionStreamErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    []string // chunks before the error
		stage   providers.Stage
		status  int
		msg     string // substring of Message
		typ     string
		code    string
	}{
		{
			name:    "closed without done",
			handler: sseHandler(data(chunkRole), data(chunkHello)),
			want:    []string{chunkRole, chunkHello},
			stage:   providers.StageStream,
			msg:     "[DONE]",
		},
		{
			name:    "closed without done after a usage chunk",
			handler: sseHandler(data(chunkStop), data(chunkUsage)),
			want:    []string{chunkStop, chunkUsage},
			stage:   providers.StageStream,
		},
		{
			name:    "cut mid-event",
			handler: sseHandler(data(chunkRole), "data: "+chunkHello[:30]),
			want:    []string{chunkRole},
			stage:   providers.StageStream,
		},
		{
			name:    "empty 200 stream",
			handler: sseHandler(),
			stage:   providers.StageStream,
		},
		{
			name: "error data event",
			handler: sseHandler(data(chunkRole),
				data(`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":"overloaded"}}`)),
			want:  []string{chunkRole},
			stage: providers.StageStream,
			msg:   "The server had an error while processing your request.",
			typ:   "server_error",
			code:  "overloaded",
		},
		{
			name: "openrouter mid-stream error chunk",
			handler: sseHandler(data(chunkHello),
				data(`{"id":"gen-1","object":"chat.completion.chunk","created":1736000000,"model":"x","provider":"p",`+
					`"error":{"code":502,"message":"Provider disconnected"},`+
					`"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)),
			want:  []string{chunkHello},
			stage: providers.StageStream,
			msg:   "Provider disconnected",
			code:  "502",
		},
		{
			name: "error event",
			handler: sseHandler(data(chunkRole),
				"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
			want:  []string{chunkRole},
			stage: providers.StageStream,
			msg:   "Overloaded",
			typ:   "overloaded_error",
		},
		{
			name: "error event without an error object",
			handler: sseHandler(data(chunkRole),
				"event: error\ndata: {\"type\":\"error\",\"message\":\"Overloaded\"}\n\n"),
			want:  []string{chunkRole},
			stage: providers.StageStream,
			msg:   "Overloaded",
		},
		{
			name:    "error event with plain text",
			handler: sseHandler("event: error\ndata: upstream exploded\n\n"),
			stage:   providers.StageStream,
			msg:     "upstream exploded",
		},
		{
			name: "200 json error to a stream request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				io.WriteString(w, `{"error":{"message":"stream not supported for this model","type":"invalid_request_error","code":"unsupported"}}`)
			},
			stage:  providers.StageStatus,
			status: http.StatusBadGateway,
			msg:    "stream not supported for this model",
			typ:    "invalid_request_error",
			code:   "unsupported",
		},
		{
			name: "200 minimax json to a stream request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"base_resp":{"status_code":1008,"status_msg":"insufficient balance"}}`)
			},
			stage:  providers.StageStatus,
			status: http.StatusBadGateway,
			msg:    "insufficient balance",
			code:   "1008",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, tc.handler)
			c := newClient(t, up.URL+"/v1", nil)
			got, err := collect(context.Background(), c, parse(t, clientBody, "m"))
			if diff := cmp.Diff(tc.want, raws(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("chunks before the error mismatch (-want +got):\n%s", diff)
			}
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			e := asError(t, err)
			if e.Stage != tc.stage {
				t.Errorf("got stage %v, want %v", e.Stage, tc.stage)
			}
			if e.Status != tc.status {
				t.Errorf("got status %d, want %d", e.Status, tc.status)
			}
			if e.Timeout {
				t.Errorf("got Timeout true, want false")
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got message %q, want it to contain %q", e.Message, tc.msg)
			}
			if e.Type != tc.typ || e.Code != tc.code {
				t.Errorf("got type %q code %q, want %q %q", e.Type, e.Code, tc.typ, tc.code)
			}
			if e.Provider != "testai" {
				t.Errorf("got provider %q, want %q", e.Provider, "testai")
			}
		})
	}
}

func TestChatCompletionInvalidAnswers(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
		code   string
	}{
		{"minimax base_resp failure", `{"id":"","choices":null,"base_resp":{"status_code":1004,"status_msg":"login fail"}}`, http.StatusBadGateway, "login fail", "1004"},
		{"error object with 200", `{"error":{"message":"quota exceeded","type":"insufficient_quota","code":"insufficient_quota"}}`, http.StatusBadGateway, "quota exceeded", "insufficient_quota"},
		{"ollama string error with 200", `{"error":"model not loaded"}`, http.StatusBadGateway, "model not loaded", ""},
		{"not json", `<html>oops</html>`, http.StatusBadGateway, "not a JSON object", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body)
			})
			resp, err := newClient(t, up.URL+"/v1", nil).ChatCompletion(context.Background(), parse(t, clientBody, "m"))
			if err == nil {
				t.Fatalf("got response %s, want an error", resp.Raw)
			}
			e := asError(t, err)
			if e.Status != tc.status || !strings.Contains(e.Message, tc.msg) || e.Code != tc.code {
				t.Errorf("got status %d message %q code %q, want %d, %q, %q", e.Status, e.Message, e.Code, tc.status, tc.msg, tc.code)
			}
		})
	}

	// A successful Minimax answer carries base_resp with status_code 0, and
	// some servers send "error": null: neither is a failure.
	for _, body := range []string{
		`{"id":"1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"base_resp":{"status_code":0,"status_msg":"success"}}`,
		`{"id":"1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"error":null}`,
	} {
		t.Run("success "+body[len(body)-30:], func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
			resp, err := newClient(t, up.URL+"/v1", nil).ChatCompletion(context.Background(), parse(t, clientBody, "m"))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if string(resp.Raw) != body || resp.Usage == nil || resp.Usage.TotalTokens != 3 {
				t.Errorf("got Raw %s usage %+v, want the body and 3 total tokens", resp.Raw, resp.Usage)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		msg        string
		typ, code  string
		retryAfter string
	}{
		{
			name:   "401",
			status: http.StatusUnauthorized,
			body:   `{"error":{"message":"Incorrect API key provided: sk-test***cdef.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			msg:    "Incorrect API key provided: sk-test***cdef.", typ: "invalid_request_error", code: "invalid_api_key",
		},
		{
			name:   "429 with retry-after",
			status: http.StatusTooManyRequests,
			header: map[string]string{"Retry-After": "20", "X-Ratelimit-Remaining-Requests": "0"},
			body:   `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			msg:    "Rate limit reached for gpt-4o-mini", typ: "requests", code: "rate_limit_exceeded", retryAfter: "20",
		},
		{
			name:   "500",
			status: http.StatusInternalServerError,
			body:   `{"error":{"message":"The server had an error processing your request.","type":"server_error","param":null,"code":null}}`,
			msg:    "The server had an error processing your request.", typ: "server_error",
		},
		{
			name:   "503 html",
			status: http.StatusServiceUnavailable,
			header: map[string]string{"Content-Type": "text/html", "Retry-After": "5"},
			body:   "<html><h1>503 Service Temporarily Unavailable</h1></html>",
			msg:    "<html><h1>503 Service Temporarily Unavailable</h1></html>", retryAfter: "5",
		},
		{
			name:   "404 ollama",
			status: http.StatusNotFound,
			body:   `{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`,
			msg:    `model "llama9" not found, try pulling it first`, typ: "api_error",
		},
		{
			name:   "400 vllm",
			status: http.StatusBadRequest,
			body:   `{"object":"error","message":"maximum context length is 4096 tokens","type":"BadRequestError","param":null,"code":400}`,
			msg:    "maximum context length is 4096 tokens",
		},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.status)
					io.WriteString(w, tc.body)
				})
				c := newClient(t, up.URL+"/v1", nil)
				var err error
				var got []*providers.ChatCompletionStreamResponse
				if stream {
					got, err = collect(context.Background(), c, parse(t, clientBody, "m"))
				} else {
					_, err = c.ChatCompletion(context.Background(), parse(t, clientBody, "m"))
				}
				if len(got) != 0 {
					t.Errorf("got %d chunks, want none", len(got))
				}
				e := asError(t, err)
				want := providers.Error{Provider: "testai", Stage: providers.StageStatus, Status: tc.status,
					Message: tc.msg, Type: tc.typ, Code: tc.code}
				gotE := *e
				gotE.Header, gotE.Err = nil, nil
				if diff := cmp.Diff(want, gotE); diff != "" {
					t.Errorf("error mismatch (-want +got):\n%s", diff)
				}
				if got := e.Header.Get("Retry-After"); got != tc.retryAfter {
					t.Errorf("got Retry-After %q, want %q", got, tc.retryAfter)
				}
			})
		}
	}
}

func TestConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})

	tests := []struct {
		name    string
		base    string
		opts    func(*Options)
		timeout bool
	}{
		{name: "refused", base: "http://" + closedAddr + "/v1"},
		{name: "response header timeout", base: slow.URL + "/v1", opts: func(o *Options) { o.Timeout = 150 * time.Millisecond }, timeout: true},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				c := newClient(t, tc.base, tc.opts)
				start := time.Now()
				if stream {
					_, err = collect(context.Background(), c, parse(t, clientBody, "m"))
				} else {
					_, err = c.ChatCompletion(context.Background(), parse(t, clientBody, "m"))
				}
				e := asError(t, err)
				if e.Stage != providers.StageConnect {
					t.Errorf("got stage %v, want %v", e.Stage, providers.StageConnect)
				}
				if e.Timeout != tc.timeout {
					t.Errorf("got Timeout %v, want %v (err %v)", e.Timeout, tc.timeout, err)
				}
				if e.Status != 0 {
					t.Errorf("got status %d, want 0", e.Status)
				}
				if e.Err == nil {
					t.Errorf("got nil Err, want the transport error")
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %v, want the timeout to cut the wait", d)
				}
			})
		}
	}
}

func TestStreamTimeouts(t *testing.T) {
	t.Run("idle timeout mid-stream", func(t *testing.T) {
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			sseHandler(data(chunkRole))(w, r)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		c := newClient(t, up.URL+"/v1", func(o *Options) { o.IdleTimeout = 200 * time.Millisecond })
		start := time.Now()
		got, err := collect(context.Background(), c, parse(t, clientBody, "m"))
		if diff := cmp.Diff([]string{chunkRole}, raws(got)); diff != "" {
			t.Errorf("chunks mismatch (-want +got):\n%s", diff)
		}
		e := asError(t, err)
		if !e.Timeout || e.Stage != providers.StageStream {
			t.Errorf("got Timeout %v stage %v, want true %v (err %v)", e.Timeout, e.Stage, providers.StageStream, err)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Errorf("took %v, want about the 200ms idle timeout", d)
		}
	})

	// A consumer that is slow to take chunks (a client reading slowly) is
	// not an idle upstream: the upstream must not be cancelled and blamed.
	t.Run("slow reader is not an idle upstream", func(t *testing.T) {
		up := newUpstream(t, sseHandler(data(chunkRole), data(chunkHello), data(chunkStop), done))
		c := newClient(t, up.URL+"/v1", func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
		out := make(chan *providers.ChatCompletionStreamResponse)
		errc := make(chan error, 1)
		go func() {
			errc <- c.ChatCompletionStream(context.Background(), parse(t, clientBody, "m"), sinktest.Chan(context.Background(), out))
		}()
		var got []string
		for len(got) < 3 {
			select {
			case ch := <-out:
				got = append(got, string(ch.Raw))
				// Hold the chunk for three idle timeouts.
				<-timedOut(t, true, func(o *Options) { o.IdleTimeout = 300 * time.Millisecond })
			case err := <-errc:
				t.Fatalf("got error %v after %d chunks, want the whole stream", err, len(got))
			}
		}
		if err := <-errc; err != nil {
			t.Errorf("got error %v, want none", err)
		}
		if diff := cmp.Diff([]string{chunkRole, chunkHello, chunkStop}, got); diff != "" {
			t.Errorf("chunks mismatch (-want +got):\n%s", diff)
		}
	})

	// Neither timeout bounds a whole stream: events that keep coming, each
	// within the idle timeout, may take longer than both.
	t.Run("slow steady stream outlives both timeouts", func(t *testing.T) {
		// The upstream sends a chunk each time the reader asks for one,
		// until the reader says both timeouts have passed: each gap is one
		// round trip, the whole stream longer than either timeout.
		next, finish, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			defer close(stopped)
			w.Header().Set("Content-Type", "text/event-stream")
			for {
				io.WriteString(w, data(chunkHello))
				http.NewResponseController(w).Flush()
				select {
				case <-next:
				case <-finish:
					io.WriteString(w, done)
					return
				case <-r.Context().Done():
					return
				}
			}
		})
		timeouts := func(o *Options) {
			o.Timeout = 300 * time.Millisecond
			o.IdleTimeout = 300 * time.Millisecond
		}
		c := newClient(t, up.URL+"/v1", timeouts)
		out := make(chan *providers.ChatCompletionStreamResponse)
		errc := make(chan error, 1)
		go func() {
			errc <- c.ChatCompletionStream(context.Background(), parse(t, clientBody, "m"), sinktest.Chan(context.Background(), out))
			close(out)
		}()
		var passed <-chan struct{}
		n := 0
		for range out {
			n++
			if passed == nil {
				// Both timeouts are 300ms: once a silent upstream has hit
				// the header timeout, so would have either.
				passed = timedOut(t, false, timeouts)
			}
			select {
			case <-passed:
				close(finish) // the upstream sends [DONE] and no more chunks
			default:
				select {
				case next <- struct{}{}:
				case <-stopped:
				}
			}
		}
		if err := <-errc; err != nil {
			t.Fatalf("got error %v after %d chunks, want none", err, n)
		}
		if n < 2 {
			t.Errorf("got %d chunks, want at least 2", n)
		}
	})
}

// timedOut returns a channel closed once a request started now, with the
// options edit sets, to an upstream that never answers has timed out: proof,
// by the client's own clocks, that the timeout has passed. With headers the
// upstream starts a stream and the idle timeout cuts it; without, the
// header timeout does.
func timedOut(t *testing.T, headers bool, edit func(*Options)) <-chan struct{} {
	t.Helper()
	silent := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if headers {
			w.Header().Set("Content-Type", "text/event-stream")
			http.NewResponseController(w).Flush()
		}
		<-r.Context().Done()
	})
	c := newClient(t, silent.URL+"/v1", edit)
	req := parse(t, clientBody, "m")
	passed := make(chan struct{})
	go func() {
		defer close(passed)
		var err error
		if headers {
			_, err = collect(context.Background(), c, req)
		} else {
			_, err = c.ChatCompletion(context.Background(), req)
		}
		var e *providers.Error
		if !errors.As(err, &e) || !e.Timeout {
			t.Errorf("silent upstream: got %v, want a timeout", err)
		}
	}()
	return passed
}

func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			elsewhere := newUpstream(t, sseHandler(data(chunkHello), done))
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+r.URL.Path, status)
			})
			c := newClient(t, up.URL+"/v1", nil)
			_, errNon := c.ChatCompletion(context.Background(), parse(t, clientBody, "m"))
			_, errStream := collect(context.Background(), c, parse(t, clientBody, "m"))
			_, errModels := c.Models(context.Background())
			for _, err := range []error{errNon, errStream, errModels} {
				if err == nil {
					t.Errorf("got nil error, want one for the redirect")
					continue
				}
				e := asError(t, err)
				if e.Status != status {
					t.Errorf("got status %d, want %d", e.Status, status)
				}
			}
			if n := len(elsewhere.requests()); n != 0 {
				t.Errorf("redirect target got %d requests, want 0", n)
			}
			if n := len(up.requests()); n != 3 {
				t.Errorf("upstream got %d requests, want 3", n)
			}
		})
	}
}

// TestKeyNeverInErrors makes upstreams echo the key (and a secret header)
// back in every place an error message is taken from.
func TestKeyNeverInErrors(t *testing.T) {
	const hdrSecret = "hdr-secret-9876543210"
	echo := func(r *http.Request) string {
		return "bad key " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + " / " + r.Header.Get("X-Api-Key")
	}
	tests := []struct {
		name    string
		stream  bool
		handler http.HandlerFunc
	}{
		{"401 json", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","code":"invalid_api_key"}}`, echo(r))
		}},
		{"401 text", true, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, echo(r))
		}},
		{"ollama string error", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, echo(r))
		}},
		{"fastapi detail", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"detail":[{"msg":%q}]}`, echo(r))
		}},
		{"200 minimax", false, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"base_resp":{"status_code":1004,"status_msg":%q}}`, echo(r))
		}},
		{"200 json to stream", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"error":{"message":%q}}`, echo(r))
		}},
		{"mid-stream error event", true, func(w http.ResponseWriter, r *http.Request) {
			sseHandler(data(chunkRole), data(fmt.Sprintf(`{"error":{"message":%q}}`, echo(r))))(w, r)
		}},
		{"mid-stream broken json", true, func(w http.ResponseWriter, r *http.Request) {
			sseHandler(fmt.Sprintf("event: error\ndata: %s\n\n", echo(r)))(w, r)
		}},
		{"key in code, param and type", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":%[1]q,"code":%[1]q,"param":%[1]q}}`, echo(r))
		}},
		{"mid-stream error code", true, func(w http.ResponseWriter, r *http.Request) {
			sseHandler(data(chunkRole), data(fmt.Sprintf(`{"error":{"message":"bad key","type":%q,"code":%[1]q,"param":%[1]q}}`, echo(r))))(w, r)
		}},
		{"key in Retry-After", false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", echo(r))
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"bad key, slow down"}}`)
		}},
		// ParseErrorBody cuts a text body at 512 bytes, inside the key.
		{"key across the cut of a text body", false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			io.WriteString(w, "bad key "+strings.Repeat("x", 512-len("bad key ")-len(key)/2)+key+" and more")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, tc.handler)
			c := newClient(t, up.URL+"/v1", func(o *Options) { o.Headers = map[string]string{"X-Api-Key": hdrSecret} })
			var err error
			if tc.stream {
				_, err = collect(context.Background(), c, parse(t, clientBody, "m"))
			} else {
				_, err = c.ChatCompletion(context.Background(), parse(t, clientBody, "m"))
			}
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			e := asError(t, err)
			shown := []string{err.Error(), fmt.Sprintf("%v %+v", err, err), e.Message, e.Type, e.Code, e.Param}
			for k, vs := range e.Header {
				shown = append(shown, k+": "+strings.Join(vs, ", "))
			}
			for _, s := range shown {
				// Any 8 bytes of a secret's start would say too much.
				if strings.Contains(s, testKey[:8]) || strings.Contains(s, hdrSecret[:8]) {
					t.Errorf("got %q, want no secret (nor its start) in it", s)
				}
			}
			if !strings.Contains(e.Message, "bad key") {
				t.Errorf("got message %q, want the upstream's message (redacted)", e.Message)
			}
		})
	}
}

// TestClientCancel checks the client going away ends the upstream request
// at once and leaves no goroutine behind.
func TestClientCancel(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	upstreamDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(upstreamDone)
		sseHandler(data(chunkRole))(w, r)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	c := newClient(t, srv.URL+"/v1", nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *providers.ChatCompletionStreamResponse)
	errc := make(chan error, 1)
	go func() { errc <- c.ChatCompletionStream(ctx, parse(t, clientBody, "m"), sinktest.Chan(ctx, out)) }()
	select {
	case <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("first chunk not received")
	}
	cancel()
	select {
	case <-upstreamDone:
	case <-time.After(hangGuard):
		t.Error("upstream request context still alive long after the client cancelled")
	}
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want one wrapping context.Canceled", err)
		}
		if e := asError(t, err); e.Timeout || e.Stage != providers.StageStream {
			t.Errorf("got Timeout %v stage %v, want false %v", e.Timeout, e.Stage, providers.StageStream)
		}
	case <-time.After(hangGuard):
		t.Fatal("ChatCompletionStream did not return long after the client cancelled")
	}
	srv.Close()
	goleak.VerifyNone(t, ignore)
}

// TestClientCancelWhileBlockedOnOut cancels while the provider waits for the
// consumer to take a chunk.
func TestClientCancelWhileBlockedOnOut(t *testing.T) {
	up := newUpstream(t, sseHandler(data(chunkRole), data(chunkHello), done))
	c := newClient(t, up.URL+"/v1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *providers.ChatCompletionStreamResponse) // read once, then never
	errc := make(chan error, 1)
	go func() { errc <- c.ChatCompletionStream(ctx, parse(t, clientBody, "m"), sinktest.Chan(ctx, out)) }()
	// After the first chunk the next one is already buffered, so the
	// provider goes on to wait for out to take it.
	<-out
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want one wrapping context.Canceled", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("ChatCompletionStream did not return long after the client cancelled")
	}
}

func TestModels(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []string
		wantErr bool
	}{
		{
			name:   "openai list",
			status: http.StatusOK,
			body: `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},` +
				`{"id":"qwen-35b-awq","object":"model","created":1,"owned_by":"vllm","root":"Qwen/Qwen3.5-35B-AWQ","max_model_len":32768}]}`,
			want: []string{"gpt-4o-mini", "qwen-35b-awq"},
		},
		{name: "empty list", status: http.StatusOK, body: `{"object":"list","data":[]}`, want: []string{}},
		{name: "unauthorized", status: http.StatusUnauthorized, body: `{"error":{"message":"bad key"}}`, wantErr: true},
		{name: "not json", status: http.StatusOK, body: `<html>`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			got, err := newClient(t, up.URL+"/v1", nil).Models(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("models mismatch (-want +got):\n%s", diff)
			}
			reqs := up.requests()
			if len(reqs) != 1 || reqs[0].Method != http.MethodGet || reqs[0].Path != "/v1/models" {
				t.Fatalf("upstream got %+v, want one GET /v1/models", reqs)
			}
			if got, want := reqs[0].Header.Get("Authorization"), "Bearer "+testKey; got != want {
				t.Errorf("got Authorization %q, want %q", got, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{Name: "x"}); err == nil {
		t.Error("New without base_url: got nil error, want one")
	}
	c, err := New(Options{Name: "deepseek-work", BaseURL: "https://api.deepseek.com/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "deepseek-work" {
		t.Errorf("got Name() %q, want %q", c.Name(), "deepseek-work")
	}
}

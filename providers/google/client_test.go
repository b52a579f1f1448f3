package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

const testKey = "AIza-test-0123456789"

type fakeGemini struct {
	*httptest.Server
	mu      sync.Mutex // guards reqs
	reqs    []*http.Request
	bodies  [][]byte
	handler func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newFake(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeGemini {
	f := &fakeGemini{handler: h}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, r)
		f.bodies = append(f.bodies, body)
		f.mu.Unlock()
		f.handler(w, r, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGemini) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("upstream got no request")
	}
	return f.reqs[len(f.reqs)-1], f.bodies[len(f.bodies)-1]
}

func newTestClient(t *testing.T, base string, o ...func(*Options)) *Client {
	t.Helper()
	opts := Options{Name: "google", BaseURL: base, APIKey: testKey, Headers: map[string]string{"X-Extra": "1"}, UserAgent: "localrouter-test"}
	for _, f := range o {
		f(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parse(t *testing.T, body string) *providers.ChatCompletionRequest {
	t.Helper()
	req, err := providers.ParseRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

const sseFunctionCall = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}},\"thoughtSignature\": \"c2lnLXBhcmlz\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 10,\"candidatesTokenCount\": 5,\"totalTokenCount\": 15}}\r\n\r\n"

func TestNewBaseURL(t *testing.T) {
	for _, tc := range []struct{ name, base, want string }{
		{"default", "", DefaultBaseURL + "/v1beta/models/"},
		{"root", "https://example.com/", "https://example.com/v1beta/models/"},
		{"v1beta", "https://example.com/v1beta", "https://example.com/v1beta/models/"},
		{"v1beta slash", "https://example.com/v1beta/", "https://example.com/v1beta/models/"},
		{"v1", "https://example.com/v1", "https://example.com/v1beta/models/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, tc.base)
			if c.base != tc.want {
				t.Errorf("base = %q, want %q", c.base, tc.want)
			}
		})
	}
	if _, err := New(Options{Name: "g"}); err == nil {
		t.Error("New without a key: got no error")
	}
	if _, err := New(Options{Name: "g", APIKey: "k", BaseURL: "ftp://x"}); err == nil {
		t.Error("New with an ftp base: got no error")
	}
}

func TestChatCompletionRequestShape(t *testing.T) {
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"Bonjour"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6}}`)
	})
	c := newTestClient(t, up.URL+"/v1beta")
	req := parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"Say hello"}]}`)
	req.Model = "gemini-3-flash"
	resp, err := c.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := *resp.Choices[0].Message.Content; got != "Bonjour" {
		t.Errorf("content = %q", got)
	}
	if resp.Usage.TotalTokens != 6 || resp.Object != "chat.completion" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("response = %+v", resp)
	}
	r, body := up.last(t)
	if r.URL.Path != "/v1beta/models/gemini-3-flash:generateContent" {
		t.Errorf("path = %q", r.URL.Path)
	}
	if r.URL.RawQuery != "" {
		t.Errorf("query = %q, want none (the key goes in a header)", r.URL.RawQuery)
	}
	if got := r.Header.Get("x-goog-api-key"); got != testKey {
		t.Errorf("x-goog-api-key = %q", got)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("Authorization header sent")
	}
	if r.Header.Get("X-Extra") != "1" || r.Header.Get("User-Agent") != "localrouter-test" {
		t.Errorf("headers = %v", r.Header)
	}
	var g map[string]any
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatal(err)
	}
	if _, ok := g["contents"]; !ok {
		t.Errorf("body has no contents: %s", body)
	}
}

func TestChatCompletionErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantType   string
	}{
		{"invalid argument", 400, `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, 400, "invalid_request_error"},
		{"bad key", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`, 401, "authentication_error"},
		{"rate limit", 429, `{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}`, 429, "rate_limit_error"},
		{"overloaded", 503, `{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}`, 503, "server_error"},
		{"error with 200", 200, `{"error":{"code":500,"message":"boom","status":"INTERNAL"}}`, 500, "server_error"},
		{"html", 502, `<html>bad gateway</html>`, 502, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			c := newTestClient(t, up.URL)
			req := parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"x"}]}`)
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					err = c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), make(chan *providers.ChatCompletionStreamResponse, 8)))
				} else {
					_, err = c.ChatCompletion(context.Background(), req)
				}
				var pe *providers.Error
				if !errors.As(err, &pe) {
					t.Fatalf("stream=%v: err = %v, want *providers.Error", stream, err)
				}
				if pe.Status != tc.wantStatus || pe.Type != tc.wantType {
					t.Errorf("stream=%v: status, type = %d, %q; want %d, %q", stream, pe.Status, pe.Type, tc.wantStatus, tc.wantType)
				}
				if strings.Contains(pe.Error(), testKey) {
					t.Errorf("error leaks the key: %v", pe)
				}
			}
		})
	}
}

func TestRequestErrorForBadBody(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1")
	req := parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`)
	_, err := c.ChatCompletion(context.Background(), req)
	var qe *providers.RequestError
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v, want *providers.RequestError", err)
	}
}

func collect(t *testing.T, c *Client, req *providers.ChatCompletionRequest) ([]*providers.ChatCompletionStreamResponse, error) {
	t.Helper()
	out := make(chan *providers.ChatCompletionStreamResponse, 64)
	err := c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), out))
	close(out)
	var chunks []*providers.ChatCompletionStreamResponse
	for ch := range out {
		chunks = append(chunks, ch)
	}
	return chunks, err
}

// TestSignatureRoundTrip: a function call's thought signature, dropped by
// the OpenAI-shaped client, is back on the call in the next request.
func TestSignatureRoundTrip(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if strings.Contains(r.URL.Path, "stream") {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, sseFunctionCall)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLXBhcmlz"}],"role":"model"},"finishReason":"STOP","index":0}]}`)
			})
			c := newTestClient(t, up.URL)
			first := `{"model":"gemini-3-flash","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
			var call providers.ToolCall
			if stream {
				chunks, err := collect(t, c, parse(t, first))
				if err != nil {
					t.Fatal(err)
				}
				call = chunks[0].Choices[0].Delta.ToolCalls[0]
			} else {
				resp, err := c.ChatCompletion(context.Background(), parse(t, first))
				if err != nil {
					t.Fatal(err)
				}
				if resp.Choices[0].FinishReason != "tool_calls" {
					t.Errorf("finish_reason = %q", resp.Choices[0].FinishReason)
				}
				call = resp.Choices[0].Message.ToolCalls[0]
			}
			second := fmt.Sprintf(`{"model":"gemini-3-flash","messages":[{"role":"user","content":"Weather in Paris?"},`+
				`{"role":"assistant","content":null,"tool_calls":[{"id":%q,"type":"function","function":{"name":"get_weather","arguments":%q}}]},`+
				`{"role":"tool","tool_call_id":%q,"content":"sunny"}]}`, call.ID, call.Function.Arguments, call.ID)
			if _, err := c.ChatCompletion(context.Background(), parse(t, second)); err != nil {
				t.Fatal(err)
			}
			_, body := up.last(t)
			var g generateRequest
			if err := json.Unmarshal(body, &g); err != nil {
				t.Fatal(err)
			}
			got := g.Contents[1].Parts[0]
			if got.FunctionCall == nil || got.ThoughtSignature != "c2lnLXBhcmlz" {
				t.Errorf("replayed call = %+v, want the signature c2lnLXBhcmlz", got)
			}
			resp := g.Contents[2].Parts[0].FunctionResponse
			if resp == nil || resp.Name != "get_weather" || string(resp.Response) != `{"result":"sunny"}` {
				t.Errorf("function response = %+v", resp)
			}
		})
	}
}

func TestSigCacheEvictsOldest(t *testing.T) {
	c := newSigCache(3)
	for i := range 5 {
		c.put(fmt.Sprint("id", i), fmt.Sprint("sig", i))
	}
	if c.len() != 3 {
		t.Errorf("len = %d, want 3", c.len())
	}
	for i, want := range []string{"", "", "sig2", "sig3", "sig4"} {
		if got := c.get(fmt.Sprint("id", i)); got != want {
			t.Errorf("get(id%d) = %q, want %q", i, got, want)
		}
	}
	c.put("id3", "again") // an update does not evict
	if c.get("id2") != "sig2" || c.get("id3") != "again" {
		t.Error("update evicted or was lost")
	}
	var nilCache *sigCache
	nilCache.put("a", "b")
	if nilCache.get("a") != "" {
		t.Error("nil cache remembered")
	}
	var wg sync.WaitGroup
	big := newSigCache(64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				big.put(fmt.Sprint(g, "-", i), "s")
				big.get(fmt.Sprint(g, "-", i-1))
			}
		})
	}
	wg.Wait()
	if big.len() != 64 {
		t.Errorf("len = %d, want 64", big.len())
	}
}

// TestStreamIncremental: the first event reaches out before the upstream
// sends the next one.
func TestStreamIncremental(t *testing.T) {
	release := make(chan struct{})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"first\"}],\"role\":\"model\"},\"index\":0}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" second\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]}\n\n")
	})
	c := newTestClient(t, up.URL)
	out := make(chan *providers.ChatCompletionStreamResponse, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(context.Background(), parse(t, `{"model":"gemini-3-flash","stream":true,"messages":[{"role":"user","content":"x"}]}`), sinktest.Chan(context.Background(), out))
	}()
	select {
	case ch := <-out:
		if got := *ch.Choices[0].Delta.Content; got != "first" || ch.Choices[0].Delta.Role != "assistant" {
			t.Errorf("first chunk = %+v", ch.Choices[0].Delta)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first event not delivered before the upstream continued")
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if r, _ := up.last(t); r.URL.Path != "/v1beta/models/gemini-3-flash:streamGenerateContent" || r.URL.RawQuery != "alt=sse" {
		t.Errorf("url = %s", r.URL)
	}
}

// TestStreamClientDisconnect: cancelling the client ends the upstream request.
func TestStreamClientDisconnect(t *testing.T) {
	gone := make(chan struct{})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},\"index\":0}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	c := newTestClient(t, up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *providers.ChatCompletionStreamResponse, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(ctx, parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"x"}]}`), sinktest.Chan(ctx, out))
	}()
	<-out
	cancel()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
	if err := <-errc; err == nil {
		t.Error("cancelled stream returned nil")
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},\"index\":0}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := newTestClient(t, up.URL, func(o *Options) { o.IdleTimeout = 100 * time.Millisecond })
	_, err := collect(t, c, parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"x"}]}`))
	var pe *providers.Error
	if !errors.As(err, &pe) || !pe.Timeout || pe.Stage != providers.StageStream {
		t.Fatalf("err = %#v, want a stream timeout", err)
	}
}

func TestStreamEndsWithoutFinish(t *testing.T) {
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},\"index\":0}]}\n\n")
	})
	c := newTestClient(t, up.URL)
	chunks, err := collect(t, c, parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"x"}]}`))
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Stage != providers.StageStream || !strings.Contains(pe.Message, "finishReason") {
		t.Fatalf("err = %v", err)
	}
	if len(chunks) != 1 {
		t.Errorf("got %d chunks, want 1", len(chunks))
	}
}

func TestStreamUsageChunk(t *testing.T) {
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sseFunctionCall)
	})
	c := newTestClient(t, up.URL)
	chunks, err := collect(t, c, parse(t, `{"model":"gemini-3-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	last := chunks[len(chunks)-1]
	want := &providers.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}
	if diff := cmp.Diff(want, last.Usage); diff != "" || last.Choices == nil || len(last.Choices) != 0 {
		t.Errorf("last chunk %+v (-want +got usage):\n%s", last, diff)
	}
	finishes := 0
	for _, ch := range chunks {
		for _, c := range ch.Choices {
			if c.FinishReason != nil {
				finishes++
			}
		}
	}
	if finishes != 1 {
		t.Errorf("%d finish chunks, want 1", finishes)
	}
}

func TestFinishReason(t *testing.T) {
	for _, tc := range []struct {
		in    string
		calls bool
		want  string
	}{
		{"STOP", false, "stop"}, {"STOP", true, "tool_calls"}, {"MAX_TOKENS", false, "length"},
		{"MAX_TOKENS", true, "length"}, {"SAFETY", false, "content_filter"}, {"RECITATION", false, "content_filter"},
		{"BLOCKLIST", false, "content_filter"}, {"PROHIBITED_CONTENT", false, "content_filter"},
		{"SPII", false, "content_filter"}, {"IMAGE_SAFETY", false, "content_filter"},
		{"MALFORMED_FUNCTION_CALL", false, "stop"}, {"OTHER", false, "stop"}, {"LANGUAGE", false, "stop"},
		{"FINISH_REASON_UNSPECIFIED", false, "stop"}, {"SOMETHING_NEW", true, "tool_calls"},
	} {
		if got := finishReason(tc.in, tc.calls); got != tc.want {
			t.Errorf("finishReason(%s, %v) = %q, want %q", tc.in, tc.calls, got, tc.want)
		}
	}
}

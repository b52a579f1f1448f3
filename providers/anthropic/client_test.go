package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

func testClient(t testing.TB, url string) *Client {
	t.Helper()
	return newTestClient(t, Options{Name: "anthropic", BaseURL: url, APIKey: "sk-ant-test", IdleTimeout: 2 * time.Second})
}

// newTestClient is New with a private signature cache and a fixed clock.
func newTestClient(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.sigs = newSignatureCache(64)
	c.now = func() time.Time { return time.Unix(1700000000, 0) }
	return c
}

// fake is an Anthropic API that records requests and answers with body.
type fake struct {
	mu     sync.Mutex // guards bodies and header
	bodies [][]byte
	header http.Header
	*httptest.Server
}

func newFake(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.header = r.Header.Clone()
		f.mu.Unlock()
		if r.URL.Path != "/v1/messages" {
			http.Error(w, `{"type":"error","error":{"type":"not_found_error","message":"bad path `+r.URL.Path+`"}}`, 404)
			return
		}
		answer(w, r, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) last() ([]byte, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[len(f.bodies)-1], f.header
}

func serveFile(t *testing.T, dir, name string) func(http.ResponseWriter, *http.Request, []byte) {
	input, _ := readGolden(t, "testdata/"+dir+"/"+name+".txt")
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if dir == "stream" {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		io.WriteString(w, input)
	}
}

func TestClientNonStream(t *testing.T) {
	f := newFake(t, serveFile(t, "response", "thinking_tool_use"))
	c := testClient(t, f.URL+"/v1/") // a trailing /v1 is tolerated
	req := parse(t, `{"model":"claude-sonnet-4-5","reasoning_effort":"low","messages":[{"role":"user","content":"Weather in Paris?"}]}`)
	resp, err := c.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.ToolCalls[0].Function.Arguments; got != `{"location":"Paris"}` {
		t.Errorf("arguments = %q", got)
	}
	body, h := f.last()
	for k, want := range map[string]string{"X-Api-Key": "sk-ant-test", "Anthropic-Version": "2023-06-01", "Content-Type": "application/json"} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if h.Get("Authorization") != "" {
		t.Error("an Authorization header was sent")
	}
	var sent messagesRequest
	if err := json.Unmarshal(body, &sent); err != nil || sent.MaxTokens != 8192+1024 || sent.Stream {
		t.Errorf("sent max_tokens %d, stream %v (%v); want %d, false", sent.MaxTokens, sent.Stream, err, 8192+1024)
	}

	// The next turn of the tool loop gets the thinking blocks back, byte-exact.
	req = parse(t, `{"model":"claude-sonnet-4-5","reasoning_effort":"low","messages":[{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_think","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
		{"role":"tool","tool_call_id":"toolu_think","content":"Sunny"}]}`)
	if _, err := c.ChatCompletion(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	body, _ = f.last()
	input, _ := readGolden(t, "testdata/response/thinking_tool_use.txt")
	var orig struct{ Content []json.RawMessage }
	json.Unmarshal([]byte(input), &orig)
	want := append(append(append([]byte(`"content":[`), orig.Content[0]...), ','), orig.Content[1]...)
	if !bytes.Contains(body, want) {
		t.Errorf("thinking blocks not restored byte-exact before tool_use:\n%s", body)
	}
}

// collect runs a stream and renders its chunks as translate does.
func collect(t *testing.T, c *Client, req *providers.ChatCompletionRequest) (string, error) {
	out := make(chan *providers.ChatCompletionStreamResponse)
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range out {
			j, _ := json.Marshal(ch)
			lines = append(lines, string(j))
		}
	}()
	err := c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), out))
	close(out)
	<-done
	return strings.Join(lines, "\n"), err
}

func TestClientStream(t *testing.T) {
	tests := []struct {
		file    string
		wantErr func(*providers.Error) bool
	}{
		{"text", nil},
		{"tool_use", nil},
		{"thinking", nil},
		{"cut_before_stop", func(e *providers.Error) bool {
			return e.Stage == providers.StageStream && e.Message == "stream ended before message_stop"
		}},
		{"error_mid_stream", func(e *providers.Error) bool {
			return e.Stage == providers.StageStream && e.Status == 529 && e.Code == "overloaded_error"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFake(t, serveFile(t, "stream", tt.file))
			c := testClient(t, f.URL)
			req := parse(t, `{"model":"claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`)
			got, err := collect(t, c, req)
			_, golden := readGolden(t, "testdata/stream/"+tt.file+".txt")
			var want []string
			for _, l := range strings.Split(golden, "\n") {
				if strings.HasPrefix(l, `{"id"`) {
					want = append(want, l)
				}
			}
			if diff := cmp.Diff(strings.Join(want, "\n"), got); diff != "" {
				t.Errorf("chunks differ from the golden file (-want +got):\n%s", diff)
			}
			var pe *providers.Error
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("got error %v, want nil", err)
			case tt.wantErr != nil && (!errors.As(err, &pe) || !tt.wantErr(pe)):
				t.Errorf("got error %#v, not the one wanted", err)
			}
			body, h := f.last()
			if !bytes.Contains(body, []byte(`"stream":true`)) || h.Get("Accept") != "text/event-stream" {
				t.Errorf("not a stream request: %s", body)
			}
		})
	}
}

func TestClientStreamSignatureRoundTrip(t *testing.T) {
	f := newFake(t, serveFile(t, "stream", "thinking"))
	c := testClient(t, f.URL)
	if _, err := collect(t, c, parse(t, `{"model":"m","stream":true,"reasoning_effort":"medium","messages":[{"role":"user","content":"gcd?"}]}`)); err != nil {
		t.Fatal(err)
	}
	_, err := collect(t, c, parse(t, `{"model":"m","stream":true,"reasoning_effort":"medium","messages":[{"role":"user","content":"gcd?"},
		{"role":"assistant","tool_calls":[{"id":"toolu_stream_think","type":"function","function":{"name":"calculator","arguments":"{\"expr\": \"gcd(1071, 462)\"}"}}]},
		{"role":"tool","tool_call_id":"toolu_stream_think","content":"21"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := f.last()
	var sent messagesRequest
	json.Unmarshal(body, &sent)
	if sent.Thinking == nil || len(sent.Messages) != 3 {
		t.Fatalf("thinking %v, %d turns: %s", sent.Thinking, len(sent.Messages), body)
	}
	var types []string
	for _, b := range sent.Messages[1].Content {
		types = append(types, b.Type)
	}
	if diff := cmp.Diff([]string{"thinking", "redacted_thinking", "tool_use"}, types); diff != "" {
		t.Errorf("assistant turn blocks (-want +got):\n%s", diff)
	}
	if sig := sent.Messages[1].Content[0].Signature; sig == nil || !strings.HasPrefix(*sig, "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+") {
		t.Errorf("signature not restored: %v", sig)
	}
}

func TestClientStatusErrors(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(529)
		io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	})
	c := testClient(t, f.URL)
	for _, stream := range []bool{false, true} {
		req := parse(t, `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`)
		var err error
		if stream {
			_, err = collect(t, c, req)
		} else {
			_, err = c.ChatCompletion(context.Background(), req)
		}
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Stage != providers.StageStatus || pe.Status != 529 || pe.Type != "server_error" ||
			pe.Code != "overloaded_error" || pe.Header.Get("Retry-After") != "7" {
			t.Errorf("stream=%v: got %#v", stream, err)
		}
		if strings.Contains(err.Error(), "sk-ant-test") {
			t.Errorf("the key leaked into %q", err)
		}
	}
}

func TestClientRequestError(t *testing.T) {
	f := newFake(t, serveFile(t, "response", "text_end_turn"))
	c := testClient(t, f.URL)
	_, err := c.ChatCompletion(context.Background(), parse(t, `{"model":"m","messages":[{"role":"system","content":"only"}]}`))
	var re *providers.RequestError
	if !errors.As(err, &re) {
		t.Errorf("got %v, want a *providers.RequestError", err)
	}
	// A raw request that was never decoded is decoded by the client.
	req, err := providers.ParseRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChatCompletion(context.Background(), req); err != nil {
		t.Errorf("undecoded request: %v", err)
	}
}

// TestClientIncremental: the first event reaches out while the upstream
// still holds the stream open; then an idle upstream times out.
func TestClientIncremental(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_i\",\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"+
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"+
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"first\"}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newTestClient(t, Options{Name: "anthropic", BaseURL: f.URL, APIKey: "sk-ant-test", IdleTimeout: 300 * time.Millisecond})
	out := make(chan *providers.ChatCompletionStreamResponse, 8)
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(context.Background(), parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]}`), sinktest.Chan(context.Background(), out))
	}()
	<-out // role
	if ch := <-out; *ch.Choices[0].Delta.Content != "first" {
		t.Errorf("got %+v, want the first text", ch.Choices[0].Delta)
	}
	err := <-errc
	close(release)
	var pe *providers.Error
	if !errors.As(err, &pe) || !pe.Timeout || pe.Stage != providers.StageStream {
		t.Errorf("got %#v, want an idle timeout", err)
	}
}

// TestClientDisconnect: cancelling the caller ends the upstream request.
func TestClientDisconnect(t *testing.T) {
	arrived, gone := make(chan struct{}), make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		close(arrived)
		<-r.Context().Done()
		close(gone)
	})
	c := testClient(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(ctx, parse(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]}`), sinktest.Chan(ctx, make(chan *providers.ChatCompletionStreamResponse)))
	}()
	// Cancel only once the request is in flight, so that it is the
	// upstream's request that must end, not one never sent.
	<-arrived
	cancel()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	if err := <-errc; err == nil {
		t.Error("a cancelled stream returned nil")
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{Name: "a"}); err == nil {
		t.Error("no api key was accepted")
	}
	c, err := New(Options{Name: "a", APIKey: "k"})
	if err != nil || c.url != "https://api.anthropic.com/v1/messages" || c.maxTokens != 8192 {
		t.Errorf("defaults: url %q, max tokens %d, %v", c.url, c.maxTokens, err)
	}
	c, _ = New(Options{Name: "a", APIKey: "k", BaseURL: "https://proxy.example/v1"})
	if c.url != "https://proxy.example/v1/messages" {
		t.Errorf("url %q", c.url)
	}
}

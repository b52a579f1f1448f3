package mock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

func request(t *testing.T, body string) *providers.ChatCompletionRequest {
	t.Helper()
	req, err := providers.ParseRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// stream runs p's stream to its end and returns every chunk.
func stream(ctx context.Context, p providers.Provider, req *providers.ChatCompletionRequest) ([]*providers.ChatCompletionStreamResponse, error) {
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

func TestMock(t *testing.T) {
	tests := []struct {
		name      string
		p         *Provider
		body      string
		wantText  string
		wantModel string
	}{
		{
			name:      "stand-in names the route",
			p:         New(0).StandIn("remote:deepseek/deepseek-chat"),
			body:      `{"model":"auto","messages":[{"role":"user","content":"héllo"}]}`,
			wantText:  "Hello from LocalRouter's mock provider, standing in for remote:deepseek/deepseek-chat. Your last message had 5 characters and the conversation 1 messages. Configure a provider to get real answers.",
			wantModel: "auto",
		},
		{
			name:      "no route names the model",
			p:         New(0),
			body:      `{"model":"qwen-35b-awq","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"ab"},{"type":"image_url","image_url":{"url":"http://x"}},{"type":"text","text":"c"}]}]}`,
			wantText:  "Hello from LocalRouter's mock provider, standing in for qwen-35b-awq. Your last message had 3 characters and the conversation 2 messages. Configure a provider to get real answers.",
			wantModel: "qwen-35b-awq",
		},
		{
			name:      "no model and no messages",
			p:         &Provider{},
			body:      `{"messages":[]}`,
			wantText:  "Hello from LocalRouter's mock provider, standing in for mock. Your last message had 0 characters and the conversation 0 messages. Configure a provider to get real answers.",
			wantModel: "mock",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request(t, tc.body)
			if got := tc.p.Name(); got != "mock" {
				t.Errorf("got Name() %q, want %q", got, "mock")
			}

			resp, err := tc.p.ChatCompletion(context.Background(), req)
			if err != nil {
				t.Fatalf("ChatCompletion: got error %v, want none", err)
			}
			if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == nil {
				t.Fatalf("got choices %+v, want one with content", resp.Choices)
			}
			text := *resp.Choices[0].Message.Content
			if text != tc.wantText {
				t.Errorf("got text %q, want %q", text, tc.wantText)
			}
			if resp.Model != tc.wantModel || resp.Object != "chat.completion" || resp.Choices[0].Message.Role != "assistant" || resp.Choices[0].FinishReason != "stop" {
				t.Errorf("got model %q object %q role %q finish %q, want %q chat.completion assistant stop",
					resp.Model, resp.Object, resp.Choices[0].Message.Role, resp.Choices[0].FinishReason, tc.wantModel)
			}
			if resp.Usage == nil || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens || resp.Usage.CompletionTokens == 0 {
				t.Errorf("got usage %+v, want consistent non-zero counts", resp.Usage)
			}
			again, _ := tc.p.ChatCompletion(context.Background(), req)
			if *again.Choices[0].Message.Content != text {
				t.Errorf("second answer %q differs from the first %q, want deterministic", *again.Choices[0].Message.Content, text)
			}

			for _, includeUsage := range []bool{false, true} {
				req.StreamOptions = &providers.StreamOptions{IncludeUsage: includeUsage}
				chunks, err := stream(context.Background(), tc.p, req)
				if err != nil {
					t.Fatalf("stream: got error %v, want none", err)
				}
				checkStream(t, chunks, text, tc.wantModel, includeUsage, resp.Usage)
			}
		})
	}
}

// checkStream asserts the chunks are a well-formed OpenAI stream of text.
func checkStream(t *testing.T, chunks []*providers.ChatCompletionStreamResponse, text, model string, includeUsage bool, usage *providers.Usage) {
	t.Helper()
	n := len(chunks)
	if includeUsage {
		n--
	}
	if n < 3 {
		t.Fatalf("got %d chunks, want role, content and finish chunks", len(chunks))
	}
	if d := chunks[0].Choices[0].Delta; d.Role != "assistant" || d.Content != nil {
		t.Errorf("first chunk delta %+v, want role assistant and no content", d)
	}
	var b strings.Builder
	for i, c := range chunks[:n] {
		if c.Object != "chat.completion.chunk" || c.Model != model || c.ID != chunks[0].ID || c.Created != chunks[0].Created {
			t.Errorf("chunk %d: got object %q model %q id %q created %d, want chat.completion.chunk %q and the first chunk's id and time",
				i, c.Object, c.Model, c.ID, c.Created, model)
		}
		if len(c.Choices) != 1 {
			t.Fatalf("chunk %d: got %d choices, want 1", i, len(c.Choices))
		}
		if c.Usage != nil {
			t.Errorf("chunk %d: got usage %+v, want none before the usage chunk", i, c.Usage)
		}
		if fr := c.Choices[0].FinishReason; fr != nil && i != n-1 {
			t.Errorf("chunk %d: got finish_reason %q before the last chunk", i, *fr)
		}
		if p := c.Choices[0].Delta.Content; p != nil {
			b.WriteString(*p)
		}
	}
	if got := b.String(); got != text {
		t.Errorf("got streamed text %q, want the non-stream text %q", got, text)
	}
	if fr := chunks[n-1].Choices[0].FinishReason; fr == nil || *fr != "stop" {
		t.Errorf("got last finish_reason %v, want stop", fr)
	}
	if !includeUsage {
		if len(chunks) != n {
			t.Errorf("got %d chunks, want %d", len(chunks), n)
		}
		return
	}
	u := chunks[len(chunks)-1]
	if u.Choices == nil || len(u.Choices) != 0 || u.Usage == nil {
		t.Fatalf("got last chunk choices %v usage %v, want choices [] and usage", u.Choices, u.Usage)
	}
	if *u.Usage != *usage {
		t.Errorf("got stream usage %+v, want the non-stream usage %+v", *u.Usage, *usage)
	}
	// The usage chunk must encode as "choices":[] (clients index into it).
	enc, err := u.AppendJSON(nil)
	if err != nil || !strings.Contains(string(enc), `"choices":[]`) {
		t.Errorf("got usage chunk %s, %v, want it to contain \"choices\":[]", enc, err)
	}
}

func TestMockTokenDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	p := New(delay)
	req := request(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	start := time.Now()
	chunks, err := stream(context.Background(), p, req)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	tokens := 0
	for _, c := range chunks {
		if c.Choices[0].Delta.Content != nil {
			tokens++
		}
	}
	if min := time.Duration(tokens) * delay; tokens == 0 || elapsed < min {
		t.Errorf("%d tokens took %v, want at least %v", tokens, elapsed, min)
	}
}

func TestMockCancel(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
	}{
		{"while waiting for the next token", time.Hour},
		{"while waiting for the reader", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.delay)
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan *providers.ChatCompletionStreamResponse)
			errc := make(chan error, 1)
			go func() { errc <- p.ChatCompletionStream(ctx, request(t, `{"messages":[]}`), sinktest.Chan(ctx, out)) }()
			if first := <-out; first.Choices[0].Delta.Role != "assistant" {
				t.Errorf("got first delta %+v, want the role chunk", first.Choices[0].Delta)
			}
			cancel() // nobody reads out from here on
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("got error %v, want context.Canceled", err)
				}
			case <-time.After(hangGuard):
				t.Fatal("stream did not stop long after the cancel")
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(0).ChatCompletion(ctx, request(t, `{"messages":[]}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("ChatCompletion after cancel: got %v, want context.Canceled", err)
	}
}

func TestTokens(t *testing.T) {
	for _, s := range []string{"", "one", "one two  three ", " lead", "a b"} {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			toks := tokens(s)
			if got := strings.Join(toks, ""); got != s {
				t.Errorf("got %q joined, want %q", got, s)
			}
			for _, tok := range toks {
				if tok == "" {
					t.Errorf("got an empty token in %q", toks)
				}
			}
		})
	}
}

// hangGuard bounds a wait for something that must happen: it only stops a
// test that would otherwise hang, and is no measure of how fast it happens.
const hangGuard = 10 * time.Second

package anthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// hangGuard is how long a test waits for a call that must end by a much
// shorter configured timeout. It only turns a hang into a failure.
const hangGuard = 10 * time.Second

const messageBody = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",` +
	`"content":[{"type":"text","text":"Hi there."}],"stop_reason":"end_turn","usage":{"input_tokens":9,"output_tokens":3}}`

const helloRequest = `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}]}`

// answer runs ChatCompletion and fails the test if it outlives hangGuard.
func answer(t *testing.T, c *Client) (*providers.ChatCompletionResponse, error) {
	t.Helper()
	type result struct {
		resp *providers.ChatCompletionResponse
		err  error
	}
	done := make(chan result, 1)
	req := parse(t, helloRequest)
	go func() {
		resp, err := c.ChatCompletion(context.Background(), req)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-time.After(hangGuard):
		t.Fatalf("ChatCompletion still reading the body after %v", hangGuard)
		return nil, nil
	}
}

// TestAnswerStalls: after its 200 headers, a non-streamed answer is bound
// by the idle timeout between reads and by the timeout as a whole.
func TestAnswerStalls(t *testing.T) {
	tests := []struct {
		name          string
		trickle       bool
		timeout, idle time.Duration
		want          error
	}{
		{"headers then nothing", false, 0, 50 * time.Millisecond, providers.ErrAnswerIdle},
		// Each space comes far inside the idle timeout, so only a bound on
		// the whole body can end the call.
		{"a byte now and then", true, 200 * time.Millisecond, time.Minute, providers.ErrAnswerTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"id":"msg_1",`)
				rc := http.NewResponseController(w)
				rc.Flush()
				var tick <-chan time.Time
				if tc.trickle {
					tk := time.NewTicker(5 * time.Millisecond)
					defer tk.Stop()
					tick = tk.C
				}
				for {
					select {
					case <-tick:
						io.WriteString(w, " ")
						if rc.Flush() != nil {
							return
						}
					case <-release:
						return
					case <-r.Context().Done():
						return
					}
				}
			})
			t.Cleanup(func() { close(release) })
			c := newTestClient(t, Options{Name: "anthropic", BaseURL: f.URL, APIKey: "sk-ant-test", Timeout: tc.timeout, IdleTimeout: tc.idle})
			_, err := answer(t, c)
			var pe *providers.Error
			if !errors.As(err, &pe) || !pe.Timeout || pe.Status != 0 || pe.Stage != providers.StageStream {
				t.Fatalf("got %#v, want a timeout after the headers", err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want one wrapping %v", err, tc.want)
			}
		})
	}
}

// lowerMaxResponse sets providers.MaxResponse for clients made by this test.
func lowerMaxResponse(t *testing.T, n int64) {
	old := providers.MaxResponse
	providers.MaxResponse = n
	t.Cleanup(func() { providers.MaxResponse = old })
}

// TestAnswerTooLarge: an answer over the cap is a clear error, not a JSON
// decode error about a cut body.
func TestAnswerTooLarge(t *testing.T) {
	lowerMaxResponse(t, 1<<10)
	for _, tc := range []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"at the cap", 1 << 10, false},
		{"one byte over", 1<<10 + 1, true},
		{"far over", 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, messageBody+strings.Repeat(" ", tc.size-len(messageBody)))
			})
			resp, err := answer(t, testClient(t, f.URL))
			if !tc.wantErr {
				if err != nil || *resp.Choices[0].Message.Content != "Hi there." {
					t.Fatalf("got error %v, want the answer", err)
				}
				return
			}
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadGateway || pe.Timeout || !errors.Is(err, providers.ErrTooLarge) {
				t.Fatalf("got %#v, want a 502 wrapping ErrTooLarge", err)
			}
			if want := "upstream answer larger than 1 KiB"; pe.Message != want {
				t.Errorf("got message %q, want %q", pe.Message, want)
			}
		})
	}
}

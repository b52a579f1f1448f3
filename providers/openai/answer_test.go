package openai

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

// stall answers 200 and then sends nothing until the test ends.
func stall(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// trickle answers 200 and then one space per tick, never ending the body:
// each gap is far inside the idle timeout, so only a bound on the whole
// body can end the call.
func trickle(release <-chan struct{}, every time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1",`)
		rc := http.NewResponseController(w)
		rc.Flush()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
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
	}
}

// withLength makes h's answer announce a length it never reaches.
func withLength(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		h(w, r)
	}
}

// answer runs ChatCompletion and fails the test if it outlives hangGuard.
func answer(t *testing.T, c *Client) (*providers.ChatCompletionResponse, error) {
	t.Helper()
	type result struct {
		resp *providers.ChatCompletionResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.ChatCompletion(context.Background(), parse(t, clientBody, "m"))
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
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
		opts    func(*Options)
		want    error
	}{
		{"headers then nothing", stall,
			func(o *Options) { o.IdleTimeout = 50 * time.Millisecond }, providers.ErrAnswerIdle},
		{"a byte now and then", func(r <-chan struct{}) http.HandlerFunc { return trickle(r, 5*time.Millisecond) },
			func(o *Options) { o.Timeout, o.IdleTimeout = 200*time.Millisecond, time.Minute }, providers.ErrAnswerTimeout},
		// With a Content-Length the body is read into one buffer of that
		// size: the same bounds hold.
		{"a length, then nothing", func(r <-chan struct{}) http.HandlerFunc { return withLength(stall(r)) },
			func(o *Options) { o.IdleTimeout = 50 * time.Millisecond }, providers.ErrAnswerIdle},
		{"a length, a byte now and then", func(r <-chan struct{}) http.HandlerFunc { return withLength(trickle(r, 5*time.Millisecond)) },
			func(o *Options) { o.Timeout, o.IdleTimeout = 200*time.Millisecond, time.Minute }, providers.ErrAnswerTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			up := newUpstream(t, tc.handler(release))
			t.Cleanup(func() { close(release) })
			_, err := answer(t, newClient(t, up.URL+"/v1", tc.opts))
			e := asError(t, err)
			if !e.Timeout || e.Status != 0 || e.Stage != providers.StageStream {
				t.Errorf("got Timeout %v status %d stage %v, want true 0 %v (err %v)", e.Timeout, e.Status, e.Stage, providers.StageStream, err)
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

// TestAnswerTooLarge: an answer over the cap is an error, not a cut body
// passed on as if it were whole.
func TestAnswerTooLarge(t *testing.T) {
	lowerMaxResponse(t, 1<<10)
	valid := func(size int) string {
		return nonStreamBody + strings.Repeat(" ", size-len(nonStreamBody))
	}
	for _, tc := range []struct {
		name    string
		body    string
		wantErr bool
	}{
		{"at the cap", valid(1 << 10), false},
		{"one byte over", valid(1<<10 + 1), true},
		{"far over", valid(1 << 20), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body)
			})
			resp, err := answer(t, newClient(t, up.URL+"/v1", nil))
			if !tc.wantErr {
				if err != nil || string(resp.Raw) != tc.body {
					t.Fatalf("got error %v, want the %d-byte answer as sent", err, len(tc.body))
				}
				return
			}
			e := asError(t, err)
			if e.Status != http.StatusBadGateway || e.Timeout || !errors.Is(err, providers.ErrTooLarge) {
				t.Errorf("got status %d Timeout %v (err %v), want 502 wrapping ErrTooLarge", e.Status, e.Timeout, err)
			}
			if want := "upstream answer larger than 1 KiB"; e.Message != want {
				t.Errorf("got message %q, want %q", e.Message, want)
			}
		})
	}
}

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

// TestShutdownCutStreamEndsWithErrorEvent: a stream still running when the
// shutdown grace period ends gets a final error event saying so, and a
// request that has not begun its answer gets a 503, before the connection
// is closed.
func TestShutdownCutStreamEndsWithErrorEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		started bool // the upstream sends a first event and then hangs
	}{
		{"stream begun", true},
		{"no answer yet", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived := make(chan struct{})
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if tc.started {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
					w.(http.Flusher).Flush()
				}
				close(arrived)
				<-r.Context().Done() // never finishes on its own
			})
			cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", up.URL)), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Options{Config: cfg, ShutdownGrace: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			ran := make(chan error, 1)
			go func() { ran <- s.Run(ctx, ln) }()

			// Without an answer begun, the response headers only come after
			// the shutdown: the request runs beside the test.
			answered := make(chan *http.Response, 1)
			go func() {
				resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json",
					strings.NewReader(`{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
				if err != nil {
					t.Error(err)
				}
				answered <- resp
			}()
			<-arrived
			var resp *http.Response
			var rd io.Reader
			if tc.started {
				if resp = <-answered; resp == nil {
					t.FailNow()
				}
				defer resp.Body.Close()
				// The first event arrives before the shutdown begins.
				br := bufio.NewReader(resp.Body)
				if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, `"first"`) {
					t.Fatalf("first line = %q (err %v), want the first chunk", line, err)
				}
				rd = br
			}
			stop()
			if !tc.started {
				if resp = <-answered; resp == nil {
					t.FailNow()
				}
				defer resp.Body.Close()
				rd = resp.Body
			}
			rest, err := io.ReadAll(rd)
			if err != nil {
				t.Errorf("reading the rest: got error %v, want a clean end", err)
			}
			var e errorShape
			if tc.started {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200", resp.StatusCode)
				}
				events := sseData(t, bytes.NewReader(rest))
				if len(events) == 0 || !bytes.HasSuffix(rest, []byte("\n\n")) {
					t.Fatalf("stream after shutdown = %q, want it to end with an error event", rest)
				}
				e = decodeError(t, []byte(events[len(events)-1]))
			} else {
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("status = %d, want 503: %s", resp.StatusCode, rest)
				}
				e = decodeError(t, rest)
			}
			if e.Error.Type != "server_error" || e.Error.Code == nil || *e.Error.Code != "shutting_down" ||
				!strings.Contains(e.Error.Message, "shutting down") {
				t.Errorf("error = %+v, want server_error/shutting_down", e.Error)
			}
			if err := <-ran; err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Run: got error %v, want none", err)
			}
		})
	}
}

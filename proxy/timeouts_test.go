package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

// timeoutGuard only turns a hang into a failure; the read timeouts under
// test are far shorter.
const timeoutGuard = 10 * time.Second

// lineWriter sends each log line to a channel, so a test can wait for the
// line a handler writes as it returns.
type lineWriter chan string

func (c lineWriter) Write(p []byte) (int, error) {
	select {
	case c <- string(p):
	default: // a test reads only the first few lines
	}
	return len(p), nil
}

// serveReadTimeout serves oneProvider on loopback, as Run does, with the
// given read timeout, and returns its address and its log lines.
func serveReadTimeout(t *testing.T, upstreamURL string, d time.Duration) (string, <-chan string) {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", upstreamURL)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := make(lineWriter, 100)
	s, err := New(Options{Config: cfg, Version: "test", ReadTimeout: d,
		Logger: slog.New(slog.NewTextHandler(lines, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String(), lines
}

func waitLine(t *testing.T, lines <-chan string, substr string) {
	t.Helper()
	guard := time.After(timeoutGuard)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, substr) {
				return
			}
		case <-guard:
			t.Fatalf("no log line with %q", substr)
		}
	}
}

// TestStalledRequestBodyTimesOut sends the headers and part of a body, then
// nothing: the gateway answers 408 and closes the connection once the read
// timeout passes, and the handler returns.
func TestStalledRequestBodyTimesOut(t *testing.T) {
	for _, tt := range []struct{ name, header, partial string }{
		{"content-length", "Content-Length: 200\r\n", `{"model":"deepseek-chat","messages":[`},
		// Whole chunks, but never the last (zero-length) one.
		{"chunked without end", "Transfer-Encoding: chunked\r\n", "f\r\n{\"model\":\"deeps\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, completion)
			addr, lines := serveReadTimeout(t, up.URL, 200*time.Millisecond)
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s\r\n%s", addr, tt.header, tt.partial)
			conn.SetReadDeadline(time.Now().Add(timeoutGuard))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer to a stalled body: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status %d, want 408: %s", resp.StatusCode, body)
			}
			decodeError(t, body)
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("connection still open after the answer: read gave %v, want EOF", err)
			}
			// The request's log line is written as its handler returns.
			waitLine(t, lines, "status=408")
			if n := up.count(); n != 0 {
				t.Errorf("upstream got %d requests from a body that never arrived", n)
			}
		})
	}
}

// TestReadTimeoutSparesLongStreams streams an answer that lasts many read
// timeouts: the read timeout bounds the request, never the answer, and a
// kept-alive connection's next request gets its own bound.
func TestReadTimeoutSparesLongStreams(t *testing.T) {
	const bound = 200 * time.Millisecond
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 4 {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%d\"},\"finish_reason\":null}]}\n\n", i)
			w.(http.Flusher).Flush()
			// The scenario is the passing of time: a slow model.
			select {
			case <-time.After(2 * bound):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	addr, _ := serveReadTimeout(t, up.URL, bound)
	for i := range 2 {
		resp := post(t, "http://"+addr, `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("stream %d cut: %v\n%s", i+1, err, body)
		}
		if got := streamText(t, body); got != "0123" || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
			t.Errorf("stream %d: text %q, want 0123 and [DONE]:\n%s", i+1, got, body)
		}
	}
}

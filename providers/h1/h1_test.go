package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is an httptest server that counts the connections it accepted
// and the ones it saw closed.
type server struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc, config ...func(*http.Server)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	for _, f := range config {
		f(s.Config)
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newTransport(fallback http.RoundTripper) *Transport {
	d := &net.Dialer{Timeout: time.Second}
	return &Transport{Fallback: fallback, Dial: d.DialContext}
}

func post(t *testing.T, tr http.RoundTripper, ctx context.Context, u, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually waits for cond, which a server's goroutines make true soon.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not: %s", what)
		}
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"method":%q,"path":%q,"ct":%q,"body":%q}`, r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), b)
}

func TestRequestsShareOneConnection(t *testing.T) {
	s := newServer(t, echo)
	tr := newTransport(nil)
	for i := range 20 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		got := readAll(t, post(t, tr, context.Background(), s.URL+"/v1/chat/completions?x=1", body))
		want := fmt.Sprintf(`{"method":"POST","path":"/v1/chat/completions?x=1","ct":"application/json","body":%q}`, body)
		if got != want {
			t.Fatalf("answer %d\n got %s\nwant %s", i, got, want)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections for 20 requests one after another, want 1", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := newServer(t, echo)
	tr := newTransport(nil)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				if got := readAll(t, post(t, tr, context.Background(), s.URL+"/", body)); !strings.Contains(got, fmt.Sprintf("%q", body)) {
					t.Errorf("answer to %s: %s", body, got)
				}
			}
		})
	}
	wg.Wait()
	if n := s.opened.Load(); n > 16 {
		t.Errorf("%d connections for 16 clients", n)
	}
}

func TestBodyClosedEarlyClosesTheConnection(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	tr := newTransport(nil)
	resp := post(t, tr, context.Background(), s.URL, "{}")
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("read after Close succeeded")
	}
	eventually(t, "the server saw the connection closed", func() bool { return s.closed.Load() == 1 })
	readAll(t, post(t, tr, context.Background(), s.URL, "{}"))
	if n := s.opened.Load(); n != 2 {
		t.Errorf("%d connections, want a new one after the early close", n)
	}
}

func TestServerClosedIdleConnection(t *testing.T) {
	s := newServer(t, echo, func(s *http.Server) { s.IdleTimeout = 20 * time.Millisecond }) // as uvicorn does after 5 s
	tr := newTransport(nil)
	readAll(t, post(t, tr, context.Background(), s.URL, "{}"))
	eventually(t, "the server closed the idle connection", func() bool { return s.closed.Load() == 1 })
	time.Sleep(10 * time.Millisecond) // its FIN reaches the client's socket
	if got := readAll(t, post(t, tr, context.Background(), s.URL, `{"again":1}`)); !strings.Contains(got, "again") {
		t.Errorf("answer on a fresh connection: %s", got)
	}
	if n := s.opened.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestConnectionCloseIsNotReused(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		echo(w, r)
	})
	tr := newTransport(nil)
	for range 3 {
		readAll(t, post(t, tr, context.Background(), s.URL, "{}"))
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("%d connections for 3 answers with Connection: close, want 3", n)
	}
}

// TestStreamArrivesAsSent reads each chunk of a chunked answer before the
// server writes the next: nothing is held back.
func TestStreamArrivesAsSent(t *testing.T) {
	next := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/again" {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			<-next
		}
	})
	tr := newTransport(nil)
	resp := post(t, tr, context.Background(), s.URL, "{}")
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q, %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the stream: %q, %v", rest, err)
	}
	resp.Body.Close()
	readAll(t, post(t, tr, context.Background(), s.URL+"/again", "{}"))
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections: a stream read to its end should give its connection back", n)
	}
}

func TestCancelStopsTheStream(t *testing.T) {
	gone := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: first\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the connection closed
		close(gone)
	})
	tr := newTransport(nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	resp := post(t, tr, ctx, s.URL, "{}")
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	stopped := errors.New("the client went away")
	read := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(buf)
		read <- err
	}()
	cancel(stopped)
	select {
	case err := <-read:
		if !errors.Is(err, stopped) {
			t.Errorf("read after cancel: %v, want the cause", err)
		}
		if _, err := resp.Body.Read(buf); !errors.Is(err, stopped) {
			t.Errorf("the next read: %v, want the cause again", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled read still waits")
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the cancel")
	}
	resp.Body.Close()
}

func TestCancelBeforeHeaders(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	tr := newTransport(nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader("{}"))
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("a request already cancelled: err %v", err)
	}
}

func TestHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	tr := newTransport(nil)
	tr.HeaderTimeout = 30 * time.Millisecond
	req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("{}"))
	_, err := tr.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || err.Error() != "net/http: timeout awaiting response headers" {
		t.Errorf("err %v, want net/http's header timeout", err)
	}
}

// TestSlowAnswerAfterHeaders: the header timeout does not cut a body that
// comes later.
func TestSlowAnswerAfterHeaders(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(60 * time.Millisecond)
		w.Write([]byte("late"))
	})
	tr := newTransport(nil)
	tr.HeaderTimeout = 30 * time.Millisecond
	if got := readAll(t, post(t, tr, context.Background(), s.URL, "{}")); got != "late" {
		t.Errorf("body %q", got)
	}
}

func TestEarlyHintsBeforeTheAnswer(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("made"))
	})
	tr := newTransport(nil)
	resp := post(t, tr, context.Background(), s.URL, "{}")
	if resp.StatusCode != http.StatusCreated || readAll(t, resp) != "made" {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestNoBodyAnswerGivesTheConnectionBack(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tr := newTransport(nil)
	for range 3 {
		resp := post(t, tr, context.Background(), s.URL, "{}")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	s := newServer(t, echo)
	tr := newTransport(nil)
	tr.IdleTimeout = 30 * time.Millisecond
	readAll(t, post(t, tr, context.Background(), s.URL, "{}"))
	eventually(t, "the idle connection was closed", func() bool { return s.closed.Load() == 1 })

	// A transport of its own: the first one's sweep may still read its
	// IdleTimeout.
	kept := newTransport(nil)
	kept.IdleTimeout = time.Hour
	readAll(t, post(t, kept, context.Background(), s.URL, "{}"))
	kept.CloseIdleConnections()
	eventually(t, "CloseIdleConnections closed it", func() bool { return s.closed.Load() == 2 })
}

func TestDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("{}"))
	_, err = newTransport(nil).RoundTrip(req)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("err %v, want the dialer's", err)
	}
}

type recordingRT struct{ urls []string }

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: http.StatusTeapot, Body: http.NoBody, Request: req}, nil
}

func TestHTTPSAndProxiedGoToTheFallback(t *testing.T) {
	fb := &recordingRT{}
	tr := newTransport(fb)
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "lan-box" {
			return url.Parse("http://proxy:3128")
		}
		return nil, nil
	}
	for _, u := range []string{"https://api.deepseek.com/v1/chat/completions", "http://lan-box:11434/api/chat"} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != http.StatusTeapot {
			t.Errorf("%s: %v", u, err)
		}
	}
	if len(fb.urls) != 2 {
		t.Errorf("fallback got %v", fb.urls)
	}
}

// TestAnswerBeforeTheBodyIsSent: a server that refuses a large request at
// once and closes (net/http's server reads at most 256 KiB of a body its
// handler left) breaks the write; its answer is still the one returned, as
// net/http's Transport returns it.
func TestAnswerBeforeTheBodyIsSent(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		w.Write([]byte(`{"error":"too large"}`))
	})
	tr := newTransport(nil)
	big := strings.Repeat("x", 8<<20)
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(big))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("err %v, want the server's answer", err)
		}
		if got := readAll(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || got != `{"error":"too large"}` {
			t.Errorf("status %d body %q", resp.StatusCode, got)
		}
	}
}

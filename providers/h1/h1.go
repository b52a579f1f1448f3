// Package h1 is an HTTP/1.1 client transport for plain-HTTP upstreams, the
// local models on the laptop or the LAN, that does a request's I/O on the
// caller's goroutine.
//
// net/http's Transport gives each connection a writer and a reader
// goroutine and hands every request to them and its answer back. On the
// 2-core machine those hand-offs were a quarter of a proxied request's CPU:
// the same handler cost 250 µs per request at 2000/s over net/http's
// Transport and 188 µs over this one, with the p50 at +294 and +225 µs over
// direct (issue 16, the bench harness). So this hand-written part is kept
// small: it writes the request with http.Request.Write, reads the answer
// with http.ReadResponse, and keeps idle connections for the next request.
// Everything else, https (TLS, HTTP/2) and a request that goes through a
// proxy, goes to Fallback.
package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport is an http.RoundTripper. Its zero value is not usable: set
// Fallback and Dial.
type Transport struct {
	// Fallback serves what this transport does not: https, and requests
	// Proxy sends through a proxy.
	Fallback http.RoundTripper
	// Proxy is the Fallback's proxy choice, nil for none.
	Proxy func(*http.Request) (*url.URL, error)
	Dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	// HeaderTimeout bounds the wait for the answer's headers once the
	// request is written; 0 waits as long as the request's context.
	HeaderTimeout time.Duration
	// IdleTimeout closes a connection unused for that long (default 90 s).
	IdleTimeout time.Duration
	// MaxIdlePerHost is how many idle connections are kept per host
	// (default 128).
	MaxIdlePerHost int

	mu    sync.Mutex // guards idle and sweep
	idle  map[string][]*conn
	sweep *time.Timer
}

// Supported reports whether this platform can tell, before reusing an idle
// connection, that the server closed it; where it cannot, callers use
// net/http's Transport, whose reader goroutine notices.
const Supported = peekSupported

type conn struct {
	nc   net.Conn
	raw  syscall.RawConn // nc's socket, for the peek before reuse; nil when it has none
	br   *bufio.Reader
	bw   *bufio.Writer
	idle time.Time // when it was put back
}

// errHeaderTimeout says what net/http's Transport says for the same case.
var errHeaderTimeout error = timeoutError("net/http: timeout awaiting response headers")

type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var errReadOnClosed = errors.New("http: read on closed response body")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || t.proxied(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, context.Cause(ctx)
	}
	addr := hostPort(req.URL)
	c, err := t.get(ctx, addr)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	// A cancelled request closes its connection: a read or write under
	// way fails at once, and the connection is never reused.
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	werr := req.Write(c.bw)
	if werr == nil {
		werr = c.bw.Flush()
	}
	wait := t.HeaderTimeout
	if werr != nil {
		if ctx.Err() != nil {
			return fail(werr)
		}
		// A server may answer and close before it has read the whole
		// body (net/http's reads 256 KiB of one its handler left): that
		// answer is the one to return, as net/http's Transport does.
		wait = earlyAnswerWait
	}
	if wait > 0 {
		c.nc.SetReadDeadline(time.Now().Add(wait))
	}
	resp, err := readAnswer(c.br, req)
	if err != nil {
		var ne net.Error
		switch {
		case werr != nil:
			err = werr
		case errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil:
			err = errHeaderTimeout
		}
		return fail(err)
	}
	if wait > 0 {
		c.nc.SetReadDeadline(time.Time{})
	}
	b := &body{rc: resp.Body, t: t, c: c, addr: addr, ctx: ctx, stop: stop,
		keep: werr == nil && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols}
	if resp.Body == http.NoBody {
		b.release(true)
	} else {
		resp.Body = b
	}
	return resp, nil
}

// earlyAnswerWait is how long a request whose body could not be written
// waits for an answer the server may have sent before it stopped reading.
const earlyAnswerWait = 50 * time.Millisecond

// readAnswer reads the answer to req, past any informational one (103
// Early Hints).
func readAnswer(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil || resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, err
		}
	}
}

func (t *Transport) proxied(req *http.Request) bool {
	if t.Proxy == nil {
		return false
	}
	u, err := t.Proxy(req)
	return err != nil || u != nil // an error is the Fallback's to report
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// get returns an idle connection to addr the server has not closed, or a
// new one.
func (t *Transport) get(ctx context.Context, addr string) (*conn, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(c.idle) < t.idleTimeout() && c.br.Buffered() == 0 && alive(c.raw) {
			return c, nil
		}
		c.nc.Close()
	}
	nc, err := t.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10)}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn() // once: it is a new value each call
	}
	return c, nil
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return 90 * time.Second
}

// put keeps c for the next request to addr.
func (t *Transport) put(addr string, c *conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = 128
	}
	c.idle = time.Now()
	t.mu.Lock()
	if len(t.idle[addr]) >= max {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	t.idle[addr] = append(t.idle[addr], c)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout(), t.closeStale)
	}
	t.mu.Unlock()
}

// closeStale closes the connections idle for longer than the timeout, so
// that a server's closed ones don't linger until the next request.
func (t *Transport) closeStale() {
	cutoff := time.Now().Add(-t.idleTimeout())
	var stale []*conn
	t.mu.Lock()
	for addr, list := range t.idle {
		kept := list[:0]
		for _, c := range list {
			if c.idle.Before(cutoff) {
				stale = append(stale, c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = kept
		}
	}
	if len(t.idle) > 0 {
		t.sweep.Reset(t.idleTimeout())
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
}

// CloseIdleConnections closes the idle connections, here and in Fallback.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
	if f, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
}

// body is an answer's body. Read to its end, it gives the connection back
// for the next request; closed before that, it closes the connection.
type body struct {
	rc   io.ReadCloser
	t    *Transport
	c    *conn
	addr string
	ctx  context.Context
	stop func() bool
	keep bool // the answer allows another request on the connection

	rerr     error // what ended the reads: io.EOF or the failure, again for every later Read
	released atomic.Bool
	closed   atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errReadOnClosed
	}
	if b.rerr != nil {
		// The connection is someone else's or closed now.
		return 0, b.rerr
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.release(true)
	case err != nil:
		b.release(false)
		if b.ctx.Err() != nil {
			err = context.Cause(b.ctx)
		}
	}
	b.rerr = err
	return n, err
}

func (b *body) Close() error {
	b.closed.Store(true)
	b.release(false)
	return nil
}

// release ends the body's hold on the connection once: back to the pool
// when it was read to the end and may carry another request, else closed.
func (b *body) release(whole bool) {
	if b.released.Swap(true) {
		return
	}
	cancelled := !b.stop()
	if whole && b.keep && !cancelled {
		b.t.put(b.addr, b.c)
		return
	}
	b.c.nc.Close()
}

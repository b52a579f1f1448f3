package providers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/localrouter/localrouter/providers/h1"
)

// UpstreamOptions configure an Upstream. Zero durations get the defaults
// DESIGN §3 gives: 120s to response headers, 60s between stream events,
// 10s to connect. A non-streamed body gets both bounds again once its
// headers are in: Timeout for the whole body, IdleTimeout between reads.
type UpstreamOptions struct {
	Name      string
	UserAgent string
	// Protocol headers are set first, so that configured Headers may
	// override them (e.g. a newer anthropic-version).
	Protocol map[string]string
	Headers  map[string]string // from the config; values are secrets
	// AuthHeader carries APIKey and is set last, so no configured header can
	// replace the key. "Authorization" sends "Bearer <key>". No key, no header.
	AuthHeader string
	APIKey     string

	Timeout, IdleTimeout, ConnectTimeout time.Duration
}

// Upstream is the connection every provider client has to its API: the
// headers it sends, the secrets it must never show, and an HTTP client.
// It is safe for concurrent use.
type Upstream struct {
	name        string
	header      http.Header
	secrets     secrets
	timeout     time.Duration
	idleTimeout time.Duration
	maxResponse int64
	hc          *http.Client
	// fixed are the canonical names of the configured headers and the key's
	// header: a pass-through never lets the client's headers replace them.
	fixed map[string]bool
	// byAccept holds header with each usual Accept set, shared read-only
	// by the requests that add no header of their own: transports only
	// read a request's header, and a copy per request was 3 allocations.
	byAccept map[string]http.Header
}

// MaxResponse caps a non-streamed answer, in bytes. It is far above any
// real completion and only stops a runaway upstream from exhausting memory.
// It is a variable so that tests can lower it; an Upstream reads it once,
// when it is made.
var MaxResponse int64 = 64 << 20

// NewUpstream returns an Upstream for o.
func NewUpstream(o UpstreamOptions) *Upstream {
	if o.Timeout <= 0 {
		o.Timeout = 120 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	for k, v := range o.Protocol {
		h.Set(k, v)
	}
	if o.UserAgent != "" {
		h.Set("User-Agent", o.UserAgent)
	}
	u := &Upstream{name: o.Name, header: h, timeout: o.Timeout, idleTimeout: o.IdleTimeout, maxResponse: MaxResponse,
		hc: newHTTPClient(o.ConnectTimeout, o.Timeout), fixed: map[string]bool{}}
	for k, v := range o.Headers {
		h.Set(k, v)
		u.fixed[http.CanonicalHeaderKey(k)] = true
		if v != "" {
			u.secrets = append(u.secrets, v)
		}
	}
	if o.APIKey != "" {
		v := o.APIKey
		if o.AuthHeader == "Authorization" {
			v = "Bearer " + v
		}
		h.Set(o.AuthHeader, v)
		u.fixed[http.CanonicalHeaderKey(o.AuthHeader)] = true
		u.secrets = append(secrets{o.APIKey}, u.secrets...)
	}
	u.byAccept = map[string]http.Header{}
	for _, accept := range []string{"application/json", "text/event-stream", "application/x-ndjson"} {
		hh := h.Clone()
		hh.Set("Accept", accept)
		u.byAccept[accept] = hh
	}
	return u
}

// Name returns the provider's configured name.
func (u *Upstream) Name() string { return u.name }

// Redact returns s without any of the upstream's secrets.
func (u *Upstream) Redact(s string) string { return u.secrets.redact(s) }

// RedactBody returns an upstream's error body without the upstream's
// secrets. Redact a body before parsing it: the parsers cut long text, and
// a secret cut in two would get past any later redaction half by half.
func (u *Upstream) RedactBody(body []byte) []byte {
	for _, k := range u.secrets {
		if k != "" && bytes.Contains(body, []byte(k)) {
			body = bytes.ReplaceAll(body, []byte(k), []byte("[redacted]"))
		}
	}
	return body
}

// RedactError removes the upstream's secrets from every text of e that may
// reach a client or a log: message, type, code, param, and the values of
// the upstream's headers (Retry-After is passed on to the client). It
// changes e and returns it. Fields are redacted after parsing too, since a
// JSON escape can hide a secret from RedactBody.
func (u *Upstream) RedactError(e *Error) *Error {
	e.Message, e.Type, e.Code, e.Param = u.Redact(e.Message), u.Redact(e.Type), u.Redact(e.Code), u.Redact(e.Param)
	if e.Header != nil {
		// A copy: the map may still be the response's.
		h := make(http.Header, len(e.Header))
		for k, vs := range e.Header {
			r := make([]string, len(vs))
			for i, v := range vs {
				r[i] = u.Redact(v)
			}
			h[k] = r
		}
		e.Header = h
	}
	return e
}

// TransportError describes a call that failed at stage without an upstream
// status: refused, timed out, idle, or cut.
func (u *Upstream) TransportError(ctx context.Context, stage Stage, err error) *Error {
	e := &Error{Provider: u.name, Stage: stage, Err: err}
	if cause := context.Cause(ctx); cause == ErrIdle || cause == ErrAnswerIdle || cause == ErrAnswerTimeout {
		e.Timeout = true
		e.Message = cause.Error()
		e.Err = cause
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.Timeout = true
	}
	e.Message = u.Redact(err.Error())
	return e
}

// StatusFunc turns an upstream's error status and body (at most 64 KiB,
// already redacted) into the provider's *Error; the caller attaches the
// response headers and redacts the result again.
type StatusFunc func(status int, body []byte) *Error

// Send makes the request (a POST when body is non-nil, else a GET) and
// returns a 2xx response, or an *Error: a transport error, or statusError's
// answer to any other status, carrying the upstream's headers (Retry-After).
func (u *Upstream) Send(ctx context.Context, url string, body []byte, accept string, statusError StatusFunc) (*http.Response, error) {
	return u.SendWith(ctx, url, body, accept, nil, statusError)
}

// SendWith is Send with the client's protocol headers for a pass-through
// (NativeRequest.Header): they replace the protocol's defaults, never a
// configured header or the key. The *Error of a pass-through keeps the
// upstream's body in Raw.
func (u *Upstream) SendWith(ctx context.Context, url string, body []byte, accept string, extra http.Header, statusError StatusFunc) (*http.Response, error) {
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, u.TransportError(ctx, StageConnect, err)
	}
	if shared, ok := u.byAccept[accept]; ok && len(extra) == 0 {
		hreq.Header = shared
	} else {
		hreq.Header = u.header.Clone()
		hreq.Header.Set("Accept", accept)
		for k, vs := range extra {
			if !u.fixed[k] {
				hreq.Header[k] = vs
			}
		}
	}
	// Straight to the transport: the client follows no redirects
	// (newHTTPClient), so all Client.Do would add is a copy of the headers
	// for redirects that never happen, 15 of a request's 235 allocations.
	// Its error wrapping is kept, so messages read as before.
	resp, err := u.hc.Transport.RoundTrip(hreq)
	if err != nil {
		err = &neturl.Error{Op: method[:1] + strings.ToLower(method[1:]), URL: hreq.URL.Redacted(), Err: err}
		return nil, u.TransportError(ctx, StageConnect, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		b = u.RedactBody(b)
		e := statusError(resp.StatusCode, b)
		e.Header = resp.Header
		if extra != nil {
			e.Raw = b
		}
		return nil, u.RedactError(e)
	}
	return resp, nil
}

// ReadAnswer reads the body of a non-streamed answer, at most MaxResponse
// bytes. ctx must be the one the request runs under and cancel its cancel
// function. Once the headers are in, the transport's header timeout no
// longer applies, so an upstream that sent 200 and then nothing, or a byte
// now and then, would hold the client for ever: a body that brings no byte
// for the idle timeout fails with ErrAnswerIdle, one not complete within the
// timeout with ErrAnswerTimeout. The timeout is generous on purpose: some
// vendors send the headers at once and keep the connection alive with
// whitespace while the model works.
func (u *Upstream) ReadAnswer(ctx context.Context, cancel context.CancelCauseFunc, resp *http.Response) ([]byte, error) {
	w := watchAnswer(u.timeout, u.idleTimeout, cancel)
	defer w.stop()
	r := &progressReader{r: resp.Body, w: w}
	var body []byte
	var err error
	if n := resp.ContentLength; n >= 0 && n <= u.maxResponse {
		// The usual answer says its length: one buffer of that size, and
		// a last read that sees the end, so the connection is reused.
		body = make([]byte, n)
		if _, err = io.ReadFull(r, body); err == nil {
			var one [1]byte
			if m, rerr := r.Read(one[:]); m > 0 || rerr != io.EOF && rerr != nil {
				err = errOr(rerr, io.ErrUnexpectedEOF)
			}
		}
	} else {
		// One byte past the cap tells a body that fits exactly from a longer one.
		body, err = io.ReadAll(io.LimitReader(r, u.maxResponse+1))
	}
	if err != nil {
		return nil, u.TransportError(ctx, StageStream, err)
	}
	if int64(len(body)) > u.maxResponse {
		return nil, &Error{Provider: u.name, Stage: StageStream, Status: http.StatusBadGateway,
			Code: "upstream_response_too_large", Message: "upstream answer larger than " + byteSize(u.maxResponse), Err: ErrTooLarge}
	}
	return body, nil
}

// errOr is err, or alt when err says nothing.
func errOr(err, alt error) error {
	if err == nil || err == io.EOF {
		return alt
	}
	return err
}

// answerWatch is one timer for the limits on reading an answer: a read
// that brings bytes only notes the time, and the timer, when it fires,
// works out which limit is next. Two timers, one reset on every read, were
// a tenth of reading a small answer (issue 16); a stream resetting one
// per event paid the same.
type answerWatch struct {
	t     *time.Timer
	start time.Time
	whole time.Duration // 0: the answer as a whole has no limit (a stream)
	idle  time.Duration
	// idleErr is what a silence over idle is cancelled with.
	idleErr error
	last    atomic.Int64 // UnixNano of the last read that brought bytes
	// away is set while the reader waits for the client rather than the
	// upstream: a slow client is not a silent upstream.
	away   atomic.Bool
	done   atomic.Bool
	cancel context.CancelCauseFunc
}

func watchAnswer(whole, idle time.Duration, cancel context.CancelCauseFunc) *answerWatch {
	return newWatch(whole, idle, ErrAnswerIdle, cancel)
}

// watchStream bounds only the gaps between a stream's events.
func watchStream(idle time.Duration, cancel context.CancelCauseFunc) *answerWatch {
	return newWatch(0, idle, ErrIdle, cancel)
}

func newWatch(whole, idle time.Duration, idleErr error, cancel context.CancelCauseFunc) *answerWatch {
	w := &answerWatch{start: time.Now(), whole: whole, idle: idle, idleErr: idleErr, cancel: cancel}
	w.last.Store(w.start.UnixNano())
	w.t = time.AfterFunc(time.Hour, w.fire) // armed below, once w.t is set
	first := idle
	if whole > 0 {
		first = min(whole, idle)
	}
	w.t.Reset(first)
	return w
}

func (w *answerWatch) progress() { w.last.Store(time.Now().UnixNano()) }

// waitClient runs f, which may wait for the client, outside the idle limit.
func (w *answerWatch) waitClient(f func() error) error {
	w.away.Store(true)
	err := f()
	w.progress() // before away is cleared, so fire never sees the old time
	w.away.Store(false)
	return err
}

func (w *answerWatch) stop() {
	w.done.Store(true)
	w.t.Stop()
}

func (w *answerWatch) fire() {
	if w.done.Load() {
		return
	}
	now := time.Now()
	var end time.Time
	if w.whole > 0 {
		end = w.start.Add(w.whole)
		if !now.Before(end) {
			w.cancel(ErrAnswerTimeout)
			return
		}
	}
	idleAt := time.Unix(0, w.last.Load()).Add(w.idle)
	if w.away.Load() {
		idleAt = now.Add(w.idle)
	}
	if !now.Before(idleAt) {
		w.cancel(w.idleErr)
		return
	}
	if end.IsZero() || idleAt.Before(end) {
		end = idleAt
	}
	w.t.Reset(end.Sub(now))
}

// progressReader notes progress after every read that brought bytes.
type progressReader struct {
	r io.Reader
	w *answerWatch
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.progress()
	}
	return n, err
}

// byteSize writes n for people: "64 MiB", "1 KiB", "1000 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// newHTTPClient returns the HTTP client an Upstream talks to its API with. connect bounds dialing and TLS; header bounds the wait for response
// headers. There is no total timeout, which would cut long streams: a
// provider bounds the gaps between stream events itself (ErrIdle).
// Redirects are not followed, so a key never travels to another host.
func newHTTPClient(connect, header time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
	}
	var rt http.RoundTripper = tr
	if h1.Supported {
		// Plain HTTP, the local models, without net/http's two goroutines
		// per connection (package h1); https and proxies stay with tr.
		rt = &h1.Transport{Fallback: tr, Proxy: tr.Proxy, Dial: dialer.DialContext, HeaderTimeout: header,
			IdleTimeout: tr.IdleConnTimeout, MaxIdlePerHost: tr.MaxIdleConnsPerHost}
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ErrIdle is the cause a provider cancels a stream with when no event
// arrived within its idle timeout.
var ErrIdle = errors.New("no stream event within the idle timeout")

// The causes ReadAnswer fails with. ErrTooLarge is wrapped in an *Error
// with status 502; the two timeouts in one with Timeout set, so the gateway
// answers 504 and may fall back as it would for a late header.
var (
	ErrAnswerIdle    = errors.New("answer stalled: no bytes within the idle timeout")
	ErrAnswerTimeout = errors.New("answer not complete within the timeout after its headers")
	ErrTooLarge      = errors.New("upstream answer too large")
)

// secrets are the values a provider must never show: its key and header values.
type secrets []string

// redact returns s with every secret replaced by "[redacted]".
func (ss secrets) redact(s string) string {
	for _, k := range ss {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

package providers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// NewHTTPClient returns the HTTP client a provider talks to its upstream
// with. connect bounds dialing and TLS; header bounds the wait for response
// headers. There is no total timeout, which would cut long streams: a
// provider bounds the gaps between stream events itself (ErrIdle).
// Redirects are not followed, so a key never travels to another host.
func NewHTTPClient(connect, header time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   connect,
			ResponseHeaderTimeout: header,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ErrIdle is the cause a provider cancels a stream with when no event
// arrived within its idle timeout.
var ErrIdle = errors.New("no stream event within the idle timeout")

// Secrets are the values a provider must never show: its key and header values.
type Secrets []string

// Redact returns s with every secret replaced by "[redacted]".
func (ss Secrets) Redact(s string) string {
	for _, k := range ss {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

// TransportError describes a call to provider that failed at stage without
// an upstream status: refused, timed out, idle, or cut.
func TransportError(ctx context.Context, provider string, stage Stage, err error, secrets Secrets) *Error {
	e := &Error{Provider: provider, Stage: stage, Err: err}
	if cause := context.Cause(ctx); cause == ErrIdle {
		e.Timeout = true
		e.Message = ErrIdle.Error()
		e.Err = cause
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.Timeout = true
	}
	e.Message = secrets.Redact(err.Error())
	return e
}

// Package google talks to the Gemini API (generateContent and
// streamGenerateContent) and translates between it and OpenAI Chat
// Completions, so that a client cannot tell the answer came from Gemini.
package google

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// DefaultBaseURL is the Gemini API's root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// Options configure a Client.
type Options struct {
	Name string
	// BaseURL is the API root; default DefaultBaseURL. A trailing /v1beta
	// or /v1 is tolerated.
	BaseURL string
	// APIKey is sent as x-goog-api-key, never in the URL. Required.
	APIKey  string
	Headers map[string]string
	// Timeout bounds the wait for the upstream's response headers; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events; default 60s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing and the TLS handshake; default 10s.
	ConnectTimeout time.Duration
	UserAgent      string
}

// Client is a Provider for the Gemini API.
type Client struct {
	name        string
	base        string // API root + /v1beta/models/
	header      http.Header
	idleTimeout time.Duration
	hc          *http.Client
	secrets     providers.Secrets
	sigs        *sigCache
	now         func() time.Time
}

// maxResponse caps a non-streamed answer; far above any real completion.
const maxResponse = 64 << 20

// New returns a Client for o.
func New(o Options) (*Client, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("google: provider %s: no api_key", o.Name)
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	for _, v := range []string{"/v1beta", "/v1"} {
		base = strings.TrimSuffix(base, v)
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("google: provider %s: base_url %q is not an http(s) URL", o.Name, o.BaseURL)
	}
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
	if o.UserAgent != "" {
		h.Set("User-Agent", o.UserAgent)
	}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	h.Set("x-goog-api-key", o.APIKey)
	c := &Client{
		name:        o.Name,
		base:        base + "/v1beta/models/",
		header:      h,
		idleTimeout: o.IdleTimeout,
		secrets:     []string{o.APIKey},
		sigs:        sharedSigs,
		now:         time.Now,
	}
	for _, v := range o.Headers {
		if v != "" {
			c.secrets = append(c.secrets, v)
		}
	}
	c.hc = providers.NewHTTPClient(o.ConnectTimeout, o.Timeout)
	return c, nil
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.name }

// ChatCompletion sends a generateContent request.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	resp, err := c.do(ctx, req, ":generateContent", "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, c.transportError(ctx, providers.StageStream, err)
	}
	var g generateResponse
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, &providers.Error{Provider: c.name, Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: "upstream answered with something that is not a GenerateContentResponse"}
	}
	if g.Error != nil {
		return nil, c.statusError(resp.StatusCode, body)
	}
	return fromGenerateResponse(&g, newID(), req.Model, c.now().Unix(), c.sigs), nil
}

// ChatCompletionStream sends a streamGenerateContent request and translates
// each event as it arrives.
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out chan<- *providers.ChatCompletionStreamResponse) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, ":streamGenerateContent?alt=sse", "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		// Without alt=sse honoured, or an error with a 200: not a stream.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return c.statusError(resp.StatusCode, body)
	}

	// Between events only an idle timeout applies: a long answer may take
	// minutes, but a silent upstream should not hold the client forever.
	idle := time.AfterFunc(c.idleTimeout, func() { cancel(providers.ErrIdle) })
	defer idle.Stop()

	st := newStreamState(newID(), req.Model, c.now().Unix(), req.IncludeUsage(), c.sigs)
	rd := sse.NewReader(resp.Body)
	var chunks []*providers.ChatCompletionStreamResponse
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				chunks, err = st.end(chunks[:0])
				if err != nil {
					return &providers.Error{Provider: c.name, Stage: providers.StageStream, Message: err.Error()}
				}
				return c.send(ctx, idle, out, chunks)
			}
			return c.transportError(ctx, providers.StageStream, err)
		}
		idle.Reset(c.idleTimeout)
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		chunks, err = st.event(ev.Data, chunks[:0])
		if err != nil {
			var pe *providers.Error
			if errors.As(err, &pe) {
				pe.Provider = c.name
				pe.Message = c.redact(pe.Message)
				return pe
			}
			return &providers.Error{Provider: c.name, Stage: providers.StageStream, Message: err.Error(), Err: err}
		}
		if err := c.send(ctx, idle, out, chunks); err != nil {
			return err
		}
	}
}

// send delivers chunks. The idle timeout measures the upstream, not the
// reader of out: a client reading slowly must not cancel the upstream.
func (c *Client) send(ctx context.Context, idle *time.Timer, out chan<- *providers.ChatCompletionStreamResponse, chunks []*providers.ChatCompletionStreamResponse) error {
	if len(chunks) == 0 {
		return nil
	}
	idle.Stop()
	for _, ch := range chunks {
		select {
		case out <- ch:
		case <-ctx.Done():
			return c.transportError(ctx, providers.StageStream, context.Cause(ctx))
		}
	}
	idle.Reset(c.idleTimeout)
	return nil
}

// do translates and sends the request and returns a 2xx response or an
// error: a *providers.RequestError for a body that is not valid Chat
// Completions JSON, else a *providers.Error.
func (c *Client) do(ctx context.Context, req *providers.ChatCompletionRequest, method, accept string) (*http.Response, error) {
	if err := req.Decode(); err != nil {
		return nil, err
	}
	g, err := toGenerateRequest(req, c.sigs)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", c.name, err)
	}
	model := strings.TrimPrefix(req.Model, "models/")
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+url.PathEscape(model)+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	hreq.Header = c.header.Clone()
	hreq.Header.Set("Accept", accept)
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, providers.StageConnect, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := c.statusError(resp.StatusCode, b)
		e.Header = resp.Header
		return nil, e
	}
	return resp, nil
}

func (c *Client) transportError(ctx context.Context, stage providers.Stage, err error) *providers.Error {
	return providers.TransportError(ctx, c.name, stage, err, c.secrets)
}

func (c *Client) redact(s string) string { return c.secrets.Redact(s) }

// newID returns a fresh Chat Completions id.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

var _ providers.Provider = (*Client)(nil)

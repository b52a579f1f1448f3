// Package anthropic is a Provider for Anthropic's Messages API. It
// translates OpenAI Chat Completions requests, answers and streams both
// ways, so an OpenAI client cannot tell that Claude answered.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// DefaultBaseURL is the API root; "/v1/messages" is appended.
const DefaultBaseURL = "https://api.anthropic.com"

// Options configure a Client.
type Options struct {
	Name string
	// BaseURL is the API root; default https://api.anthropic.com. A
	// trailing /v1 is tolerated.
	BaseURL string
	// APIKey is sent as x-api-key, only to BaseURL. Required.
	APIKey string
	// Headers are added to every request (e.g. anthropic-beta) and may
	// override the defaults.
	Headers map[string]string
	// Timeout bounds the wait for the response headers; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events; default 60s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing and the TLS handshake; default 10s.
	ConnectTimeout time.Duration
	// DefaultMaxTokens is sent as max_tokens when a request has none
	// (the API requires it); default 8192.
	DefaultMaxTokens int
	UserAgent        string
}

// Client is a Provider for the Anthropic Messages API.
type Client struct {
	name        string
	url         string // base + /v1/messages
	header      http.Header
	idleTimeout time.Duration
	maxTokens   int
	hc          *http.Client
	secrets     providers.Secrets
	sigs        *signatureCache
	now         func() time.Time
}

// maxResponse caps a non-streamed answer; far above any real completion.
const maxResponse = 64 << 20

// New returns a Client for o.
func New(o Options) (*Client, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("anthropic: provider %s: no api_key", o.Name)
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	base = strings.TrimSuffix(base, "/v1")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("anthropic: provider %s: base_url %q is not an http(s) URL", o.Name, o.BaseURL)
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
	if o.DefaultMaxTokens <= 0 {
		o.DefaultMaxTokens = 8192
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Anthropic-Version", Version)
	if o.UserAgent != "" {
		h.Set("User-Agent", o.UserAgent)
	}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	h.Set("X-Api-Key", o.APIKey)
	c := &Client{
		name:        o.Name,
		url:         base + "/v1/messages",
		header:      h,
		idleTimeout: o.IdleTimeout,
		maxTokens:   o.DefaultMaxTokens,
		secrets:     []string{o.APIKey},
		sigs:        signatures,
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

// ChatCompletion sends a non-streamed request and translates the answer.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	resp, err := c.do(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, c.transportError(ctx, providers.StageStream, err)
	}
	// An error body with a 200 (a misbehaving proxy in between) must not
	// become an empty answer.
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte(`{"type":"error"`)) || isErrorBody(body) {
		e := c.upstreamError(providers.StageStatus, 0, body, resp.Header)
		if e.Status == 0 {
			e.Status = http.StatusBadGateway
		}
		return nil, e
	}
	out, thinking, ids, err := fromMessagesResponse(body, c.now().Unix())
	if err != nil {
		return nil, &providers.Error{Provider: c.name, Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: err.Error(), Err: err}
	}
	c.sigs.put(ids, thinking)
	return out, nil
}

// ChatCompletionStream sends a streamed request and translates each event.
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out chan<- *providers.ChatCompletionStreamResponse) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return c.upstreamError(providers.StageStatus, http.StatusBadGateway, body, resp.Header)
	}

	// Between events only an idle timeout applies: a long answer may take
	// minutes, but a silent upstream should not hold the client forever.
	idle := time.AfterFunc(c.idleTimeout, func() { cancel(providers.ErrIdle) })
	defer idle.Stop()

	st := &streamState{includeUsage: req.IncludeUsage(), created: c.now().Unix()}
	rd := sse.NewReader(resp.Body)
	var chunks []*providers.ChatCompletionStreamResponse
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &providers.Error{Provider: c.name, Stage: providers.StageStream, Message: errEndedEarly.Error()}
			}
			return c.transportError(ctx, providers.StageStream, err)
		}
		idle.Reset(c.idleTimeout)
		chunks, err = st.event(ev.Name, ev.Data, chunks[:0])
		if err != nil {
			var ee *eventError
			if errors.As(err, &ee) {
				return c.upstreamError(providers.StageStream, 0, ee.body, nil)
			}
			return &providers.Error{Provider: c.name, Stage: providers.StageStream, Message: err.Error(), Err: err}
		}
		if len(chunks) > 0 {
			// The idle timeout measures the upstream, not the reader of
			// out: a slow client must not cancel the upstream and blame it.
			idle.Stop()
			for _, ch := range chunks {
				select {
				case out <- ch:
				case <-ctx.Done():
					return c.transportError(ctx, providers.StageStream, context.Cause(ctx))
				}
			}
			idle.Reset(c.idleTimeout)
		}
		if st.done {
			c.sigs.put(st.toolIDs, st.thinking)
			return nil
		}
	}
}

// do translates and sends the request, returning a 2xx response or an
// error: a *providers.RequestError for a request that cannot be translated,
// a *providers.Error for the upstream's failures.
func (c *Client) do(ctx context.Context, req *providers.ChatCompletionRequest, stream bool) (*http.Response, error) {
	if err := req.Decode(); err != nil {
		return nil, err
	}
	mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: c.maxTokens, thinkingFor: c.sigs.get})
	if err != nil {
		return nil, err
	}
	mr.Stream = stream
	body, err := encodeRequest(mr)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", c.name, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	hreq.Header = c.header.Clone()
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, providers.StageConnect, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, c.upstreamError(providers.StageStatus, resp.StatusCode, b, resp.Header)
	}
	return resp, nil
}

// encodeRequest writes the body without HTML escaping, so that restored
// thinking blocks and prompts keep their bytes.
func encodeRequest(mr *messagesRequest) ([]byte, error) { return marshal(mr) }

func (c *Client) transportError(ctx context.Context, stage providers.Stage, err error) *providers.Error {
	return providers.TransportError(ctx, c.name, stage, err, c.secrets)
}

var _ providers.Provider = (*Client)(nil)

// isErrorBody reports whether body is Anthropic's error object.
func isErrorBody(body []byte) bool {
	var v struct {
		Type string `json:"type"`
	}
	return bytes.Contains(body, []byte(`"error"`)) && json.Unmarshal(body, &v) == nil && v.Type == "error"
}

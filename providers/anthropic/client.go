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
	// APIKey is sent as x-api-key, only to BaseURL. Required, but for a
	// Local server: Ollama's, LM Studio's and llama.cpp's Messages APIs
	// take none.
	APIKey string
	Local  bool
	// Headers are added to every request (e.g. anthropic-beta) and may
	// override the defaults.
	Headers map[string]string
	// Timeout bounds the wait for the response headers, then the rest of a
	// non-streamed answer; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events, or between two
	// reads of a non-streamed answer; default 60s.
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
	up        *providers.Upstream
	url       string // base + /v1/messages
	maxTokens int
	sigs      *signatureCache
	now       func() time.Time
}

// New returns a Client for o.
func New(o Options) (*Client, error) {
	if o.APIKey == "" && !o.Local {
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
	if o.DefaultMaxTokens <= 0 {
		o.DefaultMaxTokens = 8192
	}
	return &Client{
		up: providers.NewUpstream(providers.UpstreamOptions{
			Name: o.Name, UserAgent: o.UserAgent, Protocol: map[string]string{"Anthropic-Version": Version},
			Headers: o.Headers, AuthHeader: "X-Api-Key", APIKey: o.APIKey,
			Timeout: o.Timeout, IdleTimeout: o.IdleTimeout, ConnectTimeout: o.ConnectTimeout,
		}),
		url:       base + "/v1/messages",
		maxTokens: o.DefaultMaxTokens,
		sigs:      signatures,
		now:       time.Now,
	}, nil
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.up.Name() }

// ChatCompletion sends a non-streamed request and translates the answer.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := c.up.ReadAnswer(ctx, cancel, resp)
	if err != nil {
		return nil, err
	}
	// An error body with a 200 (a misbehaving proxy in between) must not
	// become an empty answer.
	if isErrorBody(body) {
		e := c.upstreamError(providers.StageStatus, 0, body, resp.Header)
		if e.Status == 0 {
			e.Status = http.StatusBadGateway
		}
		return nil, e
	}
	out, thinking, ids, err := fromMessagesResponse(body, c.now().Unix())
	if err != nil {
		return nil, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: err.Error(), Err: err}
	}
	c.sigs.put(ids, thinking)
	return out, nil
}

// ChatCompletionStream sends a streamed request and translates each event.
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out providers.Sink[*providers.ChatCompletionStreamResponse]) error {
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

	st := &streamState{includeUsage: req.IncludeUsage(), created: c.now().Unix()}
	if err := providers.ReadStream(ctx, cancel, c.up, resp.Body, out, decoder{c, st}); err != nil {
		return err
	}
	c.sigs.put(st.toolIDs, st.thinking)
	return nil
}

// decoder runs a streamState in the shared stream loop.
type decoder struct {
	c  *Client
	st *streamState
}

func (d decoder) Event(ev sse.Event, dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, bool, error) {
	out, err := d.st.event(ev.Name, ev.Data, dst)
	var ee *eventError
	if errors.As(err, &ee) {
		return out, false, d.c.upstreamError(providers.StageStream, 0, ee.body, nil)
	}
	return out, d.st.done, err
}

func (d decoder) End(dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	return dst, errEndedEarly
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
		return nil, fmt.Errorf("%s: encode request: %w", c.up.Name(), err)
	}
	req.Forget() // body has it all: don't hold the text twice while it is sent
	accept := "application/json"
	if stream {
		accept = "text/event-stream"
	}
	return c.up.Send(ctx, c.url, body, accept, func(status int, b []byte) *providers.Error {
		return c.upstreamError(providers.StageStatus, status, b, nil)
	})
}

var _ providers.Provider = (*Client)(nil)

// isErrorBody reports whether body is Anthropic's error object.
func isErrorBody(body []byte) bool {
	var v struct {
		Type string `json:"type"`
	}
	return bytes.Contains(body, []byte(`"error"`)) && json.Unmarshal(body, &v) == nil && v.Type == "error"
}

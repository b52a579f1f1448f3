// Package google talks to the Gemini API (generateContent and
// streamGenerateContent) and translates between it and OpenAI Chat
// Completions, so that a client cannot tell the answer came from Gemini;
// likewise between batchEmbedContents and OpenAI embeddings.
package google

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	// Timeout bounds the wait for the upstream's response headers, then
	// the rest of a non-streamed answer; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events, or between two
	// reads of a non-streamed answer; default 60s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing and the TLS handshake; default 10s.
	ConnectTimeout time.Duration
	UserAgent      string
}

// Client is a Provider for the Gemini API.
type Client struct {
	up   *providers.Upstream
	base string // API root + /v1beta/models/
	sigs *sigCache
	now  func() time.Time
}

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
	return &Client{
		up: providers.NewUpstream(providers.UpstreamOptions{
			Name: o.Name, UserAgent: o.UserAgent, Headers: o.Headers, AuthHeader: "X-Goog-Api-Key", APIKey: o.APIKey,
			Timeout: o.Timeout, IdleTimeout: o.IdleTimeout, ConnectTimeout: o.ConnectTimeout,
		}),
		base: base + "/v1beta/models/",
		sigs: sharedSigs,
		now:  time.Now,
	}, nil
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.up.Name() }

// ChatCompletion sends a generateContent request.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, ":generateContent", "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := c.up.ReadAnswer(ctx, cancel, resp)
	if err != nil {
		return nil, err
	}
	var g generateResponse
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: "upstream answered with something that is not a GenerateContentResponse"}
	}
	if g.Error != nil {
		return nil, c.statusError(resp.StatusCode, body)
	}
	return fromGenerateResponse(&g, newID(), req.Model, c.now().Unix(), c.sigs), nil
}

// ChatCompletionStream sends a streamGenerateContent request and translates
// each event as it arrives.
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out providers.Sink[*providers.ChatCompletionStreamResponse]) error {
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

	st := newStreamState(newID(), req.Model, c.now().Unix(), req.IncludeUsage(), c.sigs)
	return providers.ReadStream(ctx, cancel, c.up, resp.Body, out, decoder{st})
}

// decoder runs a streamState in the shared stream loop. Gemini has no
// terminal event: the stream ends when the upstream closes it.
type decoder struct{ st *streamState }

func (d decoder) Event(ev sse.Event, dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, bool, error) {
	if len(bytes.TrimSpace(ev.Data)) == 0 {
		return dst, false, nil
	}
	out, err := d.st.event(ev.Data, dst)
	return out, false, err
}

func (d decoder) End(dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	return d.st.end(dst)
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
	body, err := encodeRequest(g)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", c.up.Name(), err)
	}
	req.Forget() // body has it all: don't hold the text twice while it is sent
	model := strings.TrimPrefix(req.Model, "models/")
	return c.up.Send(ctx, c.base+url.PathEscape(model)+method, body, accept, c.statusError)
}

// newID returns a fresh Chat Completions id.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

var _ providers.Provider = (*Client)(nil)

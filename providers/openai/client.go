// Package openai talks to every OpenAI-compatible upstream: OpenAI itself,
// DeepSeek, xAI, Qwen, Minimax, Doubao, Zhipu, Moonshot, OpenRouter, Groq,
// Mistral, Together, and local vLLM, Ollama or LM Studio servers.
//
// Requests are forwarded with only "model" replaced and answers are passed
// back as the upstream sent them, so vendor extensions survive both ways.
package openai

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

// Options configure a Client.
type Options struct {
	Name    string
	BaseURL string // with the version path, e.g. https://api.deepseek.com/v1
	APIKey  string // sent as a Bearer token, only to BaseURL
	Headers map[string]string
	// Timeout bounds the wait for the upstream's response headers, then
	// the rest of a non-streamed answer; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events, or between two
	// reads of a non-streamed answer; default 60s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing; default 10s.
	ConnectTimeout time.Duration
	UserAgent      string
	// Protocols are the other front-door protocols the upstream serves
	// natively (config protocols), e.g. Anthropic Messages at
	// <root>/v1/messages on Ollama, LM Studio and vLLM, or Ollama's own
	// API at <root>/api/*. Completions and embeddings need no listing
	// but for a vendor LocalRouter believes lacks them (see Speaks).
	Protocols []providers.Protocol
}

// Client is a Provider for one OpenAI-compatible upstream.
type Client struct {
	up        *providers.Upstream
	url       string // BaseURL + /chat/completions
	modelsURL string
	base      string // BaseURL, no trailing slash
	root      string // BaseURL without its version path
	origin    string // BaseURL's scheme and host
	vendor    vendor
	protocols []providers.Protocol
}

// New returns a Client for o.
func New(o Options) (*Client, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		return nil, fmt.Errorf("openai: provider %s: no base_url", o.Name)
	}
	return &Client{
		up: providers.NewUpstream(providers.UpstreamOptions{
			Name: o.Name, UserAgent: o.UserAgent, Headers: o.Headers, AuthHeader: "Authorization", APIKey: o.APIKey,
			Timeout: o.Timeout, IdleTimeout: o.IdleTimeout, ConnectTimeout: o.ConnectTimeout,
		}),
		url:       base + "/chat/completions",
		modelsURL: base + "/models",
		base:      base,
		root:      strings.TrimSuffix(base, "/v1"),
		origin:    origin(base),
		vendor:    vendorOf(base),
		protocols: o.Protocols,
	}, nil
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.up.Name() }

// ChatCompletion sends a non-streamed request.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := c.up.ReadAnswer(ctx, cancel, resp)
	if err != nil {
		return nil, err
	}
	// The body goes to the client as is, so it is not validated in full
	// (that would double the gateway's JSON work); a body that is not even
	// an object, such as a captive portal's HTML, is refused.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: "upstream answered with something that is not a JSON object"}
	}
	// Some vendors report failures with a 200 status (Minimax's base_resp).
	// Only a body that mentions one is decoded in full.
	if bytes.Contains(body, []byte(`"error"`)) || bytes.Contains(body, []byte(`"base_resp"`)) {
		var probe struct {
			Error json.RawMessage `json:"error"`
			Base  *struct {
				Code int `json:"status_code"`
			} `json:"base_resp"`
		}
		json.Unmarshal(body, &probe)
		if isErrorValue(probe.Error) || (probe.Base != nil && probe.Base.Code != 0) {
			return nil, c.statusError(http.StatusBadGateway, body)
		}
	}
	return &providers.ChatCompletionResponse{Usage: providers.FindUsage(body), Raw: body}, nil
}

// ChatCompletionStream sends a streamed request and relays each event.
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out providers.Sink[*providers.ChatCompletionStreamResponse]) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.do(ctx, req, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return c.statusError(http.StatusBadGateway, body)
	}

	return providers.ReadStream(ctx, cancel, c.up, resp.Body, out, decoder{c})
}

// decoder passes an OpenAI-compatible stream's chunks on as the upstream
// sent them, ending at [DONE].
type decoder struct{ c *Client }

func (d decoder) Event(ev sse.Event, dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, bool, error) {
	data := ev.Data
	switch {
	case len(data) == 0:
		return dst, false, nil
	case string(data) == "[DONE]":
		return dst, true, nil
	}
	if ev.Name == "error" || bytes.Contains(data, []byte(`"error"`)) {
		var probe struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(data, &probe) != nil || ev.Name == "error" || isErrorValue(probe.Error) {
			e := d.c.statusError(0, data)
			e.Stage = providers.StageStream
			return dst, false, e
		}
	}
	chunk := &providers.ChatCompletionStreamResponse{Raw: bytes.Clone(data)}
	if bytes.Contains(data, []byte(`"usage"`)) {
		chunk.Usage = providers.FindUsage(data)
	}
	return append(dst, chunk), false, nil
}

func (decoder) End(dst []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	return dst, ErrNoDone
}

// ErrNoDone is a stream cut before its [DONE], as Ollama's is when its
// model runner dies mid-answer.
var ErrNoDone = errors.New("upstream closed the stream before [DONE]")

// Models lists the upstream's models (GET /models); the gateway uses it as a
// cheap health probe for local servers.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	resp, err := c.up.Send(ctx, c.modelsURL, nil, "application/json", c.statusError)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, c.up.TransportError(ctx, providers.StageStream, err)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s: decode model list: %w", c.up.Name(), err)
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	return ids, nil
}

// do sends the request and returns a 2xx response or an *providers.Error.
func (c *Client) do(ctx context.Context, req *providers.ChatCompletionRequest, accept string) (*http.Response, error) {
	body, err := req.Body()
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", c.up.Name(), err)
	}
	return c.up.Send(ctx, c.url, body, accept, c.statusError)
}

func (c *Client) statusError(status int, body []byte) *providers.Error {
	msg, typ, code, param := providers.ParseErrorBody(c.up.RedactBody(body))
	return c.up.RedactError(&providers.Error{
		Provider: c.up.Name(), Stage: providers.StageStatus, Status: status,
		Type: typ, Code: code, Param: param, Message: msg,
	})
}

// isErrorValue reports whether a decoded "error" field holds an error
// (some servers send "error": null on success).
func isErrorValue(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

var (
	_ providers.Provider    = (*Client)(nil)
	_ providers.ModelLister = (*Client)(nil)
)

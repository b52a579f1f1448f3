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
	// Timeout bounds the wait for the upstream's response headers; default 120s.
	Timeout time.Duration
	// IdleTimeout bounds the gap between two stream events; default 60s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing; default 10s.
	ConnectTimeout time.Duration
	UserAgent      string
}

// Client is a Provider for one OpenAI-compatible upstream.
type Client struct {
	name        string
	url         string // BaseURL + /chat/completions
	modelsURL   string
	header      http.Header
	idleTimeout time.Duration
	hc          *http.Client
	secrets     providers.Secrets
}

// maxResponse caps a non-streamed answer; far above any real completion.
const maxResponse = 64 << 20

// New returns a Client for o.
func New(o Options) (*Client, error) {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		return nil, fmt.Errorf("openai: provider %s: no base_url", o.Name)
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
	c := &Client{
		name:        o.Name,
		url:         base + "/chat/completions",
		modelsURL:   base + "/models",
		header:      h,
		idleTimeout: o.IdleTimeout,
	}
	if o.APIKey != "" {
		h.Set("Authorization", "Bearer "+o.APIKey)
		c.secrets = append(c.secrets, o.APIKey)
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

// ChatCompletion sends a non-streamed request.
func (c *Client) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	resp, err := c.do(ctx, req, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, c.transportError(ctx, providers.StageStream, err)
	}
	// The body goes to the client as is, so it is not validated in full
	// (that would double the gateway's JSON work); a body that is not even
	// an object, such as a captive portal's HTML, is refused.
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &providers.Error{Provider: c.name, Stage: providers.StageStream, Status: http.StatusBadGateway,
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
func (c *Client) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out chan<- *providers.ChatCompletionStreamResponse) error {
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

	// Between events only an idle timeout applies: a long answer may take
	// minutes, but a silent upstream should not hold the client forever.
	idle := time.AfterFunc(c.idleTimeout, func() { cancel(providers.ErrIdle) })
	defer idle.Stop()

	rd := sse.NewReader(resp.Body)
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return &providers.Error{Provider: c.name, Stage: providers.StageStream,
					Message: "upstream closed the stream before [DONE]"}
			}
			return c.transportError(ctx, providers.StageStream, err)
		}
		idle.Reset(c.idleTimeout)
		data := ev.Data
		if len(data) == 0 {
			continue
		}
		if string(data) == "[DONE]" {
			return nil
		}
		chunk := &providers.ChatCompletionStreamResponse{Raw: bytes.Clone(data)}
		if ev.Name == "error" || bytes.Contains(data, []byte(`"error"`)) {
			var probe struct {
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(data, &probe) != nil || ev.Name == "error" || isErrorValue(probe.Error) {
				e := c.statusError(0, data)
				e.Stage = providers.StageStream
				return e
			}
		}
		if bytes.Contains(data, []byte(`"usage"`)) {
			chunk.Usage = providers.FindUsage(data)
		}
		// The idle timeout measures the upstream, not the reader of out: a
		// client reading slowly must not cancel the upstream and blame it.
		idle.Stop()
		select {
		case out <- chunk:
		case <-ctx.Done():
			return c.transportError(ctx, providers.StageStream, context.Cause(ctx))
		}
		idle.Reset(c.idleTimeout)
	}
}

// Models lists the upstream's models (GET /models); the gateway uses it as a
// cheap health probe for local servers.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, c.modelsURL, nil)
	if err != nil {
		return nil, err
	}
	hreq.Header = c.header.Clone()
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, providers.StageConnect, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		return nil, c.statusError(resp.StatusCode, body)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s: decode model list: %w", c.name, err)
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
		return nil, fmt.Errorf("%s: encode request: %w", c.name, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
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

func (c *Client) statusError(status int, body []byte) *providers.Error {
	msg, typ, code, param := providers.ParseErrorBody(body)
	return &providers.Error{
		Provider: c.name, Stage: providers.StageStatus, Status: status,
		Type: typ, Code: code, Param: param, Message: c.redact(msg),
	}
}

func (c *Client) transportError(ctx context.Context, stage providers.Stage, err error) *providers.Error {
	return providers.TransportError(ctx, c.name, stage, err, c.secrets)
}

func (c *Client) redact(s string) string { return c.secrets.Redact(s) }

// isErrorValue reports whether a decoded "error" field holds an error
// (some servers send "error": null on success).
func isErrorValue(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

var (
	_ providers.Provider    = (*Client)(nil)
	_ providers.ModelLister = (*Client)(nil)
)

// Package mock answers chat requests without any upstream, so LocalRouter
// can be tried, demoed and tested with no keys and no network. Its answers
// are deterministic and name the route they stand in for.
package mock

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// Provider is the mock upstream. Its zero value answers at once.
type Provider struct {
	// TokenDelay is the pause before each streamed token (the seed's
	// time.Sleep), so clients see a realistic token-by-token stream.
	TokenDelay time.Duration
	// Route names what the mock stands in for, e.g. "remote:deepseek/deepseek-chat".
	Route string
}

// New returns a mock that pauses delay between streamed tokens.
func New(delay time.Duration) *Provider { return &Provider{TokenDelay: delay} }

// StandIn returns a copy of p whose answers name route.
func (p *Provider) StandIn(route string) *Provider {
	q := *p
	q.Route = route
	return &q
}

// Name returns "mock".
func (p *Provider) Name() string { return "mock" }

// ChatCompletion answers at once with the whole text.
func (p *Provider) ChatCompletion(ctx context.Context, req *providers.ChatCompletionRequest) (*providers.ChatCompletionResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.Decode(); err != nil {
		return nil, err
	}
	text := p.answer(req)
	return &providers.ChatCompletionResponse{
		ID:      "chatcmpl-mock",
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   p.model(req),
		Choices: []providers.Choice{{
			Message:      providers.ResponseMessage{Role: "assistant", Content: &text},
			FinishReason: "stop",
		}},
		Usage: usage(req, len(tokens(text))),
	}, nil
}

// ChatCompletionStream streams the same text one token at a time.
func (p *Provider) ChatCompletionStream(ctx context.Context, req *providers.ChatCompletionRequest, out providers.Sink[*providers.ChatCompletionStreamResponse]) error {
	if err := req.Decode(); err != nil {
		return err
	}
	toks := tokens(p.answer(req))
	created := time.Now().Unix()
	model := p.model(req)
	chunk := func(d providers.Delta, finish *string) *providers.ChatCompletionStreamResponse {
		return &providers.ChatCompletionStreamResponse{
			ID: "chatcmpl-mock", Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []providers.StreamChoice{{Delta: d, FinishReason: finish}},
		}
	}
	// Each token is flushed on its own, as an upstream's event arrives.
	send := func(c *providers.ChatCompletionStreamResponse) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := out.Send(c); err != nil {
			return err
		}
		return out.Flush()
	}
	if err := send(chunk(providers.Delta{Role: "assistant"}, nil)); err != nil {
		return err
	}
	var timer *time.Timer
	if p.TokenDelay > 0 {
		timer = time.NewTimer(p.TokenDelay)
		defer timer.Stop()
	}
	for _, t := range toks {
		if timer != nil {
			select {
			case <-timer.C:
				timer.Reset(p.TokenDelay)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := send(chunk(providers.Delta{Content: &t}, nil)); err != nil {
			return err
		}
	}
	stop := "stop"
	if err := send(chunk(providers.Delta{}, &stop)); err != nil {
		return err
	}
	if req.IncludeUsage() {
		u := &providers.ChatCompletionStreamResponse{
			ID: "chatcmpl-mock", Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []providers.StreamChoice{}, Usage: usage(req, len(toks)),
		}
		return send(u)
	}
	return nil
}

func (p *Provider) model(req *providers.ChatCompletionRequest) string {
	if req.Model == "" {
		return "mock"
	}
	return req.Model
}

func (p *Provider) answer(req *providers.ChatCompletionRequest) string {
	route := p.Route
	if route == "" {
		route = p.model(req)
	}
	n := 0
	if len(req.Messages) > 0 {
		n = len([]rune(text(req.Messages[len(req.Messages)-1].Content)))
	}
	return fmt.Sprintf("Hello from LocalRouter's mock provider, standing in for %s. "+
		"Your last message had %d characters and the conversation %d messages. "+
		"Configure a provider to get real answers.", route, n, len(req.Messages))
}

// tokens splits s into word-sized tokens that keep their leading space, so
// concatenating them gives s back.
func tokens(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s[1:], ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func text(c providers.Content) string {
	if !c.IsParts {
		return c.Text
	}
	var b strings.Builder
	for _, p := range c.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

func usage(req *providers.ChatCompletionRequest, completion int) *providers.Usage {
	chars := 0
	for _, m := range req.Messages {
		chars += len(text(m.Content))
	}
	prompt := (chars + 3) / 4
	return &providers.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

var _ providers.Provider = (*Provider)(nil)

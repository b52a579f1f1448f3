package openai

import (
	"context"
	"fmt"
	"slices"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/anthropic"
)

// Speaks reports whether Forward takes p: the protocols the config lists
// beside Chat Completions, which ChatCompletion already passes through,
// and completions and embeddings, which nearly every OpenAI-compatible
// server serves (vLLM, Ollama, LM Studio, llama.cpp, OpenAI): all but the
// vendors known to lack them (DeepSeek has no embeddings, Groq neither).
func (c *Client) Speaks(p providers.Protocol) bool {
	return slices.Contains(c.protocols, p) || c.speaksByDefault(p)
}

// Forward passes a request in another protocol through to the upstream,
// at the path that protocol uses below the server's root: completions to
// <base_url>/completions (DeepSeek's /beta/completions, Mistral's FIM API
// through an adapter), embeddings to <base_url>/embeddings, Ollama's API
// to <root>/api/*.
func (c *Client) Forward(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	switch {
	case !c.Speaks(req.Protocol):
	case req.Protocol == providers.ProtocolAnthropic:
		return anthropic.Forward(ctx, c.up, c.root, req, out)
	case req.Protocol == providers.ProtocolResponses:
		return c.forwardResponses(ctx, req, out)
	case req.Protocol == providers.ProtocolCompletions:
		return c.forwardCompletions(ctx, req, out)
	case req.Protocol == providers.ProtocolEmbeddings:
		return c.forwardEmbeddings(ctx, req, out)
	case req.Protocol == providers.ProtocolOllama:
		return c.forwardOllama(ctx, req, out)
	}
	return nil, fmt.Errorf("%s: does not serve the %s protocol natively", c.up.Name(), req.Protocol)
}

var _ providers.Native = (*Client)(nil)

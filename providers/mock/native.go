package mock

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// The mock also serves what has no Chat Completions form, so that
// autocomplete and embeddings work in mock mode too: OpenAI's legacy
// completions (FIM) and embeddings.

// Speaks reports whether the mock serves p: completions and embeddings.
func (p *Provider) Speaks(proto providers.Protocol) bool {
	return proto == providers.ProtocolCompletions || proto == providers.ProtocolEmbeddings
}

// mockDimensions is the length of the mock's embeddings.
const mockDimensions = 8

// Forward answers a completions or embeddings request as an OpenAI server
// would, with deterministic text and vectors.
func (p *Provider) Forward(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch req.Protocol {
	case providers.ProtocolCompletions:
		return p.complete(ctx, req.Body, out)
	case providers.ProtocolEmbeddings:
		return p.embed(req.Body)
	}
	return nil, fmt.Errorf("mock: does not serve the %s protocol", req.Protocol)
}

func (p *Provider) complete(ctx context.Context, body []byte, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	var in struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &providers.RequestError{Msg: "mock: " + err.Error()}
	}
	route := p.Route
	if route == "" {
		route = in.Model
	}
	text := " /* LocalRouter's mock completion, standing in for " + route + " */"
	toks := tokens(text)
	u := &providers.Usage{PromptTokens: 1, CompletionTokens: len(toks), TotalTokens: 1 + len(toks)}
	created := time.Now().Unix()
	chunk := func(text string, finish any) []byte {
		b, _ := json.Marshal(map[string]any{"id": "cmpl-mock", "object": "text_completion", "created": created, "model": in.Model,
			"choices": []any{map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": finish}}})
		return b
	}
	if out == nil {
		b, _ := json.Marshal(map[string]any{"id": "cmpl-mock", "object": "text_completion", "created": created, "model": in.Model,
			"choices": []any{map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": "stop"}}, "usage": u})
		return &providers.NativeResponse{Status: http.StatusOK, ContentType: "application/json", Body: b, Usage: u}, nil
	}
	send := func(data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := out.Send(providers.AppendEvent(nil, "", data)); err != nil {
			return err
		}
		return out.Flush()
	}
	for _, t := range toks {
		if p.TokenDelay > 0 {
			select {
			case <-time.After(p.TokenDelay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := send(chunk(t, nil)); err != nil {
			return nil, err
		}
	}
	if err := send(chunk("", "stop")); err != nil {
		return nil, err
	}
	if err := send([]byte("[DONE]")); err != nil {
		return nil, err
	}
	return &providers.NativeResponse{Status: http.StatusOK, ContentType: "text/event-stream", Usage: u}, nil
}

func (p *Provider) embed(body []byte) (*providers.NativeResponse, error) {
	var in struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &providers.RequestError{Msg: "mock: " + err.Error()}
	}
	var texts []json.RawMessage
	if json.Unmarshal(in.Input, &texts) != nil {
		texts = []json.RawMessage{in.Input}
	}
	data := make([]any, len(texts))
	for i, t := range texts {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": vector(t)}
	}
	u := &providers.Usage{PromptTokens: len(texts), TotalTokens: len(texts)}
	b, _ := json.Marshal(map[string]any{"object": "list", "data": data, "model": in.Model,
		"usage": map[string]int{"prompt_tokens": u.PromptTokens, "total_tokens": u.TotalTokens}})
	return &providers.NativeResponse{Status: http.StatusOK, ContentType: "application/json", Body: b, Usage: u}, nil
}

// vector is a unit vector that depends only on the input, so equal texts
// embed equally.
func vector(input []byte) []float64 {
	sum := sha256.Sum256(input)
	v := make([]float64, mockDimensions)
	var norm float64
	for i := range v {
		v[i] = float64(int16(binary.BigEndian.Uint16(sum[2*i:]))) / math.MaxInt16
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] /= norm
	}
	return v
}

var _ providers.Native = (*Provider)(nil)

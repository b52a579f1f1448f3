// Package providers defines the contract every upstream meets (the seed's
// Provider interface) and the OpenAI Chat Completions wire types the gateway
// speaks to its clients. Sub-packages implement one upstream protocol each.
package providers

import "context"

// Provider is an upstream that answers OpenAI-shaped chat requests.
//
// ChatCompletionStream sends chunks on out as they arrive and returns when
// the stream has ended: nil after the upstream's terminal event, an error
// otherwise (including a stream cut off before its terminal event). It never
// closes out; the caller does, after it returns. An error returned before
// anything was sent means the client has received nothing yet.
type Provider interface {
	Name() string
	ChatCompletion(ctx context.Context, req *ChatCompletionRequest) (*ChatCompletionResponse, error)
	ChatCompletionStream(ctx context.Context, req *ChatCompletionRequest, out chan<- *ChatCompletionStreamResponse) error
}

// ModelLister is implemented by providers that can list what they serve.
type ModelLister interface {
	Models(ctx context.Context) ([]string, error)
}

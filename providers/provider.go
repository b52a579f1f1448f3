// Package providers defines the contract every upstream meets (the seed's
// Provider interface) and the OpenAI Chat Completions wire types the gateway
// speaks to its clients. Sub-packages implement one upstream protocol each.
package providers

import "context"

// Provider is an upstream that answers OpenAI-shaped chat requests.
//
// ChatCompletionStream sends chunks to out as they arrive and returns when
// the stream has ended: nil after the upstream's terminal event, an error
// otherwise (including a stream cut off before its terminal event). An
// error returned before anything was sent means the client has received
// nothing yet.
type Provider interface {
	Name() string
	ChatCompletion(ctx context.Context, req *ChatCompletionRequest) (*ChatCompletionResponse, error)
	ChatCompletionStream(ctx context.Context, req *ChatCompletionRequest, out Sink[*ChatCompletionStreamResponse]) error
}

// ModelLister is implemented by providers that can list what they serve.
type ModelLister interface {
	Models(ctx context.Context) ([]string, error)
}

// Sink takes a streamed answer's items on the goroutine that reads the
// upstream, so that an event goes from the upstream's socket to the
// client's without a hand-over to another goroutine: on a stream that
// waits between events, each hand-over through a channel woke another
// thread, two per event, and a stream cost 6% more CPU with them (issue
// 16). An error from Send or Flush means the client is gone: the stream
// stops and returns it.
type Sink[T any] interface {
	// Send takes one item, which is the sink's to keep. It may hold it
	// back until Flush.
	Send(item T) error
	// Flush writes out what Send held. A stream calls it before it waits
	// for the upstream, so items that arrived together leave together and
	// none waits for a later one.
	Flush() error
}

// SinkFunc is a Sink that holds nothing back: Flush has nothing to do.
type SinkFunc[T any] func(item T) error

// Send calls f.
func (f SinkFunc[T]) Send(item T) error { return f(item) }

// Flush does nothing.
func (SinkFunc[T]) Flush() error { return nil }

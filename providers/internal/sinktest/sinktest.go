// Package sinktest gives the providers' tests a sink that stands for a
// client on another goroutine, so that a test can take a stream's items as
// they come, hold one back, or stop taking them.
package sinktest

import (
	"context"

	"github.com/localrouter/localrouter/providers"
)

// Chan sends each item on ch. Until ctx ends it waits for the item to be
// taken, as a slow client's writes wait; then it fails as a write to a
// client that went away does, with ctx's cause.
func Chan[T any](ctx context.Context, ch chan<- T) providers.Sink[T] {
	return providers.SinkFunc[T](func(item T) error {
		select {
		case ch <- item:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
}

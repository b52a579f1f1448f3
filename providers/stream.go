package providers

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/localrouter/localrouter/providers/sse"
)

// Decoder is one stream's protocol state: it turns each upstream SSE event
// (or NDJSON line, see ReadLines) into the items the client gets. Every
// provider's stream and every native pass-through run through the one loop
// behind ReadStream and ReadLines.
type Decoder[T any] interface {
	// Event decodes ev, appending what it yields to dst; done reports that
	// ev was the protocol's terminal event. An *Error keeps what the
	// upstream said; any other error is a broken stream. The items
	// returned with an error are dropped, unless the error wraps
	// ErrRelayedFailure: they carry the upstream's own failure and are
	// sent before the error is returned.
	Event(ev sse.Event, dst []T) (out []T, done bool, err error)
	// End is called when the upstream closes the stream before a terminal
	// event. A protocol without one (Gemini) yields its last items; the
	// others say the stream was cut.
	End(dst []T) ([]T, error)
}

// ReadStream reads the SSE stream body of an upstream answer, decodes each
// event with d and sends what it yields on out. Between events only the
// idle timeout applies: a long answer may take minutes, but a silent
// upstream must not hold the client forever. The timeout measures the
// upstream, not the reader of out, so it is paused while an item waits for
// a slow client. ctx must be the one the upstream request runs under and
// cancel its cancel function: ReadStream calls it with ErrIdle when the
// upstream falls silent. It returns nil after the terminal event.
func ReadStream[T any](ctx context.Context, cancel context.CancelCauseFunc, u *Upstream, body io.Reader, out chan<- T, d Decoder[T]) error {
	return readEvents(ctx, cancel, u, sse.NewReader(body).Next, out, d)
}

// readEvents is the loop of ReadStream and ReadLines: next yields the
// upstream's events, io.EOF at a clean end.
func readEvents[T any](ctx context.Context, cancel context.CancelCauseFunc, u *Upstream, next func() (sse.Event, error), out chan<- T, d Decoder[T]) error {
	idle := time.AfterFunc(u.idleTimeout, func() { cancel(ErrIdle) })
	defer idle.Stop()
	send := func(items []T) error {
		for _, it := range items {
			idle.Stop()
			select {
			case out <- it:
			case <-ctx.Done():
				return u.TransportError(ctx, StageStream, context.Cause(ctx))
			}
			idle.Reset(u.idleTimeout)
		}
		return nil
	}
	var items []T
	var done bool
	for {
		ev, err := next()
		if errors.Is(err, io.EOF) {
			items, err = d.End(items[:0])
			if err != nil {
				return u.streamError(err)
			}
			return send(items)
		}
		if err != nil {
			return u.TransportError(ctx, StageStream, err)
		}
		idle.Reset(u.idleTimeout)
		items, done, err = d.Event(ev, items[:0])
		if err != nil {
			if errors.Is(err, ErrRelayedFailure) {
				if err := send(items); err != nil {
					return err
				}
			}
			return u.streamError(err)
		}
		if err := send(items); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// streamError is err from a decoder as the gateway reports it: the
// upstream's own words when it gave them, redacted, else a broken stream.
func (u *Upstream) streamError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		pe.Provider = u.name
		if pe.Raw != nil {
			pe.Raw = u.RedactBody(pe.Raw)
		}
		return u.RedactError(pe)
	}
	return &Error{Provider: u.name, Stage: StageStream, Message: u.Redact(err.Error()), Err: err}
}

// ErrStreamCut is a stream that ended before its terminal event.
var ErrStreamCut = errors.New("upstream closed the stream before its end")

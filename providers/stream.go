package providers

import (
	"context"
	"errors"
	"io"

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
// event with d and sends what it yields to out. Between events only the
// idle timeout applies: a long answer may take minutes, but a silent
// upstream must not hold the client forever. The timeout measures the
// upstream, not the client, so it is paused while out waits for a slow
// client. ctx must be the one the upstream request runs under and cancel
// its cancel function: ReadStream calls it with ErrIdle when the upstream
// falls silent. It returns nil after the terminal event.
func ReadStream[T any](ctx context.Context, cancel context.CancelCauseFunc, u *Upstream, body io.Reader, out Sink[T], d Decoder[T]) error {
	return readEvents(ctx, cancel, u, body, func(r io.Reader) func() (sse.Event, error) { return sse.NewReader(r).Next }, out, d)
}

// readEvents is the loop of ReadStream and ReadLines: frame cuts body into
// the upstream's events, io.EOF at a clean end.
func readEvents[T any](ctx context.Context, cancel context.CancelCauseFunc, u *Upstream, body io.Reader,
	frame func(io.Reader) func() (sse.Event, error), out Sink[T], d Decoder[T]) error {
	w := watchStream(u.idleTimeout, cancel)
	defer w.stop()
	fr := &flushReader{r: body, w: w, out: out.Flush}
	next := frame(fr)
	send := func(items []T) error {
		for _, it := range items {
			if err := w.waitClient(func() error { return out.Send(it) }); err != nil {
				return err
			}
		}
		return nil
	}
	var items []T
	var done bool
	for {
		ev, err := next()
		if fr.err != nil {
			return fr.err // the client is gone
		}
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

// flushReader reads a stream's body for its framing and flushes the sink
// before each read: what was decoded goes out before the loop waits for
// the upstream, and events that came in one read leave in one write. It
// notes the upstream's progress for the idle limit.
type flushReader struct {
	r   io.Reader
	w   *answerWatch
	out func() error
	err error // the sink's: the client is gone
}

func (f *flushReader) Read(p []byte) (int, error) {
	if f.err = f.w.waitClient(f.out); f.err != nil {
		return 0, f.err
	}
	n, err := f.r.Read(p)
	if n > 0 {
		f.w.progress()
	}
	return n, err
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

package providers

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers/sse"
)

// dataDecoder yields each event's data and ends at [DONE].
type dataDecoder struct{}

func (dataDecoder) Event(ev sse.Event, dst []string) ([]string, bool, error) {
	if string(ev.Data) == "[DONE]" {
		return dst, true, nil
	}
	return append(dst, string(ev.Data)), false, nil
}

func (dataDecoder) End(dst []string) ([]string, error) { return dst, ErrStreamCut }

// reads is a body that returns one chunk per Read, as an upstream's
// writes arrive, and counts the reads.
type reads struct {
	chunks []string
	n      int
}

func (r *reads) Read(p []byte) (int, error) {
	if r.n == len(r.chunks) {
		return 0, io.EOF
	}
	r.n++
	return copy(p, r.chunks[r.n-1]), nil
}

// logSink notes each call; block, when set, is how long Flush takes, as a
// slow client's write would.
type logSink struct {
	log   []string
	fail  string // Send fails on this item
	block time.Duration
}

var errGone = errors.New("client gone")

func (s *logSink) Send(item string) error {
	s.log = append(s.log, item)
	if item == s.fail {
		return errGone
	}
	return nil
}

func (s *logSink) Flush() error {
	s.log = append(s.log, "flush")
	time.Sleep(s.block)
	return nil
}

// TestStreamFlushesBeforeEachWait: the stream flushes its sink before every
// read of the upstream, so that events that came in one read leave in one
// write and none waits for a later read.
func TestStreamFlushesBeforeEachWait(t *testing.T) {
	body := &reads{chunks: []string{"data: a\n\ndata: b\n\n", "data: c\n\n", "data: [DONE]\n\n"}}
	s := &logSink{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if err := ReadStream(ctx, cancel, testUpstream(), body, Sink[string](s), dataDecoder{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"flush", "a", "b", "flush", "c", "flush"}
	if !slices.Equal(s.log, want) {
		t.Errorf("calls %q, want %q", s.log, want)
	}
}

// TestStreamStopsWhenTheClientIsGone: a sink's error ends the stream at
// once, returned as it is, and the upstream is not read again.
func TestStreamStopsWhenTheClientIsGone(t *testing.T) {
	body := &reads{chunks: []string{"data: a\n\ndata: b\n\ndata: c\n\n", "data: d\n\n", "data: [DONE]\n\n"}}
	s := &logSink{fail: "b"}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	err := ReadStream(ctx, cancel, testUpstream(), body, Sink[string](s), dataDecoder{})
	if !errors.Is(err, errGone) {
		t.Errorf("got %v, want the sink's error", err)
	}
	if want := []string{"flush", "a", "b"}; !slices.Equal(s.log, want) || body.n != 1 {
		t.Errorf("calls %q after %d reads, want %q after 1", s.log, body.n, want)
	}
}

// TestStreamSlowFlushIsNotIdle: time spent writing to a slow client does
// not count against the upstream's idle timeout.
func TestStreamSlowFlushIsNotIdle(t *testing.T) {
	u := NewUpstream(UpstreamOptions{Name: "p", IdleTimeout: 20 * time.Millisecond})
	body := &reads{chunks: []string{"data: a\n\n", "data: b\n\n", "data: [DONE]\n\n"}}
	s := &logSink{block: 100 * time.Millisecond}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if err := ReadStream(ctx, cancel, u, body, Sink[string](s), dataDecoder{}); err != nil {
		t.Fatalf("got %v, want the whole stream", err)
	}
	if err := context.Cause(ctx); err != nil {
		t.Errorf("the stream was cancelled: %v", err)
	}
}

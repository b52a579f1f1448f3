package providers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestProgressReader: only a read that brings bytes counts as progress; an
// empty read must not keep a stalled body alive.
func TestProgressReader(t *testing.T) {
	w := watchAnswer(time.Hour, time.Hour, func(error) {})
	defer w.stop()
	w.last.Store(0)
	r := &progressReader{r: emptyReads{}, w: w}
	for range 3 {
		r.Read(make([]byte, 8))
	}
	if w.last.Load() != 0 {
		t.Errorf("empty reads counted as progress")
	}
	r = &progressReader{r: iotest.OneByteReader(strings.NewReader("abc")), w: w}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "abc" {
		t.Fatalf("got %q, %v; want abc", b, err)
	}
	if w.last.Load() == 0 {
		t.Errorf("reads that brought bytes were not counted as progress")
	}
}

type emptyReads struct{}

func (emptyReads) Read([]byte) (int, error) { return 0, nil }

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1 << 10: "1 KiB", 1536: "1536 bytes", 3 << 19: "1536 KiB", 7: "7 bytes"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d): got %q, want %q", n, got, want)
		}
	}
}

// TestTransportErrorCauses: a body cut by ReadAnswer's timers is a timeout
// whose message says which bound it hit.
func TestTransportErrorCauses(t *testing.T) {
	u := testUpstream()
	for _, cause := range []error{ErrIdle, ErrAnswerIdle, ErrAnswerTimeout} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		e := u.TransportError(ctx, StageStream, context.Canceled)
		if !e.Timeout || !errors.Is(e, cause) || e.Message != cause.Error() {
			t.Errorf("cause %v: got Timeout %v message %q, want a timeout saying %q", cause, e.Timeout, e.Message, cause)
		}
	}
}

// BenchmarkReadAnswer measures what the timers and the cap add to reading a
// typical non-streamed answer, against a bare io.ReadAll.
func BenchmarkReadAnswer(b *testing.B) {
	body := []byte(strings.Repeat(`{"choices":[{"message":{"content":"Hello"}}]}`, 100))
	u := testUpstream()
	b.Run("ReadAnswer", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ctx, cancel := context.WithCancelCause(context.Background())
			if _, err := u.ReadAnswer(ctx, cancel, &http.Response{Body: io.NopCloser(bytes.NewReader(body))}); err != nil {
				b.Fatal(err)
			}
			cancel(nil)
		}
	})
	b.Run("io.ReadAll", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			ctx, cancel := context.WithCancelCause(context.Background())
			if _, err := io.ReadAll(io.LimitReader(bytes.NewReader(body), MaxResponse)); err != nil || ctx.Err() != nil {
				b.Fatal(err)
			}
			cancel(nil)
		}
	})
}

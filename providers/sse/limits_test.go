package sse

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// endless sends prefix and then pattern over and over: an upstream that
// never ends its line or its event. It counts what it sent, and after
// budget bytes it fails, so a Reader without a cap fails the test instead
// of eating the machine.
type endless struct {
	prefix []byte
	block  []byte // pattern repeated, a little longer than any read
	period int
	n      int // bytes sent
	budget int
}

var errBudget = errors.New("endless: budget spent")

func newEndless(prefix, pattern string, budget int) *endless {
	return &endless{prefix: []byte(prefix), block: bytes.Repeat([]byte(pattern), (64<<10)/len(pattern)+2),
		period: len(pattern), budget: budget}
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n >= e.budget {
		return 0, errBudget
	}
	p = p[:min(len(p), e.budget-e.n, 64<<10)]
	k := 0
	if e.n < len(e.prefix) {
		k = copy(p, e.prefix[e.n:])
	}
	if k < len(p) {
		off := (e.n + k - len(e.prefix)) % e.period
		k += copy(p[k:], e.block[off:])
	}
	e.n += k
	return k, nil
}

// TestReaderCapsEndlessInput: a line that never ends, or an event that never
// ends, fails with a LimitError once it passes its cap, having read and
// allocated little more than the cap.
func TestReaderCapsEndlessInput(t *testing.T) {
	tests := []struct {
		name, prefix, pattern string
		wantWhat              string
		maxRead               int // bytes the Reader may take from the source
	}{
		{"data line without a newline", "data: ", "x", "event line", MaxLine + 32<<10},
		{"comment without a newline", ":", "z", "event line", MaxLine + 32<<10},
		{"event name without a newline", "event: ", "y", "event line", MaxLine + 32<<10},
		// Each line is 33 bytes and adds 27 (26 with CRLF) to the data.
		{"event without a blank line", "", "data: xxxxxxxxxxxxxxxxxxxxxxxxxx\n", "event data", MaxEvent*4/3 + 32<<10},
		{"crlf event without a blank line", "id: 1\r\n", "data: xxxxxxxxxxxxxxxxxxxxxxxxx\r\n", "event data", MaxEvent*4/3 + 32<<10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newEndless(tt.prefix, tt.pattern, 64<<20)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := NewReader(src).Next()
			runtime.ReadMemStats(&after)
			var le *LimitError
			if !errors.As(err, &le) || le.What != tt.wantWhat {
				t.Errorf("got error %v, want a LimitError for the %s", err, tt.wantWhat)
			}
			if src.n > tt.maxRead {
				t.Errorf("read %d bytes before failing, want at most %d", src.n, tt.maxRead)
			}
			// The line or the data grows by doubling up to the cap: about
			// twice the cap in all.
			alloc := after.TotalAlloc - before.TotalAlloc
			if limit := uint64(3 * MaxLine); alloc > limit {
				t.Errorf("allocated %d bytes before failing, want at most %d", alloc, limit)
			}
			t.Logf("read %d bytes, allocated %d bytes", src.n, alloc)
		})
	}
}

// TestReaderLimitBoundaries checks the caps to the byte, with a buffer
// smaller than the lines so that long lines are assembled from pieces.
func TestReaderLimitBoundaries(t *testing.T) {
	const maxLine, maxEvent = 16, 12
	lineErr := &LimitError{What: "event line", Limit: maxLine}
	dataErr := &LimitError{What: "event data", Limit: maxEvent}
	tests := []struct {
		name    string
		in      string
		want    []ev
		wantErr error
	}{
		{"line at the cap", "data: 0123456789\n\n", []ev{{Data: "0123456789"}}, io.EOF},
		{"line at the cap, crlf", "data: 0123456789\r\n\r\n", []ev{{Data: "0123456789"}}, io.EOF},
		{"line at the cap, lone cr", "data: 0123456789\r\r", []ev{{Data: "0123456789"}}, io.EOF},
		{"line one over the cap", "data: ok\n\ndata: 0123456789a\n\n", []ev{{Data: "ok"}}, lineErr},
		{"comment over the cap", ": 0123456789abcdef\ndata: x\n\n", nil, lineErr},
		{"cut inside a line over the cap", "data: ok\n\ndata: 0123456789abc", []ev{{Data: "ok"}}, lineErr},
		{"cut inside a line under the cap", "data: ok\n\ndata: 01", []ev{{Data: "ok"}}, io.ErrUnexpectedEOF},
		{"data at the cap", "data: abcde\ndata: abcdef\n\n", []ev{{Data: "abcde\nabcdef"}}, io.EOF},
		{"data one over the cap", "data: abcde\ndata: abcdefg\n\n", nil, dataErr},
		{"empty data lines count their newline", "data:\ndata:\n" + strings.Repeat("data\n", 12) + "\n", nil, dataErr},
		{"events are capped one by one", "data: abcdefghij\n\ndata: abcdefghij\n\n",
			[]ev{{Data: "abcdefghij"}, {Data: "abcdefghij"}}, io.EOF},
	}
	for _, tt := range tests {
		for _, rc := range []struct {
			name string
			wrap func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"one byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		} {
			t.Run(tt.name+"/"+rc.name, func(t *testing.T) {
				rd := newReader(rc.wrap(tt.in), 16, maxLine, maxEvent)
				var got []ev
				var err error
				for {
					var e Event
					if e, err = rd.Next(); err != nil {
						break
					}
					got = append(got, ev{Name: e.Name, Data: string(e.Data)})
				}
				if !sameError(err, tt.wantErr) {
					t.Errorf("got error %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("events mismatch (-want +got):\n%s", diff)
				}
				// Past a cap the stream cannot be resynchronised: the error stays.
				var le *LimitError
				if _, again := rd.Next(); errors.As(tt.wantErr, &le) && !sameError(again, tt.wantErr) {
					t.Errorf("Next after the error: got %v, want %v again", again, tt.wantErr)
				}
			})
		}
	}
}

// sameError reports whether got is want: the same LimitError, or the same
// sentinel.
func sameError(got, want error) bool {
	var g, w *LimitError
	if errors.As(want, &w) {
		return errors.As(got, &g) && *g == *w
	}
	return got == want
}

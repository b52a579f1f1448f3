// Package sse reads Server-Sent Events as upstream LLM APIs send them.
//
// Unlike a bare bufio.Scanner it has no 64 KiB line limit (a single tool-call
// event can exceed it), joins multi-line data fields, ends lines at CRLF, LF
// or a lone CR as the spec says, and skips comment lines. Its only limits,
// MaxLine and MaxEvent, are there to bound memory.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
)

// MaxLine and MaxEvent cap what a Reader holds: one line, and the data of
// one event. They sit far above any real event (a large tool call is a few
// hundred KiB) and stop an upstream that never ends a line from growing the
// gateway's memory without bound.
const (
	MaxLine  = 8 << 20
	MaxEvent = 8 << 20
)

// LimitError is the error for a line or an event's data longer than the
// Reader accepts. The stream cannot be read on after it.
type LimitError struct {
	What  string // "event line" or "event data"
	Limit int    // bytes
}

func (e *LimitError) Error() string {
	return "sse: " + e.What + " longer than " + strconv.Itoa(e.Limit) + " bytes"
}

// Event is one dispatched event. Data is only valid until the next call to Next.
type Event struct {
	Name string
	Data []byte
}

// Reader reads events from a stream.
type Reader struct {
	br      *bufio.Reader
	line    []byte // a line longer than the bufio buffer, assembled
	data    []byte
	hasData bool
	name    string

	// win is br's buffered input, peeked so that lines can be cut from it
	// without a copy; pos is how much of it is parsed. br is told what was
	// parsed (Discard) at the next fill.
	win []byte
	pos int
	// cr is where in win the next '\r' at or after pos is, len(win) when
	// there is none: found once per window, not once per line, for the
	// common streams that have none.
	cr int
	// skipLF is set when a line ended with the window's last byte, a '\r':
	// a '\n' arriving next completes that CRLF. Peeking for it instead
	// would wait for more input while a complete event is ready.
	skipLF  bool
	started bool  // past the first line, the only place a BOM may be
	err     error // a *LimitError, returned by every later Next

	maxLine, maxEvent int
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return newReader(r, readSize, MaxLine, MaxEvent)
}

// readSize is the read buffer. 16 KiB was 40% of the bytes a proxied
// stream allocated. 4 KiB, the transports' own size, cost 6% more CPU a
// chunk when chunks come back to back (BenchmarkStream/gateway); 8 KiB
// reads them as fast as 16 did. A longer line grows beside the buffer.
const readSize = 8 << 10

// newReader lets tests shrink the buffer and the caps.
func newReader(r io.Reader, size, maxLine, maxEvent int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, size), maxLine: maxLine, maxEvent: maxEvent}
}

// Next returns the next event. It returns io.EOF when the stream ends cleanly,
// io.ErrUnexpectedEOF when it ends inside a line, which means the upstream
// was cut off, and a *LimitError for a line or event over its cap.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.data = r.data[:0]
	r.hasData = false
	r.name = ""
	for {
		line, err := r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && r.hasData {
				// The last event lacked its blank line but every line of it
				// was complete: deliver it rather than call it a truncation.
				return r.event(), nil
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if r.hasData {
				return r.event(), nil
			}
			r.name = ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			n := len(value)
			if r.hasData {
				n++
			}
			if len(r.data)+n > r.maxEvent {
				return Event{}, r.fail("event data", r.maxEvent)
			}
			if len(r.data)+n > cap(r.data) {
				r.data = grow(r.data, n, r.maxEvent)
			}
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.hasData = true
		case "event":
			r.name = string(value)
		}
	}
}

func (r *Reader) event() Event {
	ev := Event{Name: r.name, Data: r.data}
	return ev
}

// readLine returns the next line without its terminator. The slice is valid
// until the next call.
func (r *Reader) readLine() ([]byte, error) {
	if len(r.line) > 0 {
		r.line = r.line[:0]
	}
	for {
		if r.pos == len(r.win) {
			if err := r.fill(0); err != nil {
				if err == io.EOF && len(r.line) > 0 {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		if r.skipLF {
			r.skipLF = false
			if r.win[r.pos] == '\n' {
				r.pos++
				continue
			}
		}
		buf := r.win[r.pos:]
		end, next := r.lineEnd()
		if end < 0 {
			// The line goes on past what is buffered.
			if len(r.line)+len(buf) > r.maxLine {
				return nil, r.fail("event line", r.maxLine)
			}
			if len(r.line) == 0 && len(buf) < r.br.Size() {
				// Let br read the rest of the line beside its start, as
				// ReadSlice would, rather than copy the start out.
				if err := r.fill(len(buf)); err != nil {
					if err == io.EOF {
						return nil, io.ErrUnexpectedEOF
					}
					return nil, err
				}
				continue
			}
			r.line = append(grow(r.line, len(buf), r.maxLine), buf...)
			r.pos = len(r.win)
			continue
		}
		if len(r.line)+end > r.maxLine {
			return nil, r.fail("event line", r.maxLine)
		}
		if next == len(buf) && next == end+1 && buf[end] == '\r' {
			r.skipLF = true
		}
		r.pos += next
		line := buf[:end]
		if len(r.line) > 0 {
			r.line = append(grow(r.line, end, r.maxLine), line...)
			line = r.line
		}
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		return line, nil
	}
}

// fill hands the parsed window back to br but for its last keep bytes, the
// start of a line, and peeks at what br has once it has read more.
func (r *Reader) fill(keep int) error {
	r.br.Discard(len(r.win) - keep) // buffered bytes: cannot fail
	_, err := r.br.Peek(keep + 1)
	r.win, _ = r.br.Peek(r.br.Buffered())
	r.pos = 0
	r.cr = indexFrom(r.win, 0, '\r')
	return err
}

// lineEnd returns where the line at pos ends and where the next one begins,
// both from pos, or -1 when the window holds no line break.
func (r *Reader) lineEnd() (end, next int) {
	if r.cr < r.pos {
		r.cr = indexFrom(r.win, r.pos, '\r')
	}
	lf := indexFrom(r.win, r.pos, '\n')
	switch {
	case r.cr < lf:
		if r.cr+1 < len(r.win) && r.win[r.cr+1] == '\n' {
			return r.cr - r.pos, r.cr + 2 - r.pos
		}
		return r.cr - r.pos, r.cr + 1 - r.pos
	case lf < len(r.win):
		return lf - r.pos, lf + 1 - r.pos
	}
	return -1, -1
}

// indexFrom returns the index in b of the first c at or after i, or len(b).
func indexFrom(b []byte, i int, c byte) int {
	if j := bytes.IndexByte(b[i:], c); j >= 0 {
		return i + j
	}
	return len(b)
}

func (r *Reader) fail(what string, limit int) error {
	r.err = &LimitError{What: what, Limit: limit}
	return r.err
}

// grow returns b with room for n more bytes, never more than limit in all.
// Past 64 KiB it doubles, where append would grow by a quarter and copy a
// multi-MiB line over and over.
func grow(b []byte, n, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	if need <= 64<<10 {
		return slices.Grow(b, n)
	}
	nb := make([]byte, len(b), min(max(2*cap(b), need), limit))
	copy(nb, b)
	return nb
}

// AppendEvent appends to dst an event carrying data: a data field for each
// line of data, then the blank line that ends the event. A reader that
// follows the spec gets data back unchanged, so an event read by Reader and
// written with AppendEvent reaches the client as the upstream sent it. (A CR
// in data, which no Reader event holds, goes out as a line break: SSE has no
// way to carry one.)
func AppendEvent(dst, data []byte) []byte {
	for {
		dst = append(dst, "data: "...)
		end, next := lineBreak(data)
		if end < 0 {
			dst = append(dst, data...)
			return append(dst, "\n\n"...)
		}
		dst = append(dst, data[:end]...)
		dst = append(dst, '\n')
		data = data[next:]
	}
}

// lineBreak returns where the first line of b ends and the next begins, or
// -1 when b is one line.
func lineBreak(b []byte) (end, next int) {
	lf := bytes.IndexByte(b, '\n')
	seg := b
	if lf >= 0 {
		seg = b[:lf]
	}
	if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
		if cr+1 < len(b) && b[cr+1] == '\n' {
			return cr, cr + 2
		}
		return cr, cr + 1
	}
	return lf, lf + 1
}

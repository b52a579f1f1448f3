package providers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/localrouter/localrouter/providers/sse"
)

// MaxLine caps one NDJSON line, as sse.MaxLine caps an SSE line: far above
// any real stream object, it only stops an upstream that never ends a line
// from growing the gateway's memory without bound.
const MaxLine = sse.MaxLine

// ErrLineTooLong is an NDJSON line longer than MaxLine. The stream cannot
// be read on after it.
var ErrLineTooLong = errors.New("ndjson: line longer than " + strconv.Itoa(MaxLine) + " bytes")

// ReadLines is ReadStream for an NDJSON stream body (one JSON object a
// line, as Ollama's own API streams): the same loop, idle timeout and
// contract, with each non-blank line handed to d as an sse.Event whose Data
// is the line without its line break. A last line with no line break is
// delivered when it is a whole JSON value (a one-object answer); cut short,
// it is a broken stream.
func ReadLines[T any](ctx context.Context, cancel context.CancelCauseFunc, u *Upstream, body io.Reader, out Sink[T], d Decoder[T]) error {
	return readEvents(ctx, cancel, u, body, func(r io.Reader) func() (sse.Event, error) { return newLineReader(r, lineReadSize, MaxLine).Next }, out, d)
}

// lineReadSize is the read buffer, sse's size: Ollama's lines are a few
// hundred bytes, and 64 KiB was allocated for every stream. A longer line
// is assembled beside it.
const lineReadSize = 8 << 10

// lineReader reads NDJSON lines. Unlike a bufio.Scanner it has no 64 KiB
// limit: a line holding a whole tool call or an embedding is longer.
type lineReader struct {
	br   *bufio.Reader
	line []byte // a line longer than br's buffer, assembled
	max  int
	err  error // sticky: ErrLineTooLong
}

func newLineReader(r io.Reader, size, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// Next returns the next non-blank line, without its "\n" or "\r\n", as an
// event's Data, valid until the next call. It returns io.EOF at a clean
// end, io.ErrUnexpectedEOF when the stream ends inside a line that is not
// a whole JSON value.
func (r *lineReader) Next() (sse.Event, error) {
	for {
		line, err := r.read()
		if err != nil {
			return sse.Event{}, err
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) > 0 {
			return sse.Event{Data: line}, nil
		}
	}
}

func (r *lineReader) read() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if err == nil && len(r.line) == 0 && len(frag) <= r.max+1 {
			return frag[:len(frag)-1], nil // the common case: no copy
		}
		n := len(r.line) + len(frag)
		if err == nil {
			n-- // the '\n' is not the line's
		}
		if n > r.max {
			r.err = ErrLineTooLong
			return nil, r.err
		}
		r.line = append(r.line, frag...)
		switch {
		case err == nil:
			return r.line[:len(r.line)-1], nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(bytes.TrimSpace(r.line)) == 0 {
				return nil, io.EOF
			}
			if json.Valid(r.line) {
				return r.line, nil // the next read finds EOF at once
			}
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
}

// members calls f with each top-level key (quoted, as written) and value of
// the JSON object obj, in order, without decoding or allocating. It reports
// whether obj is an object whose members it could walk; values are skipped,
// not validated.
func members(obj []byte, f func(key, val []byte)) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return false
		}
		kend := skipString(obj, i)
		if kend < 0 {
			return false
		}
		key := obj[i:kend]
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if vend < 0 || vend == i {
			return false
		}
		f(key, obj[i:vend])
		i = skipSpace(obj, vend)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// lineHandler is slog's TextHandler with the line written by hand for the
// records the gateway writes per request: a message and attributes that
// are strings, numbers, booleans and durations, nothing grouped. The
// TextHandler's general path (a pooled state, group prefixes, a deferred
// recover for every value) made the request line 5.5% of the gateway's
// CPU under load (issue 16); this one writes the same bytes in 60% of the
// time (BenchmarkRequestLine: 1.0–1.2 → 0.62–0.65 µs a line), and
// TestLineHandlerWritesWhatTextHandlerWrites holds it to them. Any other
// record, and every logger made With attributes or a group, goes to the
// TextHandler itself.
type lineHandler struct {
	slog.Handler // the TextHandler on w
	w            io.Writer
}

// newLineHandler returns a lineHandler, or the TextHandler itself when opts
// ask for a source or rewrite attributes, which the hand-written line
// knows nothing of.
func newLineHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	text := slog.NewTextHandler(w, opts)
	if opts != nil && (opts.AddSource || opts.ReplaceAttr != nil) {
		return text
	}
	return &lineHandler{Handler: text, w: w}
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := linePool.Get().(*[]byte)
	b, ok := appendLine((*bp)[:0], r)
	if !ok {
		linePool.Put(bp)
		return h.Handler.Handle(ctx, r)
	}
	// The writer gets one Write per line, as from the TextHandler (whose
	// lock only orders its own lines: logBuffer.Write takes its own).
	_, err := h.w.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b
		linePool.Put(bp)
	}
	return err
}

// appendLine appends r as the TextHandler without options but a level
// would write it, and reports false for a record it leaves to it.
func appendLine(b []byte, r slog.Record) ([]byte, bool) {
	if r.Time.IsZero() {
		return b, false
	}
	b = append(b, "time="...)
	b = appendMillis(b, r.Time.Round(0))
	b = append(b, " level="...)
	b = appendText(b, r.Level.String())
	b = append(b, " msg="...)
	b = appendText(b, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false // the TextHandler's rules for empty keys
			return false
		}
		b = append(b, ' ')
		b = appendText(b, a.Key)
		b = append(b, '=')
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = appendText(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindFloat64:
			b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = append(b, v.Duration().String()...)
		default:
			ok = false
		}
		return ok
	})
	return append(b, '\n'), ok
}

// appendMillis is the TextHandler's time: RFC 3339 with exactly three
// digits of milliseconds.
func appendMillis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond more
	// keeps four digits, and the fourth is cut.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendText appends s, quoted when the TextHandler would quote it.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// needsQuoting is the TextHandler's rule: empty, a space, '=', a
// character JSON would escape other than a backslash, or a rune that is
// invalid, a space or not printable.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ' ' || c == '=' || c == '"' || c < 0x20 {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

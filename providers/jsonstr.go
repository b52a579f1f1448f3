package providers

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The translating providers write their request bodies by hand (issue 9:
// encoding/json's buffers cost many times a large request), and Decode
// unquotes the big strings itself. Both must agree byte for byte with
// encoding/json, which the fuzz tests check.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes in x needs attention when
// quoting: no control character, '"', '\\' or byte ≥ 0x80. Each test is
// the exact "some byte is zero / below n" bit trick, so plain8 never says
// true wrongly.
func plain8(x uint64) bool {
	q, bs := x^(lsb*'"'), x^(lsb*'\\')
	return ((x-lsb*0x20)&^x|(q-lsb)&^q|(bs-lsb)&^bs|x)&msb == 0
}

// load64 reads s[i:i+8] as one little-endian word (the compiler merges
// the loads).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s to dst as a JSON string, escaped exactly as
// encoding/json does with SetEscapeHTML(false): invalid UTF-8 becomes
// \ufffd, and U+2028 and U+2029 are escaped.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Prompts and base64 images are long runs of plain ASCII.
		if i+8 <= len(s) && plain8(load64(s, i)) {
			i += 8
			continue
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringLen returns len(AppendJSONString(nil, s)) without writing.
func jsonStringLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(load64(s, i)) {
			i += 8
			continue
		}
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
				n++
			case b < 0x20:
				n += 5
			}
			i++
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			n += 5
		case c == '\u2028' || c == '\u2029':
			n += 3
		}
		i += size
	}
	return n
}

// A JSONWriter writes JSON by hand into a buffer that EncodeJSON allocates
// once, at the size a first, counting run of the same code found: a body
// of tens of MiB is then neither grown by copying nor over-allocated.
type JSONWriter struct {
	buf     []byte
	size    int
	writing bool
	err     error
}

// EncodeJSON runs write twice, counting and then writing, and returns what
// it wrote or the first error of a Compact.
func EncodeJSON(write func(w *JSONWriter)) ([]byte, error) {
	var w JSONWriter
	write(&w)
	w.buf, w.writing = make([]byte, 0, w.size), true
	write(&w)
	if w.err != nil {
		return nil, w.err
	}
	return w.buf, nil
}

// Raw writes s, which must be JSON text such as punctuation and keys.
func (w *JSONWriter) Raw(s string) {
	if w.writing {
		w.buf = append(w.buf, s...)
	} else {
		w.size += len(s)
	}
}

// RawBytes writes b, which must be JSON text.
func (w *JSONWriter) RawBytes(b []byte) {
	if w.writing {
		w.buf = append(w.buf, b...)
	} else {
		w.size += len(b)
	}
}

// String writes s as a JSON string (see AppendJSONString).
func (w *JSONWriter) String(s string) {
	if w.writing {
		w.buf = AppendJSONString(w.buf, s)
	} else {
		w.size += jsonStringLen(s)
	}
}

// Compact writes raw compacted, as encoding/json writes a json.RawMessage
// (without HTML escaping). Invalid JSON is an error, reported by EncodeJSON.
func (w *JSONWriter) Compact(raw []byte) {
	if !w.writing {
		w.size += len(raw) // compacting only shrinks
		return
	}
	if w.err != nil {
		return
	}
	buf := bytes.NewBuffer(w.buf)
	w.err = json.Compact(buf, raw)
	w.buf = buf.Bytes()
}

// unquote returns the value of the JSON string literal q (quotes included),
// as encoding/json decodes it (invalid UTF-8 and lone surrogates become
// U+FFFD), in one allocation: encoding/json unquotes into a buffer and
// then copies that into the string. ok is false for a malformed literal.
func unquote(q []byte) (s string, ok bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", false
	}
	q = q[1 : len(q)-1]
	var b strings.Builder
	b.Grow(len(q)) // an escape never decodes to more than it takes
	start := 0
	for r := 0; r < len(q); {
		c := q[r]
		switch {
		case c == '\\':
			b.Write(q[start:r])
			if r+1 >= len(q) {
				return "", false
			}
			switch q[r+1] {
			case '"', '\\', '/', '\'':
				b.WriteByte(q[r+1])
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				rr := getu4(q[r:])
				if rr < 0 {
					return "", false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(q[r:])); dec != utf8.RuneError {
						r += 6
						b.WriteRune(dec)
						start = r
						continue
					}
					rr = utf8.RuneError
				}
				b.WriteRune(rr)
				start = r
				continue
			default:
				return "", false
			}
			r += 2
			start = r
		case c == '"' || c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			r++
		default:
			rr, size := utf8.DecodeRune(q[r:])
			if rr == utf8.RuneError && size == 1 {
				b.Write(q[start:r])
				b.WriteRune(rr)
				start = r + 1
			}
			r += size
		}
	}
	b.Write(q[start:])
	return b.String(), true
}

// getu4 decodes \uXXXX from the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquotedRuneCount returns utf8.RuneCountInString of the value of the JSON
// string literal q (quotes included, escapes valid) without building the
// value: the scan counts the characters of every prompt.
func unquotedRuneCount(q []byte) int {
	q = q[1 : len(q)-1]
	n := 0
	for {
		i := bytes.IndexByte(q, '\\')
		if i < 0 {
			return n + utf8.RuneCount(q)
		}
		n += utf8.RuneCount(q[:i]) + 1
		if i+1 < len(q) && q[i+1] == 'u' {
			rr := getu4(q[i:])
			i += 6
			if utf16.IsSurrogate(rr) && utf16.DecodeRune(rr, getu4(q[i:])) != utf8.RuneError {
				i += 6 // a pair is one character
			}
		} else {
			i += 2
		}
		q = q[min(i, len(q)):]
	}
}

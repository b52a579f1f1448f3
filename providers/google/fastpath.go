package google

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Most stream events carry nothing but a piece of text:
//
//	{"candidates": [{"content": {"parts": [{"text": "…"}],"role": "model"},"index": 0}],
//	 "usageMetadata": {…},"modelVersion": "…","responseId": "…"}
//
// fastText recognises exactly that shape without encoding/json, which
// would allocate for every field of it. Anything else (a finishReason, a
// thought, a function call, a signature, an unknown key, an escape it does
// not know, invalid UTF-8) makes it give up, and the event goes the general
// way, so it only ever has to be right about the simple case.

// fastEvent is what fastText found.
type fastEvent struct {
	text     []byte // the candidate's text, valid until the next call
	hasUsage bool
	usage    usageMetadata
}

type fastScanner struct {
	b   []byte
	i   int
	buf []byte // text, unescaped and joined
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips spaces and consumes c.
func (s *fastScanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *fastScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string. With out it appends the unescaped value to out.
func (s *fastScanner) str(out *[]byte) bool {
	if !s.next('"') {
		return false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			if out != nil {
				if !utf8.Valid(s.b[start:s.i]) {
					return false
				}
				*out = append(*out, s.b[start:s.i]...)
			}
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if out != nil {
				if !utf8.Valid(s.b[start:s.i]) {
					return false
				}
				*out = append(*out, s.b[start:s.i]...)
			}
			if !s.escape(out) {
				return false
			}
			start = s.i
		default:
			s.i++
		}
	}
	return false
}

func (s *fastScanner) escape(out *[]byte) bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	var c byte
	switch s.b[s.i+1] {
	case '"', '\\', '/':
		c = s.b[s.i+1]
	case 'n':
		c = '\n'
	case 't':
		c = '\t'
	case 'r':
		c = '\r'
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'u':
		r, ok := s.hex4(s.i + 2)
		if !ok {
			return false
		}
		s.i += 6
		if utf16.IsSurrogate(r) {
			// Only a valid pair is simple; encoding/json turns lone
			// surrogates into U+FFFD, which the general path handles.
			if s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
				return false
			}
			r2, ok := s.hex4(s.i + 2)
			if !ok {
				return false
			}
			if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
				return false
			}
			s.i += 6
		}
		if out != nil {
			*out = utf8.AppendRune(*out, r)
		}
		return true
	default:
		return false
	}
	s.i += 2
	if out != nil {
		*out = append(*out, c)
	}
	return true
}

func (s *fastScanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// key reads an object key and its colon, returning the key's raw bytes
// (keys with escapes are not simple).
func (s *fastScanner) key() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] != '"' {
		if s.b[s.i] == '\\' || s.b[s.i] < 0x20 {
			return nil, false
		}
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, false
	}
	k := s.b[start:s.i]
	s.i++
	return k, s.next(':')
}

// object calls field for each member; field must consume the value.
func (s *fastScanner) object(field func(k []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !field(k) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// array calls elem for each element; elem must consume it.
func (s *fastScanner) array(elem func(i int) bool) bool {
	if !s.next('[') {
		return false
	}
	if s.peek() == ']' {
		s.i++
		return true
	}
	for n := 0; ; n++ {
		if !elem(n) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next(']')
	}
}

// uint reads a non-negative integer that fits an int comfortably.
func (s *fastScanner) uint() (int, bool) {
	s.ws()
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if s.i-start >= 15 {
			return 0, false
		}
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}

// usage reads usageMetadata; the per-modality details are skipped only when
// they are arrays of simple objects.
func (s *fastScanner) usage(u *usageMetadata) bool {
	*u = usageMetadata{}
	var seen uint16
	return s.object(func(k []byte) bool {
		var dst *int
		var bit uint16
		switch string(k) {
		case "promptTokenCount":
			dst, bit = &u.PromptTokenCount, 1
		case "cachedContentTokenCount":
			dst, bit = &u.CachedContentTokenCount, 2
		case "candidatesTokenCount":
			dst, bit = &u.CandidatesTokenCount, 4
		case "toolUsePromptTokenCount":
			dst, bit = &u.ToolUsePromptTokenCount, 8
		case "thoughtsTokenCount":
			dst, bit = &u.ThoughtsTokenCount, 16
		case "totalTokenCount":
			dst, bit = &u.TotalTokenCount, 32
		case "promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails", "toolUsePromptTokensDetails":
			return s.array(func(int) bool {
				return s.object(func(k []byte) bool {
					if string(k) == "tokenCount" {
						_, ok := s.uint()
						return ok
					}
					return s.str(nil)
				})
			})
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		n, ok := s.uint()
		*dst = n
		return ok
	})
}

// fastText parses a text-only event into ev; false means "use the general
// decoder", never that the event is bad.
func (s *fastScanner) fastText(data []byte, ev *fastEvent) bool {
	s.b, s.i, s.buf = data, 0, s.buf[:0]
	ev.hasUsage = false
	// A repeated key means encoding/json's merging rules; not simple.
	var seen [8]bool
	once := func(i int) bool {
		if seen[i] {
			return false
		}
		seen[i] = true
		return true
	}
	cands := 0
	ok := s.object(func(k []byte) bool {
		switch string(k) {
		case "candidates":
			if !once(0) {
				return false
			}
			return s.array(func(i int) bool {
				cands++
				return i == 0 && s.object(func(k []byte) bool {
					switch string(k) {
					case "content":
						return once(1) && s.object(func(k []byte) bool {
							switch string(k) {
							case "parts":
								return once(2) && s.array(func(int) bool {
									return s.object(func(k []byte) bool {
										return string(k) == "text" && s.str(&s.buf)
									})
								})
							case "role":
								return once(3) && s.str(nil)
							}
							return false
						})
					case "index":
						n, ok := s.uint()
						ok = ok && once(4)
						return ok && n == 0
					}
					return false
				})
			})
		case "usageMetadata":
			if !once(5) {
				return false
			}
			ev.hasUsage = true
			return s.usage(&ev.usage)
		case "modelVersion":
			return once(6) && s.str(nil)
		case "responseId":
			return once(7) && s.str(nil)
		}
		return false
	})
	if !ok || cands != 1 {
		return false
	}
	s.ws()
	ev.text = s.buf
	return s.i == len(s.b)
}

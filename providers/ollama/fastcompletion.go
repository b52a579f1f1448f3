package ollama

import (
	"bytes"
	"unicode/utf8"
)

// scanCompletionChunk reads the common event of a /v1/completions stream,
// one choice with text and nothing else to know, such as
//
//	{"id":…,"object":"text_completion","created":…,"model":…,
//	 "choices":[{"index":0,"text":"…","logprobs":null,"finish_reason":null}],"usage":null}
//
// without encoding/json, which takes most of a FIM stream's time per event
// (providers.ScanTextChunk does the same for Chat chunks, whose shape
// differs). text is the quoted JSON string, checked as encoding/json would
// and valid UTF-8, to be copied as it is. ok is false for anything else (a
// finish reason, usage, logprobs, a second choice, escaped or repeated
// keys), which then takes encoding/json.
func scanCompletionChunk(raw []byte) (text []byte, ok bool) {
	s := miniScan{b: raw}
	seenChoices := false
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "choices":
			if seenChoices {
				return false
			}
			seenChoices = true
			return s.array(func(n int) bool {
				return n == 0 && s.object(func(key []byte) bool {
					switch string(key) {
					case "index":
						return s.literal("0")
					case "text":
						return s.str(&text)
					case "logprobs", "finish_reason", "stop_reason":
						return s.literal("null")
					}
					return false
				})
			})
		case "usage":
			return s.literal("null")
		case "created":
			return s.digits()
		case "id", "object", "model", "system_fingerprint":
			var v []byte
			return s.literal("null") || s.str(&v)
		}
		return false
	})
	s.ws()
	if !ok || s.i != len(raw) || text == nil {
		return nil, false
	}
	return text, true
}

// miniScan is the little JSON scanner scanCompletionChunk needs. Every
// method refuses (returns false) rather than guesses.
type miniScan struct {
	b []byte
	i int
}

func (s *miniScan) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// object scans an object, calling field with the cursor on each value. A
// key with escapes or seen before in the object is refused: encoding/json
// reads those in ways not worth copying here.
func (s *miniScan) object(field func(key []byte) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	var seen [8][]byte
	for n := 0; ; n++ {
		s.ws()
		var q []byte
		if n == len(seen) || !s.str(&q) || bytes.IndexByte(q, '\\') >= 0 {
			return false
		}
		key := q[1 : len(q)-1]
		for _, k := range seen[:n] {
			if bytes.Equal(k, key) {
				return false
			}
		}
		seen[n] = key
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *miniScan) array(elem func(n int) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	for n := 0; ; n++ {
		s.ws()
		if !elem(n) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *miniScan) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// digits scans a non-negative integer without leading zeros that fits an
// int64.
func (s *miniScan) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - start
	return n > 0 && n < 19 && (n == 1 || s.b[start] != '0')
}

// str scans a string that encoding/json would accept and that is valid
// UTF-8 (encoding/json would replace invalid bytes; the slow path does
// that), and stores its quoted bytes in *q.
func (s *miniScan) str(q *[]byte) bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	start := s.i
	high := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			if high && !utf8.Valid(s.b[start:j]) {
				return false
			}
			s.i = j + 1
			*q = s.b[start:s.i]
			return true
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) || !isHex(s.b[j+1]) || !isHex(s.b[j+2]) || !isHex(s.b[j+3]) || !isHex(s.b[j+4]) {
					return false
				}
				j += 4
			default:
				return false
			}
		case c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

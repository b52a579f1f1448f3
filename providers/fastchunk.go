package providers

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// TextChunk is what ScanTextChunk reads of a Chat Completions stream chunk
// of the commonest kind.
type TextChunk struct {
	// Content and Reasoning are the quoted JSON strings of delta.content
	// and delta.reasoning_content (or reasoning, as Ollama and OpenRouter
	// name it); nil when absent or null.
	Content, Reasoning []byte
	// Tool reports a tool_calls delta; it holds only Args, the quoted
	// arguments fragment of the call at ToolIndex (HasIndex when given).
	Tool      bool
	ToolIndex int
	HasIndex  bool
	Args      []byte
}

// ScanTextChunk reads the common chunk, a delta with only content and/or
// reasoning text or one further tool-argument fragment, such as
//
//	{"id":…,"object":"chat.completion.chunk","created":…,"model":…,
//	 "choices":[{"index":0,"delta":{"content":"…"},"finish_reason":null}]}
//
// without encoding/json, for the stream translators' fast paths: per
// chunk it is most of their time, and encoding/json takes 4 µs and a dozen
// allocations for it where this takes a tenth. The strings it returns are
// checked as encoding/json would and left quoted, to be copied as they
// are. ok is false for anything else (a finish reason, usage, a call's
// first delta, a second choice, escaped or repeated keys), which then
// takes encoding/json.
func ScanTextChunk(raw []byte) (TextChunk, bool) {
	sc := chunkScan{b: raw}
	var content, reasoning, reasoningAlt, args []byte
	var seenChoices, hasTool, hasIndex bool
	var toolIndex int
	ok := sc.object(func(key []byte) bool {
		switch string(key) {
		case "choices":
			if seenChoices {
				return false
			}
			seenChoices = true
			return sc.array(func(n int) bool {
				if n > 0 {
					return false
				}
				return sc.object(func(key []byte) bool {
					switch string(key) {
					case "index":
						return sc.literal("0")
					case "delta":
						return sc.object(func(key []byte) bool {
							switch string(key) {
							case "content":
								return sc.nullOr(&content)
							case "reasoning_content":
								return sc.nullOr(&reasoning)
							case "reasoning":
								return sc.nullOr(&reasoningAlt)
							case "role":
								var role []byte
								return sc.nullOr(&role)
							case "tool_calls":
								if sc.literal("null") {
									return true
								}
								return sc.array(func(n int) bool {
									if n > 0 {
										return false
									}
									hasTool = true
									return sc.object(func(key []byte) bool {
										switch string(key) {
										case "index":
											toolIndex, hasIndex = sc.smallInt()
											return hasIndex
										case "function":
											return sc.object(func(key []byte) bool {
												return string(key) == "arguments" && sc.str(&args)
											})
										}
										return false // id, name, type: a call's first delta
									})
								})
							case "refusal", "function_call":
								return sc.literal("null")
							}
							return false
						})
					case "finish_reason", "logprobs", "stop_reason":
						return sc.literal("null")
					}
					return false
				})
			})
		case "usage":
			return sc.literal("null")
		case "created":
			return sc.digits()
		case "id", "object", "model", "system_fingerprint", "service_tier", "provider", "obfuscation":
			var v []byte
			return sc.nullOr(&v)
		}
		return false
	})
	sc.ws()
	if !ok || sc.i != len(raw) {
		return TextChunk{}, false
	}
	if len(reasoning) <= 2 {
		reasoning = reasoningAlt
	}
	return TextChunk{Content: content, Reasoning: reasoning, Tool: hasTool, ToolIndex: toolIndex, HasIndex: hasIndex, Args: args}, true
}

// ScanCompletionChunk reads the common event of a /v1/completions stream,
// one choice with text and nothing else to know, such as
//
//	{"id":…,"object":"text_completion","created":…,"model":…,
//	 "choices":[{"index":0,"text":"…","logprobs":null,"finish_reason":null}],"usage":null}
//
// without encoding/json, which takes most of a FIM stream's time per event
// (ScanTextChunk does the same for Chat chunks, whose shape differs). text is the quoted JSON string, checked as encoding/json would
// and valid UTF-8, to be copied as it is. ok is false for anything else (a
// finish reason, usage, logprobs, a second choice, escaped or repeated
// keys), which then takes encoding/json.
func ScanCompletionChunk(raw []byte) (text []byte, ok bool) {
	s := chunkScan{b: raw}
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

// chunkScan is the minimal JSON scanner ScanTextChunk needs. Every method
// refuses (returns false) rather than guesses.
type chunkScan struct {
	b []byte
	i int
}

func (s *chunkScan) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// object scans an object, calling field with the cursor on each value;
// keys with escapes and repeated keys are refused by field's callers.
func (s *chunkScan) object(field func(key []byte) bool) bool {
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
	n := 0
	for {
		s.ws()
		var q []byte
		if !s.str(&q) || bytes.IndexByte(q, '\\') >= 0 {
			return false
		}
		key := q[1 : len(q)-1]
		for _, k := range seen[:n] {
			if bytes.Equal(k, key) {
				return false // encoding/json keeps the last; leave that to it
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = key
		n++
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

func (s *chunkScan) array(elem func(n int) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
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

func (s *chunkScan) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// nullOr scans null, or a string whose quoted bytes it stores in *q.
func (s *chunkScan) nullOr(q *[]byte) bool {
	if s.literal("null") {
		*q = nil
		return true
	}
	return s.str(q)
}

// smallInt scans a non-negative integer of at most 6 digits.
func (s *chunkScan) smallInt() (int, bool) {
	start := s.i
	if !s.digits() || s.i-start > 6 {
		return 0, false
	}
	n := 0
	for _, c := range s.b[start:s.i] {
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (s *chunkScan) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - start
	return n > 0 && n < 19 && (n == 1 || s.b[start] != '0')
}

// str scans a string that is valid JSON, as encoding/json would accept it,
// and valid UTF-8 (encoding/json would replace invalid bytes; the slow
// path does that), and stores its quoted bytes in *q.
func (s *chunkScan) str(q *[]byte) bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	start := s.i
	high := false
	for j := s.i + 1; j < len(s.b); j++ {
		c := s.b[j]
		switch {
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
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
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

// DecodedLen returns the length in bytes of a validated quoted JSON
// string's value, as encoding/json decodes it, so that the output estimate
// does not depend on the path a chunk took.
func DecodedLen(q []byte) int {
	body := q[1 : len(q)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return len(body)
	}
	n := 0
	for i := 0; i < len(body); {
		switch {
		case body[i] != '\\':
			n++
			i++
		case body[i+1] != 'u':
			n++
			i += 2
		default:
			r := hex4(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(body[i+2:i+6])); d != utf8.RuneError {
						n += utf8.RuneLen(d)
						i += 6
						continue
					}
				}
				n += utf8.RuneLen(utf8.RuneError)
				continue
			}
			n += utf8.RuneLen(r)
		}
	}
	return n
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// AppendUnquoted appends the value of q, a quoted JSON string that
// ScanTextChunk checked, to dst: without a copy through a string when q
// has no escapes, which is most text.
func AppendUnquoted(dst, q []byte) []byte {
	if len(q) < 2 {
		return dst
	}
	if body := q[1 : len(q)-1]; bytes.IndexByte(body, '\\') < 0 {
		return append(dst, body...)
	}
	s, _ := unquote(q)
	return append(dst, s...)
}

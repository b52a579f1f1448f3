package providers

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ParseRequest checks that body is a Chat Completions request and gathers,
// in one validating pass, what routing needs: model, stream,
// stream_options.include_usage and the request's Facts. Messages and the
// other typed fields stay empty until Decode: the OpenAI-compatible path
// forwards the raw body and never needs them. body is kept as Raw, not copied.
// A body with a key twice in any one object is refused (see keySet).
func ParseRequest(body []byte) (*ChatCompletionRequest, error) {
	s := scanner{b: body, req: &ChatCompletionRequest{Raw: body}, modelAt: -1}
	if err := s.request(); err != nil {
		return nil, err
	}
	r := s.req
	if r.facts.Messages > 0 {
		r.facts.EstTokens = estTokens(r.facts)
	}
	r.facts.Prefix, r.facts.Turns, r.facts.Opening = s.pre.sum(), r.facts.Messages, !s.pre.answered
	r.scanned = true
	if s.modelAt >= 0 {
		r.modelSpan = [2]int{s.modelAt, s.modelEnd}
	}
	return r, nil
}

// Decode fills the typed fields from Raw, for providers that translate the
// request rather than forward it. It keeps Model as the gateway set it and
// does nothing the second time.
func (r *ChatCompletionRequest) Decode() error {
	if r.decoded || r.Raw == nil {
		return nil
	}
	model, raw, facts, span, scanned := r.Model, r.Raw, r.facts, r.modelSpan, r.scanned
	if err := decodeRequest(raw, r); err != nil {
		r.Model, r.Raw = model, raw
		return &RequestError{Msg: "request body is not valid Chat Completions JSON: " + err.Error()}
	}
	r.Model, r.Raw, r.facts, r.modelSpan, r.scanned, r.decoded = model, raw, facts, span, scanned, true
	return nil
}

// Body returns the JSON to send to an OpenAI-compatible upstream: Raw with
// only the model replaced, or the encoding of a request built in code.
func (r *ChatCompletionRequest) Body() ([]byte, error) {
	if r.Raw == nil {
		return json.Marshal(r)
	}
	if sp := r.modelSpan; sp[1] > 0 {
		if namesModel(r.Raw[sp[0]:sp[1]], r.Model) {
			// Routed to the model it named: an agent's 150 KB body goes
			// out as it came, not copied.
			return r.Raw, nil
		}
		q, _ := json.Marshal(r.Model)
		out := make([]byte, 0, len(r.Raw)-(sp[1]-sp[0])+len(q))
		out = append(out, r.Raw[:sp[0]]...)
		out = append(out, q...)
		return append(out, r.Raw[sp[1]:]...), nil
	}
	return WithModel(r.Raw, r.Model)
}

// RequestError is a request body that is not valid Chat Completions JSON.
type RequestError struct {
	Param string // the offending field, "" for a syntax error
	Msg   string
}

func (e *RequestError) Error() string { return e.Msg }

// scanner validates JSON as strictly as encoding/json and records the few
// fields routing looks at on the way.
type scanner struct {
	b   []byte
	i   int
	req *ChatCompletionRequest
	// modelAt and modelEnd span the top-level model value; modelAt is -1
	// without one.
	modelAt, modelEnd int
	depth             int
	pre               prefix
}

const maxDepth = 10000 // encoding/json's own nesting limit

func (s *scanner) fail(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) syntax() error {
	if s.i >= len(s.b) {
		return s.fail("invalid JSON: unexpected end of input")
	}
	return s.fail("invalid JSON: unexpected %q at offset %d", s.b[s.i], s.i)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// body scans a whole request body: one object, calling field on each of
// its keys, and nothing after it.
func (s *scanner) body(field func(key []byte) error) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if s.i < len(s.b) {
			if err := s.value(); err != nil {
				return err
			}
		}
		return &RequestError{Msg: "request body must be a JSON object"}
	}
	if err := s.object(field); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.syntax()
	}
	return nil
}

func (s *scanner) request() error {
	return s.body(func(key []byte) error {
		switch string(key) {
		case "model":
			s.modelAt = s.i
			str, ok, err := s.stringValue()
			if err != nil {
				return err
			}
			s.modelEnd = s.i
			if !ok {
				return &RequestError{Param: "model", Msg: "model must be a string"}
			}
			s.req.Model = str
		case "stream":
			b, err := s.boolValue("stream")
			s.req.Stream = b
			return err
		case "stream_options":
			return s.streamOptions()
		case "messages":
			return s.messages()
		case "tools":
			n, err := s.arrayCount(func(int) error { return s.toolDef() })
			if n > 0 {
				s.req.facts.HasTools = true
			}
			if err == errNotArray {
				return &RequestError{Param: "tools", Msg: "tools must be an array"}
			}
			return err
		default:
			return s.value()
		}
		return nil
	})
}

// object scans an object, calling field with the cursor on each value. It
// refuses a key the object already has.
func (s *scanner) object(field func(key []byte) error) error {
	if s.depth++; s.depth > maxDepth {
		return s.fail("invalid JSON: nested too deeply")
	}
	defer func() { s.depth-- }()
	var keys keySet
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax()
		}
		start := s.i
		key, decoded, err := s.key()
		if err != nil {
			return err
		}
		if keys.add(s.b, start+1, s.i-1, decoded) {
			s.i = start
			return s.fail("invalid JSON: duplicate key %.100q at offset %d", key, start)
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntax()
		}
		s.i++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.syntax()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.syntax()
		}
	}
}

// arrayCount scans an array, calling elem with the cursor on each element,
// and returns the number of elements. A null counts as an empty array.
func (s *scanner) arrayCount(elem func(i int) error) (int, error) {
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return 0, s.literal("null")
	}
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		if err := s.value(); err != nil {
			return 0, err
		}
		return 0, errNotArray
	}
	if s.depth++; s.depth > maxDepth {
		return 0, s.fail("invalid JSON: nested too deeply")
	}
	defer func() { s.depth-- }()
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return 0, nil
	}
	for n := 0; ; n++ {
		s.ws()
		if err := elem(n); err != nil {
			return n, err
		}
		s.ws()
		if s.i >= len(s.b) {
			return n, s.syntax()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return n + 1, nil
		default:
			return n, s.syntax()
		}
	}
}

var errNotArray = errors.New("not an array")

// keySet holds the keys of one object seen so far. Parsers disagree on which
// of two equal keys counts (encoding/json takes the last, others the first)
// and upstreams get the raw body, so a repeated key could route a request on
// one reading and run it on another: the scan refuses it instead. Objects
// rarely have many keys, so the first ones sit on the stack as spans of the
// body (no pointers: nothing for the GC, little to zero), a bit per key in
// mask spares most keys any comparison, and only a big object pays for a map.
type keySet struct {
	mask uint64
	n    int
	// spans hold each key's start and end in the body, or in dec for a key
	// that had to be decoded (start has the decodedKey bit).
	spans [32][2]uint32
	dec   []byte
	big   map[string]struct{}
}

const decodedKey = 1 << 31

// add records the key b[at:end], or decoded if it is not nil, and reports
// whether the set already held it.
func (k *keySet) add(b []byte, at, end int, decoded []byte) (dup bool) {
	key := b[at:end]
	if decoded != nil {
		key = decoded
	}
	bit := keyBit(key)
	if k.big == nil && len(b) < decodedKey {
		if k.mask&bit != 0 {
			for _, sp := range k.spans[:k.n] {
				if string(k.key(b, sp)) == string(key) {
					return true
				}
			}
		}
		if k.n < len(k.spans) {
			if decoded != nil {
				at, end = len(k.dec)|decodedKey, len(k.dec)+len(decoded)
				k.dec = append(k.dec, decoded...)
			}
			k.mask |= bit
			k.spans[k.n] = [2]uint32{uint32(at), uint32(end)}
			k.n++
			return false
		}
	}
	if k.big == nil {
		k.big = make(map[string]struct{}, 2*len(k.spans))
		for _, sp := range k.spans[:k.n] {
			k.big[string(k.key(b, sp))] = struct{}{}
		}
	}
	if _, dup := k.big[string(key)]; dup {
		return true
	}
	k.big[string(key)] = struct{}{}
	return false
}

func (k *keySet) key(b []byte, sp [2]uint32) []byte {
	if sp[0]&decodedKey != 0 {
		return k.dec[sp[0]&^decodedKey : sp[1]]
	}
	return b[sp[0]:sp[1]]
}

// keyBit picks key's bit in keySet.mask from its length, its first byte and
// its last two, which tell most keys of one object apart (arg_1, arg_12,
// arg_2, …).
func keyBit(key []byte) uint64 {
	h := uint64(len(key))
	if n := len(key); n > 0 {
		h |= uint64(key[0])<<8 | uint64(key[n-1])<<16 | uint64(key[max(n-2, 0)])<<24
	}
	return 1 << (h * 0x9E3779B97F4A7C15 >> 58) // Fibonacci hashing: the top 6 bits
}

func (s *scanner) messages() error {
	n, err := s.arrayCount(func(int) error { return s.message() })
	if err == errNotArray {
		return &RequestError{Param: "messages", Msg: "messages must be an array"}
	}
	s.req.facts.Messages = n
	return err
}

func (s *scanner) message() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if err := s.value(); err != nil {
			return err
		}
		return &RequestError{Param: "messages", Msg: "each message must be an object"}
	}
	f := &s.req.facts
	s.pre.begin()
	r := roleOther
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "content":
			return s.content()
		case "role":
			var err error
			r, err = s.role()
			if r == roleTool {
				f.HasTools = true
			}
			return err
		case "tool_calls":
			n, err := s.arrayCount(func(int) error { return s.toolCall() })
			if n > 0 {
				f.HasTools = true
			}
			if err == errNotArray {
				return &RequestError{Param: "messages", Msg: "tool_calls must be an array"}
			}
			return err
		}
		return s.value()
	})
	s.pre.end(r)
	f.ToolTurn = r == roleTool
	return err
}

func (s *scanner) content() error {
	if s.i >= len(s.b) {
		return s.syntax()
	}
	switch s.b[s.i] {
	case '"':
		return s.countedString()
	case 'n':
		return s.literal("null")
	case '[':
		_, err := s.arrayCount(func(int) error { return s.part() })
		return err
	}
	if err := s.value(); err != nil {
		return err
	}
	return &RequestError{Param: "messages", Msg: "message content must be a string or an array of parts"}
}

func (s *scanner) part() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "text":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
		case "image_url":
			// As for a decoded request: a null image_url is no image.
			if s.i < len(s.b) && s.b[s.i] == 'n' {
				return s.literal("null")
			}
			s.req.facts.HasImages = true
		case "type":
			image, err := s.stringIs("image_url")
			if image {
				s.req.facts.HasImages = true
			}
			return err
		}
		return s.value()
	})
}

func (s *scanner) toolCall() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	return s.object(func(key []byte) error {
		if string(key) != "function" || s.i >= len(s.b) || s.b[s.i] != '{' {
			return s.value()
		}
		return s.object(func(key []byte) error {
			if string(key) == "arguments" && s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
			return s.value()
		})
	})
}

func (s *scanner) streamOptions() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	return s.object(func(key []byte) error {
		if string(key) == "include_usage" {
			b, err := s.boolValue("stream_options.include_usage")
			if b {
				s.req.StreamOptions = &StreamOptions{IncludeUsage: true}
			}
			return err
		}
		return s.value()
	})
}

func (s *scanner) boolValue(param string) (bool, error) {
	switch {
	case s.i < len(s.b) && s.b[s.i] == 't':
		return true, s.literal("true")
	case s.i < len(s.b) && s.b[s.i] == 'f':
		return false, s.literal("false")
	case s.i < len(s.b) && s.b[s.i] == 'n':
		return false, s.literal("null")
	}
	if err := s.value(); err != nil {
		return false, err
	}
	return false, &RequestError{Param: param, Msg: param + " must be a boolean"}
}

// stringValue scans a string or null; ok is false for any other value.
func (s *scanner) stringValue() (string, bool, error) {
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return "", true, s.literal("null")
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false, s.value()
	}
	start := s.i
	esc, err := s.str()
	if err != nil {
		return "", false, err
	}
	if raw := s.b[start+1 : s.i-1]; !esc && utf8.Valid(raw) {
		return string(raw), true, nil
	}
	// Decoding also turns each invalid byte into U+FFFD, as encoding/json
	// does; the name ends up in a response header.
	var v string
	json.Unmarshal(s.b[start:s.i], &v)
	return v, true, nil
}

// stringIs scans a value and reports whether it is the string lit, by its
// decoded value; unlike stringValue it allocates nothing for a string
// without escapes.
func (s *scanner) stringIs(lit string) (bool, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false, s.value()
	}
	start := s.i
	esc, err := s.str()
	if err != nil || !esc {
		return err == nil && string(s.b[start+1:s.i-1]) == lit, err
	}
	var v string
	json.Unmarshal(s.b[start:s.i], &v)
	return v == lit, nil
}

// countedString scans a string and adds its characters to PromptChars.
func (s *scanner) countedString() error { return s.countString(&s.req.facts.PromptChars) }

// countString scans a string and adds its characters to *n.
func (s *scanner) countString(n *int) error {
	start := s.i
	esc, err := s.str()
	if err != nil {
		return err
	}
	raw := s.b[start+1 : s.i-1]
	s.pre.text(raw)
	if !esc {
		*n += runeCount(raw)
		return nil
	}
	// An escape counts as the one character it stands for. Most prompts
	// have escapes (a newline is one): count them without decoding (issue 9).
	*n += unquotedRuneCount(s.b[start:s.i])
	return nil
}

// toolDef scans one tools entry and adds the size of its function's name,
// description and parameter schema to ToolChars.
func (s *scanner) toolDef() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	f := &s.req.facts
	return s.object(func(key []byte) error {
		if string(key) != "function" || s.i >= len(s.b) || s.b[s.i] != '{' {
			return s.value()
		}
		return s.object(func(key []byte) error {
			switch string(key) {
			case "name":
				if s.i < len(s.b) && s.b[s.i] == '"' {
					start := s.i
					err := s.countString(&f.ToolChars)
					s.pre.name(s.b[start:s.i])
					return err
				}
			case "description":
				if s.i < len(s.b) && s.b[s.i] == '"' {
					return s.countString(&f.ToolChars)
				}
			case "parameters":
				start := s.i
				err := s.value()
				f.ToolChars += s.i - start
				return err
			}
			return s.value()
		})
	})
}

// special8 reports whether any of the eight bytes of x is a control
// character, a quote or a backslash (SWAR: each test sets a byte's top bit
// where the byte matches; it never misses one, and a false alarm only
// sends the caller to its byte loop).
func special8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	ctl := (x - 0x20*lo) &^ x & hi
	q := x ^ ('"' * lo)
	q = (q - lo) &^ q & hi
	bs := x ^ ('\\' * lo)
	bs = (bs - lo) &^ bs & hi
	return ctl|q|bs != 0
}

// str scans a string starting at its opening quote and reports whether it
// holds escapes. Control characters are refused, as encoding/json does.
func (s *scanner) str() (escaped bool, err error) {
	b := s.b
	i := s.i + 1
	for {
		// Most string bytes are plain: skip them fast, eight at a time
		// while none of the eight can end the string or need a look (a
		// 150 KB agent prompt is mostly string bytes: byte by byte, this
		// loop was the largest cost of its scan).
		for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			s.i = i
			return false, s.syntax()
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				s.i = i + 1
				return false, s.syntax()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					s.i = i
					return false, s.fail("invalid JSON: bad \\u escape at offset %d", i)
				}
				i += 6
			default:
				s.i = i + 1
				return false, s.syntax()
			}
		default:
			s.i = i
			return false, s.fail("invalid JSON: control character in string at offset %d", i)
		}
	}
}

// key scans an object key. Keys compare, and name fields, by their decoded
// value, as in encoding/json: "mo\u0064el" is model, and each invalid byte
// reads as U+FFFD. decoded is that value, or nil for a key that is its own
// value: plain ASCII, found in one pass since there is one call per key.
func (s *scanner) key() (key, decoded []byte, err error) {
	b, start := s.b, s.i
	i := start + 1
	for i < len(b) && b[i] >= 0x20 && b[i] < utf8.RuneSelf && b[i] != '"' && b[i] != '\\' {
		i++
	}
	if i < len(b) && b[i] == '"' {
		s.i = i + 1
		return b[start+1 : i], nil, nil
	}
	esc, err := s.str()
	if err != nil {
		return nil, nil, err
	}
	if key = b[start+1 : s.i-1]; !esc && utf8.Valid(key) {
		return key, nil, nil
	}
	var k string
	json.Unmarshal(b[start:s.i], &k)
	decoded = []byte(k)
	return decoded, decoded, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax()
	}
	s.i += len(lit)
	return nil
}

// value scans any JSON value.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.syntax()
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(func([]byte) error { return s.value() })
	case c == '[':
		_, err := s.arrayCount(func(int) error { return s.value() })
		return err
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return s.syntax()
}

// number scans a JSON number (RFC 8259 grammar).
func (s *scanner) number() error {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return s.syntax()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.syntax()
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.syntax()
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return nil
}

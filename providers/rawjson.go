package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

var errNotObject = errors.New("request body is not a JSON object")

// WithModel returns body with the value of every top-level "model" key
// replaced by model, leaving every other byte as it was, so fields the
// gateway does not model reach the upstream unchanged. body must be valid
// JSON (ParseRequest checked it); the result is a new slice.
func WithModel(body []byte, model string) ([]byte, error) {
	quoted, _ := json.Marshal(model) // cannot fail for a string
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, errNotObject
	}
	open := i
	i++
	var spans [][2]int
	for {
		i = skipSpace(body, i)
		if i < len(body) && body[i] == '}' {
			break
		}
		if i >= len(body) || body[i] != '"' {
			return nil, errNotObject
		}
		kend := skipString(body, i)
		if kend < 0 {
			return nil, errNotObject
		}
		key := body[i:kend]
		i = skipSpace(body, kend)
		if i >= len(body) || body[i] != ':' {
			return nil, errNotObject
		}
		i = skipSpace(body, i+1)
		vend := skipValue(body, i)
		if vend < 0 {
			return nil, errNotObject
		}
		if isModelKey(key) {
			spans = append(spans, [2]int{i, vend})
		}
		i = skipSpace(body, vend)
		if i < len(body) && body[i] == ',' {
			i++
			continue
		}
		if i < len(body) && body[i] == '}' {
			break
		}
		return nil, errNotObject
	}
	if len(spans) == 0 {
		out := make([]byte, 0, len(body)+len(quoted)+10)
		out = append(out, body[:open+1]...)
		out = append(out, `"model":`...)
		out = append(out, quoted...)
		if j := skipSpace(body, open+1); body[j] != '}' {
			out = append(out, ',')
		}
		return append(out, body[open+1:]...), nil
	}
	out := make([]byte, 0, len(body)+len(quoted))
	prev := 0
	for _, s := range spans {
		out = append(out, body[prev:s[0]]...)
		out = append(out, quoted...)
		prev = s[1]
	}
	return append(out, body[prev:]...), nil
}

func isModelKey(quotedKey []byte) bool {
	if string(quotedKey) == `"model"` {
		return true
	}
	for _, c := range quotedKey {
		if c == '\\' {
			k, err := strconv.Unquote(string(quotedKey))
			if err != nil {
				var s string
				if json.Unmarshal(quotedKey, &s) == nil {
					return s == "model"
				}
				return false
			}
			return k == "model"
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	// Jump from quote to quote (IndexByte is vectorised): prompts make up
	// most of a request, and this runs on every one.
	for i++; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

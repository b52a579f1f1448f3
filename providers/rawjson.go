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
// JSON (ParseRequest checked it). The result is body itself when body
// names model already, else a new slice; neither is changed after.
func WithModel(body []byte, model string) ([]byte, error) {
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
	if len(spans) == 1 && namesModel(body[spans[0][0]:spans[0][1]], model) {
		return body, nil
	}
	quoted, _ := json.Marshal(model) // cannot fail for a string
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

// namesModel reports whether value, a JSON value as written, is the string
// model without escapes: such a body already names model, byte for byte
// as it would be sent.
func namesModel(value []byte, model string) bool {
	return len(value) == len(model)+2 && value[0] == '"' && string(value[1:len(value)-1]) == model &&
		bytes.IndexByte(value, '\\') < 0
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

// requestWire is ChatCompletionRequest as Decode decodes it when there are
// tool calls or reasoning: the same fields and tags (a test keeps them in
// step), with the long strings of messages as wireString, which unquotes in
// one allocation where encoding/json makes two (issue 9). Tool call
// arguments, always escaped since they are JSON inside a string, are much
// of an agent's request.
type requestWire struct {
	Model               string          `json:"model"`
	Messages            []messageWire   `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	User                string          `json:"user,omitempty"`
}

type messageWire struct {
	Role             string         `json:"role"`
	Content          Content        `json:"content"`
	Name             string         `json:"name,omitempty"`
	ToolCalls        []toolCallWire `json:"tool_calls,omitempty"`
	ToolCallID       string         `json:"tool_call_id,omitempty"`
	ReasoningContent wireString     `json:"reasoning_content,omitempty"`
}

type toolCallWire struct {
	Index    *int             `json:"index,omitempty"`
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"`
	Function functionCallWire `json:"function"`
}

type functionCallWire struct {
	Name      string     `json:"name,omitempty"`
	Arguments wireString `json:"arguments"`
}

// decodeRequest decodes raw into r's typed fields as json.Unmarshal(raw, r)
// does. On any error it runs json.Unmarshal(raw, r) itself, so that the
// error and what is left decoded are encoding/json's.
func decodeRequest(raw []byte, r *ChatCompletionRequest) error {
	if r.Messages != nil {
		return json.Unmarshal(raw, r) // decoding would merge into them
	}
	// The scan counted the messages: presized, the slice does not grow by
	// doubling. (The key is there, so the slice is replaced as
	// json.Unmarshal replaces it.)
	n := 0
	if r.scanned {
		n = r.facts.Messages
	}
	// requestWire pays off for the long strings it unquotes once, but costs
	// a second array of messages: a request of many short messages would
	// pay more than it saves. Either way the result is the same.
	if !bytes.Contains(raw, []byte(`"tool_calls"`)) && !bytes.Contains(raw, []byte(`"reasoning_content"`)) {
		if n > 0 {
			r.Messages = make([]Message, 0, n)
		}
		return json.Unmarshal(raw, r)
	}
	// Fields the body lacks keep their values, as with json.Unmarshal.
	w := requestWire{Model: r.Model, Stream: r.Stream, StreamOptions: r.StreamOptions,
		MaxTokens: r.MaxTokens, MaxCompletionTokens: r.MaxCompletionTokens, Temperature: r.Temperature, TopP: r.TopP, N: r.N,
		Stop: r.Stop, Tools: r.Tools, ToolChoice: r.ToolChoice, ResponseFormat: r.ResponseFormat,
		ReasoningEffort: r.ReasoningEffort, User: r.User}
	if n > 0 {
		w.Messages = make([]messageWire, 0, n)
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return json.Unmarshal(raw, r)
	}
	r.Model, r.Stream, r.StreamOptions = w.Model, w.Stream, w.StreamOptions
	r.MaxTokens, r.MaxCompletionTokens, r.Temperature, r.TopP, r.N = w.MaxTokens, w.MaxCompletionTokens, w.Temperature, w.TopP, w.N
	r.Stop, r.Tools, r.ToolChoice, r.ResponseFormat = w.Stop, w.Tools, w.ToolChoice, w.ResponseFormat
	r.ReasoningEffort, r.User = w.ReasoningEffort, w.User
	if w.Messages != nil {
		r.Messages = make([]Message, len(w.Messages))
	}
	for i := range w.Messages {
		m, wm := &r.Messages[i], &w.Messages[i]
		m.Role, m.Content, m.Name, m.ToolCallID = wm.Role, wm.Content, wm.Name, wm.ToolCallID
		m.ReasoningContent = string(wm.ReasoningContent)
		if wm.ToolCalls != nil {
			m.ToolCalls = make([]ToolCall, len(wm.ToolCalls))
		}
		for j, tc := range wm.ToolCalls {
			m.ToolCalls[j] = ToolCall{Index: tc.Index, ID: tc.ID, Type: tc.Type,
				Function: FunctionCall{Name: tc.Function.Name, Arguments: string(tc.Function.Arguments)}}
		}
	}
	return nil
}

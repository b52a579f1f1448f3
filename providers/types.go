package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// ChatCompletionRequest is an OpenAI Chat Completions request. Raw keeps the
// body as the client sent it so that fields this struct does not model reach
// OpenAI-compatible upstreams byte for byte (DESIGN §6).
type ChatCompletionRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
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

	// Raw is the request body exactly as received; nil for requests built in code.
	Raw []byte `json:"-"`

	facts     Facts  // gathered by ParseRequest
	scanned   bool   // facts are valid
	decoded   bool   // Decode has filled the typed fields
	modelSpan [2]int // where Raw's only model value sits; zero when unknown
}

// Forget drops what Decode filled in and keeps what ParseRequest found
// (Raw, Model, Stream, StreamOptions), so that a translating provider does
// not hold a large request's text a second time while the upstream reads
// the translation (issue 9). A later Decode, say after a failover, fills
// the fields in again. It does nothing to a request not from ParseRequest,
// whose fields may have been set in code.
func (r *ChatCompletionRequest) Forget() {
	if !r.decoded || !r.scanned {
		return
	}
	*r = ChatCompletionRequest{Model: r.Model, Stream: r.Stream, StreamOptions: r.StreamOptions, Raw: r.Raw,
		facts: r.facts, scanned: true, modelSpan: r.modelSpan}
}

// IncludeUsage reports whether the client asked for a final usage chunk.
func (r *ChatCompletionRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// StreamOptions are the request's stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// Stop is OpenAI's stop field: a string or an array of strings.
type Stop []string

// UnmarshalJSON accepts a string or an array of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// Message is one chat message.
type Message struct {
	Role             string     `json:"role"`
	Content          Content    `json:"content"`
	Name             string     `json:"name,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
}

// Content is a message's content: either plain text or a list of parts.
type Content struct {
	Text  string
	Parts []ContentPart
	// IsParts reports the array form, even when empty.
	IsParts bool
}

// UnmarshalJSON accepts a string, an array of parts, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = Content{}
		return nil
	case b[0] == '"':
		*c = Content{}
		// The enclosing decoder has validated b; a string without escapes
		// needs no second pass (prompts are most of a request's bytes).
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 {
			c.Text = string(s)
			return nil
		}
		t, ok := unquote(b)
		if !ok {
			return json.Unmarshal(b, &c.Text) // for encoding/json's error
		}
		c.Text = t
		return nil
	case b[0] == '[':
		*c = Content{IsParts: true}
		return c.unmarshalParts(b)
	}
	return errors.New("content must be a string or an array of parts")
}

// partWire is ContentPart as it is decoded: its strings are unquoted in
// one allocation each instead of encoding/json's two (issue 9).
type partWire struct {
	Type     wireString    `json:"type"`
	Text     wireString    `json:"text,omitempty"`
	ImageURL *imageURLWire `json:"image_url,omitempty"`
}

type imageURLWire struct {
	URL    wireString `json:"url"`
	Detail wireString `json:"detail,omitempty"`
}

// unmarshalParts decodes an array of parts. On any error it decodes again
// the plain way, so that the error and what is left decoded are exactly
// encoding/json's.
func (c *Content) unmarshalParts(b []byte) error {
	var ws []partWire
	if err := json.Unmarshal(b, &ws); err != nil {
		return json.Unmarshal(b, &c.Parts)
	}
	c.Parts = make([]ContentPart, len(ws))
	for i, w := range ws {
		p := &c.Parts[i]
		p.Type, p.Text = string(w.Type), string(w.Text)
		if u := w.ImageURL; u != nil {
			p.ImageURL = &ImageURL{URL: string(u.URL), Detail: string(u.Detail)}
		}
	}
	return nil
}

// wireString decodes like a string field, null included, but unquotes in
// one allocation. Any other JSON value is an error; the caller then decodes
// again into the real type for encoding/json's own error.
type wireString string

var errNotString = errors.New("not a string")

// UnmarshalJSON accepts a string or null.
func (s *wireString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // leaves the value, as for a string
	}
	v, ok := unquote(b)
	if !ok {
		return errNotString
	}
	*s = wireString(v)
	return nil
}

// MarshalJSON writes the form the content arrived in.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.IsParts || c.Parts != nil {
		if c.Parts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// ContentPart is one part of a multi-part message.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
}

// ImageURL is an image part's URL: http(s) or a data URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function describes a callable function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a model's call of a tool. Index is set only in stream deltas.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its JSON arguments as a string.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Usage is token accounting. PromptTokens includes cached tokens, as in OpenAI.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// ChatCompletionResponse is a non-streamed answer. When Raw is set it is the
// upstream's body and is what the client receives; the typed fields may then
// hold only what the gateway needed (Usage).
type ChatCompletionResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`

	Raw []byte `json:"-"`
}

// Choice is one answer of a non-streamed response.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant's message in a non-streamed response.
type ResponseMessage struct {
	Role             string     `json:"role"`
	Content          *string    `json:"content"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
}

// ChatCompletionStreamResponse is one chunk of a streamed answer. When Raw is
// set it is the upstream event's data and is written to the client as is.
type ChatCompletionStreamResponse struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Created           int64          `json:"created"`
	Model             string         `json:"model"`
	Choices           []StreamChoice `json:"choices"`
	Usage             *Usage         `json:"usage,omitempty"`
	SystemFingerprint string         `json:"system_fingerprint,omitempty"`

	Raw []byte `json:"-"`
}

// StreamChoice is one choice's delta in a chunk.
type StreamChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// Delta is the incremental part of a streamed message.
type Delta struct {
	Role             string     `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	Refusal          *string    `json:"refusal,omitempty"`
}

// AppendJSON appends the chunk's JSON to b: Raw when set, else the encoding.
func (c *ChatCompletionStreamResponse) AppendJSON(b []byte) ([]byte, error) {
	if c.Raw != nil {
		return append(b, c.Raw...), nil
	}
	enc, err := json.Marshal(c)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// Body returns the response's JSON: Raw when set, else the encoding.
func (r *ChatCompletionResponse) Body() ([]byte, error) {
	if r.Raw != nil {
		return r.Raw, nil
	}
	return json.Marshal(r)
}

// FindUsage decodes the top-level "usage" object of a response or chunk
// without decoding the rest: it walks the top-level members without
// allocating and decodes only the usage value. It returns nil when there is
// no top-level usage object. A "usage" key nested deeper (Groq's
// x_groq.usage) or a "usage" string value is not the answer's usage.
func FindUsage(body []byte) *Usage {
	if !bytes.Contains(body, []byte(`"usage"`)) {
		return nil // most chunks: no scan at all
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil
	}
	var val []byte
	for i++; ; {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			break // "}" or malformed
		}
		kend := skipString(body, i)
		if kend < 0 {
			return nil
		}
		key := body[i:kend]
		i = skipSpace(body, kend)
		if i >= len(body) || body[i] != ':' {
			return nil
		}
		i = skipSpace(body, i+1)
		vend := skipValue(body, i)
		if vend < 0 {
			return nil
		}
		if string(key) == `"usage"` {
			val = body[i:vend] // the last one wins, as in encoding/json
		}
		i = skipSpace(body, vend)
		if i >= len(body) || body[i] != ',' {
			break
		}
		i++
	}
	if len(val) == 0 || val[0] != '{' {
		return nil
	}
	u := &Usage{}
	if !decodeUsage(val, u) {
		return nil
	}
	return u
}

// decodeUsage reads a usage object as encoding/json would into u, and
// reports whether it could: every answer has one, and encoding/json's
// reflection cost about 6 µs of it under load (issue 16). Keys match
// case-insensitively, null leaves a field as it was, a duplicate key's
// last value wins and a duplicate details object merges into the first;
// any other type than a number or an object is an error, as it is there.
func decodeUsage(b []byte, u *Usage) bool {
	return eachMember(b, func(key, v []byte) bool {
		switch {
		case bytes.EqualFold(key, []byte("prompt_tokens")):
			return usageInt(v, &u.PromptTokens)
		case bytes.EqualFold(key, []byte("completion_tokens")):
			return usageInt(v, &u.CompletionTokens)
		case bytes.EqualFold(key, []byte("total_tokens")):
			return usageInt(v, &u.TotalTokens)
		case bytes.EqualFold(key, []byte("prompt_tokens_details")):
			if string(v) == "null" {
				u.PromptTokensDetails = nil
				return true
			}
			if u.PromptTokensDetails == nil {
				u.PromptTokensDetails = &PromptTokensDetails{}
			}
			d := u.PromptTokensDetails
			return eachMember(v, func(k, v []byte) bool {
				return !bytes.EqualFold(k, []byte("cached_tokens")) || usageInt(v, &d.CachedTokens)
			})
		case bytes.EqualFold(key, []byte("completion_tokens_details")):
			if string(v) == "null" {
				u.CompletionTokensDetails = nil
				return true
			}
			if u.CompletionTokensDetails == nil {
				u.CompletionTokensDetails = &CompletionTokensDetails{}
			}
			d := u.CompletionTokensDetails
			return eachMember(v, func(k, v []byte) bool {
				return !bytes.EqualFold(k, []byte("reasoning_tokens")) || usageInt(v, &d.ReasoningTokens)
			})
		}
		return true
	})
}

// eachMember calls f with each key (unquoted; a key with escapes is passed
// as it is written, and matches nothing) and raw value of the object b,
// stopping at false; it reports whether b was an object and f never
// refused.
func eachMember(b []byte, f func(key, value []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) && b[i] == '"' {
		kend := skipString(b, i)
		if kend < 0 {
			return false
		}
		key := b[i+1 : kend-1]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 || !f(key, b[i:vend]) {
			return false
		}
		i = skipSpace(b, vend)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return true
		default:
			return false
		}
	}
	return false
}

// usageInt sets *n from a JSON integer; null leaves it.
func usageInt(v []byte, n *int) bool {
	if string(v) == "null" {
		return true
	}
	x, err := strconv.Atoi(string(v))
	if err != nil {
		return false
	}
	*n = x
	return true
}

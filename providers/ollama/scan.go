package ollama

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// The scans read what routing needs in one pass of encoding/json over
// structs whose fields count characters as they are decoded, so that no
// prompt or image is copied. Unlike providers.ParseRequest they do not
// refuse a key given twice: that rule keeps the gateway and an upstream
// from reading one body two ways, and the only upstream that gets an Ollama
// body as it is, Ollama, reads it with encoding/json too (the last key
// wins), as these scans do.

// ChatInfo is what the gateway needs of an /api/chat request to route it.
type ChatInfo struct {
	Model string
	// Stream is true unless the request says "stream": false (Ollama
	// streams by default).
	Stream bool
	// Load reports a request without messages: Ollama's way to load a
	// model, answered at once with LoadAnswer.
	Load bool
	// Facts counts the messages' content and thinking, tool call
	// arguments (bytes of the object) and the tool definitions, as
	// providers.Facts does for Chat Completions; images set HasImages.
	Facts providers.Facts
}

// GenerateInfo is what the gateway needs of an /api/generate request.
type GenerateInfo struct {
	Model  string
	Stream bool
	// FIM reports a request with a suffix or raw: true, which goes to a
	// completions endpoint (GenerateToCompletions) rather than chat.
	FIM bool
	// Load reports a request without a prompt (see ChatInfo.Load).
	Load bool
	// Facts counts system, prompt and suffix; the prompt, and the system
	// prompt when there is one, are one message each.
	Facts providers.Facts
}

// EmbedInfo is what the gateway needs of an /api/embed or legacy
// /api/embeddings request.
type EmbedInfo struct {
	Model string
	// Inputs is the number of texts to embed: /api/embed's input array,
	// or 1 for a non-empty string. 0 is a load (Ollama answers it with no
	// embeddings).
	Inputs int
	// Facts has one message per input and their characters. EstTokens is
	// ceil(PromptChars/4), without the chat framing of providers.Facts:
	// an embedding model reads the bare text.
	Facts  providers.Facts
	Legacy bool
}

// ScanChat checks that body is an /api/chat request and returns its
// ChatInfo. A body that is not a JSON object, or whose fields have the
// wrong JSON types, is a *providers.RequestError.
func ScanChat(body []byte) (*ChatInfo, error) {
	var in struct {
		Model    string `json:"model"`
		Stream   *bool  `json:"stream"`
		Messages []struct {
			Role      string `json:"role"`
			Content   text   `json:"content"`
			Thinking  chars  `json:"thinking"`
			Images    images `json:"images"`
			ToolCalls []struct {
				Function struct {
					Arguments argChars `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []toolChars `json:"tools"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	info := &ChatInfo{Model: in.Model, Stream: in.Stream == nil || *in.Stream, Load: len(in.Messages) == 0}
	f := &info.Facts
	f.Messages, f.Turns = len(in.Messages), len(in.Messages)
	var pre providers.Prefix
	for _, t := range in.Tools {
		pre.Tool(t.Function.Name.sum[:])
	}
	for i := range in.Messages {
		m := &in.Messages[i]
		pre.Message(m.Role, m.Content.sum[:])
		f.ToolTurn = strings.EqualFold(m.Role, "tool")
		f.PromptChars += int(m.Content.n + m.Thinking)
		if m.Images > 0 {
			f.HasImages = true
		}
		for _, tc := range m.ToolCalls {
			f.PromptChars += int(tc.Function.Arguments)
		}
		if len(m.ToolCalls) > 0 || strings.EqualFold(m.Role, "tool") {
			f.HasTools = true
		}
	}
	for _, t := range in.Tools {
		f.ToolChars += int(t.Function.Name.n+t.Function.Description) + int(t.Function.Parameters)
	}
	f.Prefix, f.Opening = pre.Sum(), pre.Opening()
	if len(in.Tools) > 0 {
		f.HasTools = true
	}
	f.EstTokens = estTokens(*f)
	return info, nil
}

// ScanGenerate checks that body is an /api/generate request and returns
// its GenerateInfo; errors as for ScanChat.
func ScanGenerate(body []byte) (*GenerateInfo, error) {
	var in struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
		Prompt chars  `json:"prompt"`
		Suffix chars  `json:"suffix"`
		System chars  `json:"system"`
		Raw    bool   `json:"raw"`
		Images images `json:"images"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	info := &GenerateInfo{Model: in.Model, Stream: in.Stream == nil || *in.Stream,
		FIM: in.Suffix > 0 || in.Raw, Load: in.Prompt == 0}
	f := &info.Facts
	f.PromptChars = int(in.Prompt + in.Suffix + in.System)
	f.HasImages = in.Images > 0
	if !info.Load {
		f.Messages = 1
		if in.System > 0 {
			f.Messages++
		}
	}
	f.EstTokens = estTokens(*f)
	return info, nil
}

// ScanEmbed checks that body is an /api/embed request (legacy: an
// /api/embeddings request) and returns its EmbedInfo. input must be a
// string or an array of strings, as Ollama requires; errors as for
// ScanChat.
func ScanEmbed(body []byte, legacy bool) (*EmbedInfo, error) {
	var in struct {
		Model  string `json:"model"`
		Input  inputs `json:"input"`
		Prompt chars  `json:"prompt"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	info := &EmbedInfo{Model: in.Model, Legacy: legacy}
	f := &info.Facts
	if legacy {
		if in.Prompt > 0 {
			info.Inputs = 1
		}
		f.PromptChars = int(in.Prompt)
	} else {
		info.Inputs, f.PromptChars = in.Input.n, in.Input.chars
	}
	f.Messages = info.Inputs
	if info.Inputs > 0 {
		f.EstTokens = (f.PromptChars + charsPerToken - 1) / charsPerToken
	}
	return info, nil
}

// The constants of providers.Facts' EstTokens formula, which that package
// keeps to itself:
//
//	EstTokens = ceil((PromptChars + ToolChars) / 4) + 3*Messages + 3
const (
	charsPerToken    = 4
	tokensPerMessage = 3
	tokensPerReply   = 3
)

// estTokens is providers.Facts' EstTokens: 0 without messages.
func estTokens(f providers.Facts) int {
	if f.Messages == 0 {
		return 0
	}
	return (f.PromptChars+f.ToolChars+charsPerToken-1)/charsPerToken + tokensPerMessage*f.Messages + tokensPerReply
}

// chars decodes a string or null into the number of characters of the
// string. encoding/json has validated the whole body before it calls
// UnmarshalJSON, and hands it the value's own bytes, uncopied.
type chars int

func (c *chars) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		return nil
	case '"':
		*c = chars(providers.CountQuotedChars(b))
		return nil
	}
	return typeError(b, reflect.TypeFor[string]())
}

// text is a string counted as chars is, and hashed for the session
// prefix (providers.Prefix) without being kept.
type text struct {
	n   chars
	sum [8]byte
}

func (t *text) UnmarshalJSON(b []byte) error {
	if err := t.n.UnmarshalJSON(b); err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(t.sum[:], providers.TextHash(b))
	return nil
}

// argChars is a tool call's arguments: an object, counted in bytes as
// providers.Facts counts a schema, or a JSON string (the OpenAI form),
// counted in characters.
type argChars int

func (c *argChars) UnmarshalJSON(b []byte) error {
	if b[0] == '"' {
		*c = argChars(providers.CountQuotedChars(b))
	} else if b[0] != 'n' {
		*c = argChars(len(b))
	}
	return nil
}

// bytesOf is a value's size in bytes of JSON.
type bytesOf int

func (n *bytesOf) UnmarshalJSON(b []byte) error {
	if b[0] != 'n' {
		*n = bytesOf(len(b))
	}
	return nil
}

// toolChars counts a tool definition as providers.Facts does: name and
// description in characters, the parameter schema in bytes.
type toolChars struct {
	Function struct {
		Name        text    `json:"name"`
		Description chars   `json:"description"`
		Parameters  bytesOf `json:"parameters"`
	} `json:"function"`
}

// images decodes an array of base64 strings (or null) into how many are
// non-empty, without copying them.
type images int

func (n *images) UnmarshalJSON(b []byte) error {
	if b[0] == 'n' {
		return nil
	}
	if b[0] != '[' {
		return typeError(b, reflect.TypeFor[[]string]())
	}
	count := 0
	err := eachElement(b, func(v []byte) error {
		switch v[0] {
		case '"':
			if len(v) > 2 {
				count++
			}
		case 'n':
		default:
			return typeError(v, reflect.TypeFor[string]())
		}
		return nil
	})
	*n = images(count)
	return err
}

// inputs decodes /api/embed's input: a string (one input when non-empty,
// as Ollama counts it), an array of strings, or null.
type inputs struct{ n, chars int }

func (in *inputs) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		return nil
	case '"':
		if in.chars = providers.CountQuotedChars(b); len(b) > 2 {
			in.n = 1
		}
		return nil
	case '[':
		return eachElement(b, func(v []byte) error {
			if v[0] != '"' {
				return typeError(v, reflect.TypeFor[string]())
			}
			in.n++
			in.chars += providers.CountQuotedChars(v)
			return nil
		})
	}
	return typeError(b, reflect.TypeFor[[]string]())
}

// typeError is the error encoding/json gives for a value of the wrong
// kind; it fills in the field's path, which providers.DecodeError reports.
func typeError(v []byte, want reflect.Type) error {
	kind := "number"
	switch v[0] {
	case '"':
		kind = "string"
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case 't', 'f':
		kind = "bool"
	case 'n':
		kind = "null"
	}
	return &json.UnmarshalTypeError{Value: kind, Type: want}
}

// eachElement calls f with each element of the valid JSON array b.
func eachElement(b []byte, f func(v []byte) error) error {
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for i < len(b) {
		end := skipValue(b, i)
		if end < 0 {
			return nil // cannot happen for valid JSON
		}
		if err := f(b[i:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			return nil
		}
		i = skipSpace(b, i+1)
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the valid string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
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

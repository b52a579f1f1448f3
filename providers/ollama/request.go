package ollama

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/localrouter/localrouter/providers"
)

// maxStop is how many stop sequences the OpenAI Chat API takes.
const maxStop = 4

// ChatToChat translates an /api/chat request body into a Chat Completions
// request body with model as its model, for providers.ParseRequest.
//
// What Chat Completions cannot take is dropped, never refused (open
// lists): unknown fields, keep_alive, options.num_ctx and the sampler
// options OpenAI lacks, images of system, assistant and tool messages.
// Decisions beyond a one-to-one mapping:
//   - a user message's images become image_url parts with data URLs, the
//     media type read from the image's first bytes (PNG when unknown); an
//     image given as a data: or http(s) URL is sent as it is;
//   - assistant tool_calls: arguments (an object) become the JSON string
//     OpenAI wants (see argumentsString), and a call without an id gets
//     call_<n>, unique in the request; thinking becomes reasoning_content;
//   - a role:"tool" message answers, among the calls of the assistant
//     message before it still without a result, the one with its
//     tool_call_id, else the first with its tool_name, else the first.
//     A result that answers no call is sent as user text, and a call left
//     without a result gets a short tool message saying so, since OpenAI
//     refuses both;
//   - roles are lower-cased, as Ollama does; developer is sent as system,
//     the name every local chat template knows, and a role OpenAI does not
//     know as user;
//   - format "json" → response_format json_object, a schema object →
//     json_schema named "response";
//   - think true → reasoning_effort medium, "low", "medium", "high" as
//     they are, any other string but "none" medium, false → none at all;
//   - options: num_predict > 0 → max_tokens (-1 and -2, Ollama's
//     "unlimited" and "fill the context", send none), temperature, top_p,
//     top_k > 0, seed ≥ 0 (Ollama's -1 is a random seed), presence_penalty,
//     frequency_penalty, and the first 4 non-empty stop strings;
//   - stream, true unless "stream": false, adds include_usage: the
//     only way to learn the usage of a stream.
//
// A body that is not JSON, or whose fields have the wrong JSON types, is a
// *providers.RequestError, as is a request without messages (a load,
// which the caller answers with LoadAnswer).
func ChatToChat(body []byte, model string) ([]byte, error) {
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	if len(in.Messages) == 0 {
		return nil, &providers.RequestError{Param: "messages", Msg: "ollama: messages is required"}
	}
	out := chatOut{Model: model}
	if err := setCommon(&out, in.Stream, in.Options, in.Format, in.Think); err != nil {
		return nil, err
	}
	var c converter
	for i := range in.Messages {
		if err := c.message(&in.Messages[i], fmt.Sprintf("messages[%d]", i)); err != nil {
			return nil, err
		}
	}
	c.closeTools()
	out.Messages = c.out
	for i, t := range in.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		if t.Type != "" && t.Type != "function" {
			continue // no other kind exists yet; one that does is not a function
		}
		if t.Function.Name == "" {
			return nil, &providers.RequestError{Param: param + ".function.name", Msg: fmt.Sprintf("ollama: %s.function.name is required", param)}
		}
		params, err := schema(t.Function.Parameters, param+".function.parameters")
		if err != nil {
			return nil, err
		}
		var ct chatTool
		ct.Type = "function"
		ct.Function.Name, ct.Function.Description, ct.Function.Parameters = t.Function.Name, t.Function.Description, params
		out.Tools = append(out.Tools, ct)
	}
	return marshal(out)
}

// GenerateToChat translates an /api/generate request without suffix and
// raw into a one-turn Chat Completions request: system → a system message,
// prompt and images → a user message; format, think, options and stream
// as in ChatToChat. A request without a prompt is a load (see ChatToChat).
func GenerateToChat(body []byte, model string) ([]byte, error) {
	var in generateRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	if in.Prompt == "" {
		return nil, &providers.RequestError{Param: "prompt", Msg: "ollama: prompt is required"}
	}
	out := chatOut{Model: model}
	if err := setCommon(&out, in.Stream, in.Options, in.Format, in.Think); err != nil {
		return nil, err
	}
	if in.System != "" {
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: in.System})
	}
	parts, err := imageParts(in.Images, "images")
	if err != nil {
		return nil, err
	}
	user := chatMessage{Role: "user", Content: in.Prompt}
	if len(parts) > 0 {
		user.Content = append([]chatPart{{Type: "text", Text: in.Prompt}}, parts...)
	}
	out.Messages = append(out.Messages, user)
	return marshal(out)
}

// GenerateToCompletions translates an /api/generate request with a suffix
// or raw: true (fill-in-the-middle, or a prompt the client formatted
// itself, as Zed and Continue send) into an OpenAI /v1/completions body:
// prompt, suffix when set, and of the options num_predict, temperature,
// top_p, stop (every one: FIM clients send many, and FIM servers take
// them) and seed, read as in ChatToChat; stream adds include_usage. system
// is dropped: a raw prompt has no place for it (Ollama refuses the two
// together) and a completions endpoint has none either.
func GenerateToCompletions(body []byte, model string) ([]byte, error) {
	var in generateRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	out := completionsOut{Model: model, Prompt: in.Prompt, Suffix: in.Suffix}
	if in.Stream == nil || *in.Stream {
		out.Stream, out.StreamOptions = true, &streamOptions{IncludeUsage: true}
	}
	if o := in.Options; o != nil {
		out.MaxTokens, out.Temperature, out.TopP, out.Seed = maxTokens(o.NumPredict), o.Temperature, o.TopP, seed(o.Seed)
		stop, err := stops(o.Stop, -1)
		if err != nil {
			return nil, err
		}
		out.Stop = stop
	}
	return marshal(out)
}

// EmbedToEmbeddings translates an /api/embed request (legacy: an
// /api/embeddings request, whose prompt is the one input) into an OpenAI
// /v1/embeddings body: model, input (a string or an array of strings, as
// given) and dimensions when set. truncate, keep_alive and options are
// dropped. A request with nothing to embed is a *providers.RequestError:
// Ollama answers it with no embeddings, which the caller can do without an
// upstream.
func EmbedToEmbeddings(body []byte, model string, legacy bool) ([]byte, error) {
	info, err := ScanEmbed(body, legacy)
	if err != nil {
		return nil, err
	}
	param := "input"
	if legacy {
		param = "prompt"
	}
	if info.Inputs == 0 {
		return nil, &providers.RequestError{Param: param, Msg: "ollama: " + param + " is required"}
	}
	var in embedRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("ollama", "", err)
	}
	out := embeddingsOut{Model: model, Input: in.Input}
	if legacy {
		out.Input, _ = marshal(in.Prompt)
	}
	if d := in.Dimensions; d != nil && *d >= 1 {
		out.Dimensions = int(min(*d, math.MaxInt32))
	}
	return marshal(out)
}

// setCommon sets what /api/chat and /api/generate share: stream, options,
// format and think.
func setCommon(out *chatOut, stream *bool, o *options, format, think json.RawMessage) error {
	if stream == nil || *stream {
		out.Stream, out.StreamOptions = true, &streamOptions{IncludeUsage: true}
	}
	if o != nil {
		out.MaxTokens, out.Temperature, out.TopP, out.Seed = maxTokens(o.NumPredict), o.Temperature, o.TopP, seed(o.Seed)
		out.PresencePenalty, out.FrequencyPenalty = o.PresencePenalty, o.FrequencyPenalty
		if o.TopK != nil && *o.TopK >= 1 {
			k := int(min(*o.TopK, math.MaxInt32))
			out.TopK = &k
		}
		stop, err := stops(o.Stop, maxStop)
		if err != nil {
			return err
		}
		out.Stop = stop
	}
	out.ResponseFormat = responseFormat(format)
	effort, err := reasoningEffort(think)
	out.ReasoningEffort = effort
	return err
}

func maxTokens(numPredict *float64) *int {
	if numPredict == nil || *numPredict < 1 {
		return nil
	}
	n := int(min(*numPredict, math.MaxInt32))
	return &n
}

func seed(s *float64) *int64 {
	if s == nil || *s < 0 {
		return nil
	}
	n := int64(min(*s, math.MaxInt64))
	return &n
}

// stops reads options.stop, an array of strings or one string, keeping at
// most limit non-empty ones (all with limit < 0).
func stops(raw json.RawMessage, limit int) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return nil, nil
	}
	var all []string
	if raw[0] == '"' {
		all = make([]string, 1)
		json.Unmarshal(raw, &all[0])
	} else if err := json.Unmarshal(raw, &all); err != nil {
		return nil, providers.DecodeError("ollama", "options.stop", err)
	}
	var out []string
	for _, s := range all {
		if s != "" && (limit < 0 || len(out) < limit) {
			out = append(out, s)
		}
	}
	return out, nil
}

// responseFormat maps format: "json" or a JSON schema object. Anything
// else (an empty string, null, a format a later Ollama may add) asks for
// nothing.
func responseFormat(format json.RawMessage) json.RawMessage {
	format = bytes.TrimSpace(format)
	switch {
	case len(format) == 0:
		return nil
	case format[0] == '{':
		b := []byte(`{"type":"json_schema","json_schema":{"name":"response","schema":`)
		b = append(b, lastWins(format)...)
		return append(b, "}}"...)
	case format[0] == '"':
		var s string
		if json.Unmarshal(format, &s) == nil && s == "json" {
			return json.RawMessage(`{"type":"json_object"}`)
		}
	}
	return nil
}

// reasoningEffort maps think (see ChatToChat).
func reasoningEffort(think json.RawMessage) (string, error) {
	think = bytes.TrimSpace(think)
	if len(think) == 0 {
		return "", nil
	}
	switch think[0] {
	case 't':
		return "medium", nil
	case 'f', 'n':
		return "", nil
	case '"':
		var s string
		json.Unmarshal(think, &s)
		switch s {
		case "low", "medium", "high":
			return s, nil
		case "", "none":
			return "", nil
		}
		return "medium", nil
	}
	return "", &providers.RequestError{Param: "think", Msg: `ollama: think must be a boolean or a string ("low", "medium", "high")`}
}

// schema returns a tool's parameters, compacted; none is an empty object
// schema, which every server takes.
func schema(raw json.RawMessage, param string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return json.RawMessage(`{"type":"object","properties":{}}`), nil
	}
	if raw[0] != '{' {
		return nil, &providers.RequestError{Param: param, Msg: fmt.Sprintf("ollama: %s must be a JSON schema object", param)}
	}
	return lastWins(raw), nil
}

// lastWins returns the valid JSON raw compacted, with each key an object
// repeats given once: at its first place, with its last value, as Ollama
// reads such an object into a struct or an ordered map. The gateway refuses
// a Chat request with a key twice in one object (providers.ParseRequest),
// and a copied schema must not make the translation one. Keys compare by
// their decoded values, as there.
func lastWins(raw []byte) []byte {
	var b bytes.Buffer
	json.Compact(&b, raw)
	c := b.Bytes()
	if !bytes.Contains(c, []byte(`":`)) {
		return c // no object keys at all
	}
	return appendLastWins(make([]byte, 0, len(c)), c)
}

// appendLastWins appends the compact JSON value v with repeated keys
// merged (see lastWins).
func appendLastWins(dst, v []byte) []byte {
	switch v[0] {
	case '[':
		dst = append(dst, '[')
		i := 1
		for n := 0; v[i] != ']'; n++ {
			if n > 0 {
				dst = append(dst, ',')
				i++ // the comma
			}
			end := skipValue(v, i)
			dst = appendLastWins(dst, v[i:end])
			i = end
		}
		return append(dst, ']')
	case '{':
		type member struct {
			key, val []byte
			name     string
		}
		var ms []member
		var at map[string]int // index in ms by name, for a big object
		for i := 1; v[i] != '}'; {
			if v[i] == ',' {
				i++
			}
			kend := skipString(v, i)
			vend := skipValue(v, kend+1)
			m := member{key: v[i:kend], val: v[kend+1 : vend]}
			if m.name = string(m.key[1 : len(m.key)-1]); bytes.IndexByte(m.key, '\\') >= 0 || !utf8.Valid(m.key) {
				json.Unmarshal(m.key, &m.name)
			}
			j := -1
			if at != nil {
				if k, ok := at[m.name]; ok {
					j = k
				}
			} else {
				for k := range ms {
					if ms[k].name == m.name {
						j = k
						break
					}
				}
			}
			switch {
			case j >= 0:
				ms[j].val = m.val
			case at == nil && len(ms) == 16:
				at = make(map[string]int, 32)
				for k := range ms {
					at[ms[k].name] = k
				}
				fallthrough
			case at != nil:
				at[m.name] = len(ms)
				fallthrough
			default:
				ms = append(ms, m)
			}
			i = vend
		}
		dst = append(dst, '{')
		for j, m := range ms {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, m.key...)
			dst = append(dst, ':')
			dst = appendLastWins(dst, m.val)
		}
		return append(dst, '}')
	}
	return append(dst, v...)
}

// converter builds the Chat messages of one request.
type converter struct {
	out []chatMessage
	// pending are the calls of the last assistant message still waiting
	// for a result; open reports whether a tool message may come next
	// (the last message is that assistant message or a tool message).
	pending []pendingCall
	open    bool
	// images of tool results, for the user message that closes the tools.
	images []chatPart
	ids    map[string]bool // tool call ids used so far
	calls  int             // tool calls so far, for call_<n>
}

type pendingCall struct {
	id, clientID, name string
}

// noResult is the tool message for a call the conversation never answered.
const noResult = "No result was returned for this tool call."

func (c *converter) message(m *message, param string) error {
	role := strings.ToLower(m.Role)
	switch role {
	case "tool":
		return c.toolResult(m, param)
	case "assistant":
		c.closeTools()
		return c.assistant(m, param)
	case "system", "developer":
		// developer is OpenAI's newer name for system, which local
		// servers' chat templates do not all know.
		c.closeTools()
		c.out = append(c.out, chatMessage{Role: "system", Content: m.Content})
		return nil
	}
	c.closeTools()
	parts, err := imageParts(m.Images, param+".images")
	if err != nil {
		return err
	}
	msg := chatMessage{Role: "user", Content: m.Content}
	if len(parts) > 0 {
		if m.Content != "" {
			parts = append([]chatPart{{Type: "text", Text: m.Content}}, parts...)
		}
		msg.Content = parts
	}
	c.out = append(c.out, msg)
	return nil
}

func (c *converter) assistant(m *message, param string) error {
	msg := chatMessage{Role: "assistant", Content: m.Content, ReasoningContent: m.Thinking}
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		if tc.Function.Name == "" {
			return &providers.RequestError{Param: fmt.Sprintf("%s.tool_calls[%d].function.name", param, j),
				Msg: fmt.Sprintf("ollama: %s.tool_calls[%d].function.name is required", param, j)}
		}
		id := tc.ID
		if id == "" || c.ids[id] {
			id = c.newID()
		}
		if c.ids == nil {
			c.ids = map[string]bool{}
		}
		c.ids[id] = true
		c.calls++
		var call chatToolCall
		call.ID, call.Type = id, "function"
		call.Function.Name, call.Function.Arguments = tc.Function.Name, argumentsString(tc.Function.Arguments)
		msg.ToolCalls = append(msg.ToolCalls, call)
		c.pending = append(c.pending, pendingCall{id: id, clientID: tc.ID, name: tc.Function.Name})
	}
	if len(msg.ToolCalls) > 0 && m.Content == "" {
		msg.Content = nil
	}
	c.out = append(c.out, msg)
	c.open = len(msg.ToolCalls) > 0
	return nil
}

// newID returns call_<n> for the next call, unique in the request.
func (c *converter) newID() string {
	for n := c.calls; ; n++ {
		id := "call_" + strconv.Itoa(n)
		if !c.ids[id] {
			return id
		}
	}
}

// toolResult sends a tool message for the call it answers (see
// ChatToChat), or user text for a result that answers none.
func (c *converter) toolResult(m *message, param string) error {
	parts, err := imageParts(m.Images, param+".images")
	if err != nil {
		return err
	}
	at := -1
	if c.open {
		for i, p := range c.pending {
			if m.ToolCallID != "" && (p.clientID == m.ToolCallID || p.id == m.ToolCallID) {
				at = i
				break
			}
		}
		for i, p := range c.pending {
			if at < 0 && m.ToolName != "" && p.name == m.ToolName {
				at = i
			}
		}
		if at < 0 && len(c.pending) > 0 {
			at = 0
		}
	}
	name := m.ToolName
	if at < 0 {
		c.closeTools()
		head := "Result of a tool call:\n"
		if name != "" {
			head = "Result of tool " + name + ":\n"
		}
		user := append([]chatPart{{Type: "text", Text: head + m.Content}}, parts...)
		c.out = append(c.out, chatMessage{Role: "user", Content: userContent(user)})
		return nil
	}
	p := c.pending[at]
	c.pending = append(c.pending[:at], c.pending[at+1:]...)
	c.out = append(c.out, chatMessage{Role: "tool", ToolCallID: p.id, Content: m.Content})
	if len(parts) > 0 {
		// A tool message carries only text: its images go in a user
		// message after the results.
		c.images = append(c.images, chatPart{Type: "text", Text: "Images returned by tool " + p.name + ":"})
		c.images = append(c.images, parts...)
	}
	return nil
}

// closeTools ends the place where tool messages may go: the calls still
// without a result get one saying so, then the images the results had.
func (c *converter) closeTools() {
	for _, p := range c.pending {
		c.out = append(c.out, chatMessage{Role: "tool", ToolCallID: p.id, Content: noResult})
	}
	if len(c.images) > 0 {
		c.out = append(c.out, chatMessage{Role: "user", Content: c.images})
	}
	c.pending, c.images, c.open = c.pending[:0], nil, false
}

// userContent is a string when every part is text, else the parts.
func userContent(parts []chatPart) any {
	if len(parts) == 1 && parts[0].Type == "text" {
		return parts[0].Text
	}
	return parts
}

// argumentsString is a call's arguments as OpenAI's JSON string: an object
// compacted, "{}" for none, and a string (the OpenAI form) as it is when
// it holds JSON. Chat servers parse the history's arguments (vLLM runs
// json.loads on them) and refuse the whole request over one call a model
// once cut or garbled, so a string that is not JSON goes as
// {"arguments": "<as sent>"}, the rule of the gateway's other translators.
func argumentsString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || raw[0] == 'n':
		return "{}"
	case raw[0] == '"':
		var s string
		json.Unmarshal(raw, &s)
		switch {
		case strings.TrimSpace(s) == "":
			return "{}"
		case !json.Valid([]byte(s)):
			b, _ := marshal(map[string]string{"arguments": s})
			return string(b)
		}
		return s
	}
	var b bytes.Buffer
	json.Compact(&b, raw)
	return b.String()
}

// imageParts turns a message's images into image_url parts.
func imageParts(imgs []string, param string) ([]chatPart, error) {
	var parts []chatPart
	for i, img := range imgs {
		if img == "" {
			continue
		}
		url, err := imageURL(img)
		if err != nil {
			return nil, &providers.RequestError{Param: fmt.Sprintf("%s[%d]", param, i),
				Msg: fmt.Sprintf("ollama: %s[%d] is not base64: %v", param, i, err)}
		}
		parts = append(parts, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: url}})
	}
	return parts, nil
}

// imageURL returns the data URL of a base64 image, checked as Ollama
// checks it (standard encoding, padded; line breaks are skipped), or the
// image itself when a client sent a URL.
func imageURL(img string) (string, error) {
	if strings.HasPrefix(img, "data:") || strings.HasPrefix(img, "https://") || strings.HasPrefix(img, "http://") {
		return img, nil
	}
	dec := base64.NewDecoder(base64.StdEncoding, strings.NewReader(img))
	var head [16]byte
	n, err := io.ReadFull(dec, head[:])
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		// A short image ends ReadFull early; the decoder itself tells
		// whether the text was cut in a group.
		_, err = io.Copy(io.Discard, dec)
	}
	if err == io.ErrUnexpectedEOF {
		return "", errors.New("it ends in the middle of a group of 4")
	}
	if err != nil {
		return "", err
	}
	return "data:" + mediaType(head[:n]) + ";base64," + img, nil
}

// mediaType sniffs an image's type from its first bytes; servers want one
// in the data URL, and Ollama's clients send bare bytes.
func mediaType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xFF\xD8\xFF")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	case bytes.HasPrefix(b, []byte("BM")):
		return "image/bmp"
	}
	return "image/png"
}

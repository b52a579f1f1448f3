package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/localrouter/localrouter/providers"
)

// streamState turns one Messages event stream into OpenAI chunks. It does no
// I/O: event takes one upstream event and returns zero or more chunks.
//
// Event order (docs, "Streaming Messages"): message_start, then per content
// block content_block_start / content_block_delta… / content_block_stop,
// then one message_delta (stop_reason, cumulative usage) and message_stop;
// ping may come anywhere, error ends the stream.
type streamState struct {
	includeUsage bool
	created      int64

	id, model string
	roleSent  bool
	blocks    []blockState // by Anthropic's content block index
	tools     int          // tool calls started; the next one's OpenAI index
	usage     usage
	stop      string
	done      bool // message_stop arrived

	// The turn's thinking blocks and tool call ids, for the signature cache.
	thinking []json.RawMessage
	toolIDs  []string
}

type blockKind uint8

const (
	kindOther blockKind = iota // server tools, citations…: not shown
	kindText
	kindTool
	kindThinking
)

type blockState struct {
	kind      blockKind
	tool      int  // OpenAI tool call index
	args      bool // a non-empty arguments fragment was sent
	thinking  []byte
	signature []byte
}

// maxBlocks bounds the content block index a stream may use.
const maxBlocks = 4096

// eventError is an upstream error event; body is its data.
type eventError struct{ body []byte }

func (e *eventError) Error() string { return "anthropic: error event: " + string(e.body) }

// emptyString is the role chunk's content; chunks are read-only downstream.
var emptyString = ""

// event translates one event. name is the SSE event name; data its JSON.
// Chunks are appended to out. An error event returns an *eventError.
func (s *streamState) event(name string, data []byte, out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	if s.done {
		return out, nil
	}
	if name != "error" {
		if idx, kind, val, ok := scanDelta(data); ok {
			return s.delta(idx, kind, val, out)
		}
	}
	var ev streamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		if name == "error" {
			return out, &eventError{body: bytes.Clone(data)}
		}
		return out, fmt.Errorf("anthropic: decode %s event: %w", name, err)
	}
	if name == "error" || ev.Type == "error" {
		return out, &eventError{body: bytes.Clone(data)}
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			s.id, s.model, s.usage = ev.Message.ID, ev.Message.Model, ev.Message.Usage
		}
	case "content_block_start":
		return s.blockStart(ev.Index, ev.ContentBlock, out)
	case "content_block_delta":
		if ev.Delta == nil {
			return out, nil
		}
		var val string
		switch ev.Delta.Type {
		case "text_delta":
			val = ev.Delta.Text
		case "input_json_delta":
			val = ev.Delta.PartialJSON
		case "thinking_delta":
			val = ev.Delta.Thinking
		case "signature_delta":
			val = ev.Delta.Signature
		}
		return s.delta(ev.Index, deltaKindOf([]byte(ev.Delta.Type)), val, out)
	case "content_block_stop":
		return s.blockStop(ev.Index, out)
	case "message_delta":
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			s.stop = *ev.Delta.StopReason
		}
		if u := ev.Usage; u != nil {
			set(&s.usage.InputTokens, u.InputTokens)
			set(&s.usage.OutputTokens, u.OutputTokens)
			set(&s.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
			set(&s.usage.CacheReadInputTokens, u.CacheReadInputTokens)
		}
	case "message_stop":
		return s.finish(out), nil
	}
	// ping, and event types added later, need nothing.
	return out, nil
}

func set(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

// chunkBox holds a chunk and everything it points to, so that a chunk
// costs one allocation.
type chunkBox struct {
	c   providers.ChatCompletionStreamResponse
	ch  [1]providers.StreamChoice
	tc  [1]providers.ToolCall
	idx int
	s   string
}

func (s *streamState) chunk() *chunkBox {
	b := &chunkBox{}
	b.c = providers.ChatCompletionStreamResponse{ID: s.id, Object: "chat.completion.chunk",
		Created: s.created, Model: s.model, Choices: b.ch[:]}
	return b
}

// role sends OpenAI's first chunk, once, before any content.
func (s *streamState) role(out []*providers.ChatCompletionStreamResponse) []*providers.ChatCompletionStreamResponse {
	if s.roleSent {
		return out
	}
	s.roleSent = true
	b := s.chunk()
	b.ch[0].Delta.Role = "assistant"
	b.ch[0].Delta.Content = &emptyString
	return append(out, &b.c)
}

// block returns the state of content block i, growing the table.
func (s *streamState) block(i int) (*blockState, error) {
	if i < 0 || i >= maxBlocks {
		return nil, fmt.Errorf("anthropic: content block index %d out of range", i)
	}
	for len(s.blocks) <= i {
		s.blocks = append(s.blocks, blockState{})
	}
	return &s.blocks[i], nil
}

func (s *streamState) blockStart(i int, raw json.RawMessage, out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	bs, err := s.block(i)
	if err != nil {
		return out, err
	}
	var cb block
	if err := json.Unmarshal(raw, &cb); err != nil {
		return out, fmt.Errorf("anthropic: decode content_block_start: %w", err)
	}
	*bs = blockState{}
	switch cb.Type {
	case "text":
		bs.kind = kindText
		out = s.role(out)
		if cb.Text != nil && *cb.Text != "" {
			out = s.content(*cb.Text, out)
		}
	case "thinking":
		bs.kind = kindThinking
		out = s.role(out)
		if cb.Thinking != nil && *cb.Thinking != "" {
			bs.thinking = append(bs.thinking, *cb.Thinking...)
			out = s.reasoning(*cb.Thinking, out)
		}
		if cb.Signature != nil {
			bs.signature = append(bs.signature, *cb.Signature...)
		}
	case "redacted_thinking":
		s.thinking = append(s.thinking, bytes.Clone(raw))
	case "tool_use":
		bs.kind, bs.tool = kindTool, s.tools
		s.tools++
		s.toolIDs = append(s.toolIDs, cb.ID)
		out = s.role(out)
		b := s.chunk()
		b.idx = bs.tool
		b.tc[0] = providers.ToolCall{Index: &b.idx, ID: cb.ID, Type: "function",
			Function: providers.FunctionCall{Name: cb.Name}}
		// The docs' streams start with "input":{} and send the arguments
		// as input_json_delta; an upstream that sends them here is kept.
		if in := bytes.TrimSpace(cb.Input); len(in) > 0 && string(in) != "{}" && string(in) != "null" {
			b.tc[0].Function.Arguments = string(in)
			bs.args = true
		}
		b.ch[0].Delta.ToolCalls = b.tc[:]
		out = append(out, &b.c)
	}
	return out, nil
}

type deltaKind uint8

const (
	deltaUnknown deltaKind = iota
	deltaText
	deltaJSON
	deltaThinking
	deltaSignature
)

func deltaKindOf(t []byte) deltaKind {
	switch string(t) {
	case "text_delta":
		return deltaText
	case "input_json_delta":
		return deltaJSON
	case "thinking_delta":
		return deltaThinking
	case "signature_delta":
		return deltaSignature
	}
	return deltaUnknown
}

func (s *streamState) delta(i int, kind deltaKind, val string, out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	bs, err := s.block(i)
	if err != nil {
		return out, err
	}
	switch kind {
	case deltaText:
		if val == "" {
			return out, nil
		}
		out = s.role(out)
		return s.content(val, out), nil
	case deltaThinking:
		if val == "" {
			return out, nil
		}
		bs.thinking = append(bs.thinking, val...)
		out = s.role(out)
		return s.reasoning(val, out), nil
	case deltaSignature:
		bs.signature = append(bs.signature, val...)
	case deltaJSON:
		if bs.kind != kindTool || val == "" {
			return out, nil
		}
		bs.args = true
		return append(out, s.args(bs.tool, val)), nil
	}
	return out, nil
}

func (s *streamState) content(text string, out []*providers.ChatCompletionStreamResponse) []*providers.ChatCompletionStreamResponse {
	b := s.chunk()
	b.s = text
	b.ch[0].Delta.Content = &b.s
	return append(out, &b.c)
}

func (s *streamState) reasoning(text string, out []*providers.ChatCompletionStreamResponse) []*providers.ChatCompletionStreamResponse {
	b := s.chunk()
	b.s = text
	b.ch[0].Delta.ReasoningContent = &b.s
	return append(out, &b.c)
}

func (s *streamState) args(tool int, frag string) *providers.ChatCompletionStreamResponse {
	b := s.chunk()
	b.idx = tool
	b.tc[0] = providers.ToolCall{Index: &b.idx, Function: providers.FunctionCall{Arguments: frag}}
	b.ch[0].Delta.ToolCalls = b.tc[:]
	return &b.c
}

func (s *streamState) blockStop(i int, out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	bs, err := s.block(i)
	if err != nil {
		return out, err
	}
	switch bs.kind {
	case kindTool:
		if !bs.args {
			// A call without arguments still needs a JSON object.
			bs.args = true
			out = append(out, s.args(bs.tool, "{}"))
		}
	case kindThinking:
		raw, _ := json.Marshal(struct {
			Type      string `json:"type"`
			Thinking  string `json:"thinking"`
			Signature string `json:"signature"`
		}{"thinking", string(bs.thinking), string(bs.signature)})
		s.thinking = append(s.thinking, raw)
		bs.thinking, bs.signature = nil, nil
	}
	return out, nil
}

// finish handles message_stop: the one chunk with finish_reason, then the
// usage chunk (choices: []) when the client asked for it.
func (s *streamState) finish(out []*providers.ChatCompletionStreamResponse) []*providers.ChatCompletionStreamResponse {
	s.done = true
	out = s.role(out)
	b := s.chunk()
	b.s = finishReason(s.stop, s.tools > 0)
	b.ch[0].FinishReason = &b.s
	out = append(out, &b.c)
	if s.includeUsage {
		u := s.chunk()
		u.c.Choices = []providers.StreamChoice{}
		u.c.Usage = openAIUsage(s.usage)
		out = append(out, &u.c)
	}
	return out
}

// scanDelta reads the hot event, content_block_delta, without
// encoding/json: {"type":"content_block_delta","index":N,"delta":{"type":…,
// "<field>":"…"}} with keys in any order. ok is false for any other event
// or anything unusual, which then takes the encoding/json path.
func scanDelta(d []byte) (index int, kind deltaKind, val string, ok bool) {
	sc := jscan{b: d}
	var isDelta, hasIndex, hasDelta bool
	ok = sc.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			v, esc, ok := sc.str()
			isDelta = ok && !esc && string(v) == `"content_block_delta"`
			return isDelta
		case "index":
			n, ok := sc.int()
			index, hasIndex = n, ok
			return ok
		case "delta":
			hasDelta = true
			var t []byte
			var v []byte
			var vEsc bool
			ok := sc.object(func(k []byte) bool {
				switch string(k) {
				case "type":
					s, esc, ok := sc.str()
					if ok {
						t = s[1 : len(s)-1]
					}
					return ok && !esc
				case "text", "partial_json", "thinking", "signature":
					s, esc, ok := sc.str()
					v, vEsc = s, esc
					return ok
				}
				return false
			})
			if !ok {
				return false
			}
			kind = deltaKindOf(t)
			if kind == deltaUnknown {
				return false
			}
			if vEsc || !plain(v) {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					return false
				}
				val = s
			} else if len(v) >= 2 {
				val = string(v[1 : len(v)-1])
			}
			return true
		}
		return false
	})
	sc.ws()
	if !ok || !isDelta || !hasIndex || !hasDelta || sc.i != len(d) {
		return 0, 0, "", false
	}
	return index, kind, val, true
}

// plain reports whether a quoted JSON string without escapes is its own
// value: valid UTF-8 without control characters.
func plain(q []byte) bool {
	if len(q) < 2 {
		return false
	}
	for _, c := range q[1 : len(q)-1] {
		if c < 0x20 || c >= utf8.RuneSelf {
			return utf8.Valid(q) && !bytes.ContainsFunc(q[1:len(q)-1], func(r rune) bool { return r < 0x20 })
		}
	}
	return true
}

// jscan is the minimal JSON scanner scanDelta needs. It refuses (returns
// false) rather than guesses.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// object scans an object, calling field for each key with the scanner
// positioned at the value; field consumes the value.
func (s *jscan) object(field func(key []byte) bool) bool {
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
	for {
		s.ws()
		k, esc, ok := s.str()
		if !ok || esc {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(k[1 : len(k)-1]) {
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

// str scans a string and returns it with its quotes; esc reports a backslash.
func (s *jscan) str() (q []byte, esc, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	start := s.i
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			s.i = j + 1
			return s.b[start:s.i], esc, true
		}
	}
	return nil, false, false
}

// int scans a small non-negative integer.
func (s *jscan) int() (int, bool) {
	n, digits := 0, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if digits++; digits > 6 {
			return 0, false
		}
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if digits == 0 || (digits > 1 && s.b[s.i-digits] == '0') {
		return 0, false
	}
	return n, true
}

// errEndedEarly is returned for a stream cut before message_stop.
var errEndedEarly = errors.New("stream ended before message_stop")

package anthropic

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// ChatToMessagesStream turns one Chat Completions stream into a Messages
// event stream (text/event-stream, "event: X\ndata: {…}\n\n" per event),
// for a Messages client served by an OpenAI-compatible upstream. It does no
// I/O: each method appends the events it produces to dst and returns it.
// Not safe for concurrent use; one per stream.
//
// The events follow the order the Messages API documents and Claude Code
// relies on (pitfalls §1.6, §2.1): message_start, then one block at a time
// (content_block_start, deltas, content_block_stop, indexes 0, 1, …), then
// exactly one message_delta and message_stop. Reasoning (reasoning_content,
// or Ollama's and OpenRouter's reasoning) is a thinking block; it carries
// "signature":"" and no signature_delta, since a model that is not Claude
// has no signature to give; Claude Code accepts such blocks, and the
// session layer strips them before a request ever reaches Anthropic
// (DESIGN §10). Tool calls are tool_use blocks, one per OpenAI index, each
// opened once its name is known; a tool that got no argument fragment gets
// "{}" so that every client's accumulator parses it.
type ChatToMessagesStream struct {
	model       string
	id          string
	inputTokens int // the caller's estimate, until the upstream reports usage

	started, ended bool

	next    int       // index of the next content block
	open    openBlock // kind of the block now open
	openIdx int       // its index
	tool    *toolCall // the tool call whose block is open
	tools   []*toolCall
	retired int // tool calls whose OpenAI index was reused by another

	toolSent bool   // a tool_use block was sent
	finish   string // the last finish_reason
	stopSeq  string // the stop sequence vLLM reports it matched
	usage    *providers.Usage
	outBytes int // text, thinking and arguments sent, for an estimate without usage

	noFastPath bool // tests compare the fast path with encoding/json
}

type openBlock uint8

const (
	openNone openBlock = iota
	openText
	openThinking
	openTool
)

// toolCall is one OpenAI tool call of the stream.
type toolCall struct {
	key      int // the OpenAI index; negative once retired
	id, name string
	held     []byte // argument fragments that came before the name
	block    int    // its content block, -1 until opened
	done     bool   // its block was closed
	sent     bool   // a non-empty fragment was sent
}

// NewChatToMessagesStream returns the state machine for one stream. model
// is the name the answer reports (the one the client asked for);
// inputTokens is the request's estimated size, reported in message_start
// (Claude Code reads it there) and at the end when the upstream reports no
// usage.
func NewChatToMessagesStream(model string, inputTokens int) *ChatToMessagesStream {
	return &ChatToMessagesStream{model: model, id: newMessageID(), inputTokens: inputTokens}
}

// newMessageID returns a unique id in the form of the API's message ids.
func newMessageID() string { return "msg_" + rand.Text() }

// Start appends message_start and a ping. Chunk and End call it when the
// caller has not.
func (s *ChatToMessagesStream) Start(dst []byte) []byte {
	if s.started || s.ended {
		return dst
	}
	s.started = true
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = providers.AppendJSONString(dst, s.id)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = providers.AppendJSONString(dst, s.model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	dst = appendUsage(dst, outUsage{InputTokens: max(s.inputTokens, 0)})
	dst = append(dst, "}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n"...)
	return dst
}

// Chunk appends the events for one upstream chunk: Raw when set (the
// OpenAI-compatible client's), else the typed fields. Only choice 0 counts.
// An error means the chunk could not be read or breaks the Chat protocol;
// the caller should then end the stream with Fail.
func (s *ChatToMessagesStream) Chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	if s.ended || c == nil {
		return dst, nil
	}
	dst = s.Start(dst)
	if c.Raw != nil {
		if !s.noFastPath {
			if out, ok := s.fastChunk(dst, c.Raw); ok {
				return out, nil
			}
		}
		var ch chatChunk
		if err := json.Unmarshal(c.Raw, &ch); err != nil {
			return dst, fmt.Errorf("anthropic: decode upstream chunk: %w", err)
		}
		if ch.Usage != nil {
			s.setUsage(ch.Usage)
		}
		for i := range ch.Choices {
			ci := &ch.Choices[i]
			if ci.Index != 0 {
				continue
			}
			d := &ci.Delta
			dst = s.reasoningDelta(dst, reasoningOf(d.ReasoningContent, d.Reasoning), nil)
			dst = s.textDelta(dst, deref(d.Content), nil)
			dst = s.textDelta(dst, deref(d.Refusal), nil)
			for j := range d.ToolCalls {
				tc := &d.ToolCalls[j]
				var err error
				if dst, err = s.toolDelta(dst, tc.Index, tc.ID, tc.Function.Name, argumentsText(tc.Function.Arguments)); err != nil {
					return dst, err
				}
			}
			s.setFinish(ci.FinishReason)
			if q := bytes.TrimSpace(ci.StopReason); len(q) > 0 && q[0] == '"' {
				json.Unmarshal(q, &s.stopSeq)
			}
		}
		return dst, nil
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for i := range c.Choices {
		ci := &c.Choices[i]
		if ci.Index != 0 {
			continue
		}
		d := &ci.Delta
		dst = s.reasoningDelta(dst, deref(d.ReasoningContent), nil)
		dst = s.textDelta(dst, deref(d.Content), nil)
		dst = s.textDelta(dst, deref(d.Refusal), nil)
		for j := range d.ToolCalls {
			tc := &d.ToolCalls[j]
			var err error
			if dst, err = s.toolDelta(dst, tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments); err != nil {
				return dst, err
			}
		}
		s.setFinish(ci.FinishReason)
	}
	return dst, nil
}

// End appends the close of the open block, the one message_delta and
// message_stop, for a stream that ended normally (the upstream's [DONE]).
func (s *ChatToMessagesStream) End(dst []byte) []byte {
	if s.ended {
		return dst
	}
	dst = s.Start(dst)
	for _, t := range s.tools {
		if t.block < 0 {
			// The name never came; a nameless call still shows what the
			// model did, and the client reports the unknown tool.
			dst = s.openTool(dst, t)
		}
	}
	dst = s.closeOpen(dst)
	s.ended = true

	stop, seq := stopReason(s.finish, s.toolSent, s.stopSeq)
	u := outUsage{InputTokens: max(s.inputTokens, 0), OutputTokens: (s.outBytes + 3) / 4}
	if s.usage != nil {
		u = usageToMessages(s.usage.PromptTokens, s.usage.CompletionTokens, cachedOf(s.usage))
	}
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"...)
	dst = providers.AppendJSONString(dst, stop)
	dst = append(dst, `,"stop_sequence":`...)
	if seq == "" {
		dst = append(dst, "null"...)
	} else {
		dst = providers.AppendJSONString(dst, seq)
	}
	dst = append(dst, `},"usage":`...)
	dst = appendUsage(dst, u)
	return append(dst, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

// Fail appends an error event, which ends the stream: a stream that failed
// must not look finished, so no message_stop follows (pitfalls §2.4).
// errType is an Anthropic error type (see ErrorType); message must not hold
// a provider key.
func (s *ChatToMessagesStream) Fail(dst []byte, errType, message string) []byte {
	if s.ended {
		return dst
	}
	s.ended = true
	dst = append(dst, "event: error\ndata: "...)
	dst = appendErrorBody(dst, errType, message)
	return append(dst, "\n\n"...)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// reasoningOf prefers reasoning_content: vLLM sends both with the same text.
func reasoningOf(content, reasoning *string) string {
	if content != nil && *content != "" {
		return *content
	}
	return deref(reasoning)
}

// argumentsText is a tool call's arguments: a JSON string's value, or the
// raw JSON of a server that sends the object itself.
func argumentsText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		return s
	}
	return string(raw)
}

func (s *ChatToMessagesStream) setFinish(f *string) {
	if f != nil && *f != "" {
		s.finish = *f
	}
}

func (s *ChatToMessagesStream) setUsage(u *chatUsage) {
	cached := u.PromptCacheHitTokens
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	s.usage = &providers.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens,
		PromptTokensDetails: &providers.PromptTokensDetails{CachedTokens: cached}}
}

func cachedOf(u *providers.Usage) int {
	if u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// textDelta sends text: the string's value, or q, a validated quoted JSON
// string copied as is (the fast path).
func (s *ChatToMessagesStream) textDelta(dst []byte, text string, q []byte) []byte {
	if text == "" && len(q) <= 2 {
		return dst
	}
	if s.open != openText {
		dst = s.openBlock(dst, openText, `{"type":"text","text":""}`)
	}
	return s.delta(dst, `,"delta":{"type":"text_delta","text":`, text, q)
}

func (s *ChatToMessagesStream) reasoningDelta(dst []byte, text string, q []byte) []byte {
	if text == "" && len(q) <= 2 {
		return dst
	}
	if s.open != openThinking {
		dst = s.openBlock(dst, openThinking, `{"type":"thinking","thinking":"","signature":""}`)
	}
	return s.delta(dst, `,"delta":{"type":"thinking_delta","thinking":`, text, q)
}

func (s *ChatToMessagesStream) delta(dst []byte, head, text string, q []byte) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.openIdx), 10)
	dst = append(dst, head...)
	if q != nil {
		dst = append(dst, q...)
		s.outBytes += providers.DecodedLen(q)
	} else {
		dst = providers.AppendJSONString(dst, text)
		s.outBytes += len(text)
	}
	return append(dst, "}}\n\n"...)
}

// openBlock closes the open block and starts one of kind with the given
// content_block JSON.
func (s *ChatToMessagesStream) openBlock(dst []byte, kind openBlock, block string) []byte {
	dst = s.closeOpen(dst)
	s.open, s.openIdx = kind, s.next
	s.next++
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.openIdx), 10)
	dst = append(dst, `,"content_block":`...)
	dst = append(dst, block...)
	return append(dst, "}\n\n"...)
}

func (s *ChatToMessagesStream) closeOpen(dst []byte) []byte {
	if s.open == openNone {
		return dst
	}
	if t := s.tool; s.open == openTool && t != nil {
		if !t.sent {
			dst = s.delta(dst, `,"delta":{"type":"input_json_delta","partial_json":`, "{}", nil)
		}
		t.done, s.tool = true, nil
	}
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = strconv.AppendInt(dst, int64(s.openIdx), 10)
	s.open = openNone
	return append(dst, "}\n\n"...)
}

// toolDelta handles one entry of a delta's tool_calls.
func (s *ChatToMessagesStream) toolDelta(dst []byte, index *int, id, name, args string) ([]byte, error) {
	t := s.findTool(index, id)
	if t == nil {
		if id == "" && name == "" && args == "" {
			return dst, nil // nothing to open a block for
		}
		key := len(s.tools) + s.retired
		if index != nil {
			key = *index
		}
		t = &toolCall{key: key, id: id, name: name, block: -1}
		s.tools = append(s.tools, t)
	} else {
		if t.id == "" {
			t.id = id
		}
		if t.name == "" {
			t.name = name
		}
	}
	if t.done {
		if args == "" {
			return dst, nil // a repeated id or name
		}
		return dst, fmt.Errorf("anthropic: upstream tool call %d continued after another had started", t.key)
	}
	if t.block < 0 {
		t.held = append(t.held, args...)
		if t.name == "" {
			return dst, nil
		}
		return s.openTool(dst, t), nil
	}
	if args != "" {
		t.sent = true
		dst = s.delta(dst, `,"delta":{"type":"input_json_delta","partial_json":`, args, nil)
	}
	return dst, nil
}

// findTool returns the tool call a delta continues, or nil for a new one.
// Without an index the delta continues the call with its id, or the last
// call. An index whose call had another id now starts a new call: some
// servers number every call 0.
func (s *ChatToMessagesStream) findTool(index *int, id string) *toolCall {
	if index == nil {
		for _, t := range s.tools {
			if id != "" && t.id == id {
				return t
			}
		}
		if id == "" && len(s.tools) > 0 {
			return s.tools[len(s.tools)-1]
		}
		return nil
	}
	for _, t := range s.tools {
		if t.key == *index {
			if id != "" && t.id != "" && t.id != id {
				s.retired++
				t.key = -s.retired
				return nil
			}
			return t
		}
	}
	return nil
}

func (s *ChatToMessagesStream) openTool(dst []byte, t *toolCall) []byte {
	if t.id == "" || s.idTaken(t) {
		// A client answers each tool_use by its id, and the Messages API
		// refuses a history with one twice: a server that numbers every
		// call alike gets ids of ours.
		t.id = toolUseID(s.id, s.next)
	}
	var b []byte
	b = append(b, `{"type":"tool_use","id":`...)
	b = providers.AppendJSONString(b, t.id)
	b = append(b, `,"name":`...)
	b = providers.AppendJSONString(b, t.name)
	b = append(b, `,"input":{}}`...)
	dst = s.openBlock(dst, openTool, string(b))
	s.tool, t.block, s.toolSent = t, s.openIdx, true
	if len(t.held) > 0 {
		t.sent = true
		dst = s.delta(dst, `,"delta":{"type":"input_json_delta","partial_json":`, string(t.held), nil)
		t.held = nil
	}
	return dst
}

// toolUseID is the id of ours for the nth block of message msgID, for a
// call the upstream gave none or one already taken.
func toolUseID(msgID string, n int) string {
	return "toolu_" + strings.TrimPrefix(msgID, "msg_") + "_" + strconv.Itoa(n)
}

// idTaken reports whether another call of this answer already went out
// with t's id.
func (s *ChatToMessagesStream) idTaken(t *toolCall) bool {
	for _, o := range s.tools {
		if o != t && o.block >= 0 && o.id == t.id {
			return true
		}
	}
	return false
}

// stopReason maps finish_reason to stop_reason. tool_use is sent only when
// a tool_use block was, since clients read it as a promise that one came
// (pitfalls §1.4); and when one was, a plain stop is tool_use too, as some
// servers (older Ollama) end tool calls with "stop". A string vLLM reports
// as the matched stop is the stop_sequence.
func stopReason(finish string, toolSent bool, stopSeq string) (reason, sequence string) {
	switch finish {
	case "length":
		return "max_tokens", ""
	case "content_filter":
		return "refusal", ""
	}
	if toolSent {
		return "tool_use", ""
	}
	if finish == "stop" && stopSeq != "" {
		return "stop_sequence", stopSeq
	}
	return "end_turn", ""
}

// usageToMessages: OpenAI's prompt_tokens includes the cached tokens,
// Anthropic's input_tokens does not (pitfalls §1.5).
func usageToMessages(prompt, completion, cached int) outUsage {
	cached = min(max(cached, 0), max(prompt, 0))
	return outUsage{InputTokens: max(prompt, 0) - cached, CacheReadInputTokens: cached, OutputTokens: max(completion, 0)}
}

func appendUsage(dst []byte, u outUsage) []byte {
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.InputTokens), 10)
	dst = append(dst, `,"cache_creation_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CacheCreationInputTokens), 10)
	dst = append(dst, `,"cache_read_input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.CacheReadInputTokens), 10)
	dst = append(dst, `,"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(u.OutputTokens), 10)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// fastChunk handles the common chunk, a delta with only content and/or
// reasoning text (see providers.ScanTextChunk), without encoding/json: the
// text's quoted bytes are copied into dst as they are. ok is false, and
// nothing is appended, for anything else, which then takes encoding/json.
func (s *ChatToMessagesStream) fastChunk(dst, raw []byte) ([]byte, bool) {
	c, ok := providers.ScanTextChunk(raw)
	if !ok {
		return dst, false
	}
	if c.Tool {
		// Only a further fragment of the open call, alone in its chunk;
		// anything else needs toolDelta's bookkeeping.
		t := s.tool
		if !c.HasIndex || len(c.Content) > 2 || len(c.Reasoning) > 2 || len(c.Args) == 0 || t == nil || t.key != c.ToolIndex {
			return dst, false
		}
		if len(c.Args) > 2 {
			t.sent = true
			dst = s.delta(dst, `,"delta":{"type":"input_json_delta","partial_json":`, "", c.Args)
		}
		return dst, true
	}
	dst = s.reasoningDelta(dst, "", c.Reasoning)
	return s.textDelta(dst, "", c.Content), true
}

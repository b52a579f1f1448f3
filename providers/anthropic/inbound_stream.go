package anthropic

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

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
		s.outBytes += decodedLen(q)
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
	if t.id == "" {
		t.id = "toolu_" + strings.TrimPrefix(s.id, "msg_") + "_" + strconv.Itoa(s.next)
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
// reasoning text, such as
//
//	{"id":…,"object":"chat.completion.chunk","created":…,"model":…,
//	 "choices":[{"index":0,"delta":{"content":"…"},"finish_reason":null}]}
//
// without encoding/json: the text's quoted bytes are checked and copied
// into dst as they are. ok is false, and nothing is appended, for anything
// else, which then takes encoding/json.
func (s *ChatToMessagesStream) fastChunk(dst, raw []byte) ([]byte, bool) {
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
		return dst, false
	}
	if len(reasoning) <= 2 {
		reasoning = reasoningAlt
	}
	if hasTool {
		// Only a further fragment of the open call, alone in its chunk;
		// anything else needs toolDelta's bookkeeping.
		t := s.tool
		if !hasIndex || len(content) > 2 || len(reasoning) > 2 || len(args) == 0 || t == nil || t.key != toolIndex {
			return dst, false
		}
		if len(args) > 2 {
			t.sent = true
			dst = s.delta(dst, `,"delta":{"type":"input_json_delta","partial_json":`, "", args)
		}
		return dst, true
	}
	dst = s.reasoningDelta(dst, "", reasoning)
	return s.textDelta(dst, "", content), true
}

// chunkScan is the minimal JSON scanner fastChunk needs. Every method
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

// decodedLen returns the length in bytes of a validated quoted JSON
// string's value, as encoding/json decodes it, so that the output estimate
// does not depend on the path a chunk took.
func decodedLen(q []byte) int {
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

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

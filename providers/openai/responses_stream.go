package openai

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// ChatToResponsesStream turns one Chat Completions stream into a Responses
// event stream (text/event-stream, "event: X\ndata: {…}\n\n" per event,
// each with "type" and an increasing "sequence_number"), for a Responses
// client served by a Chat upstream. It does no I/O: each method appends the
// events it produces to dst and returns it. Not safe for concurrent use;
// one per stream.
//
// The events follow the order the API documents: response.created,
// response.in_progress, then per output item output_item.added, its parts
// and deltas, and output_item.done carrying the complete item (Codex builds
// its history from those alone and ignores the deltas of tool calls), then
// exactly one response.completed with the usage, or response.failed.
// Reasoning (reasoning_content, or Ollama's and OpenRouter's reasoning) is
// a reasoning item with one summary part; text is a message item with one
// output_text part; each Chat tool call is a function_call item, or a
// custom_tool_call item when its name is one of the custom tools, whose
// input is the "input" string of the arguments. A text or reasoning item
// is closed when another item opens; tool call items are closed at the end,
// in their order.
type ChatToResponsesStream struct {
	model       string
	id          string
	created     int64
	customTools map[string]bool

	started, ended bool
	seq            int

	items []*streamItem // in output order
	open  *streamItem   // the text or reasoning item now open
	tools []*streamItem // tool calls by arrival, for their OpenAI index

	finish string
	usage  *providers.Usage

	noFastPath bool // for tests and benchmarks: encoding/json for every chunk
}

type itemKind uint8

const (
	itemMessage itemKind = iota
	itemReasoning
	itemFunction
	itemCustom
)

// streamItem is one output item of the stream.
type streamItem struct {
	kind     itemKind
	index    int // output_index, -1 until added
	id       string
	key      int // the OpenAI tool call index
	callID   string
	name     string
	text     []byte // text, summary or arguments so far
	done     bool
	complete []byte // the item as output_item.done carried it
}

// NewChatToResponsesStream returns the state machine for one stream. model
// is the name the answer reports (the one the client asked for);
// customTools names the request's custom tools, whose calls come back as
// custom_tool_call items.
func NewChatToResponsesStream(model string, customTools map[string]bool) *ChatToResponsesStream {
	return &ChatToResponsesStream{model: model, id: "resp_" + rand.Text(), created: time.Now().Unix(), customTools: customTools}
}

// ID is the response id the stream reports.
func (s *ChatToResponsesStream) ID() string { return s.id }

// event appends the head of an event up to and including the opening brace
// and "type"; tail closes it with the sequence number.
func (s *ChatToResponsesStream) event(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	return append(dst, '"')
}

func (s *ChatToResponsesStream) tail(dst []byte) []byte {
	dst = append(dst, `,"sequence_number":`...)
	dst = strconv.AppendInt(dst, int64(s.seq), 10)
	s.seq++
	return append(dst, "}\n\n"...)
}

// appendResponse appends the response object with the given status; output
// and usage only when final.
func (s *ChatToResponsesStream) appendResponse(dst []byte, status string, final bool, errCode, errMsg string) []byte {
	dst = append(dst, `,"response":`...)
	return appendResponseObject(dst, s.id, s.created, s.model, status, s.outputOrEmpty(final), usageIf(final && status != "failed", s.usage, s.estimate()), errCode, errMsg)
}

func (s *ChatToResponsesStream) outputOrEmpty(final bool) []byte {
	if !final {
		return []byte("[]")
	}
	return s.Output()
}

func (s *ChatToResponsesStream) estimate() int {
	n := 0
	for _, it := range s.items {
		n += len(it.text)
	}
	return (n + 3) / 4
}

func usageIf(ok bool, u *providers.Usage, estimate int) *providers.Usage {
	if !ok {
		return nil
	}
	if u == nil {
		return &providers.Usage{CompletionTokens: estimate, TotalTokens: estimate}
	}
	return u
}

// Start appends response.created and response.in_progress. Chunk and End
// call it when the caller has not.
func (s *ChatToResponsesStream) Start(dst []byte) []byte {
	if s.started || s.ended {
		return dst
	}
	s.started = true
	dst = s.event(dst, "response.created")
	dst = s.tail(s.appendResponse(dst, "in_progress", false, "", ""))
	dst = s.event(dst, "response.in_progress")
	return s.tail(s.appendResponse(dst, "in_progress", false, "", ""))
}

// Chunk appends the events for one upstream chunk: Raw when set (the
// OpenAI-compatible client's), else the typed fields. Only choice 0 counts.
// An error means the chunk could not be read; the caller should then end
// the stream with Fail.
func (s *ChatToResponsesStream) Chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	if s.ended || c == nil {
		return dst, nil
	}
	dst = s.Start(dst)
	if c.Raw != nil && !s.noFastPath {
		if out, ok := s.fastChunk(dst, c.Raw); ok {
			return out, nil
		}
	}
	if c.Raw != nil {
		var ch respChunk
		if err := json.Unmarshal(c.Raw, &ch); err != nil {
			return dst, fmt.Errorf("openai: decode upstream chunk: %w", err)
		}
		if ch.Usage != nil {
			s.usage = ch.Usage
		}
		for i := range ch.Choices {
			ci := &ch.Choices[i]
			if ci.Index != 0 {
				continue
			}
			d := &ci.Delta
			r := deref(d.ReasoningContent)
			if r == "" {
				r = deref(d.Reasoning)
			}
			dst = s.reasoningDelta(dst, r, nil)
			dst = s.textDelta(dst, deref(d.Content), nil)
			dst = s.textDelta(dst, deref(d.Refusal), nil)
			for j := range d.ToolCalls {
				tc := &d.ToolCalls[j]
				dst = s.toolDelta(dst, tc.Index, tc.ID, tc.Function.Name, argumentsString(tc.Function.Arguments))
			}
			if ci.FinishReason != nil && *ci.FinishReason != "" {
				s.finish = *ci.FinishReason
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
			dst = s.toolDelta(dst, tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
		if ci.FinishReason != nil && *ci.FinishReason != "" {
			s.finish = *ci.FinishReason
		}
	}
	return dst, nil
}

// fastChunk handles the common chunk (see providers.ScanTextChunk) without
// encoding/json. ok is false, and nothing is appended, for anything else.
func (s *ChatToResponsesStream) fastChunk(dst, raw []byte) ([]byte, bool) {
	c, ok := providers.ScanTextChunk(raw)
	if !ok {
		return dst, false
	}
	if c.Tool {
		// Only a further fragment of a call already added, alone in its
		// chunk; anything else needs toolDelta's bookkeeping.
		if !c.HasIndex || len(c.Content) > 2 || len(c.Reasoning) > 2 || len(c.Args) == 0 {
			return dst, false
		}
		var t *streamItem
		for _, x := range s.tools {
			if x.key == c.ToolIndex && !x.done {
				t = x
			}
		}
		if t == nil || t.index < 0 {
			return dst, false
		}
		if len(c.Args) > 2 {
			t.text = providers.AppendUnquoted(t.text, c.Args)
			if t.kind == itemFunction {
				dst = s.event(dst, "response.function_call_arguments.delta")
				dst = s.itemRef(dst, t)
				dst = append(dst, `,"delta":`...)
				dst = s.tail(append(dst, c.Args...))
			}
		}
		return dst, true
	}
	dst = s.reasoningDelta(dst, "", c.Reasoning)
	return s.textDelta(dst, "", c.Content), true
}

// respChunk is the part of a Chat chunk the stream reads.
type respChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			Reasoning        *string `json:"reasoning"`
			Refusal          *string `json:"refusal"`
			ToolCalls        []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *providers.Usage `json:"usage"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// textDelta adds text, given as a string or, from the fast path, as the
// quoted JSON q that is copied as it is.
func (s *ChatToResponsesStream) textDelta(dst []byte, text string, q []byte) []byte {
	if text == "" && len(q) <= 2 {
		return dst
	}
	if s.open == nil || s.open.kind != itemMessage {
		dst = s.closeOpen(dst)
		it := &streamItem{kind: itemMessage, id: "msg_" + rand.Text()}
		dst = s.add(dst, it)
		s.open = it
		dst = s.event(dst, "response.content_part.added")
		dst = s.itemRef(dst, it)
		dst = s.tail(append(dst, `,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`...))
	}
	it := s.open
	dst = s.event(dst, "response.output_text.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"content_index":0,"delta":`...)
	dst, it.text = appendText(dst, it.text, text, q)
	return s.tail(append(dst, `,"logprobs":[]`...))
}

func (s *ChatToResponsesStream) reasoningDelta(dst []byte, text string, q []byte) []byte {
	if text == "" && len(q) <= 2 {
		return dst
	}
	if s.open == nil || s.open.kind != itemReasoning {
		dst = s.closeOpen(dst)
		it := &streamItem{kind: itemReasoning, id: "rs_" + rand.Text()}
		dst = s.add(dst, it)
		s.open = it
		dst = s.event(dst, "response.reasoning_summary_part.added")
		dst = s.itemRef(dst, it)
		dst = s.tail(append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...))
	}
	it := s.open
	dst = s.event(dst, "response.reasoning_summary_text.delta")
	dst = s.itemRef(dst, it)
	dst = append(dst, `,"summary_index":0,"delta":`...)
	dst, it.text = appendText(dst, it.text, text, q)
	return s.tail(dst)
}

// appendText appends text, or the quoted q, to dst as a JSON string and its
// value to acc.
func appendText(dst, acc []byte, text string, q []byte) ([]byte, []byte) {
	if q != nil {
		return append(dst, q...), providers.AppendUnquoted(acc, q)
	}
	return providers.AppendJSONString(dst, text), append(acc, text...)
}

// itemRef appends item_id and output_index.
func (s *ChatToResponsesStream) itemRef(dst []byte, it *streamItem) []byte {
	dst = append(dst, `,"item_id":`...)
	dst = providers.AppendJSONString(dst, it.id)
	dst = append(dst, `,"output_index":`...)
	return strconv.AppendInt(dst, int64(it.index), 10)
}

// add gives it the next output index and appends output_item.added.
func (s *ChatToResponsesStream) add(dst []byte, it *streamItem) []byte {
	it.index = len(s.items)
	s.items = append(s.items, it)
	dst = s.event(dst, "response.output_item.added")
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.index), 10)
	dst = append(dst, `,"item":`...)
	dst = appendItem(dst, it, "in_progress")
	return s.tail(dst)
}

// closeOpen closes the open text or reasoning item.
func (s *ChatToResponsesStream) closeOpen(dst []byte) []byte {
	it := s.open
	if it == nil {
		return dst
	}
	s.open = nil
	it.done = true
	text := string(it.text)
	switch it.kind {
	case itemMessage:
		dst = s.event(dst, "response.output_text.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"content_index":0,"text":`...)
		dst = providers.AppendJSONString(dst, text)
		dst = s.tail(append(dst, `,"logprobs":[]`...))
		dst = s.event(dst, "response.content_part.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"content_index":0,"part":{"type":"output_text","text":`...)
		dst = providers.AppendJSONString(dst, text)
		dst = s.tail(append(dst, `,"annotations":[]}`...))
	case itemReasoning:
		dst = s.event(dst, "response.reasoning_summary_text.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"summary_index":0,"text":`...)
		dst = s.tail(providers.AppendJSONString(dst, text))
		dst = s.event(dst, "response.reasoning_summary_part.done")
		dst = s.itemRef(dst, it)
		dst = append(dst, `,"summary_index":0,"part":{"type":"summary_text","text":`...)
		dst = s.tail(append(providers.AppendJSONString(dst, text), '}'))
	}
	return s.itemDone(dst, it)
}

func (s *ChatToResponsesStream) itemDone(dst []byte, it *streamItem) []byte {
	it.complete = appendItem(nil, it, "completed")
	dst = s.event(dst, "response.output_item.done")
	dst = append(dst, `,"output_index":`...)
	dst = strconv.AppendInt(dst, int64(it.index), 10)
	dst = append(dst, `,"item":`...)
	dst = append(dst, it.complete...)
	return s.tail(dst)
}

// toolDelta adds one tool call fragment. A call is added as an item once
// its name is known; fragments before it are held. Function arguments
// stream as deltas; a custom tool's input, which is inside a JSON string,
// is sent whole at the end.
func (s *ChatToResponsesStream) toolDelta(dst []byte, index *int, id, name, args string) []byte {
	key := len(s.tools)
	if index != nil {
		key = *index
	} else if id == "" && len(s.tools) > 0 {
		key = s.tools[len(s.tools)-1].key // a fragment of the last call
	}
	var t *streamItem
	for _, x := range s.tools {
		if x.key == key && !x.done && (id == "" || x.callID == "" || x.callID == id) {
			t = x
		}
	}
	if t == nil {
		t = &streamItem{kind: itemFunction, index: -1, key: key, id: "fc_" + rand.Text()}
		s.tools = append(s.tools, t)
	}
	if id != "" && t.callID == "" {
		t.callID = id
	}
	if t.name == "" && name != "" {
		t.name = name
	}
	t.text = append(t.text, args...)
	if t.index < 0 && t.name != "" {
		dst = s.openTool(dst, t)
		if t.kind == itemFunction && len(t.text) > 0 {
			dst = s.argsDelta(dst, t, string(t.text))
		}
	} else if t.index >= 0 && t.kind == itemFunction && args != "" {
		dst = s.argsDelta(dst, t, args)
	}
	return dst
}

func (s *ChatToResponsesStream) openTool(dst []byte, t *streamItem) []byte {
	dst = s.closeOpen(dst)
	if s.customTools[t.name] {
		t.kind = itemCustom
		t.id = "ctc_" + t.id[3:]
	}
	if t.callID == "" || s.callTaken(t) {
		// The client answers each call by its call_id, and the API
		// refuses a history with one twice: a server that numbers every
		// call alike gets ids of ours.
		t.callID = "call_" + rand.Text()
	}
	return s.add(dst, t)
}

// callTaken reports whether another call of this answer already went out
// with t's call_id.
func (s *ChatToResponsesStream) callTaken(t *streamItem) bool {
	for _, o := range s.tools {
		if o != t && o.index >= 0 && o.callID == t.callID {
			return true
		}
	}
	return false
}

func (s *ChatToResponsesStream) argsDelta(dst []byte, t *streamItem, args string) []byte {
	dst = s.event(dst, "response.function_call_arguments.delta")
	dst = s.itemRef(dst, t)
	dst = append(dst, `,"delta":`...)
	return s.tail(providers.AppendJSONString(dst, args))
}

// End closes every item and appends response.completed, for a stream that
// ended normally (the upstream's [DONE]).
func (s *ChatToResponsesStream) End(dst []byte) []byte {
	if s.ended {
		return dst
	}
	dst = s.Start(dst)
	dst = s.closeOpen(dst)
	// A call whose name never came (an empty tool_calls entry, or
	// fragments of a broken upstream) names nothing the client could run:
	// it is left out rather than sent as a call to "".
	kept := s.tools[:0]
	for _, t := range s.tools {
		if t.index >= 0 {
			kept = append(kept, t)
		}
	}
	s.tools = kept
	for _, t := range s.tools {
		if t.done {
			continue
		}
		t.done = true
		if t.kind == itemCustom {
			input := customInput(string(t.text))
			t.text = []byte(input)
			dst = s.event(dst, "response.custom_tool_call_input.delta")
			dst = s.itemRef(dst, t)
			dst = append(dst, `,"delta":`...)
			dst = s.tail(providers.AppendJSONString(dst, input))
			dst = s.event(dst, "response.custom_tool_call_input.done")
			dst = s.itemRef(dst, t)
			dst = append(dst, `,"input":`...)
			dst = s.tail(providers.AppendJSONString(dst, input))
		} else {
			switch {
			case len(bytes.TrimSpace(t.text)) == 0:
				t.text = []byte("{}")
			case !json.Valid(t.text):
				// Cut or broken arguments (an answer stopped at its token
				// limit): the complete item, which is what Codex runs,
				// carries them as {"arguments": "<as sent>"}, the rule of
				// the Anthropic translator too: the client's tool refuses a
				// parameter it does not know, and the model sees what it sent.
				t.text = providers.AppendJSONString([]byte(`{"arguments":`), string(t.text))
				t.text = append(t.text, '}')
			}
			dst = s.event(dst, "response.function_call_arguments.done")
			dst = s.itemRef(dst, t)
			dst = append(dst, `,"name":`...)
			dst = providers.AppendJSONString(dst, t.name)
			dst = append(dst, `,"arguments":`...)
			dst = s.tail(providers.AppendJSONString(dst, string(t.text)))
		}
		dst = s.itemDone(dst, t)
	}
	s.ended = true
	dst = s.event(dst, "response.completed")
	return s.tail(s.appendResponse(dst, "completed", true, "", ""))
}

// Fail appends response.failed, which ends the stream. code is a Responses
// error code (rate_limit_exceeded, context_length_exceeded, server_error,
// …); message must not hold a provider key. The items sent so far are in
// its output, so Output still gives what the client saw.
func (s *ChatToResponsesStream) Fail(dst []byte, code, message string) []byte {
	if s.ended {
		return dst
	}
	dst = s.Start(dst)
	s.ended = true
	if code == "" {
		code = "server_error"
	}
	dst = s.event(dst, "response.failed")
	return s.tail(s.appendResponse(dst, "failed", true, code, message))
}

// Output returns the output items completed so far as a JSON array, for
// storing a response that a later previous_response_id names.
func (s *ChatToResponsesStream) Output() []byte {
	out := []byte{'['}
	n := 0
	for _, it := range s.items {
		if it.complete == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, it.complete...)
	}
	return append(out, ']')
}

// customInput is a custom tool's input: the "input" string of the Chat
// arguments, or the arguments themselves when they are not such an object.
func customInput(args string) string {
	var v struct {
		Input *string `json:"input"`
	}
	if json.Unmarshal([]byte(args), &v) == nil && v.Input != nil {
		return *v.Input
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &m) == nil && len(m) == 1 {
		for _, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				return str
			}
		}
	}
	return args
}

// appendItem appends the item JSON with the given status.
func appendItem(dst []byte, it *streamItem, status string) []byte {
	final := status == "completed"
	switch it.kind {
	case itemMessage:
		dst = append(dst, `{"id":`...)
		dst = providers.AppendJSONString(dst, it.id)
		dst = append(dst, `,"type":"message","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","role":"assistant","content":[`...)
		if final {
			dst = append(dst, `{"type":"output_text","text":`...)
			dst = providers.AppendJSONString(dst, string(it.text))
			dst = append(dst, `,"annotations":[]}`...)
		}
		return append(dst, "]}"...)
	case itemReasoning:
		dst = append(dst, `{"id":`...)
		dst = providers.AppendJSONString(dst, it.id)
		dst = append(dst, `,"type":"reasoning","summary":[`...)
		if final {
			dst = append(dst, `{"type":"summary_text","text":`...)
			dst = providers.AppendJSONString(dst, string(it.text))
			dst = append(dst, '}')
		}
		return append(dst, "]}"...)
	case itemCustom:
		dst = append(dst, `{"id":`...)
		dst = providers.AppendJSONString(dst, it.id)
		dst = append(dst, `,"type":"custom_tool_call","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","call_id":`...)
		dst = providers.AppendJSONString(dst, it.callID)
		dst = append(dst, `,"name":`...)
		dst = providers.AppendJSONString(dst, it.name)
		dst = append(dst, `,"input":`...)
		if final {
			dst = providers.AppendJSONString(dst, string(it.text))
		} else {
			dst = append(dst, `""`...)
		}
		return append(dst, '}')
	}
	dst = append(dst, `{"id":`...)
	dst = providers.AppendJSONString(dst, it.id)
	dst = append(dst, `,"type":"function_call","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","call_id":`...)
	dst = providers.AppendJSONString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = providers.AppendJSONString(dst, it.name)
	dst = append(dst, `,"arguments":`...)
	if final {
		dst = providers.AppendJSONString(dst, string(it.text))
	} else {
		dst = append(dst, `""`...)
	}
	return append(dst, '}')
}

// appendResponseObject appends a Responses response object. usage nil
// writes null; errCode "" writes a null error.
func appendResponseObject(dst []byte, id string, created int64, model, status string, output []byte, u *providers.Usage, errCode, errMsg string) []byte {
	dst = append(dst, `{"id":`...)
	dst = providers.AppendJSONString(dst, id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","model":`...)
	dst = providers.AppendJSONString(dst, model)
	dst = append(dst, `,"output":`...)
	dst = append(dst, output...)
	dst = append(dst, `,"error":`...)
	if errCode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `{"code":`...)
		dst = providers.AppendJSONString(dst, errCode)
		dst = append(dst, `,"message":`...)
		dst = providers.AppendJSONString(dst, errMsg)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"incomplete_details":null,"usage":`...)
	if u == nil {
		return append(dst, "null}"...)
	}
	return append(appendUsage(dst, u), '}')
}

func appendUsage(dst []byte, u *providers.Usage) []byte {
	cached, reasoning := 0, 0
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		reasoning = u.CompletionTokensDetails.ReasoningTokens
	}
	total := u.TotalTokens
	if total < u.PromptTokens+u.CompletionTokens {
		total = u.PromptTokens + u.CompletionTokens
	}
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(max(u.PromptTokens, 0)), 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, int64(max(cached, 0)), 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, int64(max(u.CompletionTokens, 0)), 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, int64(max(reasoning, 0)), 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(max(total, 0)), 10)
	return append(dst, '}')
}

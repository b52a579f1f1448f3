package ollama

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// NDJSONStream turns one Chat Completions stream, or with CompletionEvent
// one completions stream, into Ollama's NDJSON stream
// (application/x-ndjson): one JSON object per line, as /api/chat and
// /api/generate stream it. It does no I/O: each method appends the lines it
// produces to dst and returns it. Not safe for concurrent use; one per
// stream.
//
// Each text or thinking delta is one line with "done":false: for /api/chat
// {"model","created_at","message":{"role":"assistant","content"[,
// "thinking"]},"done":false}, for /api/generate "response" and "thinking"
// at the top level. Tool calls are held until the end and sent whole in one
// line, their arguments as an object, as Ollama sends them (its clients
// decode arguments into a map and cannot take fragments): arguments that
// are not a JSON object become {"arguments": "<as sent>"}, the rule of this
// gateway's other translators, so that the client's tool refuses a
// parameter it does not know and the model sees what it sent; none at all
// are {}; a call whose name never came is left out. The last line has
// "done":true, done_reason "stop" or "length", the token counts (from the
// usage the upstream reported, else estimates) and the durations in
// nanoseconds, measured from the stream's creation: prompt_eval_duration up
// to the first delta, eval_duration from there to End, load_duration 0
// (the gateway cannot know it). A stream that fails ends with
// {"error":"…"} and no done line, as Ollama ends one.
type NDJSONStream struct {
	generate bool
	head     []byte // `{"model":<model>,"created_at":"`
	now      func() time.Time
	newID    func() string

	start, first time.Time
	ended        bool

	tools   []*streamCall // by arrival
	retired int           // calls whose OpenAI index another call took over

	finish       string
	usage        *usage
	promptTokens int // the caller's estimate, for a stream without usage
	outBytes     int // text, thinking and arguments, for an estimate without usage

	noFastPath bool // tests compare the fast path with encoding/json
}

// streamCall is one OpenAI tool call of the stream, held until End.
type streamCall struct {
	key      int // the OpenAI index; negative once retired
	id, name string
	args     []byte
}

// NewChatStream returns the state machine of one /api/chat stream; model is
// the name the lines report (the one the client asked for).
func NewChatStream(model string) *NDJSONStream { return newStream(model, false) }

// NewGenerateStream returns the state machine of one /api/generate stream.
// Its last line has no "context": the gateway keeps no token history.
func NewGenerateStream(model string) *NDJSONStream { return newStream(model, true) }

func newStream(model string, generate bool) *NDJSONStream {
	s := &NDJSONStream{generate: generate, now: time.Now, newID: newCallID}
	s.head = append(s.head, `{"model":`...)
	s.head = providers.AppendJSONString(s.head, model)
	s.head = append(s.head, `,"created_at":"`...)
	s.start = s.now()
	return s
}

// newCallID returns an id in the form Ollama gives tool calls.
func newCallID() string { return "call_" + strings.ToLower(rand.Text()[:8]) }

// SetPromptTokens sets the prompt_eval_count the last line reports when the
// upstream reports no usage: the request's estimate (Facts.EstTokens).
func (s *NDJSONStream) SetPromptTokens(n int) { s.promptTokens = max(n, 0) }

// Chunk appends the lines for one upstream chunk: Raw when set (the
// OpenAI-compatible client's), else the typed fields. Only choice 0
// counts. An error means the chunk could not be read; the caller should
// then end the stream with Fail.
func (s *NDJSONStream) Chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	if s.ended || c == nil {
		return dst, nil
	}
	if c.Raw != nil {
		if !s.noFastPath {
			if out, ok := s.fastChunk(dst, c.Raw); ok {
				return out, nil
			}
		}
		var ch chatChunk
		if err := json.Unmarshal(c.Raw, &ch); err != nil {
			return dst, fmt.Errorf("ollama: decode upstream chunk: %w", err)
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
			dst = s.text(dst, deref(d.Content)+deref(d.Refusal), reasoningOf(d.ReasoningContent, d.Reasoning), nil, nil)
			for j := range d.ToolCalls {
				tc := &d.ToolCalls[j]
				s.toolDelta(tc.Index, tc.ID, tc.Function.Name, argumentsText(tc.Function.Arguments))
			}
			s.setFinish(ci.FinishReason)
		}
		return dst, nil
	}
	if u := c.Usage; u != nil {
		s.usage = &usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
	}
	for i := range c.Choices {
		ci := &c.Choices[i]
		if ci.Index != 0 {
			continue
		}
		d := &ci.Delta
		dst = s.text(dst, deref(d.Content)+deref(d.Refusal), deref(d.ReasoningContent), nil, nil)
		for j := range d.ToolCalls {
			tc := &d.ToolCalls[j]
			s.toolDelta(tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
		s.setFinish(ci.FinishReason)
	}
	return dst, nil
}

// fastChunk handles the common chunk, a delta with only content and/or
// reasoning text or one further argument fragment (see
// providers.ScanTextChunk), without encoding/json: the text's quoted bytes
// are copied into the line as they are. ok is false, and nothing is
// appended, for anything else, which then takes encoding/json.
func (s *NDJSONStream) fastChunk(dst, raw []byte) ([]byte, bool) {
	c, ok := providers.ScanTextChunk(raw)
	if !ok {
		return dst, false
	}
	if c.Tool {
		// Only a further fragment of a call already begun, alone in its
		// chunk; anything else needs toolDelta's bookkeeping.
		if !c.HasIndex || len(c.Content) > 2 || len(c.Reasoning) > 2 || len(c.Args) == 0 {
			return dst, false
		}
		t := s.toolAt(c.ToolIndex)
		if t == nil {
			return dst, false
		}
		t.args = providers.AppendUnquoted(t.args, c.Args)
		s.outBytes += providers.DecodedLen(c.Args)
		s.mark()
		return dst, true
	}
	return s.text(dst, "", "", c.Content, c.Reasoning), true
}

// CompletionEvent appends the lines for the data of one event of an OpenAI
// /v1/completions stream ({"choices":[{"text","finish_reason"}],"usage"}
// or [DONE]) to dst, s being a NewGenerateStream. done reports [DONE],
// after which the last line has been written, or a stream already ended.
// An event that cannot be read, or one that reports an error (its message
// then in the error's), means the caller should end the stream with Fail.
func CompletionEvent(dst []byte, s *NDJSONStream, data []byte) ([]byte, bool, error) {
	if s.ended {
		return dst, true, nil
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		return s.End(dst), true, nil
	}
	if !s.noFastPath {
		if text, ok := providers.ScanCompletionChunk(data); ok {
			return s.text(dst, "", "", text, nil), false, nil
		}
	}
	var ev completionsAnswer
	if err := json.Unmarshal(data, &ev); err != nil {
		return dst, false, fmt.Errorf("ollama: decode upstream completions event: %w", err)
	}
	if e := bytes.TrimSpace(ev.Error); len(e) > 0 && string(e) != "null" {
		msg, _, _, _ := providers.ParseErrorBody(data)
		return dst, false, fmt.Errorf("ollama: upstream stream failed: %s", msg)
	}
	if ev.Usage != nil {
		s.usage = ev.Usage
	}
	for i := range ev.Choices {
		ch := &ev.Choices[i]
		if ch.Index != 0 {
			continue
		}
		dst = s.text(dst, ch.Text, "", nil, nil)
		s.setFinish(ch.FinishReason)
	}
	return dst, false, nil
}

// End appends the held tool calls and the last line, for a stream that
// ended normally (the upstream's [DONE]).
func (s *NDJSONStream) End(dst []byte) []byte {
	if s.ended {
		return dst
	}
	s.ended = true
	dst = s.calls(dst)
	end := s.now()
	first := s.first
	if first.IsZero() {
		first = end
	}
	prompt, eval := s.promptTokens, (s.outBytes+3)/4
	if s.usage != nil {
		prompt, eval = max(s.usage.PromptTokens, 0), max(s.usage.CompletionTokens, 0)
	}
	dst = s.appendHead(dst, end)
	if s.generate {
		dst = append(dst, `"response":""`...)
	} else {
		dst = append(dst, `"message":{"role":"assistant","content":""}`...)
	}
	dst = appendDone(dst, doneReason(s.finish), metrics{
		total:     end.Sub(s.start),
		prompt:    prompt,
		promptDur: first.Sub(s.start),
		eval:      eval,
		evalDur:   end.Sub(first),
	})
	return append(dst, '\n')
}

// Fail appends a last line {"error":message}: a stream that failed must not
// look finished, so no done line follows. message must not hold a
// provider key.
func (s *NDJSONStream) Fail(dst []byte, message string) []byte {
	if s.ended {
		return dst
	}
	s.ended = true
	dst = appendError(dst, message)
	return append(dst, '\n')
}

// metrics are the counts and durations of a done line.
type metrics struct {
	total, promptDur, evalDur time.Duration
	prompt, eval              int
}

// appendDone closes a line with done:true and its metrics, in Ollama's
// order.
func appendDone(dst []byte, reason string, m metrics) []byte {
	dst = append(dst, `,"done":true,"done_reason":`...)
	dst = providers.AppendJSONString(dst, reason)
	dst = append(dst, `,"total_duration":`...)
	dst = strconv.AppendInt(dst, int64(max(m.total, 0)), 10)
	dst = append(dst, `,"load_duration":0,"prompt_eval_count":`...)
	dst = strconv.AppendInt(dst, int64(m.prompt), 10)
	dst = append(dst, `,"prompt_eval_duration":`...)
	dst = strconv.AppendInt(dst, int64(max(m.promptDur, 0)), 10)
	dst = append(dst, `,"eval_count":`...)
	dst = strconv.AppendInt(dst, int64(m.eval), 10)
	dst = append(dst, `,"eval_duration":`...)
	dst = strconv.AppendInt(dst, int64(max(m.evalDur, 0)), 10)
	return append(dst, '}')
}

// doneReason maps finish_reason: length is Ollama's length, and anything
// else stop, which is what Ollama reports after tool calls too.
func doneReason(finish string) string {
	if finish == "length" {
		return "length"
	}
	return "stop"
}

func appendError(dst []byte, message string) []byte {
	dst = append(dst, `{"error":`...)
	dst = providers.AppendJSONString(dst, message)
	return append(dst, '}')
}

// appendHead appends a line's start, up to the comma after created_at.
func (s *NDJSONStream) appendHead(dst []byte, t time.Time) []byte {
	dst = append(dst, s.head...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `",`...)
}

// mark notes the first delta, where the prompt's evaluation ended.
func (s *NDJSONStream) mark() {
	if s.first.IsZero() {
		s.first = s.now()
	}
}

// text appends one line with text and thinking: the strings, or qText and
// qThinking, validated quoted JSON strings copied as they are (the fast
// paths). Nothing when both are empty.
func (s *NDJSONStream) text(dst []byte, text, thinking string, qText, qThinking []byte) []byte {
	hasThinking := thinking != "" || len(qThinking) > 2
	if text == "" && len(qText) <= 2 && !hasThinking {
		return dst
	}
	s.mark()
	dst = s.appendHead(dst, s.now())
	if s.generate {
		dst = append(dst, `"response":`...)
	} else {
		dst = append(dst, `"message":{"role":"assistant","content":`...)
	}
	dst = s.appendString(dst, text, qText)
	if hasThinking {
		dst = append(dst, `,"thinking":`...)
		dst = s.appendString(dst, thinking, qThinking)
	}
	if !s.generate {
		dst = append(dst, '}')
	}
	return append(dst, ",\"done\":false}\n"...)
}

func (s *NDJSONStream) appendString(dst []byte, text string, q []byte) []byte {
	if len(q) >= 2 {
		s.outBytes += providers.DecodedLen(q)
		return append(dst, q...)
	}
	s.outBytes += len(text)
	return providers.AppendJSONString(dst, text)
}

// calls appends the one line with every held tool call that has a name.
func (s *NDJSONStream) calls(dst []byte) []byte {
	n := 0
	for _, t := range s.tools {
		if t.name == "" {
			continue
		}
		if n == 0 {
			dst = s.appendHead(dst, s.now())
			if s.generate {
				dst = append(dst, `"response":"","tool_calls":[`...)
			} else {
				dst = append(dst, `"message":{"role":"assistant","content":"","tool_calls":[`...)
			}
		} else {
			dst = append(dst, ',')
		}
		dst = appendCall(dst, t, n, s.newID)
		n++
	}
	if n == 0 {
		return dst
	}
	dst = append(dst, ']')
	if !s.generate {
		dst = append(dst, '}')
	}
	return append(dst, ",\"done\":false}\n"...)
}

// appendCall appends one call as Ollama writes it, index being its place
// in the line; a call without an id gets one from newID.
func appendCall(dst []byte, t *streamCall, index int, newID func() string) []byte {
	if t.id == "" {
		t.id = newID()
	}
	dst = append(dst, `{"id":`...)
	dst = providers.AppendJSONString(dst, t.id)
	dst = append(dst, `,"function":{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"name":`...)
	dst = providers.AppendJSONString(dst, t.name)
	dst = append(dst, `,"arguments":`...)
	dst = appendArguments(dst, t.args)
	return append(dst, "}}"...)
}

// appendArguments appends a call's arguments as an object (see
// NDJSONStream).
func appendArguments(dst, args []byte) []byte {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return append(dst, "{}"...)
	}
	if args[0] == '{' && json.Valid(args) {
		var b bytes.Buffer
		json.Compact(&b, args)
		return append(dst, b.Bytes()...)
	}
	dst = append(dst, `{"arguments":`...)
	dst = providers.AppendJSONString(dst, string(args))
	return append(dst, '}')
}

// toolDelta handles one entry of a delta's tool_calls; nothing is sent
// until End.
func (s *NDJSONStream) toolDelta(index *int, id, name, args string) {
	t := s.findTool(index, id)
	if t == nil {
		if id == "" && name == "" && args == "" {
			return // nothing to begin a call with
		}
		key := len(s.tools) + s.retired
		if index != nil {
			key = *index
		}
		t = &streamCall{key: key, id: id, name: name}
		s.tools = append(s.tools, t)
	} else {
		if t.id == "" {
			t.id = id
		}
		if t.name == "" {
			t.name = name
		}
	}
	t.args = append(t.args, args...)
	s.outBytes += len(args)
	s.mark()
}

// findTool returns the call a delta continues, or nil for a new one.
// Without an index the delta continues the call with its id, or the last
// call. An index whose call had another id now starts a new call: some
// servers number every call 0.
func (s *NDJSONStream) findTool(index *int, id string) *streamCall {
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
	t := s.toolAt(*index)
	if t != nil && id != "" && t.id != "" && t.id != id {
		s.retired++
		t.key = -s.retired
		return nil
	}
	return t
}

// toolAt returns the call with OpenAI index key, or nil.
func (s *NDJSONStream) toolAt(key int) *streamCall {
	for _, t := range s.tools {
		if t.key == key {
			return t
		}
	}
	return nil
}

func (s *NDJSONStream) setFinish(f *string) {
	if f != nil && *f != "" {
		s.finish = *f
	}
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

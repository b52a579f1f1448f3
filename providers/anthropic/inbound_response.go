package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// Content blocks of a non-streamed Messages answer.
type (
	outText struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	outThinking struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	outToolUse struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
)

// outMessage is a non-streamed Messages answer.
type outMessage struct {
	ID           string   `json:"id"`
	Type         string   `json:"type"`
	Role         string   `json:"role"`
	Model        string   `json:"model"`
	Content      []any    `json:"content"`
	StopReason   string   `json:"stop_reason"`
	StopSequence *string  `json:"stop_sequence"`
	Usage        outUsage `json:"usage"`
}

// FromChatResponse translates a non-streamed Chat Completions answer (Raw,
// as the OpenAI-compatible client returns it, or typed) into a Messages
// answer reporting model. Reasoning becomes a thinking block with an empty
// signature, as in the stream. Tool call arguments that are not a JSON
// object become {"arguments": "<as sent>"}, the package's rule in both
// directions: the client's tool then refuses a parameter it does not know,
// and the model sees what it sent, which helps it more than an empty input
// that silently lost everything. stop_reason is mapped as in the stream.
func FromChatResponse(resp *providers.ChatCompletionResponse, model string) ([]byte, error) {
	return fromChatResponse(resp, model, newMessageID())
}

// errNoChoices is an answer with nothing to translate.
var errNoChoices = errors.New("anthropic: upstream answer has no choices")

func fromChatResponse(resp *providers.ChatCompletionResponse, model, id string) ([]byte, error) {
	if resp == nil {
		return nil, errNoChoices
	}
	var text, reasoning, finish, stopSeq string
	type call struct{ id, name, args string }
	var calls []call
	var usage *providers.Usage
	if resp.Raw != nil {
		var r chatResponse
		if err := json.Unmarshal(resp.Raw, &r); err != nil {
			return nil, fmt.Errorf("anthropic: decode upstream answer: %w", err)
		}
		if len(r.Choices) == 0 {
			return nil, errNoChoices
		}
		ch := &r.Choices[0]
		m := &ch.Message
		text = contentText(m.Content)
		if text == "" {
			text = m.Refusal
		}
		reasoning = m.ReasoningContent
		if reasoning == "" {
			reasoning = m.Reasoning
		}
		for _, tc := range m.ToolCalls {
			calls = append(calls, call{tc.ID, tc.Function.Name, argumentsText(tc.Function.Arguments)})
		}
		finish = ch.FinishReason
		if q := bytes.TrimSpace(ch.StopReason); len(q) > 0 && q[0] == '"' {
			json.Unmarshal(q, &stopSeq)
		}
		if r.Usage != nil {
			s := ChatToMessagesStream{}
			s.setUsage(r.Usage)
			usage = s.usage
		}
	} else {
		if len(resp.Choices) == 0 {
			return nil, errNoChoices
		}
		ch := &resp.Choices[0]
		m := &ch.Message
		text = deref(m.Content)
		if text == "" {
			text = deref(m.Refusal)
		}
		reasoning = m.ReasoningContent
		for _, tc := range m.ToolCalls {
			calls = append(calls, call{tc.ID, tc.Function.Name, tc.Function.Arguments})
		}
		finish = ch.FinishReason
		usage = resp.Usage
	}

	out := outMessage{ID: id, Type: "message", Role: "assistant", Model: model, Content: []any{}}
	if reasoning != "" {
		out.Content = append(out.Content, outThinking{Type: "thinking", Thinking: reasoning})
	}
	if text != "" {
		out.Content = append(out.Content, outText{Type: "text", Text: text})
	}
	for i, c := range calls {
		if c.id == "" || slices.ContainsFunc(calls[:i], func(o call) bool { return o.id == c.id }) {
			// Each tool_use is answered by its id: one given twice (a
			// server that numbers every call alike) gets an id of ours.
			c.id = toolUseID(id, i)
			calls[i].id = c.id
		}
		out.Content = append(out.Content, outToolUse{Type: "tool_use", ID: c.id, Name: c.name, Input: toolInput(c.args)})
	}
	var seq string
	out.StopReason, seq = stopReason(finish, len(calls) > 0, stopSeq)
	if seq != "" {
		out.StopSequence = &seq
	}
	if usage != nil {
		out.Usage = usageToMessages(usage.PromptTokens, usage.CompletionTokens, cachedOf(usage))
	} else {
		n := len(text) + len(reasoning)
		for _, c := range calls {
			n += len(c.args)
		}
		out.Usage.OutputTokens = (n + 3) / 4
	}
	return marshal(out)
}

// contentText reads a message content: a string, null, or text parts.
func contentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		return s
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(raw, &parts)
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

// statusTypes is errorKinds the other way round: each Anthropic error type
// documents one status.
var statusTypes = func() map[int]string {
	m := make(map[int]string, len(errorKinds))
	for typ, k := range errorKinds {
		m[k.status] = typ
	}
	return m
}()

// ErrorType returns the Anthropic error type for an HTTP status, from the
// table of https://docs.claude.com/en/api/errors: 400
// invalid_request_error, 401 authentication_error, 402 billing_error, 403
// permission_error, 404 not_found_error, 413 request_too_large, 429
// rate_limit_error, 500 api_error, 504 timeout_error, 529
// overloaded_error. Of the others, 503 is overloaded_error (a local server
// loading its model: SDKs retry it), other 4xx invalid_request_error and
// anything else api_error.
func ErrorType(status int) string {
	if t, ok := statusTypes[status]; ok {
		return t
	}
	switch {
	case status == http.StatusServiceUnavailable:
		return "overloaded_error"
	case status >= 400 && status < 500:
		return "invalid_request_error"
	}
	return "api_error"
}

// ErrorBody returns a Messages error body:
// {"type":"error","error":{"type":errType,"message":message}}. message must
// not hold a provider key.
func ErrorBody(errType, message string) []byte {
	return appendErrorBody(nil, errType, message)
}

func appendErrorBody(dst []byte, errType, message string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = providers.AppendJSONString(dst, errType)
	dst = append(dst, `,"message":`...)
	dst = providers.AppendJSONString(dst, message)
	return append(dst, "}}"...)
}

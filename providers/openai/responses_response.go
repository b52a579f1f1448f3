package openai

import (
	"encoding/json"
	"fmt"

	"github.com/localrouter/localrouter/providers"
)

// respAnswer is the part of a Chat answer ChatToResponse reads from Raw.
type respAnswer struct {
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			Reasoning        *string `json:"reasoning"`
			Refusal          *string `json:"refusal"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	Usage *providers.Usage `json:"usage"`
}

// ChatToResponse translates a Chat Completions answer into a Responses
// response object (status completed) reporting model, with the output
// items in the order the stream would send them: reasoning, text, tool
// calls (custom_tool_call for the names in customTools). Raw is read when
// set (the OpenAI-compatible client's), else the typed fields. The
// response's output array is also what a later previous_response_id
// replays.
func ChatToResponse(resp *providers.ChatCompletionResponse, model string, customTools map[string]bool) ([]byte, error) {
	if resp == nil {
		return nil, fmt.Errorf("openai: no answer to translate")
	}
	s := NewChatToResponsesStream(model, customTools)
	s.started = true // no events wanted, only the items
	if resp.Raw != nil {
		var a respAnswer
		if err := json.Unmarshal(resp.Raw, &a); err != nil {
			return nil, fmt.Errorf("openai: decode upstream answer: %w", err)
		}
		s.usage = a.Usage
		for i := range a.Choices {
			m := &a.Choices[i].Message
			if a.Choices[i].Index != 0 {
				continue
			}
			r := deref(m.ReasoningContent)
			if r == "" {
				r = deref(m.Reasoning)
			}
			s.reasoningDelta(nil, r, nil)
			s.textDelta(nil, deref(m.Content), nil)
			s.textDelta(nil, deref(m.Refusal), nil)
			for j, tc := range m.ToolCalls {
				k := j
				s.toolDelta(nil, &k, tc.ID, tc.Function.Name, argumentsString(tc.Function.Arguments))
			}
			break
		}
	} else {
		s.usage = resp.Usage
		for i := range resp.Choices {
			m := &resp.Choices[i].Message
			if resp.Choices[i].Index != 0 {
				continue
			}
			s.reasoningDelta(nil, m.ReasoningContent, nil)
			s.textDelta(nil, deref(m.Content), nil)
			s.textDelta(nil, deref(m.Refusal), nil)
			for j, tc := range m.ToolCalls {
				k := j
				s.toolDelta(nil, &k, tc.ID, tc.Function.Name, tc.Function.Arguments)
			}
			break
		}
	}
	s.End(nil)
	return appendResponseObject(nil, s.id, s.created, model, "completed", s.Output(), usageIf(true, s.usage, s.estimate()), "", ""), nil
}

package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// Thinking budgets for OpenAI's reasoning_effort. Anthropic wants
// budget_tokens ≥ 1024 and < max_tokens; see thinkingFor for the clamping.
var effortBudget = map[string]int{
	"minimal": 1024,
	"low":     1024,
	"medium":  4096,
	"high":    16384,
	"xhigh":   32768,
}

const minThinkingBudget = 1024

// convertOptions are the provider settings a translation needs.
type convertOptions struct {
	defaultMaxTokens int
	// thinkingFor returns the thinking blocks recorded for the assistant
	// turn that made the tool call with this id, or nil.
	thinkingFor func(toolCallID string) []json.RawMessage
}

// toMessagesRequest translates a decoded OpenAI request. Decisions beyond a
// one-to-one mapping:
//   - system and developer messages, wherever they are, become the top-level
//     system (an array of text blocks, in order);
//   - consecutive turns of one role are merged, tool messages become
//     tool_result blocks of a user turn, placed before that turn's other
//     blocks as the API requires; a tool result whose id matches no tool_use
//     of the previous assistant turn is sent as text instead of being
//     rejected by the API;
//   - max_completion_tokens, else max_tokens, else the default;
//   - reasoning_effort → thinking: effortBudget, capped at half of an explicit
//     max_tokens (and off below 1024); without an explicit max_tokens the
//     budget is added to the default so the answer keeps its room. With
//     thinking on, temperature is dropped and top_p raised to ≥ 0.95 (the
//     API refuses other values), and a forced tool_choice turns thinking off;
//   - thinking blocks of an earlier assistant tool-call turn are restored
//     from the signature cache (byte-exact, before its tool_use blocks) when
//     thinking is on. If the last assistant tool-call turn has none (it came
//     from another provider, or the cache forgot it) thinking is turned off
//     for this request: the API would otherwise reject it with "must start
//     with a thinking block", and answering without thinking beats failing.
func toMessagesRequest(req *providers.ChatCompletionRequest, o convertOptions) (*messagesRequest, error) {
	if req.N != nil && *req.N > 1 {
		return nil, &providers.RequestError{Param: "n", Msg: "anthropic: n > 1 is not supported"}
	}
	out := &messagesRequest{Model: req.Model, Stream: req.Stream, Messages: make([]message, 0, len(req.Messages))}
	for _, st := range req.Stop {
		if st != "" { // the API refuses empty stop sequences
			out.StopSequences = append(out.StopSequences, st)
		}
	}
	explicitMax := 0
	switch {
	case req.MaxCompletionTokens != nil && *req.MaxCompletionTokens > 0:
		explicitMax = *req.MaxCompletionTokens
	case req.MaxTokens != nil && *req.MaxTokens > 0:
		explicitMax = *req.MaxTokens
	}
	out.MaxTokens = explicitMax
	if out.MaxTokens == 0 {
		out.MaxTokens = o.defaultMaxTokens
	}
	if req.Temperature != nil {
		t := min(max(*req.Temperature, 0), 1) // OpenAI allows 0–2, Anthropic 0–1
		out.Temperature = &t
	}
	out.TopP = req.TopP
	if req.User != "" {
		out.Metadata = &metadata{UserID: req.User}
	}

	var system []block
	var prevToolIDs map[string]bool // tool_use ids of the last assistant turn
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case "system", "developer":
			for _, t := range texts(m.Content) {
				system = append(system, textBlock(t))
			}
		case "user":
			blocks, err := userBlocks(m.Content, i)
			if err != nil {
				return nil, err
			}
			out.Messages = appendTurn(out.Messages, "user", blocks)
		case "tool":
			b, err := toolResult(m, i)
			if err != nil {
				return nil, err
			}
			if !prevToolIDs[m.ToolCallID] {
				// An orphan result: the API accepts it only as text.
				s := "Result of tool call " + m.ToolCallID + ":\n" + strings.Join(texts(m.Content), "\n")
				b = textBlock(s)
			}
			out.Messages = appendTurn(out.Messages, "user", []block{b})
		case "assistant":
			blocks, ids, err := assistantBlocks(m, i, o)
			if err != nil {
				return nil, err
			}
			if len(blocks) == 0 {
				continue
			}
			out.Messages = appendTurn(out.Messages, "assistant", blocks)
			prevToolIDs = ids
		default:
			return nil, &providers.RequestError{Param: fmt.Sprintf("messages[%d].role", i),
				Msg: fmt.Sprintf("anthropic: unsupported message role %q", m.Role)}
		}
	}
	if len(out.Messages) == 0 {
		return nil, &providers.RequestError{Param: "messages", Msg: "anthropic: the request has no user or assistant messages"}
	}
	for i := range out.Messages {
		if out.Messages[i].Role == "user" {
			toolResultsFirst(out.Messages[i].Content)
		}
	}
	// A final assistant turn is a prefill, which may not end in whitespace.
	if last := &out.Messages[len(out.Messages)-1]; last.Role == "assistant" {
		if b := &last.Content[len(last.Content)-1]; b.Type == "text" && b.Text != nil {
			s := strings.TrimRight(*b.Text, " \t\r\n")
			b.Text = &s
			// An empty text block is refused; a prefill of only whitespace is no prefill.
			if s == "" {
				last.Content = last.Content[:len(last.Content)-1]
				if len(last.Content) == 0 {
					out.Messages = out.Messages[:len(out.Messages)-1]
				}
				if len(out.Messages) == 0 {
					return nil, &providers.RequestError{Param: "messages", Msg: "anthropic: the request has no user or assistant messages with content"}
				}
			}
		}
	}
	if len(system) > 0 {
		out.System = encodeBlocks(system)
	}

	if err := toolsFor(req, out); err != nil {
		return nil, err
	}
	if err := thinkingFor(req, out, explicitMax); err != nil {
		return nil, err
	}
	if out.Thinking != nil && !lastToolTurnHasThinking(out.Messages) {
		out.Thinking = nil
	}
	if out.Thinking == nil {
		stripThinking(out.Messages)
		if explicitMax == 0 {
			out.MaxTokens = o.defaultMaxTokens
		}
	} else {
		out.Temperature = nil
		if out.TopP != nil && *out.TopP < 0.95 {
			p := 0.95
			out.TopP = &p
		}
	}
	return out, nil
}

// appendTurn adds blocks as a turn of role, merged into the previous turn
// when it has the same role: the API wants user and assistant to alternate.
func appendTurn(turns []message, role string, blocks []block) []message {
	if len(blocks) == 0 {
		return turns
	}
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Content = append(turns[n-1].Content, blocks...)
		return turns
	}
	return append(turns, message{Role: role, Content: blocks})
}

// toolResultsFirst moves tool_result blocks ahead of the others, keeping
// their order: "tool_result blocks must come first in the content array".
func toolResultsFirst(bs []block) {
	if !resultAfterOther(bs) {
		return
	}
	tmp := make([]block, 0, len(bs))
	for _, b := range bs {
		if b.Type == "tool_result" {
			tmp = append(tmp, b)
		}
	}
	for _, b := range bs {
		if b.Type != "tool_result" {
			tmp = append(tmp, b)
		}
	}
	copy(bs, tmp)
}

// resultAfterOther reports whether a tool_result follows another block.
func resultAfterOther(bs []block) bool {
	other := false
	for _, b := range bs {
		if b.Type != "tool_result" {
			other = true
		} else if other {
			return true
		}
	}
	return false
}

func textBlock(s string) block { return block{Type: "text", Text: &s} }

// texts returns a content's non-empty texts (the API rejects empty text blocks).
func texts(c providers.Content) []string {
	if !c.IsParts && c.Parts == nil {
		if c.Text == "" {
			return nil
		}
		return []string{c.Text}
	}
	var out []string
	for _, p := range c.Parts {
		if p.Type == "text" && p.Text != "" {
			out = append(out, p.Text)
		}
	}
	return out
}

// userBlocks translates a user message's content: text and image parts.
func userBlocks(c providers.Content, i int) ([]block, error) {
	if !c.IsParts && c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []block{textBlock(c.Text)}, nil
	}
	out := make([]block, 0, len(c.Parts))
	for j, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, textBlock(p.Text))
			}
		case "image_url":
			b, err := imageBlock(p.ImageURL, fmt.Sprintf("messages[%d].content[%d].image_url", i, j))
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		default:
			return nil, &providers.RequestError{Param: fmt.Sprintf("messages[%d].content[%d].type", i, j),
				Msg: fmt.Sprintf("anthropic: content part type %q is not supported", p.Type)}
		}
	}
	return out, nil
}

// imageBlock: a data URL becomes a base64 source, an http(s) URL a url source.
func imageBlock(u *providers.ImageURL, param string) (block, error) {
	if u == nil {
		return block{}, &providers.RequestError{Param: param, Msg: "anthropic: image_url part without a url"}
	}
	switch {
	case strings.HasPrefix(u.URL, "data:"):
		meta, data, ok := strings.Cut(u.URL[len("data:"):], ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 || mediaType == "" {
			return block{}, &providers.RequestError{Param: param, Msg: "anthropic: an image data URL must be data:<media type>;base64,<data>"}
		}
		return block{Type: "image", Source: &imageSource{Type: "base64", MediaType: mediaType, Data: data}}, nil
	case strings.HasPrefix(u.URL, "https://"), strings.HasPrefix(u.URL, "http://"):
		return block{Type: "image", Source: &imageSource{Type: "url", URL: u.URL}}, nil
	}
	return block{}, &providers.RequestError{Param: param, Msg: "anthropic: an image URL must be http(s) or a base64 data URL"}
}

// toolResult translates a tool message into a tool_result block. Text-only
// content is sent as a string; content with images as blocks.
func toolResult(m *providers.Message, i int) (block, error) {
	b := block{Type: "tool_result", ToolUseID: m.ToolCallID}
	hasImage := false
	for _, p := range m.Content.Parts {
		hasImage = hasImage || p.Type == "image_url"
	}
	if !hasImage {
		if s := strings.Join(texts(m.Content), "\n"); s != "" {
			b.Content = encodeString(s)
		}
		return b, nil
	}
	blocks, err := userBlocks(m.Content, i)
	if err != nil {
		return block{}, err
	}
	b.Content = encodeBlocks(blocks)
	return b, nil
}

// assistantBlocks translates an assistant message: restored thinking blocks,
// text, then tool_use blocks. It also returns the tool call ids.
func assistantBlocks(m *providers.Message, i int, o convertOptions) ([]block, map[string]bool, error) {
	var out []block
	var ids map[string]bool
	if len(m.ToolCalls) > 0 && o.thinkingFor != nil {
		for _, tc := range m.ToolCalls {
			if raw := o.thinkingFor(tc.ID); raw != nil {
				for _, r := range raw {
					var head struct {
						Type string `json:"type"`
					}
					json.Unmarshal(r, &head)
					out = append(out, block{Type: head.Type, raw: r})
				}
				break
			}
		}
	}
	for _, t := range texts(m.Content) {
		out = append(out, textBlock(t))
	}
	for j, tc := range m.ToolCalls {
		if tc.ID == "" || tc.Function.Name == "" {
			return nil, nil, &providers.RequestError{Param: fmt.Sprintf("messages[%d].tool_calls[%d]", i, j),
				Msg: "anthropic: a tool call needs an id and a function name"}
		}
		if ids == nil {
			ids = make(map[string]bool, len(m.ToolCalls))
		}
		ids[tc.ID] = true
		out = append(out, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
	}
	return out, ids, nil
}

// toolInput turns OpenAI's arguments string into the object tool_use needs.
func toolInput(args string) json.RawMessage {
	trimmed := bytes.TrimSpace([]byte(args))
	switch {
	case len(trimmed) == 0:
		return json.RawMessage("{}")
	case trimmed[0] == '{' && json.Valid(trimmed):
		return trimmed
	}
	// Not an object: keep it rather than drop it.
	b, _ := json.Marshal(map[string]string{"arguments": args})
	return b
}

// toolsFor translates tools and tool_choice (and parallel_tool_calls).
func toolsFor(req *providers.ChatCompletionRequest, out *messagesRequest) error {
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			return &providers.RequestError{Param: fmt.Sprintf("tools[%d].type", i),
				Msg: fmt.Sprintf("anthropic: tool type %q is not supported", t.Type)}
		}
		out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description,
			InputSchema: inputSchema(t.Function.Parameters)})
	}
	var tc *toolChoice
	if raw := bytes.TrimSpace(req.ToolChoice); len(raw) > 0 && string(raw) != "null" {
		var s string
		if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			switch s {
			case "auto":
				tc = &toolChoice{Type: "auto"}
			case "none":
				tc = &toolChoice{Type: "none"}
			case "required":
				tc = &toolChoice{Type: "any"}
			default:
				return &providers.RequestError{Param: "tool_choice", Msg: fmt.Sprintf("anthropic: unknown tool_choice %q", s)}
			}
		} else {
			var named struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if json.Unmarshal(raw, &named) != nil || named.Function.Name == "" {
				return &providers.RequestError{Param: "tool_choice", Msg: "anthropic: tool_choice must be auto, none, required or a named function"}
			}
			tc = &toolChoice{Type: "tool", Name: named.Function.Name}
		}
	}
	if len(out.Tools) == 0 {
		return nil // the API refuses a tool_choice without tools, and it means nothing
	}
	if bytes.Contains(req.Raw, []byte(`"parallel_tool_calls"`)) {
		var p struct {
			Parallel *bool `json:"parallel_tool_calls"`
		}
		if json.Unmarshal(req.Raw, &p) == nil && p.Parallel != nil && !*p.Parallel {
			if tc == nil {
				tc = &toolChoice{Type: "auto"}
			}
			if tc.Type != "none" {
				tc.DisableParallelToolUse = true
			}
		}
	}
	out.ToolChoice = tc
	return nil
}

// inputSchema returns a tool's parameters as input_schema, which must be an
// object schema: absent parameters and a schema without "type" get one.
func inputSchema(p json.RawMessage) json.RawMessage {
	p = bytes.TrimSpace(p)
	if len(p) == 0 || string(p) == "null" {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	if _, ok := m["type"]; ok {
		return p
	}
	m["type"] = json.RawMessage(`"object"`)
	b, _ := json.Marshal(m)
	return b
}

// thinkingFor maps reasoning_effort to a thinking budget (see toMessagesRequest).
func thinkingFor(req *providers.ChatCompletionRequest, out *messagesRequest, explicitMax int) error {
	if req.ReasoningEffort == "" || req.ReasoningEffort == "none" {
		return nil
	}
	budget, ok := effortBudget[req.ReasoningEffort]
	if !ok {
		return &providers.RequestError{Param: "reasoning_effort",
			Msg: fmt.Sprintf("anthropic: unknown reasoning_effort %q", req.ReasoningEffort)}
	}
	if out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool") {
		return nil // "Thinking isn't compatible with … forced tool use"
	}
	if explicitMax > 0 {
		budget = min(budget, explicitMax/2)
		if budget < minThinkingBudget {
			return nil
		}
	} else {
		out.MaxTokens += budget
	}
	out.Thinking = &thinking{Type: "enabled", BudgetTokens: budget}
	return nil
}

// lastToolTurnHasThinking reports whether the last assistant turn, when it
// made tool calls, starts with a thinking block, as the API requires while
// thinking is on.
func lastToolTurnHasThinking(turns []message) bool {
	for i := len(turns) - 1; i >= 0; i-- {
		if turns[i].Role != "assistant" {
			continue
		}
		hasToolUse := false
		for _, b := range turns[i].Content {
			hasToolUse = hasToolUse || b.Type == "tool_use"
		}
		if !hasToolUse {
			return true
		}
		t := turns[i].Content[0].Type
		return t == "thinking" || t == "redacted_thinking"
	}
	return true
}

// stripThinking removes restored thinking blocks, for a request without thinking.
func stripThinking(turns []message) {
	for i := range turns {
		bs := turns[i].Content[:0]
		for _, b := range turns[i].Content {
			if b.Type != "thinking" && b.Type != "redacted_thinking" {
				bs = append(bs, b)
			}
		}
		turns[i].Content = bs
	}
}

// fromMessagesResponse translates a non-streamed answer. It also returns the
// answer's thinking blocks (raw) and tool call ids for the signature cache.
func fromMessagesResponse(body []byte, created int64) (*providers.ChatCompletionResponse, []json.RawMessage, []string, error) {
	var r messagesResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, nil, fmt.Errorf("anthropic: decode response: %w", err)
	}
	msg := providers.ResponseMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	var thinkingBlocks []json.RawMessage
	var ids []string
	for _, raw := range r.Content {
		var b block
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, nil, nil, fmt.Errorf("anthropic: decode content block: %w", err)
		}
		switch b.Type {
		case "text":
			if b.Text != nil {
				text.WriteString(*b.Text)
			}
		case "thinking":
			if b.Thinking != nil {
				reasoning.WriteString(*b.Thinking)
			}
			thinkingBlocks = append(thinkingBlocks, raw)
		case "redacted_thinking":
			thinkingBlocks = append(thinkingBlocks, raw)
		case "tool_use":
			args := string(bytes.TrimSpace(b.Input))
			if args == "" || args == "null" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, providers.ToolCall{ID: b.ID, Type: "function",
				Function: providers.FunctionCall{Name: b.Name, Arguments: args}})
			ids = append(ids, b.ID)
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	msg.ReasoningContent = reasoning.String()
	resp := &providers.ChatCompletionResponse{
		ID: r.ID, Object: "chat.completion", Created: created, Model: r.Model,
		Choices: []providers.Choice{{Message: msg, FinishReason: finishReason(r.StopReason, len(msg.ToolCalls) > 0)}},
		Usage:   openAIUsage(r.Usage),
	}
	return resp, thinkingBlocks, ids, nil
}

// finishReason maps stop_reason. "tool_use" without a tool call is "stop":
// a client reads tool_calls as a promise that calls follow.
func finishReason(stop string, hadToolCalls bool) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		if hadToolCalls {
			return "tool_calls"
		}
		return "stop"
	case "refusal":
		return "content_filter"
	}
	// end_turn, stop_sequence, pause_turn, and values added later.
	if hadToolCalls {
		return "tool_calls"
	}
	return "stop"
}

// openAIUsage: Anthropic's input_tokens excludes cached tokens, OpenAI's
// prompt_tokens includes them. Reasoning tokens are not reported apart.
func openAIUsage(u usage) *providers.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	return &providers.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         prompt + u.OutputTokens,
		PromptTokensDetails: &providers.PromptTokensDetails{CachedTokens: u.CacheReadInputTokens},
	}
}

package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// This file and the other inbound*.go files translate the other way round
// from the rest of the package: a client speaking Messages (Claude Code, the
// Anthropic SDKs) to an upstream speaking Chat Completions (vLLM, Ollama, LM
// Studio, DeepSeek…), DESIGN §9. They are pure: no I/O, no HTTP.

// maxStop is how many stop sequences the OpenAI API takes.
const maxStop = 4

// ToChatRequest translates a Messages request body into a Chat Completions
// request body for an OpenAI-compatible upstream, with model as its model.
// The result is meant for providers.ParseRequest.
//
// What the target cannot take is dropped, never refused (DESIGN §9, open
// lists): unknown top-level fields and block types, cache_control,
// citations, server tools (a tool whose type is not "custom"), redacted
// thinking, PDF and file documents, and image or document sources other
// than base64, url and text. Decisions beyond a one-to-one mapping:
//   - system, and every role:"system" message inside messages, become one
//     leading system message, their texts joined by a blank line; the text
//     blocks of one message are joined likewise, and a message keeps the
//     parts form only when it has images;
//   - each tool_result becomes a role:"tool" message, in order, ahead of the
//     rest of its turn; its images, which a tool message cannot carry, go
//     into the user message that follows, and is_error prefixes "Error: ". A
//     result that answers no call of the assistant message just before is
//     sent as user text, and a call left without a result gets a short tool
//     message saying so, since OpenAI refuses both;
//   - thinking of an assistant turn with tool calls becomes its
//     reasoning_content (DeepSeek refuses a thinking-mode tool loop without
//     it; other servers ignore it); thinking of other turns is dropped;
//   - thinking enabled → reasoning_effort by budget_tokens (≤ 1024 low,
//     ≤ 8192 medium, else high), adaptive → medium, disabled → none at all;
//     output_config.effort, when present and thinking is not disabled,
//     wins, with max → high, the highest level local servers know;
//   - tool_choice any → required, tool → the named function, and
//     disable_parallel_tool_use → parallel_tool_calls:false; neither is
//     sent without tools;
//   - tools with defer_loading are sent like the others (no upstream has
//     tool search), a tool without input_schema gets an empty object schema;
//   - the first 4 non-empty stop_sequences; max_tokens as max_tokens, which
//     local servers take (not max_completion_tokens); top_k as is (vLLM,
//     Ollama and LM Studio take it; the OpenAI API would refuse it, and
//     Messages clients rarely send it); metadata.user_id as user; stream
//     adds include_usage, the only way to learn the usage of a stream.
//
// A body that is not JSON, or whose fields have the wrong JSON types, is a
// *providers.RequestError, for a 400 invalid_request_error.
func ToChatRequest(body []byte, model string) ([]byte, error) {
	var in inRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("anthropic", "", err)
	}
	out := chatRequest{Model: model, Temperature: in.Temperature, TopP: in.TopP}
	if in.MaxTokens != nil && *in.MaxTokens >= 1 {
		n := int(min(*in.MaxTokens, math.MaxInt32))
		out.MaxTokens = &n
	}
	if in.TopK != nil && *in.TopK > 0 {
		out.TopK = in.TopK
	}
	if in.Stream != nil && *in.Stream {
		out.Stream = true
		out.StreamOptions = &chatStreamOpts{IncludeUsage: true}
	}

	var stops []string
	if err := providers.DecodeOptional("anthropic", in.StopSequences, &stops, "stop_sequences"); err != nil {
		return nil, err
	}
	for _, s := range stops {
		if s != "" && len(out.Stop) < maxStop {
			out.Stop = append(out.Stop, s)
		}
	}
	var meta struct {
		UserID string `json:"user_id"`
	}
	if err := providers.DecodeOptional("anthropic", in.Metadata, &meta, "metadata"); err != nil {
		return nil, err
	}
	out.User = meta.UserID

	var c inConverter
	if err := c.systemTexts(in.System, "system"); err != nil {
		return nil, err
	}
	if err := c.messages(in.Messages); err != nil {
		return nil, err
	}
	if len(c.out) == 0 {
		return nil, &providers.RequestError{Param: "messages", Msg: "anthropic: messages has no user or assistant message with content"}
	}
	if len(c.system) > 0 {
		out.Messages = make([]chatMessage, 0, len(c.out)+1)
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: strings.Join(c.system, "\n\n")})
	}
	out.Messages = append(out.Messages, c.out...)

	if err := toolsToChat(&in, &out); err != nil {
		return nil, err
	}
	effort, err := effortToChat(&in)
	if err != nil {
		return nil, err
	}
	out.ReasoningEffort = effort
	return marshal(out)
}

// inConverter builds the Chat messages of one request.
type inConverter struct {
	system []string
	out    []chatMessage
	// pending are the tool call ids of the last assistant message still
	// waiting for a result; open reports whether a tool message may come
	// next (the last message is that assistant message or a tool message).
	pending []string
	open    bool
}

// systemTexts adds the texts of a system prompt or system message: a string
// or text blocks.
func (c *inConverter) systemTexts(raw json.RawMessage, param string) error {
	blocks, err := contentBlocks(raw, param)
	if err != nil {
		return err
	}
	for j, r := range blocks {
		b, err := decodeBlock(r, fmt.Sprintf("%s[%d]", param, j))
		if err != nil {
			return err
		}
		if b.Type == "text" && b.Text != nil && *b.Text != "" {
			c.system = append(c.system, *b.Text)
		}
	}
	return nil
}

// contentBlocks returns a content's blocks; a string is one text block.
func contentBlocks(raw json.RawMessage, param string) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, providers.DecodeError("anthropic", param, err)
		}
		b, _ := marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{"text", s})
		return []json.RawMessage{b}, nil
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, &providers.RequestError{Param: param, Msg: fmt.Sprintf("anthropic: %s must be a string or an array of content blocks", param)}
	}
	return blocks, nil
}

// knownBlocks are the block types inBlock decodes. A block of another type
// is dropped without looking at its fields, whatever their shapes.
var knownBlocks = map[string]bool{"text": true, "image": true, "document": true, "tool_use": true,
	"tool_result": true, "thinking": true, "redacted_thinking": true}

func decodeBlock(raw json.RawMessage, param string) (inBlock, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return inBlock{}, &providers.RequestError{Param: param, Msg: fmt.Sprintf("anthropic: %s must be a content block object", param)}
	}
	if !knownBlocks[head.Type] {
		return inBlock{Type: head.Type}, nil
	}
	var b inBlock
	if err := json.Unmarshal(raw, &b); err != nil {
		return inBlock{}, providers.DecodeError("anthropic", param, err)
	}
	return b, nil
}

func (c *inConverter) messages(raw json.RawMessage) error {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
		return &providers.RequestError{Param: "messages", Msg: "anthropic: messages is required"}
	}
	var msgs []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &msgs) != nil {
		return &providers.RequestError{Param: "messages", Msg: "anthropic: messages must be an array"}
	}
	for i, r := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		var m inMessage
		if err := json.Unmarshal(r, &m); err != nil {
			return providers.DecodeError("anthropic", param, err)
		}
		var err error
		switch m.Role {
		case "user":
			err = c.user(m.Content, param+".content")
		case "assistant":
			err = c.assistant(m.Content, param+".content")
		case "system":
			err = c.systemTexts(m.Content, param+".content")
		default:
			return &providers.RequestError{Param: param + ".role",
				Msg: fmt.Sprintf("anthropic: %s.role must be user or assistant, not %q", param, m.Role)}
		}
		if err != nil {
			return err
		}
	}
	c.closeTools()
	return nil
}

// user translates a user turn: tool messages first, then one user message
// with the tool results' images and the turn's own text, images, documents.
func (c *inConverter) user(raw json.RawMessage, param string) error {
	blocks, err := contentBlocks(raw, param)
	if err != nil {
		return err
	}
	var resultImages, parts []chatPart
	for j, r := range blocks {
		bp := fmt.Sprintf("%s[%d]", param, j)
		b, err := decodeBlock(r, bp)
		if err != nil {
			return err
		}
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				parts = append(parts, chatPart{Type: "text", Text: *b.Text})
			}
		case "image":
			p, ok, err := imagePart(b.Source, bp+".source")
			if err != nil {
				return err
			}
			if ok {
				parts = append(parts, p)
			}
		case "document":
			ps, err := documentParts(&b, bp+".source")
			if err != nil {
				return err
			}
			parts = append(parts, ps...)
		case "tool_result":
			text, images, err := toolResultContent(b.Content, bp+".content")
			if err != nil {
				return err
			}
			if b.IsError {
				text = strings.TrimSuffix("Error: "+text, ": ")
			}
			if !c.answer(b.ToolUseID) {
				// An orphan result: OpenAI accepts it only as text.
				parts = append(parts, chatPart{Type: "text", Text: "Result of tool call " + b.ToolUseID + ":\n" + text})
				parts = append(parts, images...)
				continue
			}
			c.out = append(c.out, chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: text})
			if len(images) > 0 {
				resultImages = append(resultImages, chatPart{Type: "text", Text: "Images returned by tool call " + b.ToolUseID + ":"})
				resultImages = append(resultImages, images...)
			}
		}
		// thinking in a user turn, and unknown blocks: dropped.
	}
	parts = append(resultImages, parts...)
	if len(parts) == 0 {
		return nil
	}
	c.closeTools()
	if n := len(c.out); n > 0 && c.out[n-1].Role == "user" {
		// Turns of one role in a row (a system message between them was
		// folded away): chat templates of some local models insist on
		// alternation.
		parts = append(userParts(c.out[n-1].Content), parts...)
		c.out[n-1].Content = userContent(parts)
		return nil
	}
	c.out = append(c.out, chatMessage{Role: "user", Content: userContent(parts)})
	return nil
}

// answer reports whether a tool result with this id may be a tool message,
// and records that the call has its result.
func (c *inConverter) answer(id string) bool {
	if !c.open || id == "" {
		return false
	}
	for i, p := range c.pending {
		if p == id {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// noResult is the tool message for a call the conversation never answered.
const noResult = "No result was returned for this tool call."

// closeTools ends the place where tool messages may go, answering the
// calls still without a result.
func (c *inConverter) closeTools() {
	for _, id := range c.pending {
		c.out = append(c.out, chatMessage{Role: "tool", ToolCallID: id, Content: noResult})
	}
	c.pending, c.open = c.pending[:0], false
}

// userContent is a string when every part is text, else the parts.
func userContent(parts []chatPart) any {
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type != "text" {
			return parts
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n\n")
}

// userParts is the inverse of userContent.
func userParts(content any) []chatPart {
	switch c := content.(type) {
	case string:
		return []chatPart{{Type: "text", Text: c}}
	case []chatPart:
		return c
	}
	return nil
}

// imagePart translates an image source. ok is false for a source OpenAI
// cannot take (a Files API file), which is dropped.
func imagePart(src *inSource, param string) (p chatPart, ok bool, err error) {
	if src == nil {
		return chatPart{}, false, &providers.RequestError{Param: param, Msg: fmt.Sprintf("anthropic: %s is required", param)}
	}
	switch src.Type {
	case "base64":
		if src.MediaType == "" || src.Data == "" {
			return chatPart{}, false, &providers.RequestError{Param: param,
				Msg: fmt.Sprintf("anthropic: %s needs media_type and data", param)}
		}
		return chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: "data:" + src.MediaType + ";base64," + src.Data}}, true, nil
	case "url":
		if src.URL == "" {
			return chatPart{}, false, &providers.RequestError{Param: param, Msg: fmt.Sprintf("anthropic: %s needs a url", param)}
		}
		return chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: src.URL}}, true, nil
	}
	return chatPart{}, false, nil
}

// documentParts translates a document: plain text and content sources
// become text (and images), titled when the block has a title; PDFs, URLs
// and files are dropped (local servers read no PDF, and a file part would
// make vLLM and Ollama refuse the request).
func documentParts(b *inBlock, param string) ([]chatPart, error) {
	if b.Source == nil {
		return nil, &providers.RequestError{Param: param, Msg: fmt.Sprintf("anthropic: %s is required", param)}
	}
	var parts []chatPart
	switch b.Source.Type {
	case "text":
		if b.Source.Data != "" {
			parts = append(parts, chatPart{Type: "text", Text: b.Source.Data})
		}
	case "content":
		text, images, err := toolResultContent(b.Source.Content, param+".content")
		if err != nil {
			return nil, err
		}
		if text != "" {
			parts = append(parts, chatPart{Type: "text", Text: text})
		}
		parts = append(parts, images...)
	}
	if len(parts) > 0 && b.Title != "" {
		parts = append([]chatPart{{Type: "text", Text: b.Title}}, parts...)
	}
	return parts, nil
}

// toolResultContent reads a tool_result's content (also a document's
// content source): a string, or blocks whose texts are joined by newlines
// and whose images are returned apart.
func toolResultContent(raw json.RawMessage, param string) (string, []chatPart, error) {
	blocks, err := contentBlocks(raw, param)
	if err != nil {
		return "", nil, err
	}
	var texts []string
	var images []chatPart
	for j, r := range blocks {
		bp := fmt.Sprintf("%s[%d]", param, j)
		b, err := decodeBlock(r, bp)
		if err != nil {
			return "", nil, err
		}
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				texts = append(texts, *b.Text)
			}
		case "image":
			p, ok, err := imagePart(b.Source, bp+".source")
			if err != nil {
				return "", nil, err
			}
			if ok {
				images = append(images, p)
			}
		case "document":
			ps, err := documentParts(&b, bp+".source")
			if err != nil {
				return "", nil, err
			}
			for _, p := range ps {
				if p.Type == "text" {
					texts = append(texts, p.Text)
				} else {
					images = append(images, p)
				}
			}
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

// assistant translates an assistant turn into one assistant message.
func (c *inConverter) assistant(raw json.RawMessage, param string) error {
	blocks, err := contentBlocks(raw, param)
	if err != nil {
		return err
	}
	var texts, thoughts []string
	var calls []chatToolCall
	for j, r := range blocks {
		bp := fmt.Sprintf("%s[%d]", param, j)
		b, err := decodeBlock(r, bp)
		if err != nil {
			return err
		}
		switch b.Type {
		case "text":
			if b.Text != nil && *b.Text != "" {
				texts = append(texts, *b.Text)
			}
		case "thinking":
			if b.Thinking != "" {
				thoughts = append(thoughts, b.Thinking)
			}
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return &providers.RequestError{Param: bp, Msg: fmt.Sprintf("anthropic: %s: a tool_use block needs an id and a name", bp)}
			}
			calls = append(calls, chatToolCall{ID: b.ID, Type: "function",
				Function: chatFunctionCall{Name: b.Name, Arguments: toolArguments(b.Input)}})
		}
		// redacted_thinking (only Anthropic can read it) and unknown blocks
		// such as server_tool_use: dropped.
	}
	if len(texts) == 0 && len(calls) == 0 {
		return nil
	}
	c.closeTools()
	m := chatMessage{Role: "assistant", ToolCalls: calls}
	if len(texts) > 0 {
		m.Content = strings.Join(texts, "\n\n")
	}
	if len(calls) > 0 {
		m.ReasoningContent = strings.Join(thoughts, "\n\n")
	}
	if n := len(c.out); n > 0 && c.out[n-1].Role == "assistant" {
		// Only a message without tool calls can be last here (closeTools
		// answered any), so merging keeps calls after their text.
		prev := &c.out[n-1]
		if s, ok := prev.Content.(string); ok && m.Content != nil {
			m.Content = s + "\n\n" + m.Content.(string)
		} else if ok {
			m.Content = s
		}
		*prev = m
	} else {
		c.out = append(c.out, m)
	}
	for _, tc := range calls {
		c.pending = append(c.pending, tc.ID)
	}
	c.open = len(calls) > 0
	return nil
}

// toolArguments is a tool_use input as OpenAI's arguments string: compact
// JSON, "{}" when there is none.
func toolArguments(input json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, input); err != nil || b.Len() == 0 || b.String() == "null" {
		return "{}"
	}
	return b.String()
}

// toolsToChat translates tools and tool_choice.
func toolsToChat(in *inRequest, out *chatRequest) error {
	var tools []json.RawMessage
	if err := providers.DecodeOptional("anthropic", in.Tools, &tools, "tools"); err != nil {
		return err
	}
	names := make(map[string]bool, len(tools))
	for i, raw := range tools {
		param := fmt.Sprintf("tools[%d]", i)
		var t inTool
		if err := json.Unmarshal(raw, &t); err != nil {
			var head struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(raw, &head) == nil && head.Type != "" && head.Type != "custom" {
				continue // a server tool of a shape we do not know
			}
			return providers.DecodeError("anthropic", param, err)
		}
		if t.Type != "" && t.Type != "custom" {
			continue // server tools run at Anthropic; no other upstream has them
		}
		if t.Name == "" {
			return &providers.RequestError{Param: param + ".name", Msg: fmt.Sprintf("anthropic: %s.name is required", param)}
		}
		names[t.Name] = true
		out.Tools = append(out.Tools, chatTool{Type: "function",
			Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: inputSchema(t.InputSchema)}})
	}
	var tc inToolChoice
	if err := providers.DecodeOptional("anthropic", in.ToolChoice, &tc, "tool_choice"); err != nil {
		return err
	}
	if len(out.Tools) == 0 {
		return nil // OpenAI refuses tool_choice without tools
	}
	switch tc.Type {
	case "auto":
		out.ToolChoice = "auto"
	case "any":
		out.ToolChoice = "required"
	case "none":
		out.ToolChoice = "none"
	case "tool":
		if tc.Name == "" {
			return &providers.RequestError{Param: "tool_choice.name", Msg: "anthropic: tool_choice.name is required with type tool"}
		}
		// A server tool we dropped cannot be forced; naming it would be an
		// upstream 400, and forcing another tool a wrong answer.
		if names[tc.Name] {
			named := chatNamedChoice{Type: "function"}
			named.Function.Name = tc.Name
			out.ToolChoice = named
		}
	}
	if tc.DisableParallelToolUse && tc.Type != "none" {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}

// effortToChat picks reasoning_effort from thinking and output_config.
func effortToChat(in *inRequest) (string, error) {
	// The type first: a thinking type added later may shape its other
	// fields differently, and is ignored.
	var th inThinking
	var head struct {
		Type string `json:"type"`
	}
	if err := providers.DecodeOptional("anthropic", in.Thinking, &head, "thinking"); err != nil {
		return "", err
	}
	if head.Type == "enabled" {
		if err := providers.DecodeOptional("anthropic", in.Thinking, &th, "thinking"); err != nil {
			return "", err
		}
	}
	th.Type = head.Type
	var oc struct {
		Effort string `json:"effort"`
	}
	if err := providers.DecodeOptional("anthropic", in.OutputConfig, &oc, "output_config"); err != nil {
		return "", err
	}
	effort := ""
	switch th.Type {
	case "disabled":
		return "", nil
	case "enabled":
		switch b := th.BudgetTokens; {
		case b <= 0:
			effort = "medium"
		case b <= 1024:
			effort = "low"
		case b <= 8192:
			effort = "medium"
		default:
			effort = "high"
		}
	case "adaptive":
		effort = "medium"
	}
	switch oc.Effort {
	case "low", "medium", "high":
		effort = oc.Effort
	case "max":
		effort = "high"
	}
	return effort, nil
}

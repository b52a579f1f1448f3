package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// This file and the other responses*.go files translate a client speaking
// the Responses API (Codex CLI, Copilot CLI, the OpenAI SDK's responses.*)
// to an upstream speaking Chat Completions, and the answer back (DESIGN §9).
// They are pure: no I/O, no HTTP.

// respRequest is the part of a Responses request the translation reads.
// store, include, prompt_cache_key, service_tier, metadata and every other
// field are accepted and dropped.
type respRequest struct {
	Instructions      json.RawMessage `json:"instructions"`
	Input             json.RawMessage `json:"input"`
	Tools             []respTool      `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
	Reasoning         *struct {
		Effort string `json:"effort"`
	} `json:"reasoning"`
	Text *struct {
		Format json.RawMessage `json:"format"`
	} `json:"text"`
	MaxOutputTokens *float64 `json:"max_output_tokens"`
	Temperature     *float64 `json:"temperature"`
	TopP            *float64 `json:"top_p"`
	User            string   `json:"user"`
	Stream          *bool    `json:"stream"`
}

type respTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
	Format      *struct {
		Type       string `json:"type"`
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	} `json:"format"`
}

// respItem is one input item; which fields count depends on Type.
type respItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output"`
	Summary   []respText      `json:"summary"`
}

// respPart is one content part of a message or of a tool output.
type respPart struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
	Detail   string          `json:"detail"`
}

type respText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// chat* are the Chat Completions request as ResponsesToChat writes it.
type chatReq struct {
	Model             string          `json:"model"`
	Messages          []chatMsg       `json:"messages"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *chatStreamOpts `json:"stream_options,omitempty"`
	MaxTokens         *int            `json:"max_tokens,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	Tools             []chatTool      `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat    json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort   string          `json:"reasoning_effort,omitempty"`
	User              string          `json:"user,omitempty"`
}

type chatStreamOpts struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMsg struct {
	Role             string         `json:"role"`
	Content          any            `json:"content"`
	ToolCalls        []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string         `json:"tool_call_id,omitempty"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string      `json:"type"`
	Function chatFuncDef `json:"function"`
}

type chatFuncDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict,omitempty"`
}

// customParameters is the schema of a custom (freeform) tool sent as a
// function: its whole input is the one string parameter "input".
const customParameters = `{"type":"object","properties":{"input":{"type":"string","description":"The raw input of the tool."}},"required":["input"],"additionalProperties":false}`

// ResponsesToChat translates a Responses request body into a Chat
// Completions request body with model as its model, for
// providers.ParseRequest. prev, when not nil, is the output items of the
// response named by previous_response_id (a JSON array, as Output and
// ChatToResponse give it), sent as history ahead of input.
//
// What Chat cannot take is dropped, never refused (DESIGN §9, open lists):
// unknown fields and item types, encrypted reasoning, tools other than
// function and custom (web_search, local_shell, namespace, …). Decisions
// beyond a one-to-one mapping:
//   - instructions and every system or developer message become one
//     leading system message, their texts joined by a blank line;
//   - a custom tool becomes a function with one string parameter "input",
//     its grammar, if any, appended to the description; the stream and
//     ChatToResponse turn its calls back into custom_tool_call items;
//   - function_call and custom_tool_call items join the assistant message
//     before them; reasoning summaries become the reasoning_content of the
//     next assistant message; a tool output that answers no call is sent
//     as user text, and a call left without output gets a short tool
//     message, since Chat servers refuse both;
//   - reasoning.effort minimal → low, xhigh → high, none → not sent;
//   - text.format json_schema and json_object → response_format;
//   - max_output_tokens → max_tokens; stream adds include_usage.
//
// A body that is not JSON, or whose fields have the wrong JSON types, is a
// *providers.RequestError.
func ResponsesToChat(body []byte, model string, prev []byte) ([]byte, error) {
	var in respRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("openai", "", err)
	}
	out := chatReq{Model: model, Temperature: in.Temperature, TopP: in.TopP, User: in.User}
	if in.MaxOutputTokens != nil && *in.MaxOutputTokens >= 1 {
		n := int(min(*in.MaxOutputTokens, math.MaxInt32))
		out.MaxTokens = &n
	}
	if in.Stream != nil && *in.Stream {
		out.Stream = true
		out.StreamOptions = &chatStreamOpts{IncludeUsage: true}
	}

	var c respConverter
	var instr string
	if err := providers.DecodeOptional("openai", in.Instructions, &instr, "instructions"); err != nil {
		return nil, err
	}
	if instr != "" {
		c.system = append(c.system, instr)
	}
	if len(bytes.TrimSpace(prev)) > 0 {
		var items []json.RawMessage
		if err := json.Unmarshal(prev, &items); err != nil {
			return nil, providers.DecodeError("openai", "previous_response_id", err)
		}
		if err := c.items(items, "previous_response_id"); err != nil {
			return nil, err
		}
	}
	if err := c.input(in.Input); err != nil {
		return nil, err
	}
	c.closeTools()
	if len(c.out) == 0 {
		return nil, &providers.RequestError{Param: "input", Msg: "openai: input has no message with content"}
	}
	if len(c.system) > 0 {
		out.Messages = append(out.Messages, chatMsg{Role: "system", Content: strings.Join(c.system, "\n\n")})
	}
	out.Messages = append(out.Messages, c.out...)

	for i, t := range in.Tools {
		switch t.Type {
		case "function":
			if t.Name == "" {
				continue
			}
			params := t.Parameters
			if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
				params = json.RawMessage(`{"type":"object","properties":{}}`)
			} else if bytes.TrimSpace(params)[0] != '{' {
				return nil, &providers.RequestError{Param: fmt.Sprintf("tools[%d].parameters", i), Msg: "openai: tool parameters must be a JSON object"}
			}
			out.Tools = append(out.Tools, chatTool{Type: "function", Function: chatFuncDef{Name: t.Name, Description: t.Description, Parameters: params, Strict: t.Strict}})
		case "custom":
			if t.Name == "" {
				continue
			}
			desc := t.Description
			if f := t.Format; f != nil && f.Type == "grammar" && f.Definition != "" {
				desc += "\n\nThe input must follow this " + f.Syntax + " grammar:\n" + f.Definition
			}
			out.Tools = append(out.Tools, chatTool{Type: "function", Function: chatFuncDef{Name: t.Name, Description: strings.TrimSpace(desc), Parameters: json.RawMessage(customParameters)}})
		}
	}
	if len(out.Tools) > 0 {
		out.ToolChoice = toolChoiceToChat(in.ToolChoice)
		out.ParallelToolCalls = in.ParallelToolCalls
	}
	if in.Reasoning != nil {
		switch e := in.Reasoning.Effort; e {
		case "minimal":
			out.ReasoningEffort = "low"
		case "low", "medium", "high":
			out.ReasoningEffort = e
		case "xhigh":
			out.ReasoningEffort = "high"
		}
	}
	if in.Text != nil {
		out.ResponseFormat = formatToChat(in.Text.Format)
	}
	return json.Marshal(out)
}

// toolChoiceToChat maps auto, none, required and a named function or
// custom tool; anything else (allowed_tools, hosted tools) is dropped.
func toolChoiceToChat(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var s string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) == nil && (s == "auto" || s == "none" || s == "required") {
			return raw
		}
		return nil
	}
	var o struct {
		Type, Name string
	}
	if json.Unmarshal(raw, &o) != nil || o.Name == "" || (o.Type != "function" && o.Type != "custom") {
		return nil
	}
	b := append([]byte(`{"type":"function","function":{"name":`), providers.AppendJSONString(nil, o.Name)...)
	return append(b, "}}"...)
}

// formatToChat maps text.format to response_format; "text" and unknown
// formats are not sent.
func formatToChat(raw json.RawMessage) json.RawMessage {
	var f struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict,omitempty"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return nil
	}
	switch f.Type {
	case "json_object":
		return json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		if len(bytes.TrimSpace(f.Schema)) == 0 || bytes.TrimSpace(f.Schema)[0] != '{' {
			return nil
		}
		if f.Name == "" {
			f.Name = "response"
		}
		js := struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}{f.Name, f.Description, f.Schema, f.Strict}
		b, err := json.Marshal(struct {
			Type       string `json:"type"`
			JSONSchema any    `json:"json_schema"`
		}{"json_schema", js})
		if err != nil {
			return nil
		}
		return b
	}
	return nil
}

// respConverter builds the Chat messages of one request.
type respConverter struct {
	system    []string
	out       []chatMsg
	reasoning []string        // summaries waiting for the next assistant message
	pending   map[string]bool // calls of the last assistant message without output
	order     []string        // their ids, in order
}

func (c *respConverter) input(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return providers.DecodeError("openai", "input", err)
		}
		c.closeTools()
		c.out = append(c.out, chatMsg{Role: "user", Content: s})
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return providers.DecodeError("openai", "input", err)
	}
	return c.items(items, "input")
}

func (c *respConverter) items(items []json.RawMessage, param string) error {
	for i, raw := range items {
		p := fmt.Sprintf("%s[%d]", param, i)
		var it respItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return providers.DecodeError("openai", p, err)
		}
		if it.Type == "" && it.Role != "" {
			it.Type = "message"
		}
		switch it.Type {
		case "message":
			if err := c.message(&it, p); err != nil {
				return err
			}
		case "function_call":
			args := argumentsString(it.Arguments)
			if strings.TrimSpace(args) != "" && !json.Valid([]byte(args)) {
				// Chat servers parse the history's arguments (vLLM runs
				// json.loads on them) and refuse the whole request over one
				// call a model once cut or garbled: send them as
				// {"arguments": "<as sent>"}, the rule of the answer's
				// direction too, so the model still sees what it wrote.
				b, _ := json.Marshal(map[string]string{"arguments": args})
				args = string(b)
			}
			c.call(it.CallID, it.Name, args)
		case "custom_tool_call":
			var input string
			if err := providers.DecodeOptional("openai", it.Input, &input, p+".input"); err != nil {
				return err
			}
			args, _ := json.Marshal(struct {
				Input string `json:"input"`
			}{input})
			c.call(it.CallID, it.Name, string(args))
		case "function_call_output", "custom_tool_call_output":
			text, err := outputText(it.Output, p+".output")
			if err != nil {
				return err
			}
			c.result(it.CallID, text)
		case "reasoning":
			var texts []string
			for _, s := range it.Summary {
				if s.Text != "" {
					texts = append(texts, s.Text)
				}
			}
			if len(texts) > 0 {
				c.reasoning = append(c.reasoning, strings.Join(texts, "\n\n"))
			}
		}
	}
	return nil
}

func (c *respConverter) message(it *respItem, p string) error {
	raw := bytes.TrimSpace(it.Content)
	var parts []chatPart
	var texts []string
	hasImage := false
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return providers.DecodeError("openai", p+".content", err)
		}
		texts = append(texts, s)
		parts = append(parts, chatPart{Type: "text", Text: s})
	} else if len(raw) > 0 && string(raw) != "null" {
		var ps []respPart
		if err := json.Unmarshal(raw, &ps); err != nil {
			return providers.DecodeError("openai", p+".content", err)
		}
		for _, q := range ps {
			switch q.Type {
			case "input_text", "output_text", "text", "summary_text", "refusal":
				if q.Text != "" {
					texts = append(texts, q.Text)
					parts = append(parts, chatPart{Type: "text", Text: q.Text})
				}
			case "input_image":
				var url string
				if len(q.ImageURL) > 0 && q.ImageURL[0] == '"' {
					json.Unmarshal(q.ImageURL, &url)
				} else if len(q.ImageURL) > 0 {
					var o struct{ URL string }
					json.Unmarshal(q.ImageURL, &o)
					url = o.URL
				}
				if url == "" {
					continue
				}
				d := q.Detail
				if d != "low" && d != "high" {
					d = ""
				}
				hasImage = true
				parts = append(parts, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: url, Detail: d}})
			}
		}
	}
	text := strings.Join(texts, "\n\n")
	switch it.Role {
	case "system", "developer":
		if text != "" {
			c.system = append(c.system, text)
		}
	case "assistant":
		if text == "" {
			return nil
		}
		c.closeTools()
		c.out = append(c.out, chatMsg{Role: "assistant", Content: text, ReasoningContent: c.takeReasoning()})
	default: // user, and a role of next month
		if text == "" && !hasImage {
			return nil
		}
		c.closeTools()
		if hasImage {
			c.out = append(c.out, chatMsg{Role: "user", Content: parts})
		} else {
			c.out = append(c.out, chatMsg{Role: "user", Content: text})
		}
	}
	return nil
}

func (c *respConverter) takeReasoning() string {
	r := strings.Join(c.reasoning, "\n\n")
	c.reasoning = nil
	return r
}

// call adds a tool call to the assistant message just before, or to a new
// one.
func (c *respConverter) call(id, name, args string) {
	if id == "" {
		id = "call_" + fmt.Sprint(len(c.out))
	}
	if args == "" {
		args = "{}"
	}
	n := len(c.out)
	if n == 0 || c.out[n-1].Role != "assistant" {
		c.closeTools()
		c.out = append(c.out, chatMsg{Role: "assistant", Content: nil, ReasoningContent: c.takeReasoning()})
		n = len(c.out)
	} else if r := c.takeReasoning(); r != "" {
		if c.out[n-1].ReasoningContent != "" {
			r = c.out[n-1].ReasoningContent + "\n\n" + r
		}
		c.out[n-1].ReasoningContent = r
	}
	m := &c.out[n-1]
	m.ToolCalls = append(m.ToolCalls, chatToolCall{ID: id, Type: "function", Function: chatFunction{Name: name, Arguments: args}})
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	if !c.pending[id] {
		c.pending[id] = true
		c.order = append(c.order, id)
	}
}

// result adds a tool message answering a pending call, or user text when
// it answers none.
func (c *respConverter) result(id, text string) {
	if c.pending[id] {
		delete(c.pending, id)
		c.out = append(c.out, chatMsg{Role: "tool", ToolCallID: id, Content: text})
		return
	}
	c.closeTools()
	c.out = append(c.out, chatMsg{Role: "user", Content: "Tool result (" + id + "):\n" + text})
}

// closeTools answers each call still without output, before anything
// other than a tool message follows.
func (c *respConverter) closeTools() {
	for _, id := range c.order {
		if c.pending[id] {
			c.out = append(c.out, chatMsg{Role: "tool", ToolCallID: id, Content: "No result: the call was not run."})
		}
	}
	c.pending, c.order = nil, nil
}

// argumentsString is a call's arguments: a JSON string's value, or the
// raw JSON of a client that sends the object itself.
func argumentsString(raw json.RawMessage) string {
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

// outputText is a tool output: a string, or the texts of its parts.
func outputText(raw json.RawMessage, p string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", providers.DecodeError("openai", p, err)
		}
		return s, nil
	case '[':
		var ps []respPart
		if err := json.Unmarshal(raw, &ps); err != nil {
			return "", providers.DecodeError("openai", p, err)
		}
		var texts []string
		for _, q := range ps {
			if q.Text != "" {
				texts = append(texts, q.Text)
			}
		}
		return strings.Join(texts, "\n\n"), nil
	}
	return string(raw), nil
}

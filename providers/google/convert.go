package google

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"path"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// dummySignature is the value Google documents for replaying a Gemini 3
// function call whose real thought signature is unknown, such as a turn that
// another provider produced: https://ai.google.dev/gemini-api/docs/thought-signatures
// ("skip_thought_signature_validator").
const dummySignature = "skip_thought_signature_validator"

// toGenerateRequest translates a decoded Chat Completions request. sigs
// restores the thought signatures of earlier function calls; it may be nil.
func toGenerateRequest(req *providers.ChatCompletionRequest, sigs *sigCache) (*generateRequest, error) {
	g := &generateRequest{Contents: make([]content, 0, len(req.Messages))}
	var system []part
	// callNames maps tool call ids of earlier assistant turns to their
	// function names: Gemini matches a functionResponse to its call by name.
	callNames := map[string]string{}
	add := func(role string, parts ...part) {
		if len(parts) == 0 {
			return
		}
		if n := len(g.Contents); n > 0 && g.Contents[n-1].Role == role {
			g.Contents[n-1].Parts = append(g.Contents[n-1].Parts, parts...)
			return
		}
		g.Contents = append(g.Contents, content{Role: role, Parts: parts})
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		switch m.Role {
		case "system", "developer":
			if t := contentText(m.Content); t != "" {
				system = append(system, part{Text: t})
			}
		case "user":
			add("user", userParts(m.Content)...)
		case "assistant":
			var parts []part
			if t := contentText(m.Content); t != "" {
				parts = append(parts, part{Text: t})
			}
			first := -1
			for _, tc := range m.ToolCalls {
				callNames[tc.ID] = tc.Function.Name
				p := part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: argsObject(tc.Function.Arguments)}}
				p.ThoughtSignature = sigs.get(tc.ID)
				if first < 0 {
					first = len(parts)
				}
				parts = append(parts, p)
			}
			// Gemini 3 rejects a replayed turn whose first function call
			// lacks a signature; a turn we did not produce gets the dummy.
			if first >= 0 && parts[first].ThoughtSignature == "" {
				parts[first].ThoughtSignature = dummySignature
			}
			add("model", parts...)
		case "tool":
			name := callNames[m.ToolCallID]
			if name == "" {
				name = m.Name
			}
			if name == "" {
				name = m.ToolCallID
			}
			add("user", part{FunctionResponse: &functionResponse{Name: name, Response: responseObject(contentText(m.Content))}})
		case "function": // the deprecated form of "tool"
			add("user", part{FunctionResponse: &functionResponse{Name: m.Name, Response: responseObject(contentText(m.Content))}})
		}
	}
	if len(system) > 0 {
		if len(g.Contents) == 0 {
			// Gemini requires contents; a request with only instructions
			// becomes the user's turn.
			add("user", system...)
		} else {
			g.SystemInstruction = &content{Parts: system}
		}
	}
	var decls []functionDeclaration
	for _, t := range req.Tools {
		if t.Type != "" && t.Type != "function" {
			continue
		}
		decls = append(decls, functionDeclaration{
			Name:        t.Function.Name,
			Description: t.Function.Description,
			Parameters:  reduceSchema(t.Function.Parameters),
		})
	}
	if len(decls) > 0 {
		g.Tools = []tool{{FunctionDeclarations: decls}}
		g.ToolConfig = toToolConfig(req.ToolChoice)
	}
	g.GenerationConfig = toGenerationConfig(req)
	return g, nil
}

// toToolConfig maps tool_choice: "auto" → AUTO, "none" → NONE, "required"
// → ANY, a named function → ANY restricted to that name.
func toToolConfig(raw json.RawMessage) *toolConfig {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return &toolConfig{functionCallingConfig{Mode: "AUTO"}}
		case "none":
			return &toolConfig{functionCallingConfig{Mode: "NONE"}}
		case "required":
			return &toolConfig{functionCallingConfig{Mode: "ANY"}}
		}
		return nil
	}
	var named struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &named) == nil && named.Function.Name != "" {
		return &toolConfig{functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{named.Function.Name}}}
	}
	return nil
}

func toGenerationConfig(req *providers.ChatCompletionRequest) *generationConfig {
	c := &generationConfig{Temperature: req.Temperature, TopP: req.TopP, CandidateCount: req.N}
	c.MaxOutputTokens = req.MaxCompletionTokens
	if c.MaxOutputTokens == nil {
		c.MaxOutputTokens = req.MaxTokens
	}
	for _, s := range req.Stop {
		if s != "" {
			c.StopSequences = append(c.StopSequences, s)
		}
	}
	if len(req.ResponseFormat) > 0 {
		var rf struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		}
		if json.Unmarshal(req.ResponseFormat, &rf) == nil {
			switch rf.Type {
			case "json_object":
				c.ResponseMimeType = "application/json"
			case "json_schema":
				c.ResponseMimeType = "application/json"
				c.ResponseSchema = reduceSchema(rf.JSONSchema.Schema)
			}
		}
	}
	c.ThinkingConfig = toThinkingConfig(req.Model, req.ReasoningEffort)
	if c.Temperature == nil && c.TopP == nil && c.CandidateCount == nil && c.MaxOutputTokens == nil &&
		c.StopSequences == nil && c.ResponseMimeType == "" && c.ThinkingConfig == nil {
		return nil
	}
	return c
}

// toThinkingConfig maps reasoning_effort. Gemini 3 takes a thinkingLevel,
// earlier models a token budget. Thoughts are asked for whenever thinking is
// on, so that they reach the client as reasoning_content.
func toThinkingConfig(model, effort string) *thinkingConfig {
	if effort == "" {
		return nil
	}
	if strings.Contains(model, "gemini-3") {
		level := effort
		switch effort {
		case "none", "minimal":
			return &thinkingConfig{ThinkingLevel: "minimal"}
		case "low", "medium", "high":
		case "xhigh":
			level = "high"
		default:
			return nil
		}
		return &thinkingConfig{IncludeThoughts: true, ThinkingLevel: level}
	}
	budgets := map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
	b, ok := budgets[effort]
	if !ok {
		return nil
	}
	return &thinkingConfig{IncludeThoughts: b > 0, ThinkingBudget: &b}
}

// contentText joins a message's text.
func contentText(c providers.Content) string {
	if !c.IsParts && c.Parts == nil {
		return c.Text
	}
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Type == "text" || p.Type == "" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func userParts(c providers.Content) []part {
	if !c.IsParts && c.Parts == nil {
		if c.Text == "" {
			return nil
		}
		return []part{{Text: c.Text}}
	}
	var parts []part
	for _, p := range c.Parts {
		switch {
		case p.Type == "image_url" && p.ImageURL != nil:
			if ip, ok := imagePart(p.ImageURL.URL); ok {
				parts = append(parts, ip)
			}
		case p.Text != "":
			parts = append(parts, part{Text: p.Text})
		}
	}
	return parts
}

// imagePart maps a data URL to inlineData and an http(s) URL to fileData.
func imagePart(u string) (part, bool) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok {
			return part{}, false
		}
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = mt[:i]
		}
		if mt == "" {
			mt = "text/plain"
		}
		if !isB64 {
			raw, err := url.PathUnescape(data)
			if err != nil {
				return part{}, false
			}
			data = base64.StdEncoding.EncodeToString([]byte(raw))
		}
		return part{InlineData: &blob{MimeType: mt, Data: data}}, true
	}
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "gs://") {
		return part{FileData: &fileData{MimeType: mimeFromURL(u), FileURI: u}}, true
	}
	return part{}, false
}

// mimeFromURL guesses a MIME type from the URL's extension; "" when unknown
// (Gemini then sniffs it). A fixed table keeps the result the same on every OS.
func mimeFromURL(u string) string {
	p := u
	if pu, err := url.Parse(u); err == nil {
		p = pu.Path
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	case ".heic":
		return "image/heic"
	case ".heif":
		return "image/heif"
	case ".pdf":
		return "application/pdf"
	}
	return ""
}

// argsObject turns a tool call's arguments string into functionCall.args,
// which must be an object.
func argsObject(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t == "" {
		return json.RawMessage("{}")
	}
	if t[0] == '{' && json.Valid([]byte(t)) {
		return compact(t)
	}
	return wrapString("arguments", s)
}

// responseObject turns a tool result into functionResponse.response, which
// must be an object: a JSON object is sent as is, anything else is wrapped
// as {"result": …}.
func responseObject(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t != "" && t[0] == '{' && json.Valid([]byte(t)) {
		return compact(t)
	}
	return wrapString("result", s)
}

// wrapString returns {key: s} at its exact size: a tool result may be
// large, and json.Marshal would copy it several times.
func wrapString(key, s string) json.RawMessage {
	b, _ := providers.EncodeJSON(func(w *providers.JSONWriter) {
		w.Raw("{")
		w.String(key)
		w.Raw(":")
		w.String(s)
		w.Raw("}")
	})
	return b
}

func compact(s string) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return json.RawMessage(s)
	}
	return b.Bytes()
}

// toolCallID derives a stable id for a function call: the same call in the
// same answer gets the same id in a stream and out of one, and the signature
// (unique per answer) keeps equal calls of different turns apart.
func toolCallID(name, args string, index int, sig string) string {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(args))
	h.Write([]byte{0, byte(index), byte(index >> 8)})
	h.Write([]byte(sig))
	var sum [32]byte
	return "call_" + hex.EncodeToString(h.Sum(sum[:0])[:12])
}

// argsString is a function call's arguments as OpenAI's JSON string.
func argsString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// finishReason maps a candidate's finishReason. STOP with function calls is
// tool_calls (Gemini has no separate reason for it). MALFORMED_FUNCTION_CALL
// and the other tool failures become "stop": no usable call was produced, so
// tool_calls would promise calls the client will not find, and nothing was
// filtered either.
func finishReason(r string, hasCalls bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return "content_filter"
	}
	if hasCalls {
		return "tool_calls"
	}
	return "stop"
}

// toUsage maps usageMetadata. candidatesTokenCount excludes thoughts while
// OpenAI's completion_tokens includes reasoning; the prompt counts the tool
// use prompt too, and cached tokens are part of promptTokenCount already.
func toUsage(u *usageMetadata) *providers.Usage {
	if u == nil {
		return nil
	}
	out := &providers.Usage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	if u.TotalTokenCount > out.TotalTokens {
		out.TotalTokens = u.TotalTokenCount
	}
	if u.CachedContentTokenCount > 0 {
		out.PromptTokensDetails = &providers.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount}
	}
	if u.ThoughtsTokenCount > 0 {
		out.CompletionTokensDetails = &providers.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount}
	}
	return out
}

// fromGenerateResponse translates a non-streamed answer and records the
// thought signatures of its function calls in sigs (may be nil).
func fromGenerateResponse(r *generateResponse, id, model string, created int64, sigs *sigCache) *providers.ChatCompletionResponse {
	out := &providers.ChatCompletionResponse{
		ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []providers.Choice{}, Usage: toUsage(r.UsageMetadata),
	}
	for _, c := range r.Candidates {
		msg := providers.ResponseMessage{Role: "assistant"}
		var text, reasoning strings.Builder
		lastSig := ""
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				if p.ThoughtSignature != "" {
					lastSig = p.ThoughtSignature
				}
				switch {
				case p.FunctionCall != nil:
					idx := len(msg.ToolCalls)
					args := argsString(p.FunctionCall.Args)
					tcid := toolCallID(p.FunctionCall.Name, args, idx, lastSig)
					if p.ThoughtSignature != "" {
						sigs.put(tcid, p.ThoughtSignature)
					}
					msg.ToolCalls = append(msg.ToolCalls, providers.ToolCall{
						ID: tcid, Type: "function",
						Function: providers.FunctionCall{Name: p.FunctionCall.Name, Arguments: args},
					})
				case p.Thought:
					reasoning.WriteString(p.Text)
				default:
					text.WriteString(p.Text)
				}
			}
		}
		if text.Len() > 0 || len(msg.ToolCalls) == 0 {
			s := text.String()
			msg.Content = &s
		}
		msg.ReasoningContent = reasoning.String()
		out.Choices = append(out.Choices, providers.Choice{
			Index: c.Index, Message: msg, FinishReason: finishReason(c.FinishReason, len(msg.ToolCalls) > 0),
		})
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		// The prompt itself was blocked: an empty, filtered answer.
		empty := ""
		out.Choices = append(out.Choices, providers.Choice{
			Message: providers.ResponseMessage{Role: "assistant", Content: &empty}, FinishReason: "content_filter",
		})
	}
	return out
}

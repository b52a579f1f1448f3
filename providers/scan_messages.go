package providers

import "strconv"

// MessagesInfo is what the gateway needs of an Anthropic Messages request
// (the /v1/messages front door) to route it, gathered in the same single
// validating pass as ParseRequest: the body itself goes on untouched to a
// provider that speaks Messages, and is translated only for one that
// does not.
type MessagesInfo struct {
	Model  string
	Stream bool
	// MaxTokens is max_tokens; HasMaxTokens reports whether it was there
	// (the API requires it on /v1/messages, not on count_tokens).
	MaxTokens    int
	HasMaxTokens bool
	// HasMessages reports whether messages is a non-empty array.
	HasMessages bool
	// Facts counts system, message text, tool inputs and results, and the
	// tool definitions, as Facts does for Chat Completions; a system
	// prompt counts as one message.
	Facts Facts
	// Thinking reports whether the request asks for extended thinking.
	Thinking bool
	// UnsignedThinking reports whether the history holds a thinking block
	// with no signature: one another model produced, which Anthropic would
	// refuse.
	UnsignedThinking bool
	// LastIsToolResult reports whether the last message carries tool
	// results: the request continues a tool loop.
	LastIsToolResult bool
}

// ScanMessages checks that body is a JSON object shaped like a Messages
// request and returns its MessagesInfo. Like ParseRequest it refuses a key
// twice in one object. Fields it does not read are only validated as JSON:
// the upstream judges them.
func ScanMessages(body []byte) (*MessagesInfo, error) {
	s := scanner{b: body, req: &ChatCompletionRequest{}, modelAt: -1}
	info := &MessagesInfo{}
	if err := s.messagesRequest(info); err != nil {
		return nil, err
	}
	info.Facts = s.req.facts
	if info.Facts.Messages > 0 {
		info.Facts.EstTokens = estTokens(info.Facts)
	}
	info.Facts.Prefix, info.Facts.ToolTurn, info.Facts.Opening = s.pre.sum(), info.LastIsToolResult, !s.pre.answered
	return info, nil
}

func (s *scanner) messagesRequest(info *MessagesInfo) error {
	f := &s.req.facts
	return s.body(func(key []byte) error {
		switch string(key) {
		case "model":
			str, ok, err := s.stringValue()
			if err != nil {
				return err
			}
			if !ok {
				return &RequestError{Param: "model", Msg: "model: Input should be a valid string"}
			}
			info.Model = str
		case "stream":
			b, err := s.boolValue("stream")
			info.Stream = b
			return err
		case "max_tokens":
			start := s.i
			if err := s.value(); err != nil {
				return err
			}
			n, err := strconv.Atoi(string(s.b[start:s.i]))
			if err != nil {
				return &RequestError{Param: "max_tokens", Msg: "max_tokens: Input should be a valid integer"}
			}
			info.MaxTokens, info.HasMaxTokens = n, true
		case "system":
			return s.system()
		case "messages":
			n, err := s.arrayCount(func(i int) error {
				last, err := s.anthropicMessage(info)
				info.LastIsToolResult = last
				return err
			})
			if err == errNotArray {
				return &RequestError{Param: "messages", Msg: "messages: Input should be a valid list"}
			}
			f.Messages += n
			f.Turns = n
			info.HasMessages = n > 0
			return err
		case "tools":
			n, err := s.arrayCount(func(int) error { return s.anthropicTool() })
			if n > 0 {
				f.HasTools = true
			}
			if err == errNotArray {
				return &RequestError{Param: "tools", Msg: "tools: Input should be a valid list"}
			}
			return err
		case "thinking":
			return s.thinkingParam(info)
		default:
			return s.value()
		}
		return nil
	})
}

// system is a string or an array of text blocks; either counts as one
// message.
func (s *scanner) system() error {
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return s.literal("null")
	}
	s.req.facts.Messages++
	s.pre.begin()
	defer s.pre.end(roleSystem)
	if s.i < len(s.b) && s.b[s.i] == '"' {
		return s.countedString()
	}
	_, err := s.arrayCount(func(int) error { return s.block(nil) })
	if err == errNotArray {
		return &RequestError{Param: "system", Msg: "system: Input should be a valid string or a list of text blocks"}
	}
	return err
}

// anthropicMessage scans one message and reports whether it carries tool
// results.
func (s *scanner) anthropicMessage(info *MessagesInfo) (toolResults bool, err error) {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if err := s.value(); err != nil {
			return false, err
		}
		return false, &RequestError{Param: "messages", Msg: "messages: each message must be an object"}
	}
	var b blockFacts
	r := roleOther
	s.pre.begin()
	defer func() { s.pre.end(r) }()
	err = s.object(func(key []byte) error {
		if string(key) == "role" {
			var err error
			r, err = s.role()
			return err
		}
		if string(key) != "content" {
			return s.value()
		}
		switch {
		case s.i < len(s.b) && s.b[s.i] == '"':
			return s.countedString()
		case s.i < len(s.b) && s.b[s.i] == '[':
			_, err := s.arrayCount(func(int) error { return s.block(&b) })
			return err
		}
		if err := s.value(); err != nil {
			return err
		}
		return &RequestError{Param: "messages", Msg: "messages: content must be a string or a list of content blocks"}
	})
	if b.unsignedThinking {
		info.UnsignedThinking = true
	}
	return b.toolResults, err
}

// blockFacts gathers, over a message's blocks, what routing and the
// pass-through need besides the counts.
type blockFacts struct {
	toolResults      bool
	unsignedThinking bool
}

// block scans one content block. Its type may come after its other keys,
// so what depends on it is settled at the end.
func (s *scanner) block(bf *blockFacts) error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	f := &s.req.facts
	var typ string
	signed := false
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "type":
			t, _, err := s.stringValue()
			typ = t
			return err
		case "text", "thinking":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
		case "signature":
			t, _, err := s.stringValue()
			signed = t != ""
			return err
		case "input":
			// A tool call's arguments, as the model wrote them.
			start := s.i
			err := s.value()
			f.PromptChars += s.i - start
			return err
		case "content":
			// A tool result: a string or blocks of its own.
			switch {
			case s.i < len(s.b) && s.b[s.i] == '"':
				return s.countedString()
			case s.i < len(s.b) && s.b[s.i] == '[':
				_, err := s.arrayCount(func(int) error { return s.block(nil) })
				return err
			}
		}
		return s.value()
	})
	switch typ {
	case "image":
		f.HasImages = true
	case "tool_use":
		f.HasTools = true
	case "tool_result":
		f.HasTools = true
		if bf != nil {
			bf.toolResults = true
		}
	case "thinking":
		if bf != nil && !signed {
			bf.unsignedThinking = true
		}
	}
	return err
}

// anthropicTool counts a tool definition as toolDef does a function.
func (s *scanner) anthropicTool() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	f := &s.req.facts
	return s.object(func(key []byte) error {
		switch string(key) {
		case "name":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				start := s.i
				err := s.countString(&f.ToolChars)
				s.pre.name(s.b[start:s.i])
				return err
			}
		case "description":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countString(&f.ToolChars)
			}
		case "input_schema":
			start := s.i
			err := s.value()
			f.ToolChars += s.i - start
			return err
		}
		return s.value()
	})
}

// thinkingParam reads the thinking setting: enabled or adaptive asks for it.
func (s *scanner) thinkingParam(info *MessagesInfo) error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	return s.object(func(key []byte) error {
		if string(key) != "type" {
			return s.value()
		}
		t, _, err := s.stringValue()
		info.Thinking = t == "enabled" || t == "adaptive"
		return err
	})
}

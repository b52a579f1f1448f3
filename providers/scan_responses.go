package providers

// ResponsesInfo is what the gateway needs of an OpenAI Responses request
// (the /v1/responses front door) to route it, gathered in the same single
// validating pass as ParseRequest: the body goes on untouched to a
// provider that serves Responses, and is translated only for one that
// does not.
type ResponsesInfo struct {
	Model  string
	Stream bool
	// HasInput reports whether input is a non-empty string or array.
	HasInput bool
	// NoStore reports store: false: the response must not be kept.
	NoStore bool
	// PreviousResponseID and PromptCacheKey are as the client sent them.
	PreviousResponseID string
	PromptCacheKey     string
	// CustomTools names the custom (freeform) tools, whose calls go back
	// to the client as custom_tool_call items.
	CustomTools []string
	// Facts counts instructions, the text of input items (messages, tool
	// call arguments and outputs, reasoning summaries) and the tool
	// definitions, as Facts does for Chat Completions; instructions and
	// each item but reasoning count as one message.
	Facts Facts
}

// ScanResponses checks that body is a JSON object shaped like a Responses
// request and returns its ResponsesInfo. Like ParseRequest it refuses a key
// twice in one object. Fields it does not read are only validated as JSON:
// the upstream judges them.
func ScanResponses(body []byte) (*ResponsesInfo, error) {
	s := scanner{b: body, req: &ChatCompletionRequest{}, modelAt: -1}
	info := &ResponsesInfo{}
	if err := s.responsesRequest(info); err != nil {
		return nil, err
	}
	info.Facts = s.req.facts
	if info.Facts.Messages > 0 {
		info.Facts.EstTokens = estTokens(info.Facts)
	}
	info.Facts.Prefix, info.Facts.Opening = s.pre.sum(), !s.pre.answered
	return info, nil
}

func (s *scanner) responsesRequest(info *ResponsesInfo) error {
	f := &s.req.facts
	str := func(param string, dst *string) error {
		v, ok, err := s.stringValue()
		if err == nil && !ok {
			return &RequestError{Param: param, Msg: "Invalid type for '" + param + "': expected a string."}
		}
		*dst = v
		return err
	}
	return s.body(func(key []byte) error {
		switch string(key) {
		case "model":
			return str("model", &info.Model)
		case "previous_response_id":
			return str("previous_response_id", &info.PreviousResponseID)
		case "prompt_cache_key":
			return str("prompt_cache_key", &info.PromptCacheKey)
		case "stream":
			b, err := s.boolValue("stream")
			info.Stream = b
			return err
		case "store":
			if s.i < len(s.b) && s.b[s.i] == 'f' {
				info.NoStore = true
			}
			_, err := s.boolValue("store")
			return err
		case "instructions":
			switch {
			case s.i < len(s.b) && s.b[s.i] == '"':
				f.Messages++
				s.pre.begin()
				defer s.pre.end(roleSystem)
				return s.countedString()
			case s.i < len(s.b) && s.b[s.i] == '[':
				_, err := s.arrayCount(func(int) error { return s.responsesItem() })
				return err
			}
			return s.value()
		case "input":
			switch {
			case s.i < len(s.b) && s.b[s.i] == '"':
				start := s.i
				f.Messages++
				s.pre.begin()
				err := s.countedString()
				s.pre.end(roleUser)
				info.HasInput = s.i-start > 2
				f.Turns, f.ToolTurn = 1, false
				return err
			case s.i < len(s.b) && s.b[s.i] == 'n':
				return s.literal("null")
			}
			n, err := s.arrayCount(func(int) error { return s.responsesItem() })
			if err == errNotArray {
				return &RequestError{Param: "input", Msg: "Invalid type for 'input': expected a string or an array of input items."}
			}
			info.HasInput = n > 0
			f.Turns = n
			return err
		case "tools":
			n, err := s.arrayCount(func(int) error { return s.responsesTool(info) })
			if n > 0 {
				f.HasTools = true
			}
			if err == errNotArray {
				return &RequestError{Param: "tools", Msg: "Invalid type for 'tools': expected an array."}
			}
			return err
		}
		return s.value()
	})
}

// responsesItem scans one input item. Its type may come after its other
// keys, so what depends on it is settled at the end.
func (s *scanner) responsesItem() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if err := s.value(); err != nil {
			return err
		}
		return &RequestError{Param: "input", Msg: "Invalid type for 'input': each input item must be an object."}
	}
	f := &s.req.facts
	var typ string
	r := roleOther
	s.pre.begin()
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "type":
			t, _, err := s.stringValue()
			typ = t
			return err
		case "role":
			var err error
			r, err = s.role()
			return err
		case "content", "output":
			// A message's content or a tool's output: a string or parts.
			switch {
			case s.i < len(s.b) && s.b[s.i] == '"':
				return s.countedString()
			case s.i < len(s.b) && s.b[s.i] == '[':
				_, err := s.arrayCount(func(int) error { return s.responsesPart() })
				return err
			}
		case "arguments", "input":
			// A tool call's arguments, or a custom tool's raw input.
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
		case "summary":
			if s.i < len(s.b) && s.b[s.i] == '[' {
				_, err := s.arrayCount(func(int) error { return s.responsesPart() })
				return err
			}
		}
		return s.value()
	})
	if typ != "" && typ != "message" {
		r = roleAssistant // a tool call, its output, reasoning: the loop is under way
	}
	s.pre.end(r)
	f.ToolTurn = typ == "function_call_output" || typ == "custom_tool_call_output"
	switch typ {
	case "reasoning":
	case "", "message":
		f.Messages++
	default:
		// function_call, custom_tool_call, their outputs, and the hosted
		// tools' items: each one a message of the tool loop.
		f.Messages++
		f.HasTools = true
	}
	return err
}

// responsesPart scans a content, output or summary part.
func (s *scanner) responsesPart() error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "text":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
		case "type":
			image, err := s.stringIs("input_image")
			if image {
				s.req.facts.HasImages = true
			}
			return err
		}
		return s.value()
	})
}

// responsesTool counts a tool definition as toolDef does a function, and
// notes the names of custom tools.
func (s *scanner) responsesTool(info *ResponsesInfo) error {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.value()
	}
	f := &s.req.facts
	var typ, name string
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "type":
			t, _, err := s.stringValue()
			typ = t
			return err
		case "name":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				start := s.i
				v, _, err := s.stringValue()
				name = v
				f.ToolChars += runeCount(v)
				s.pre.name(s.b[start:s.i])
				return err
			}
		case "description":
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countString(&f.ToolChars)
			}
		case "parameters", "format", "tools":
			// A function's schema, a custom tool's grammar, a namespace's
			// tools: all of it reaches the model's context.
			start := s.i
			err := s.value()
			f.ToolChars += s.i - start
			return err
		}
		return s.value()
	})
	if typ == "custom" && name != "" {
		info.CustomTools = append(info.CustomTools, name)
	}
	return err
}

package providers

// InputInfo is what the gateway needs of an OpenAI legacy completions
// (/v1/completions) or embeddings (/v1/embeddings) request, gathered in
// the same single validating pass as ParseRequest: both go on untouched to
// a provider that serves them.
type InputInfo struct {
	Model  string
	Stream bool
	// HasInput reports whether the request has a prompt (completions) or
	// an input (embeddings) that is not null.
	HasInput bool
	// Facts counts the text of the prompt or of each input and, for
	// completions, the suffix; each is one message. For embeddings
	// EstTokens is ceil(PromptChars/4), without the chat framing: an
	// embedding model reads the bare text.
	Facts Facts
}

// ScanCompletions checks that body is a JSON object shaped like a
// completions request (prompt a string, strings or token arrays; suffix a
// string) and returns its InputInfo. Like ParseRequest it refuses a key
// twice in one object.
func ScanCompletions(body []byte) (*InputInfo, error) {
	s := scanner{b: body, req: &ChatCompletionRequest{}, modelAt: -1}
	info := &InputInfo{}
	if err := s.inputsRequest(info, "prompt", true); err != nil {
		return nil, err
	}
	info.Facts = s.req.facts.Estimated()
	return info, nil
}

// ScanEmbeddings is ScanCompletions for an embeddings request's input.
func ScanEmbeddings(body []byte) (*InputInfo, error) {
	s := scanner{b: body, req: &ChatCompletionRequest{}, modelAt: -1}
	info := &InputInfo{}
	if err := s.inputsRequest(info, "input", false); err != nil {
		return nil, err
	}
	info.Facts = s.req.facts
	info.Facts.EstTokens = (info.Facts.PromptChars + charsPerToken - 1) / charsPerToken
	return info, nil
}

func (s *scanner) inputsRequest(info *InputInfo, inputKey string, completions bool) error {
	f := &s.req.facts
	return s.body(func(key []byte) error {
		switch k := string(key); {
		case k == "model":
			str, ok, err := s.stringValue()
			if err == nil && !ok {
				return &RequestError{Param: "model", Msg: "Invalid type for 'model': expected a string."}
			}
			info.Model = str
			return err
		case k == "stream" && completions:
			b, err := s.boolValue("stream")
			info.Stream = b
			return err
		case k == "suffix" && completions:
			if s.i < len(s.b) && s.b[s.i] == '"' {
				f.Messages++
				return s.countedString()
			}
		case k == inputKey:
			return s.inputs(info, inputKey)
		}
		return s.value()
	})
}

// inputs scans a prompt or input: a string, an array of strings, a token
// array or an array of them (which carry no text to count).
func (s *scanner) inputs(info *InputInfo, param string) error {
	f := &s.req.facts
	switch {
	case s.i < len(s.b) && s.b[s.i] == '"':
		info.HasInput = true
		f.Messages++
		return s.countedString()
	case s.i < len(s.b) && s.b[s.i] == 'n':
		return s.literal("null")
	case s.i < len(s.b) && s.b[s.i] == '[':
		info.HasInput = true
		n, err := s.arrayCount(func(int) error {
			if s.i < len(s.b) && s.b[s.i] == '"' {
				return s.countedString()
			}
			return s.value()
		})
		f.Messages += max(n, 1)
		return err
	}
	if err := s.value(); err != nil {
		return err
	}
	return &RequestError{Param: param, Msg: "Invalid type for '" + param + "': expected a string or an array."}
}

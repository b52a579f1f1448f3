package providers

import "math/bits"

// Facts are what routing rules may know of a request, gathered from the
// request ParseRequest already decoded: no second decode of the body.
type Facts struct {
	// Messages is the number of messages.
	Messages int
	// PromptChars counts the characters (runes, not bytes) of all text the
	// messages carry: string content, text parts, tool call arguments and
	// tool results (role tool messages' content). Tool definitions and
	// images are not counted.
	PromptChars int
	// ToolChars counts the tool definitions: each function's name and
	// description (runes) and its parameter schema (bytes of JSON). Coding
	// agents send tens of thousands of tokens of them, which a local model's
	// context must hold too.
	ToolChars int
	// EstTokens is a rough prompt size in tokens, for rules that compare it
	// with a context window:
	//
	//	EstTokens = ceil((PromptChars + ToolChars) / 4) + 3*Messages + 3
	//
	// four characters per token is the usual estimate for English text and
	// code; 3 tokens per message and 3 for priming the reply are the framing
	// overhead OpenAI documents for chat models. It is 0 when there are no
	// messages.
	EstTokens int
	// HasImages reports whether any message has an image_url part.
	HasImages bool
	// HasTools reports whether the request defines tools, or any message
	// carries tool calls or is a tool result (role tool).
	HasTools bool
	// Prefix hashes the conversation's stable start (system prompt, tool
	// names, first user message; prefix.go): the session key of a client
	// that sends none. 0 when there is no user message.
	Prefix uint64 `json:"-"`
	// ToolTurn reports whether the last message is a tool result: the
	// request continues an agent's tool loop.
	ToolTurn bool
	// Opening reports a conversation's first turn: no model's answer in
	// the history yet. Such a request starts its session afresh.
	Opening bool
	// Turns is the number of entries of the door's history array
	// (messages, input items): where a session's turns on another model end.
	Turns int
}

// The constants of the EstTokens formula.
const (
	charsPerToken    = 4
	tokensPerMessage = 3
	tokensPerReply   = 3
)

// Facts returns what ParseRequest gathered; for a request built in code it
// makes one pass over r.Messages, without allocating.
func (r *ChatCompletionRequest) Facts() Facts {
	if r.scanned {
		return r.facts
	}
	f := Facts{Messages: len(r.Messages), HasTools: len(r.Tools) > 0, Turns: len(r.Messages)}
	if n := len(r.Messages); n > 0 {
		f.ToolTurn = r.Messages[n-1].Role == "tool"
	}
	f.Opening = true
	for i := range r.Messages {
		switch r.Messages[i].Role {
		case "assistant", "model", "tool":
			f.Opening = false
		}
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		f.PromptChars += runeCount(m.Content.Text)
		for j := range m.Content.Parts {
			p := &m.Content.Parts[j]
			f.PromptChars += runeCount(p.Text)
			if p.Type == "image_url" || p.ImageURL != nil {
				f.HasImages = true
			}
		}
		for j := range m.ToolCalls {
			f.PromptChars += runeCount(m.ToolCalls[j].Function.Arguments)
		}
		if len(m.ToolCalls) > 0 || m.Role == "tool" {
			f.HasTools = true
		}
	}
	for i := range r.Tools {
		fn := &r.Tools[i].Function
		f.ToolChars += runeCount(fn.Name) + runeCount(fn.Description) + len(fn.Parameters)
	}
	if f.Messages > 0 {
		f.EstTokens = estTokens(f)
	}
	return f
}

func estTokens(f Facts) int {
	return (f.PromptChars+f.ToolChars+charsPerToken-1)/charsPerToken + tokensPerMessage*f.Messages + tokensPerReply
}

// runeCount returns the number of runes in s; for valid UTF-8 it equals
// utf8.RuneCountInString(s). It counts the bytes that do not continue a
// rune, 8 at a time, which is about five times faster on prompt text; this
// runs over every request's whole prompt.
func runeCount[T string | []byte](s T) int {
	n := len(s)
	for len(s) >= 8 {
		// The compiler merges these loads into one.
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		// A continuation byte is 10xxxxxx: bit 7 set, bit 6 clear.
		n -= bits.OnesCount64(x &^ (x << 1) & 0x8080808080808080)
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i]&0xC0 == 0x80 {
			n--
		}
	}
	return n
}

// Estimated returns f with EstTokens worked out from its counts, for the
// doors that gather their own (FIM completions, embeddings, Ollama's API).
func (f Facts) Estimated() Facts {
	if f.Messages > 0 {
		f.EstTokens = estTokens(f)
	}
	return f
}

// CountChars returns the characters (runes) of s, as Facts counts them.
func CountChars(s string) int { return runeCount(s) }

// CountQuotedChars returns the characters of the value of q, a valid JSON
// string literal (quotes included), as Facts counts them, without decoding
// it: for scans of other protocols' bodies.
func CountQuotedChars(q []byte) int { return unquotedRuneCount(q) }

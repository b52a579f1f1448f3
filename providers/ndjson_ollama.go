package providers

import (
	"errors"
	"strconv"

	"github.com/localrouter/localrouter/providers/sse"
)

// OllamaWire is Ollama's own API (/api/chat, /api/generate, /api/embed,
// /api/embeddings, /api/show) as ForwardNative sees it, for upstreams
// marked protocols: [ollama]. Its streams are NDJSON: each line goes to the
// client as received, the line with "done": true ends the stream, and a
// line {"error": …} is the upstream's last word. Its errors are
// {"error": "text"}; its usage is prompt_eval_count and eval_count.
type OllamaWire struct{}

// Protocol returns ProtocolOllama.
func (OllamaWire) Protocol() Protocol { return ProtocolOllama }

// ParseError reads {"error": "…"}, Ollama's only error shape.
func (OllamaWire) ParseError(body []byte) (code, msg string) {
	msg, _, code, _ = ParseErrorBody(body)
	return code, msg
}

// Relay returns a decoder for one NDJSON stream.
func (OllamaWire) Relay() RelayDecoder { return &ollamaRelay{} }

// Usage reads a whole answer's token counts: /api/chat and /api/generate
// report prompt_eval_count and eval_count, /api/embed the first only.
func (OllamaWire) Usage(body []byte) *Usage {
	var c ollamaCounts
	members(body, c.read)
	return c.usage()
}

// ollamaCounts are the token counts of an Ollama answer or final line.
type ollamaCounts struct {
	prompt, eval int
	seen         bool
}

func (c *ollamaCounts) read(key, val []byte) {
	switch string(key) {
	case `"prompt_eval_count"`:
		c.prompt, _ = strconv.Atoi(string(val))
		c.seen = true
	case `"eval_count"`:
		c.eval, _ = strconv.Atoi(string(val))
		c.seen = true
	}
}

func (c *ollamaCounts) usage() *Usage {
	if !c.seen {
		return nil
	}
	return &Usage{PromptTokens: c.prompt, CompletionTokens: c.eval, TotalTokens: c.prompt + c.eval}
}

// ollamaRelay passes an Ollama stream on line by line, as received, and
// reads the final line's counts for the log.
type ollamaRelay struct {
	lines  int // lines passed on so far
	counts ollamaCounts
}

var (
	errOllamaNotObject  = errors.New("ollama: a stream line is not a JSON object")
	errOllamaEndedEarly = errors.New(`ollama: stream ended before its "done": true line`)
)

func (r *ollamaRelay) Event(ev sse.Event, dst [][]byte) ([][]byte, bool, error) {
	line := ev.Data
	var done bool
	var errVal []byte
	if !members(line, func(key, val []byte) {
		switch string(key) {
		case `"done"`:
			done = string(val) == "true"
		case `"error"`:
			errVal = val
		}
	}) {
		return dst, false, errOllamaNotObject
	}
	// The line goes out with its line break; the copy outlives the
	// reader's buffer.
	wire := make([]byte, len(line)+1)
	copy(wire, line)
	wire[len(line)] = '\n'
	if len(errVal) > 0 && string(errVal) != "null" {
		_, msg := OllamaWire{}.ParseError(line)
		e := &Error{Stage: StageStream, Message: msg, Raw: wire[:len(line)]}
		if r.lines == 0 {
			// Nothing has reached the client: the gateway can still
			// answer with a real status, or fall back.
			return dst, false, e
		}
		e.Err = ErrRelayedFailure
		return append(dst, wire), true, e
	}
	r.lines++
	if done {
		members(line, r.counts.read)
	}
	return append(dst, wire), done, nil
}

func (r *ollamaRelay) Usage() *Usage { return r.counts.usage() }

func (*ollamaRelay) End(dst [][]byte) ([][]byte, error) { return dst, errOllamaEndedEarly }

package proxy

import (
	"bytes"
	"net/http"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/ollama"
	"github.com/localrouter/localrouter/strategy"
)

// The Ollama doors (DESIGN §9): /api/chat, /api/generate and /api/embed
// (with the legacy /api/embeddings), what JetBrains, Zed, Open WebUI,
// Copilot's Ollama provider and Roo or Cline in Ollama mode speak. A
// provider marked protocols: [ollama] gets the body as sent and its NDJSON
// relayed line by line; any other gets chat translated through Chat
// Completions, and fill-in-the-middle and embeddings bridged to its
// completions and embeddings APIs. Errors are Ollama's {"error":"…"}.

// ollamaDoor holds what the three doors share.
type ollamaDoor struct{}

func (ollamaDoor) native() providers.Protocol { return providers.ProtocolOllama }

func (ollamaDoor) writeError(w http.ResponseWriter, e *apiError) {
	writeOllamaError(w, e.status, e.Error())
}

func (ollamaDoor) nativeStream(string) nativeStream { return ndjsonRelay{} }

func ollamaMissingModel() *apiError {
	return newAPIError(http.StatusBadRequest, "invalid_request_error", "missing_required_parameter", "model", "model is required")
}

// ollamaChatDoor is POST /api/chat.
type ollamaChatDoor struct{ ollamaDoor }

func (ollamaChatDoor) endpoint() string { return "chat" }

func (ollamaChatDoor) parse(body []byte, r *http.Request) (*call, error) {
	info, err := ollama.ScanChat(body)
	if err != nil {
		return nil, err
	}
	if info.Model == "" {
		return nil, ollamaMissingModel()
	}
	return &call{model: ollamaName(info.Model), stream: info.Stream, facts: info.Facts, body: body, path: "/api/chat",
		codec: &ollamaChatCodec{body: body, model: info.Model, load: info.Load, facts: info.Facts}, session: sessionHeader(r)}, nil
}

// ollamaGenerateDoor is POST /api/generate: fill-in-the-middle (a suffix)
// and prompts the client formatted itself (raw) go to a completions API;
// the rest is a one-turn chat.
type ollamaGenerateDoor struct{ ollamaDoor }

func (ollamaGenerateDoor) endpoint() string { return "chat" }

func (ollamaGenerateDoor) parse(body []byte, _ *http.Request) (*call, error) {
	info, err := ollama.ScanGenerate(body)
	if err != nil {
		return nil, err
	}
	if info.Model == "" {
		return nil, ollamaMissingModel()
	}
	c := &call{model: ollamaName(info.Model), stream: info.Stream, facts: info.Facts, body: body, path: "/api/generate"}
	if info.FIM {
		c.endpoint = strategy.EndpointCompletions
		c.bridge = &generateBridge{body: body, model: info.Model, facts: info.Facts}
	} else {
		c.codec = &ollamaChatCodec{body: body, model: info.Model, load: info.Load, facts: info.Facts, generate: true}
	}
	return c, nil
}

// ollamaEmbedDoor is POST /api/embed, and with legacy the /api/embeddings
// of Ollama before 0.3.
type ollamaEmbedDoor struct {
	ollamaDoor
	legacy bool
}

func (ollamaEmbedDoor) endpoint() string { return strategy.EndpointEmbeddings }

func (d ollamaEmbedDoor) parse(body []byte, _ *http.Request) (*call, error) {
	info, err := ollama.ScanEmbed(body, d.legacy)
	if err != nil {
		return nil, err
	}
	if info.Model == "" {
		return nil, ollamaMissingModel()
	}
	path := "/api/embed"
	if d.legacy {
		path = "/api/embeddings"
	}
	return &call{model: ollamaName(info.Model), facts: info.Facts, body: body, path: path,
		bridge: &embedBridge{body: body, model: info.Model, legacy: d.legacy}}, nil
}

// ollamaChatCodec translates /api/chat, and /api/generate without a
// suffix, for a Chat Completions provider.
type ollamaChatCodec struct {
	body     []byte
	model    string // as the client named it, which the answer reports
	load     bool
	facts    providers.Facts
	generate bool
}

func (c *ollamaChatCodec) chat(model string) (*providers.ChatCompletionRequest, error) {
	conv := ollama.ChatToChat
	if c.generate {
		conv = ollama.GenerateToChat
	}
	body, err := conv(c.body, model)
	if err != nil {
		return nil, err
	}
	return providers.ParseRequest(body)
}

// direct is the answer to a request with nothing to answer (no messages,
// no prompt): Ollama loads the model and says so; a provider that is not
// Ollama has nothing to load.
func (c *ollamaChatCodec) direct() []byte {
	if !c.load {
		return nil
	}
	return ollama.LoadAnswer(c.model, c.generate)
}

func (c *ollamaChatCodec) answer(resp *providers.ChatCompletionResponse, _ string) ([]byte, error) {
	return ollama.FromChatResponse(resp, c.model, c.generate)
}

func (c *ollamaChatCodec) stream(string) streamEncoder {
	s := ollama.NewChatStream(c.model)
	if c.generate {
		s = ollama.NewGenerateStream(c.model)
	}
	s.SetPromptTokens(c.facts.EstTokens)
	return ndjsonStream{s}
}

// ndjsonStream writes a Chat Completions stream as Ollama's NDJSON.
type ndjsonStream struct{ s *ollama.NDJSONStream }

func (ndjsonStream) contentType() string { return providers.FramingNDJSON.ContentType() }

func (n ndjsonStream) chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	return n.s.Chunk(dst, c)
}

func (n ndjsonStream) end(dst []byte) []byte { return n.s.End(dst) }

func (n ndjsonStream) fail(dst []byte, e *apiError) []byte { return n.s.Fail(dst, e.Error()) }

// ndjsonRelay relays an Ollama upstream's NDJSON lines as they are; a
// stream cut midway ends with an {"error":"…"} line, as Ollama ends one.
type ndjsonRelay struct{}

func (ndjsonRelay) contentType() string { return providers.FramingNDJSON.ContentType() }

func (ndjsonRelay) event(dst, line []byte) ([]byte, error) { return append(dst, line...), nil }

func (ndjsonRelay) end(dst []byte) []byte { return dst }

func (ndjsonRelay) fail(dst []byte, e *apiError) []byte {
	return append(append(dst, ollama.ErrorBody(e.Error())...), '\n')
}

// generateBridge serves /api/generate's fill-in-the-middle through a
// provider's /v1/completions.
type generateBridge struct {
	body  []byte
	model string
	facts providers.Facts
}

func (*generateBridge) via() providers.Protocol { return providers.ProtocolCompletions }

func (b *generateBridge) request(model string) (string, []byte, error) {
	body, err := ollama.GenerateToCompletions(b.body, model)
	return "/v1/completions", body, err
}

func (b *generateBridge) answer(body []byte) ([]byte, error) {
	return ollama.FromCompletions(body, b.model)
}

func (b *generateBridge) stream() nativeStream {
	s := ollama.NewGenerateStream(b.model)
	s.SetPromptTokens(b.facts.EstTokens)
	return &completionsToNDJSON{s: s}
}

// completionsToNDJSON turns a completions SSE stream into /api/generate's
// NDJSON.
type completionsToNDJSON struct{ s *ollama.NDJSONStream }

func (*completionsToNDJSON) contentType() string { return providers.FramingNDJSON.ContentType() }

func (c *completionsToNDJSON) event(dst, ev []byte) ([]byte, error) {
	out, _, err := ollama.CompletionEvent(dst, c.s, eventData(ev))
	return out, err
}

func (c *completionsToNDJSON) end(dst []byte) []byte { return c.s.End(dst) }

func (c *completionsToNDJSON) fail(dst []byte, e *apiError) []byte { return c.s.Fail(dst, e.Error()) }

// eventData returns the data of one SSE event as providers.AppendEvent wrote
// it ("data: " lines, perhaps after an "event: " line), its lines joined by
// newlines; without a copy for the usual one line.
func eventData(ev []byte) []byte {
	var data []byte
	lines := 0
	for line := range bytes.Lines(ev) {
		d, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:"))
		if !ok {
			continue
		}
		d = bytes.TrimPrefix(d, []byte(" "))
		if lines++; lines == 1 {
			data = d
			continue
		}
		data = append(append(append([]byte(nil), data...), '\n'), d...)
	}
	return data
}

// embedBridge serves /api/embed through a provider's /v1/embeddings.
type embedBridge struct {
	body   []byte
	model  string
	legacy bool
}

func (*embedBridge) via() providers.Protocol { return providers.ProtocolEmbeddings }

func (b *embedBridge) request(model string) (string, []byte, error) {
	body, err := ollama.EmbedToEmbeddings(b.body, model, b.legacy)
	return "/v1/embeddings", body, err
}

func (b *embedBridge) answer(body []byte) ([]byte, error) {
	return ollama.EmbeddingsToEmbed(body, b.model, b.legacy)
}

// stream is never used: embeddings do not stream.
func (b *embedBridge) stream() nativeStream { return ndjsonRelay{} }

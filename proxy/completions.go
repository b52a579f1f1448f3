package proxy

import (
	"net/http"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// completionsDoor is POST /v1/completions, OpenAI's legacy completions,
// which editors' autocomplete uses for fill-in-the-middle (a prompt and a
// suffix). It has no Chat Completions form: only a provider with a
// completions API serves it (every OpenAI-compatible one: Ollama, vLLM,
// llama.cpp, LM Studio; DeepSeek and Mistral through their FIM APIs), and
// any other route gets a 400 that names it.
type completionsDoor struct{}

func (completionsDoor) endpoint() string { return strategy.EndpointCompletions }

func (completionsDoor) native() providers.Protocol { return providers.ProtocolCompletions }

func (completionsDoor) parse(body []byte, _ *http.Request) (*call, error) {
	info, err := providers.ScanCompletions(body)
	if err != nil {
		return nil, err
	}
	if info.Model == "" {
		return nil, missingParameter("model")
	}
	return &call{model: info.Model, stream: info.Stream, facts: info.Facts, body: body, path: "/v1/completions"}, nil
}

func (completionsDoor) writeError(w http.ResponseWriter, e *apiError) { writeError(w, e) }

func (completionsDoor) nativeStream(string) nativeStream { return plainRelay(appendStreamError) }

// embeddingsDoor is POST /v1/embeddings. Like completions it has no Chat
// form: OpenAI-compatible providers serve it as is, Gemini through its
// batchEmbedContents, and a route that has none (Anthropic) gets a 400.
type embeddingsDoor struct{}

func (embeddingsDoor) endpoint() string { return strategy.EndpointEmbeddings }

func (embeddingsDoor) native() providers.Protocol { return providers.ProtocolEmbeddings }

func (embeddingsDoor) parse(body []byte, _ *http.Request) (*call, error) {
	info, err := providers.ScanEmbeddings(body)
	switch {
	case err != nil:
		return nil, err
	case info.Model == "":
		return nil, missingParameter("model")
	case !info.HasInput:
		return nil, missingParameter("input")
	}
	return &call{model: info.Model, facts: info.Facts, body: body, path: "/v1/embeddings"}, nil
}

func (embeddingsDoor) writeError(w http.ResponseWriter, e *apiError) { writeError(w, e) }

func (embeddingsDoor) nativeStream(string) nativeStream { return plainRelay(appendStreamError) }

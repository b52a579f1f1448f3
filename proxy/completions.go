package proxy

import (
	"bytes"
	"encoding/json"
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
	var req struct {
		Model  string          `json:"model"`
		Prompt json.RawMessage `json:"prompt"`
		Suffix *string         `json:"suffix"`
		Stream bool            `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, providers.DecodeError("completions", "", err)
	}
	if req.Model == "" {
		return nil, missingParameter("model")
	}
	f := providers.Facts{Messages: 1}
	texts, err := promptTexts(req.Prompt, "prompt")
	if err != nil {
		return nil, err
	}
	for _, t := range texts {
		f.PromptChars += providers.CountChars(t)
	}
	if req.Suffix != nil {
		f.Messages++
		f.PromptChars += providers.CountChars(*req.Suffix)
	}
	return &call{model: req.Model, stream: req.Stream, facts: f.Estimated(), body: body, path: "/v1/completions"}, nil
}

// promptTexts reads a prompt or an embeddings input: a string, an array of
// strings, or token arrays (which carry no text to count).
func promptTexts(raw json.RawMessage, param string) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, providers.DecodeError("completions", param, err)
		}
		return []string{s}, nil
	case raw[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, providers.DecodeError("completions", param, err)
		}
		var out []string
		for _, it := range items {
			var s string
			if json.Unmarshal(it, &s) == nil {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, &providers.RequestError{Param: param, Msg: "Invalid type for '" + param + "': expected a string or an array."}
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
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, providers.DecodeError("embeddings", "", err)
	}
	switch in := bytes.TrimSpace(req.Input); {
	case req.Model == "":
		return nil, missingParameter("model")
	case len(in) == 0 || string(in) == "null":
		return nil, missingParameter("input")
	}
	texts, err := promptTexts(req.Input, "input")
	if err != nil {
		return nil, err
	}
	f := providers.Facts{Messages: max(len(texts), 1)}
	for _, t := range texts {
		f.PromptChars += providers.CountChars(t)
	}
	return &call{model: req.Model, facts: f.Estimated(), body: body, path: "/v1/embeddings"}, nil
}

func (embeddingsDoor) writeError(w http.ResponseWriter, e *apiError) { writeError(w, e) }

func (embeddingsDoor) nativeStream(string) nativeStream { return plainRelay(appendStreamError) }

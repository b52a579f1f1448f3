// Package ollama translates Ollama's own API (/api/chat, /api/generate,
// /api/embed and the legacy /api/embeddings) to the OpenAI protocols the
// gateway's providers speak (Chat Completions, legacy completions,
// embeddings) and their answers back, for the Ollama front door (DESIGN §9).
// Editors and chat UIs that only speak Ollama (Open WebUI, JetBrains AI
// Assistant, Zed, Continue, Roo and Cline in Ollama mode) reach any upstream
// through it.
//
// It is pure: no I/O, no HTTP. The shapes follow what a real Ollama server
// sends (../shared/captures/ollama) and the types of
// github.com/ollama/ollama/api, which this package does not import: one
// JSON object per NDJSON line, durations in nanoseconds, created_at in
// RFC 3339 with nanoseconds, tool call arguments as an object.
package ollama

import (
	"bytes"
	"encoding/json"
)

// Wire structs of the requests as Ollama clients send them (api.ChatRequest,
// api.GenerateRequest, api.EmbedRequest, api.EmbeddingRequest). Fields they
// do not list (keep_alive, truncate, shift, logprobs, template, context, and
// whatever next month's Ollama adds) are dropped by decoding: open lists.
// Polymorphic fields stay json.RawMessage and are read by request.go.

type chatRequest struct {
	Model    string          `json:"model"`
	Messages []message       `json:"messages"`
	Stream   *bool           `json:"stream"`
	Format   json.RawMessage `json:"format"`
	Tools    []tool          `json:"tools"`
	Options  *options        `json:"options"`
	Think    json.RawMessage `json:"think"`
}

type generateRequest struct {
	Model   string          `json:"model"`
	Prompt  string          `json:"prompt"`
	Suffix  string          `json:"suffix"`
	System  string          `json:"system"`
	Stream  *bool           `json:"stream"`
	Raw     bool            `json:"raw"`
	Format  json.RawMessage `json:"format"`
	Images  []string        `json:"images"`
	Options *options        `json:"options"`
	Think   json.RawMessage `json:"think"`
}

// embedRequest is /api/embed's body (Input, Dimensions) and the legacy
// /api/embeddings' (Prompt).
type embedRequest struct {
	Model      string          `json:"model"`
	Input      json.RawMessage `json:"input"`
	Prompt     string          `json:"prompt"`
	Dimensions *float64        `json:"dimensions"`
}

// message is api.Message. Images are base64 (api.ImageData marshals so).
type message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	Thinking   string     `json:"thinking"`
	Images     []string   `json:"images"`
	ToolCalls  []toolCall `json:"tool_calls"`
	ToolName   string     `json:"tool_name"`
	ToolCallID string     `json:"tool_call_id"`
}

type toolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name string `json:"name"`
		// Arguments is an object in Ollama's API; a client that sends the
		// OpenAI form, a JSON string, is taken at its word.
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type tool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// options are the entries of api.Options that have an OpenAI counterpart.
// Ollama reads numbers into ints by truncating them (Options.FromMap), and
// so does this package. num_ctx, keep_alive and the sampler settings
// OpenAI lacks (min_p, repeat_penalty, mirostat…) are dropped.
type options struct {
	NumPredict, Temperature, TopP, TopK, Seed, PresencePenalty, FrequencyPenalty *float64
	Stop                                                                         json.RawMessage // an array of strings; a lone string is taken too
}

// UnmarshalJSON reads the options as Ollama does, from a map: unlike a
// struct's fields, its keys match only as written.
func (o *options) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	for _, f := range [...]struct {
		key string
		dst **float64
	}{{"num_predict", &o.NumPredict}, {"temperature", &o.Temperature}, {"top_p", &o.TopP}, {"top_k", &o.TopK},
		{"seed", &o.Seed}, {"presence_penalty", &o.PresencePenalty}, {"frequency_penalty", &o.FrequencyPenalty}} {
		key, dst := f.key, f.dst
		raw, ok := m[key]
		if !ok || string(raw) == "null" {
			continue
		}
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			if te, ok := err.(*json.UnmarshalTypeError); ok {
				te.Field = key // encoding/json puts "options." before it
			}
			return err
		}
		*dst = &v
	}
	o.Stop = m["stop"]
	return nil
}

// chatOut is the Chat Completions request ChatToChat and GenerateToChat
// write: fields that local servers (vLLM, Ollama, LM Studio, llama.cpp) and
// the OpenAI API take, plus top_k, which the local servers take and the
// rest ignore.
type chatOut struct {
	Model            string          `json:"model"`
	Messages         []chatMessage   `json:"messages"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	TopK             *int            `json:"top_k,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	Stop             []string        `json:"stop,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
	StreamOptions    *streamOptions  `json:"stream_options,omitempty"`
	Tools            []chatTool      `json:"tools,omitempty"`
	ResponseFormat   json.RawMessage `json:"response_format,omitempty"`
	ReasoningEffort  string          `json:"reasoning_effort,omitempty"`
}

// completionsOut is the OpenAI /v1/completions request GenerateToCompletions
// writes: only the fields every FIM server takes (Mistral's
// /v1/fim/completions refuses others).
type completionsOut struct {
	Model         string         `json:"model"`
	Prompt        string         `json:"prompt"`
	Suffix        string         `json:"suffix,omitempty"`
	MaxTokens     *int           `json:"max_tokens,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	TopP          *float64       `json:"top_p,omitempty"`
	Stop          []string       `json:"stop,omitempty"`
	Seed          *int64         `json:"seed,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
}

type embeddingsOut struct {
	Model      string          `json:"model"`
	Input      json.RawMessage `json:"input"`
	Dimensions int             `json:"dimensions,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatMessage: Content is a string, []chatPart, or nil (null: an assistant
// message with only tool calls).
type chatMessage struct {
	Role             string         `json:"role"`
	Content          any            `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	ToolCalls        []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID       string         `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"` // text or image_url
	Text     string        `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// Answers as the upstreams send them.

// chatChunk is a streamed Chat Completions chunk, with the fields the typed
// providers.ChatCompletionStreamResponse lacks: Ollama's and OpenRouter's
// "reasoning", and arguments that a few servers send as an object.
type chatChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			Reasoning        *string `json:"reasoning"`
			Refusal          *string `json:"refusal"`
			ToolCalls        []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// chatResponse is a non-streamed Chat Completions answer, likewise.
type chatResponse struct {
	Choices []struct {
		Message struct {
			Content          json.RawMessage `json:"content"` // a string, null, or (rarely) parts
			ReasoningContent string          `json:"reasoning_content"`
			Reasoning        string          `json:"reasoning"`
			Refusal          string          `json:"refusal"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// completionsAnswer is a /v1/completions answer or one event of its
// stream. Error is set by servers that report a failure in the stream.
type completionsAnswer struct {
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage"`
	Error   json.RawMessage    `json:"error"`
}

type completionChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	FinishReason *string `json:"finish_reason"`
}

// embeddingsAnswer is a /v1/embeddings answer. Embedding is an array of
// numbers, or with encoding_format base64 a string of little-endian
// float32s.
type embeddingsAnswer struct {
	Data []struct {
		Index     *int            `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage *usage `json:"usage"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// marshal is json.Marshal without HTML escaping: prompts are full of < and
// &, and \u003c would only make them longer.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

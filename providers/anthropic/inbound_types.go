package anthropic

import "encoding/json"

// Wire structs of the inbound direction: a Messages request as Claude Code
// and the Anthropic SDKs send it, and the Chat Completions request it becomes.
// types.go holds the outbound ones; they cannot be reused here because an
// inbound content may be a string and the fields the OpenAI side needs differ.
// Polymorphic fields stay json.RawMessage and are read by inbound.go, so that
// an unknown shape can be dropped instead of failing the whole decode.

// inRequest is the body of POST /v1/messages. Fields it does not list
// (cache_control, context_management, container, mcp_servers, service_tier,
// and whatever next month's client adds) are dropped by decoding.
type inRequest struct {
	MaxTokens     *float64        `json:"max_tokens"`
	System        json.RawMessage `json:"system"` // a string or text blocks
	Messages      json.RawMessage `json:"messages"`
	Tools         json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage `json:"tool_choice"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *float64        `json:"top_k"`
	StopSequences json.RawMessage `json:"stop_sequences"`
	Thinking      json.RawMessage `json:"thinking"`
	OutputConfig  json.RawMessage `json:"output_config"`
	Metadata      json.RawMessage `json:"metadata"`
	Stream        *bool           `json:"stream"`
}

type inMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or blocks
}

// inBlock is any content block of a known type. A block of an unknown type
// is never decoded into it (see decodeBlock).
type inBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Source    *inSource       `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // tool_result: a string or blocks
	IsError   bool            `json:"is_error"`
	Thinking  string          `json:"thinking"`
	Title     string          `json:"title"` // document
}

// inSource is an image or document source: base64, url, text (documents),
// content (documents: blocks), file (Files API; not translatable).
type inSource struct {
	Type      string          `json:"type"`
	MediaType string          `json:"media_type"`
	Data      string          `json:"data"`
	URL       string          `json:"url"`
	Content   json.RawMessage `json:"content"`
}

// inTool is a tool definition. A server tool has a type other than
// "custom" (web_search_20250305, bash_20250124, …).
type inTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type inToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

type inThinking struct {
	Type         string  `json:"type"` // enabled, adaptive, disabled
	BudgetTokens float64 `json:"budget_tokens"`
}

// chatRequest is the Chat Completions request ToChatRequest writes. It has
// only fields that local servers (vLLM, Ollama, LM Studio) and the OpenAI
// API take, plus top_k, which the local servers take and the rest ignore.
type chatRequest struct {
	Model             string          `json:"model"`
	Messages          []chatMessage   `json:"messages"`
	MaxTokens         *int            `json:"max_tokens,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	TopK              *float64        `json:"top_k,omitempty"`
	Stop              []string        `json:"stop,omitempty"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *chatStreamOpts `json:"stream_options,omitempty"`
	Tools             []chatTool      `json:"tools,omitempty"`
	ToolChoice        any             `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	ReasoningEffort   string          `json:"reasoning_effort,omitempty"`
	User              string          `json:"user,omitempty"`
}

type chatStreamOpts struct {
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
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function chatFunctionCall `json:"function"`
}

type chatFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type chatNamedChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// chatChunk is a streamed Chat Completions chunk as the upstream sent it,
// with the fields the typed providers.ChatCompletionStreamResponse lacks:
// Ollama's and OpenRouter's "reasoning", vLLM's matched stop string
// ("stop_reason") and DeepSeek's cache count.
type chatChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content          *string             `json:"content"`
			ReasoningContent *string             `json:"reasoning_content"`
			Reasoning        *string             `json:"reasoning"`
			Refusal          *string             `json:"refusal"`
			ToolCalls        []chatToolCallDelta `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string         `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

type chatToolCallDelta struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Function struct {
		Name string `json:"name"`
		// Arguments is a JSON string, as OpenAI documents, or, from a few
		// servers, the arguments object itself.
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	PromptCacheHitTokens int `json:"prompt_cache_hit_tokens"` // DeepSeek
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
					Arguments json.RawMessage `json:"arguments"` // as in chatToolCallDelta
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string          `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// outUsage is the usage of message_start, message_delta and a non-streamed
// Messages answer. InputTokens excludes the cache counts (pitfalls §1.5).
type outUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

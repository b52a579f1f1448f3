package openai

import (
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// benchResponsesStream returns a stream with a message item already open,
// as it is for every chunk but the first.
func benchResponsesStream(b *testing.B) (*ChatToResponsesStream, []byte) {
	s := NewChatToResponsesStream("gpt-5-codex", nil)
	dst, err := s.Chunk(s.Start(nil), &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`)})
	if err != nil {
		b.Fatal(err)
	}
	return s, dst
}

var benchTextChunk = []byte(`{"id":"chatcmpl-b2a8c0e0a1f44c5d","object":"chat.completion.chunk","created":1700000000,"model":"qwen3-coder-30b","choices":[{"index":0,"delta":{"content":" the quick brown fox jumps over"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`)

// BenchmarkChatToResponsesStreamText measures one streamed text chunk from
// an OpenAI-compatible upstream (Raw), as vLLM writes it, appended to a
// reused buffer: the target is ≤ 3 µs and ≤ 2 allocations.
func BenchmarkChatToResponsesStreamText(b *testing.B) {
	s, dst := benchResponsesStream(b)
	c := &providers.ChatCompletionStreamResponse{Raw: benchTextChunk}
	b.SetBytes(int64(len(c.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.Chunk(dst[:0], c); err != nil || len(dst) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatToResponsesStreamTextSlow is the same chunk through
// encoding/json, the path of every chunk the fast path refuses.
func BenchmarkChatToResponsesStreamTextSlow(b *testing.B) {
	s, dst := benchResponsesStream(b)
	s.noFastPath = true
	c := &providers.ChatCompletionStreamResponse{Raw: benchTextChunk}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

// BenchmarkChatToResponsesStreamTyped measures a typed text chunk (the
// Anthropic and Gemini clients' kind).
func BenchmarkChatToResponsesStreamTyped(b *testing.B) {
	s, dst := benchResponsesStream(b)
	text := " the quick brown fox \"jumps\" over\n"
	c := &providers.ChatCompletionStreamResponse{ID: "x", Object: "chat.completion.chunk",
		Choices: []providers.StreamChoice{{Delta: providers.Delta{Content: &text}}}}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

// BenchmarkChatToResponsesStreamToolArgs measures one tool argument
// fragment.
func BenchmarkChatToResponsesStreamToolArgs(b *testing.B) {
	s := NewChatToResponsesStream("m", nil)
	dst, _ := s.Chunk(s.Start(nil), &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"exec_command","arguments":""}}]}}]}`)})
	c := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"cmd\": \"ls"}}]},"finish_reason":null}]}`)}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

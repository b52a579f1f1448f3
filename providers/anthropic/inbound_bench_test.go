package anthropic

import (
	"os"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// benchStream returns a stream with a text block already open, as it is for
// every chunk but the first.
func benchStream(b *testing.B) (*ChatToMessagesStream, []byte) {
	s := NewChatToMessagesStream("claude-sonnet-4-5", 1000)
	dst := s.Start(nil)
	dst, err := s.Chunk(dst, &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`)})
	if err != nil {
		b.Fatal(err)
	}
	return s, dst
}

// BenchmarkChatToMessagesStreamText measures one streamed text chunk from
// an OpenAI-compatible upstream (Raw, the fast path), as vLLM writes it,
// appended to a reused buffer: the target is ≤ 3 µs and ≤ 2 allocations.
func BenchmarkChatToMessagesStreamText(b *testing.B) {
	s, dst := benchStream(b)
	c := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"id":"chatcmpl-b2a8c0e0a1f44c5d","object":"chat.completion.chunk","created":1700000000,"model":"qwen3-coder-30b","choices":[{"index":0,"delta":{"content":" the quick brown fox jumps over"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`)}
	b.SetBytes(int64(len(c.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.Chunk(dst[:0], c); err != nil || len(dst) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatToMessagesStreamTextSlow is the same chunk through
// encoding/json, the path of every chunk the fast path refuses.
func BenchmarkChatToMessagesStreamTextSlow(b *testing.B) {
	s, dst := benchStream(b)
	s.noFastPath = true
	c := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"id":"chatcmpl-b2a8c0e0a1f44c5d","object":"chat.completion.chunk","created":1700000000,"model":"qwen3-coder-30b","choices":[{"index":0,"delta":{"content":" the quick brown fox jumps over"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`)}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

// BenchmarkChatToMessagesStreamTyped measures a typed text chunk (the
// Anthropic and Gemini clients' kind).
func BenchmarkChatToMessagesStreamTyped(b *testing.B) {
	s, dst := benchStream(b)
	text := " the quick brown fox \"jumps\" over\n"
	c := &providers.ChatCompletionStreamResponse{ID: "x", Object: "chat.completion.chunk",
		Choices: []providers.StreamChoice{{Delta: providers.Delta{Content: &text}}}}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

// BenchmarkChatToMessagesStreamToolArgs measures one tool argument fragment.
func BenchmarkChatToMessagesStreamToolArgs(b *testing.B) {
	s := NewChatToMessagesStream("m", 0)
	dst, _ := s.Chunk(s.Start(nil), &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Bash","arguments":""}}]}}]}`)})
	c := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"command\": \"ls"}}]},"finish_reason":null}]}`)}
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = s.Chunk(dst[:0], c)
	}
}

// BenchmarkToChatRequest measures the translation of Claude Code's first
// request of a session (49 KB, 12 tools).
func BenchmarkToChatRequest(b *testing.B) {
	body, err := os.ReadFile("testdata/inbound/claude-code-01-request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToChatRequest(body, "qwen3-coder-30b"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromChatResponse measures a non-streamed answer with tool calls.
func BenchmarkFromChatResponse(b *testing.B) {
	input, _ := readGolden(b, "testdata/inbound/response/tool_calls.txt")
	resp := &providers.ChatCompletionResponse{Raw: []byte(strings.TrimSpace(input))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromChatResponse(resp, "claude-sonnet-4-5"); err != nil {
			b.Fatal(err)
		}
	}
}

package ollama

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// vllmChunk is one streamed text chunk as vLLM writes it.
var vllmChunk = []byte(`{"id":"chatcmpl-b2a8c0e0a1f44c5d","object":"chat.completion.chunk","created":1700000000,"model":"qwen3-coder-30b","choices":[{"index":0,"delta":{"content":" the quick brown fox jumps over"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`)

// benchChunk measures one chunk appended to a reused buffer.
func benchChunk(b *testing.B, s *NDJSONStream, c *providers.ChatCompletionStreamResponse) {
	dst, err := s.Chunk(nil, c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = s.Chunk(dst[:0], c); err != nil || len(dst) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatStreamText measures one streamed text chunk from an
// OpenAI-compatible upstream (Raw, the fast path) turned into one /api/chat
// line: the target is ≤ 3 µs and ≤ 2 allocations.
func BenchmarkChatStreamText(b *testing.B) {
	b.SetBytes(int64(len(vllmChunk)))
	benchChunk(b, NewChatStream("qwen3-coder:30b"), &providers.ChatCompletionStreamResponse{Raw: vllmChunk})
}

// BenchmarkChatStreamTextSlow is the same chunk through encoding/json, the
// path of every chunk the fast path refuses.
func BenchmarkChatStreamTextSlow(b *testing.B) {
	s := NewChatStream("qwen3-coder:30b")
	s.noFastPath = true
	benchChunk(b, s, &providers.ChatCompletionStreamResponse{Raw: vllmChunk})
}

// BenchmarkChatStreamTyped measures a typed text chunk (the Anthropic and
// Gemini clients' kind).
func BenchmarkChatStreamTyped(b *testing.B) {
	text := " the quick brown fox \"jumps\" over\n"
	benchChunk(b, NewChatStream("m"), &providers.ChatCompletionStreamResponse{ID: "x", Object: "chat.completion.chunk",
		Choices: []providers.StreamChoice{{Delta: providers.Delta{Content: &text}}}})
}

// BenchmarkChatStreamReasoning measures a thinking chunk as Ollama's own
// OpenAI API sends it.
func BenchmarkChatStreamReasoning(b *testing.B) {
	benchChunk(b, NewChatStream("m"), &providers.ChatCompletionStreamResponse{Raw: []byte(`{"id":"chatcmpl-435","object":"chat.completion.chunk","created":1764770000,"model":"gpt-oss:20b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":" so the user wants"},"finish_reason":null}]}`)})
}

// BenchmarkGenerateStreamText measures the vLLM chunk as an /api/generate
// line.
func BenchmarkGenerateStreamText(b *testing.B) {
	benchChunk(b, NewGenerateStream("qwen3-coder:30b"), &providers.ChatCompletionStreamResponse{Raw: vllmChunk})
}

// BenchmarkChatStreamToolArgs measures one tool argument fragment, which
// is held, not sent.
func BenchmarkChatStreamToolArgs(b *testing.B) {
	s := NewChatStream("m")
	if _, err := s.Chunk(nil, &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Bash","arguments":""}}]}}]}`)}); err != nil {
		b.Fatal(err)
	}
	c := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"command\": \"ls"}}]},"finish_reason":null}]}`)}
	b.ReportAllocs()
	for b.Loop() {
		s.tools[0].args = s.tools[0].args[:0] // a call of many fragments would hold them all
		if _, err := s.Chunk(nil, c); err != nil {
			b.Fatal(err)
		}
	}
}

var vllmCompletion = []byte(`{"id":"cmpl-7c1e0f6a2b","object":"text_completion","created":1700000000,"model":"qwen2.5-coder-7b","choices":[{"index":0,"text":"        return fib(n-1)","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}`)

// BenchmarkCompletionEvent measures one event of a FIM stream (vLLM's
// /v1/completions) turned into one /api/generate line: ≤ 3 µs and ≤ 2
// allocations, as for chat.
func BenchmarkCompletionEvent(b *testing.B) {
	benchCompletion(b, NewGenerateStream("qwen2.5-coder:7b"))
}

// BenchmarkCompletionEventSlow is the same event through encoding/json.
func BenchmarkCompletionEventSlow(b *testing.B) {
	s := NewGenerateStream("qwen2.5-coder:7b")
	s.noFastPath = true
	benchCompletion(b, s)
}

func benchCompletion(b *testing.B, s *NDJSONStream) {
	dst, _, err := CompletionEvent(nil, s, vllmCompletion)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(vllmCompletion)))
	b.ReportAllocs()
	for b.Loop() {
		if dst, _, err = CompletionEvent(dst[:0], s, vllmCompletion); err != nil || len(dst) == 0 {
			b.Fatal(err)
		}
	}
}

// agentRequest is an /api/chat request of a coding agent in Ollama mode
// (Roo, Zed): a long system prompt, 20 tools, 40 turns with tool calls and
// results, about 150 KB.
func agentRequest() []byte {
	var tools []map[string]any
	for i := range 20 {
		tools = append(tools, map[string]any{"type": "function", "function": map[string]any{
			"name": fmt.Sprintf("tool_%d", i), "description": strings.Repeat("Does a thing with files. ", 20),
			"parameters": map[string]any{"type": "object", "properties": map[string]any{
				"path": map[string]any{"type": "string", "description": "The path"}, "content": map[string]any{"type": "string"}},
				"required": []string{"path"}}}})
	}
	msgs := []map[string]any{{"role": "system", "content": strings.Repeat("You are a careful coding agent.\n", 300)}}
	for i := range 40 {
		msgs = append(msgs,
			map[string]any{"role": "user", "content": strings.Repeat("Please fix the \"bug\" in main.go.\n", 20)},
			map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{"function": map[string]any{
				"name": fmt.Sprintf("tool_%d", i%20), "arguments": map[string]any{"path": "main.go", "content": strings.Repeat("x", 200)}}}}},
			map[string]any{"role": "tool", "tool_name": fmt.Sprintf("tool_%d", i%20), "content": strings.Repeat("func main() {\n\tprintln(\"hi\")\n}\n", 20)})
	}
	b, _ := json.Marshal(map[string]any{"model": "qwen3-coder:30b", "messages": msgs, "tools": tools, "stream": true,
		"options": map[string]any{"num_ctx": 65536, "temperature": 0.2}, "keep_alive": -1})
	return b
}

// BenchmarkScanChat measures routing's look at a 150 KB agent request.
func BenchmarkScanChat(b *testing.B) {
	body := agentRequest()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatToChat measures the translation of the same request.
func BenchmarkChatToChat(b *testing.B) {
	body := agentRequest()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ChatToChat(body, "qwen3-coder-30b"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmbeddingsToEmbed measures an answer of 8 vectors of 1536
// floats, as text-embedding-3-small gives them.
func BenchmarkEmbeddingsToEmbed(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"object":"list","data":[`)
	for i := range 8 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"object":"embedding","index":%d,"embedding":[`, i)
		for j := range 1536 {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "%.9f", float32(j%97)/97-0.5)
		}
		sb.WriteString("]}")
	}
	sb.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":80,"total_tokens":80}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EmbeddingsToEmbed(body, "nomic-embed-text", false); err != nil {
			b.Fatal(err)
		}
	}
}

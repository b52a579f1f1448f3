package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

// BenchmarkStreamChunk measures the client's cost per relayed chunk: one
// iteration is a whole 1,000-chunk stream from a local upstream.
func BenchmarkStreamChunk(b *testing.B) {
	const chunks = 1000
	var sb strings.Builder
	sb.WriteString(data(chunkRole))
	words := []string{"Sure", ",", " here", " is", " the", " refactored", " function", ":\n\n```go", "\nfunc", " main"}
	for i := 0; i < chunks-3; i++ {
		content, _ := json.Marshal(words[i%len(words)])
		fmt.Fprintf(&sb, `data: {"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,`+
			`"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,`+
			`"delta":{"content":%s},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", content)
	}
	sb.WriteString(data(chunkStop))
	sb.WriteString(data(chunkUsage))
	sb.WriteString(done)
	payload := sb.String()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(payload))
	}))
	defer srv.Close()
	c, err := New(Options{Name: "bench", BaseURL: srv.URL + "/v1", APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	req, err := providers.ParseRequest([]byte(clientBody))
	if err != nil {
		b.Fatal(err)
	}
	req.Model = "gpt-4o-mini"

	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		out := make(chan *providers.ChatCompletionStreamResponse, 16)
		errc := make(chan error, 1)
		go func() {
			errc <- c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), out))
			close(out)
		}()
		n := 0
		for range out {
			n++
		}
		if err := <-errc; err != nil || n != chunks {
			b.Fatalf("got %d chunks, %v, want %d, nil", n, err, chunks)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*chunks), "ns/chunk")
}

// BenchmarkWithModel swaps the model in a ~20 KiB agent request: a system
// prompt, a few turns with tool calls and a dozen tool schemas.
func BenchmarkWithModel(b *testing.B) {
	body := realisticRequest(20 << 10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := providers.WithModel(body, "deepseek-chat"); err != nil {
			b.Fatal(err)
		}
	}
}

func realisticRequest(size int) []byte {
	type m = map[string]any
	var tools []m
	for i := 0; i < 12; i++ {
		tools = append(tools, m{"type": "function", "function": m{
			"name":        fmt.Sprintf("tool_%d", i),
			"description": "Reads a file from the workspace and returns its content with line numbers. Use for \"model\" files too.",
			"parameters": m{"type": "object", "properties": m{
				"path":   m{"type": "string", "description": "Path relative to the workspace root"},
				"offset": m{"type": "integer", "minimum": 0},
				"model":  m{"type": "string", "enum": []string{"a", "b"}},
			}, "required": []string{"path"}, "additionalProperties": false},
		}})
	}
	msgs := []m{{"role": "system", "content": strings.Repeat("You are a careful coding agent. ", 40)}}
	for i := 0; i < 2; i++ {
		msgs = append(msgs,
			m{"role": "user", "content": []m{{"type": "text", "text": "Refactor main.go and explain é 中文 👋."}}},
			m{"role": "assistant", "content": nil, "tool_calls": []m{{"id": fmt.Sprintf("call_%d", i), "type": "function",
				"function": m{"name": "tool_1", "arguments": `{"path":"main.go","offset":0}`}}}},
			m{"role": "tool", "tool_call_id": fmt.Sprintf("call_%d", i), "content": strings.Repeat("package main\n\nfunc main() {}\n", 20)},
		)
	}
	req := m{"messages": msgs, "tools": tools, "stream": true, "stream_options": m{"include_usage": true},
		"temperature": 0.2, "max_tokens": 4096, "x_vendor": m{"model": "keep"}}
	for {
		body, _ := json.Marshal(req)
		if len(body) >= size {
			// Put model last so the scanner walks the whole body.
			return append(append(body[:len(body)-1], `,"model":"auto"`...), '}')
		}
		msgs = append(msgs, m{"role": "user", "content": strings.Repeat("More context. ", 20)})
		req["messages"] = msgs
	}
}

func TestRealisticRequestSize(t *testing.T) {
	body := realisticRequest(20 << 10)
	if n := len(body); n < 20<<10 || n > 24<<10 || !json.Valid(body) {
		t.Errorf("got %d bytes (valid %v), want valid JSON of about 20 KiB", n, json.Valid(body))
	}
}

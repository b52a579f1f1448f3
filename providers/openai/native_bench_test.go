package openai

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

// BenchmarkPassThrough compares what the gateway adds to an embeddings
// pass-through with a non-streamed chat one, for answers of the same size
// (a 1536-dimension embedding, about 30 KB), against a local httptest
// upstream.
func BenchmarkPassThrough(b *testing.B) {
	var vec strings.Builder
	for i := range 1536 {
		if i > 0 {
			vec.WriteByte(',')
		}
		fmt.Fprintf(&vec, "%.9f", float64(i%97)/97-0.5)
	}
	embed := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[` + vec.String() +
		`]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`
	chat := `{"id":"chatcmpl-AB3","object":"chat.completion","created":1736000000,"model":"gpt-4o-mini",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("word ", len(embed)/5) + `"},` +
		`"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":3,"total_tokens":22}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			w.Write([]byte(embed))
			return
		}
		w.Write([]byte(chat))
	}))
	defer srv.Close()
	c, err := New(Options{Name: "bench", BaseURL: srv.URL + "/v1", APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("chat", func(b *testing.B) {
		req, err := providers.ParseRequest([]byte(clientBody))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(chat)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ChatCompletion(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("embeddings", func(b *testing.B) {
		req := providers.NativeRequest{Protocol: providers.ProtocolEmbeddings, Path: "/v1/embeddings",
			Body: []byte(`{"model":"text-embedding-3-small","input":"def fib(n):"}`)}
		b.SetBytes(int64(len(embed)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Forward(context.Background(), req, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRelayEvent measures a streamed pass-through per event: a chat
// stream through ChatCompletionStream, a completions stream and an Ollama
// NDJSON stream through Forward, 1000 events each.
func BenchmarkRelayEvent(b *testing.B) {
	const n = 1000
	words := []string{"Sure", ",", " here", " is", " the", " refactored", " function", ":\n\n```go", "\nfunc", " main"}
	build := func(line func(w string) string, end string) string {
		var sb strings.Builder
		for i := range n - 1 {
			sb.WriteString(line(words[i%len(words)]))
		}
		sb.WriteString(end)
		return sb.String()
	}
	q := func(w string) string { return fmt.Sprintf("%q", w) }
	chatStream := build(func(w string) string {
		return data(`{"id":"chatcmpl-AB1","object":"chat.completion.chunk","created":1736000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":` + q(w) + `},"logprobs":null,"finish_reason":null}]}`)
	}, data(chunkStop)+done)
	complStream := build(func(w string) string {
		return data(`{"id":"cmpl-AB1","object":"text_completion","created":1736000000,"choices":[{"text":` + q(w) + `,"index":0,"logprobs":null,"finish_reason":null}],"model":"gpt-3.5-turbo-instruct"}`)
	}, data(complChunks[2])+done)
	ollamaStream := build(func(w string) string {
		return `{"model":"qwen3","created_at":"2026-12-03T11:40:44.160664279Z","message":{"role":"assistant","content":` + q(w) + `},"done":false}` + "\n"
	}, `{"model":"qwen3","created_at":"2026-12-03T11:40:44.171990472Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":26,"eval_count":999}`+"\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/chat":
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Write([]byte(ollamaStream))
		case "/v1/completions":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte(complStream))
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte(chatStream))
		}
	}))
	defer srv.Close()
	c, err := New(Options{Name: "bench", BaseURL: srv.URL + "/v1", APIKey: testKey, Protocols: []providers.Protocol{providers.ProtocolOllama}})
	if err != nil {
		b.Fatal(err)
	}
	perEvent := func(b *testing.B, run func() (int, error)) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			got, err := run()
			if err != nil || got < n {
				b.Fatalf("got %d events, %v; want %d", got, err, n)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n), "ns/event")
	}
	native := func(req providers.NativeRequest) func() (int, error) {
		return func() (int, error) {
			out := make(chan []byte, 16)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Forward(context.Background(), req, sinktest.Chan(context.Background(), out))
				errc <- err
				close(out)
			}()
			got := 0
			for range out {
				got++
			}
			return got, <-errc
		}
	}
	b.Run("chat", func(b *testing.B) {
		req, err := providers.ParseRequest([]byte(clientBody))
		if err != nil {
			b.Fatal(err)
		}
		perEvent(b, func() (int, error) {
			out := make(chan *providers.ChatCompletionStreamResponse, 16)
			errc := make(chan error, 1)
			go func() {
				errc <- c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), out))
				close(out)
			}()
			got := 0
			for range out {
				got++
			}
			return got, <-errc
		})
	})
	b.Run("completions", func(b *testing.B) {
		perEvent(b, native(providers.NativeRequest{Protocol: providers.ProtocolCompletions, Body: []byte(fimBody)}))
	})
	b.Run("ollama", func(b *testing.B) {
		perEvent(b, native(providers.NativeRequest{Protocol: providers.ProtocolOllama, Path: "/api/chat", Body: []byte(`{"model":"qwen3"}`)}))
	})
}

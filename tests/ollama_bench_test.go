package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEmbeddingsPassThrough measures what the gateway adds to a
// request it passes through — reading the body, parsing it, routing: its
// own X-LocalRouter-Overhead, reported as overhead-µs/op — for embeddings
// beside chat, on the OpenAI door and on the Ollama door. Issue 12 wants
// an embeddings pass-through to add no more than a chat one; ns/op is the
// whole round trip through the binary and a fake upstream. Run with
//
//	go test -run '^$' -bench EmbeddingsPassThrough ./tests/
func BenchmarkEmbeddingsPassThrough(b *testing.B) {
	chat := &fakeChat{}
	chat.Server = httptest.NewServer(http.HandlerFunc(chat.serve))
	defer chat.Close()
	show, err := os.ReadFile(filepath.Join("testdata", "ollama", "06-api-show.body"))
	if err != nil {
		b.Fatal(err)
	}
	native := &fakeOllama{show: show}
	native.Server = httptest.NewServer(http.HandlerFunc(native.serve))
	defer native.Close()
	p := benchStart(b, `routing:
  default: local
  local_model: qwen3
providers:
  llamacpp:
    type: openai
    api_key: `+upstreamKey+`
    base_url: `+chat.URL+`/v1
    local: true
    models: [qwen3, text-embedding-3-small]
  ollama:
    type: openai
    base_url: `+native.URL+`/v1
    local: true
    protocols: [ollama]
    models: ["llama3.2", nomic-embed-text]
`)
	const text = `"The quick brown fox jumps over the lazy dog."`
	for _, bc := range []struct{ name, path, body string }{
		{"chat/v1", "/v1/chat/completions", `{"model":"llamacpp/qwen3","messages":[{"role":"user","content":` + text + `}]}`},
		{"embeddings/v1", "/v1/embeddings", `{"model":"llamacpp/text-embedding-3-small","input":[` + text + `]}`},
		{"chat/api", "/api/chat", `{"model":"ollama/llama3.2","stream":false,"messages":[{"role":"user","content":` + text + `}]}`},
		{"embeddings/api", "/api/embed", `{"model":"ollama/nomic-embed-text","input":[` + text + `]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			var overhead int64
			for b.Loop() {
				resp, err := c.Post(p.url+bc.path, "application/json", strings.NewReader(bc.body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				n, err := strconv.ParseInt(resp.Header.Get("X-LocalRouter-Overhead"), 10, 64)
				if err != nil {
					b.Fatalf("X-LocalRouter-Overhead %q", resp.Header.Get("X-LocalRouter-Overhead"))
				}
				overhead += n
			}
			b.ReportMetric(float64(overhead)/float64(b.N), "overhead-µs/op")
		})
	}
}

// benchStart is start for a benchmark: the binary on cfg, on a free port,
// in a home of its own, stopped when the benchmark ends.
func benchStart(b *testing.B, cfg string) *proc {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("server:\n  port: %d\n", port)+cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	home := b.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "PATH=" + os.Getenv("PATH")}
	p := command(path, port, env)
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	b.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	})
	// As proc.serve: the process answers /health once it listens.
	for deadline := time.Now().Add(15 * time.Second); ; {
		if resp, err := http.Get(p.url + "/health"); err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case err := <-p.done:
			b.Fatalf("localrouter exited before serving: %v\n%s", err, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("localrouter did not serve within 15s:\n%s", p.Logs())
		}
	}
}

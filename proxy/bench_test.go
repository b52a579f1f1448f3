package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

// The benchmarks compare, in one run, the same request sent straight to a
// fake upstream, through a bare httputil.ReverseProxy, and through the
// gateway. Client, proxy and upstream share the process, so cpu-us/op counts
// all three: the gateway's own cost is its figure minus "direct".

const benchStreamChunks = 200

var (
	benchRequest = []byte(`{"model":"auto","messages":[{"role":"system","content":"You are a helpful coding assistant."},` +
		`{"role":"user","content":"` + strings.Repeat("Explain this Go code. ", 80) + `"}],"temperature":0.2,"max_tokens":512}`)
	benchStreamRequest = bytes.Replace(benchRequest, []byte(`"model":"auto"`), []byte(`"model":"auto","stream":true`), 1)
	benchCompletion    = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"deepseek-chat",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("word ", 100) + `"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":400,"completion_tokens":100,"total_tokens":500}}`)
	benchStream = func() []byte {
		var b bytes.Buffer
		for i := 0; i < benchStreamChunks; i++ {
			fmt.Fprintf(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok%d\"},\"finish_reason\":null}]}\n\n", i)
		}
		b.WriteString("data: [DONE]\n\n")
		return b.Bytes()
	}()
)

func benchUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			// One write per event, flushed, as a real model server does.
			f := w.(http.Flusher)
			for rest := benchStream; len(rest) > 0; {
				i := bytes.Index(rest, []byte("\n\n")) + 2
				w.Write(rest[:i])
				f.Flush()
				rest = rest[i:]
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(benchCompletion)
	}))
	b.Cleanup(up.Close)
	return up
}

func benchTargets(b *testing.B) map[string]string {
	up := benchUpstream(b)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", up.URL+"/v1")), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(s.Handler())
	b.Cleanup(gw.Close)
	target, _ := url.Parse(up.URL)
	// The same connection pool the gateway's providers use, so neither side
	// pays for the other's connection churn.
	rproxy := httputil.NewSingleHostReverseProxy(target)
	rproxy.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second}
	rp := httptest.NewServer(rproxy)
	b.Cleanup(rp.Close)
	return map[string]string{"direct": up.URL, "reverseproxy": rp.URL, "gateway": gw.URL}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runBench(b *testing.B, base string, body []byte, perOp float64, unit string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
	defer client.CloseIdleConnections()
	do := func() {
		resp, err := client.Post(base+"/v1/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
	do() // warm the connections
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		do()
	}
	cpu, wall := cpuTime()-cpu0, time.Since(start)
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
	if perOp > 1 {
		b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N)/perOp, "ns/"+unit)
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/perOp, "cpu-ns/"+unit)
	}
}

func BenchmarkNonStream(b *testing.B) {
	targets := benchTargets(b)
	for _, name := range []string{"direct", "reverseproxy", "gateway"} {
		b.Run(name, func(b *testing.B) { runBench(b, targets[name], benchRequest, 1, "") })
	}
}

func BenchmarkStream(b *testing.B) {
	targets := benchTargets(b)
	for _, name := range []string{"direct", "reverseproxy", "gateway"} {
		b.Run(name, func(b *testing.B) { runBench(b, targets[name], benchStreamRequest, benchStreamChunks, "chunk") })
	}
}

// BenchmarkLoad sends the non-stream request from 32 concurrent clients, as
// a load test: throughput through the gateway against the direct call.
func BenchmarkLoad(b *testing.B) {
	targets := benchTargets(b)
	for _, name := range []string{"direct", "reverseproxy", "gateway"} {
		b.Run(name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			defer client.CloseIdleConnections()
			url := targets[name] + "/v1/chat/completions"
			b.SetParallelism(16) // 32 clients on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url, "application/json", bytes.NewReader(benchRequest))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			cpu, wall := cpuTime()-cpu0, time.Since(start)
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-us/op")
			b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
		})
	}
}

// benchAgentRequest is what a coding agent sends: about 150 KB, a long
// system prompt, 30 tool schemas and a history of tool calls and results.
var benchAgentRequest = func() []byte {
	type fn struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	var tools []map[string]any
	for i := range 30 {
		tools = append(tools, map[string]any{"type": "function", "function": fn{
			Name: fmt.Sprintf("tool_%d", i), Description: strings.Repeat("Reads or edits files in the workspace. ", 8),
			Parameters: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"file path"},` +
				`"start":{"type":"integer"},"end":{"type":"integer"},"content":{"type":"string"}},"required":["path"]}`)}})
	}
	msgs := []map[string]any{{"role": "system", "content": strings.Repeat("You are a careful coding agent working in a Go repository. ", 200)}}
	for i := 0; ; i++ {
		msgs = append(msgs,
			map[string]any{"role": "user", "content": fmt.Sprintf("Step %d: fix the failing test.\n%s", i, strings.Repeat("at main.go:42\n", 30))},
			map[string]any{"role": "assistant", "content": nil, "tool_calls": []map[string]any{{"id": fmt.Sprint("call_", i), "type": "function",
				"function": map[string]any{"name": "tool_1", "arguments": `{"path":"pkg/router/route.go","start":1,"end":200}`}}}},
			map[string]any{"role": "tool", "tool_call_id": fmt.Sprint("call_", i), "content": strings.Repeat("func f() error { return nil } // ünïcode\n", 40)})
		b, _ := json.Marshal(map[string]any{"model": "auto", "messages": msgs, "tools": tools})
		if len(b) >= 150<<10 {
			return b
		}
	}
}()

// BenchmarkAgentRequest: the full path of a 150 KB agent request (read,
// scan, facts, secrets, route, forward, answer), against the direct call
// and the bare proxy in the same run; the added cost is the difference.
func BenchmarkAgentRequest(b *testing.B) {
	targets := benchTargets(b)
	for _, name := range []string{"direct", "reverseproxy", "gateway"} {
		b.Run(name, func(b *testing.B) { runBench(b, targets[name], benchAgentRequest, 1, "") })
	}
}

package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// Issue 9: a 30 MiB Chat Completions request cost +614 MiB translated to
// Gemini. These requests are what the translated path is measured with.

// agentSession returns a request of about size bytes shaped like a long
// agent session: a system prompt, a few large base64 screenshots, then turns
// of user text, assistant tool calls (some writing whole files) and long
// tool results. The texts carry the escapes real clients send (newlines,
// tabs, quotes, \u00e9 from ensure_ascii encoders).
func agentSession(size int) []byte {
	rng := rand.New(rand.NewPCG(9, 9))
	text := func(n int) string {
		words := []string{"func", "return", "err", "nil", "\"quoted\"", "caf\u00e9", "<div>", "a && b", "\tindent", "line\n", "x := 1", "// why"}
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	image := func(n int) string {
		raw := make([]byte, n*3/4)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		return "data:image/png;base64," + base64.StdEncoding.EncodeToString(raw)
	}
	var b bytes.Buffer
	b.WriteString(`{"model":"gemini-2.5-flash","max_tokens":4096,"tools":[{"type":"function","function":{"name":"write_file","description":"Write a file","parameters":{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}}}}}],"messages":[`)
	add := func(m any) {
		if b.Bytes()[b.Len()-1] != '[' {
			b.WriteByte(',')
		}
		enc, _ := json.Marshal(m)
		b.Write(enc)
	}
	add(map[string]any{"role": "system", "content": text(16 << 10)})
	for range 3 {
		add(map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": text(2 << 10)},
			map[string]any{"type": "image_url", "image_url": map[string]any{"url": image(size / 9)}},
		}})
		add(map[string]any{"role": "assistant", "content": text(4 << 10)})
	}
	for i := 0; b.Len() < size; i++ {
		id := fmt.Sprintf("call_%04d", i)
		args, _ := json.Marshal(map[string]string{"path": "src/" + id + ".go", "content": text(16 << 10)})
		add(map[string]any{"role": "user", "content": text(16 << 10)})
		add(map[string]any{"role": "assistant", "content": text(2 << 10), "tool_calls": []any{map[string]any{
			"id": id, "type": "function", "function": map[string]any{"name": "write_file", "arguments": string(args)},
		}}})
		add(map[string]any{"role": "tool", "tool_call_id": id, "content": text(64 << 10)})
	}
	b.WriteString("]}")
	return b.Bytes()
}

// longPrompt is the load benchmark's large request: one user message of
// plain text.
func longPrompt(size int) []byte {
	text := strings.Repeat(" Please keep the answer practical.", size/34)
	return []byte(`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"` + text + `"}],"max_tokens":256}`)
}

// shortMessages is a request of many short turns, where the cost per
// message, not per byte, shows.
func shortMessages(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"gemini-2.5-flash","messages":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"role":"user","content":"question %d: what does this line do?\n%s"},{"role":"assistant","content":"It prints \"%d\"."}`, i, strings.Repeat("x", 120), i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// memoryCases are the large requests, each with the most the translated
// path may allocate for it and the most the gateway may hold while the
// upstream reads it, as multiples of its size. Before issue 9 was fixed
// they allocated 8.1×, 4.0× and 18.2× and held 3.7×, 3.0× and 4.3×.
var memoryCases = []struct {
	name             string
	body             func() []byte
	limit, heldLimit float64
}{
	{"agent_session", sync.OnceValue(func() []byte { return agentSession(30 << 20) }), 3, 1.5},
	{"long_prompt", sync.OnceValue(func() []byte { return longPrompt(30 << 20) }), 3, 1.5},
	{"short_messages", sync.OnceValue(func() []byte { return shortMessages(30 << 20) }), 6, 1.5},
}

// translateMemory sends body through the client to an upstream that
// discards it, and returns the bytes allocated from the parse on
// (runtime.MemStats.TotalAlloc, which does not depend on when the collector
// runs), the peak of the heap above where it started (sampled), and the
// live heap above where it started while the upstream reads the request.
func translateMemory(t testing.TB, body []byte) (alloc, peak, held uint64) {
	sending := make(chan uint64, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What the gateway holds while the upstream reads: the translation,
		// and nothing of the decoded request.
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		select {
		case sending <- m.HeapAlloc:
		default:
		}
		io.Copy(io.Discard, r.Body) // keeping the body would count as the gateway's
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}]}`)
	}))
	defer up.Close()
	c, err := New(Options{Name: "google", BaseURL: up.URL + "/v1beta", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	// Warm the connection and the client so that one-time costs stay out.
	warm, _ := providers.ParseRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if _, err := c.ChatCompletion(context.Background(), warm); err != nil {
		t.Fatal(err)
	}
	<-sending

	stop := make(chan struct{})
	peakc := make(chan uint64)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() { peakc <- samplePeak(stop) }()
	req, err := providers.ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChatCompletion(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(req) // as the proxy keeps it, for a failover
	close(stop)
	p := <-peakc
	runtime.ReadMemStats(&after)
	if p > before.HeapAlloc {
		peak = p - before.HeapAlloc
	}
	if h := <-sending; h > before.HeapAlloc {
		held = h - before.HeapAlloc
	}
	return after.TotalAlloc - before.TotalAlloc, peak, held
}

// samplePeak reads the heap's live and not yet swept objects every 100µs
// until stop is closed, and returns the most it saw: an estimate for the
// benchmark's report, never asserted.
func samplePeak(stop <-chan struct{}) uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(100 * time.Microsecond)
	defer tick.Stop()
	var peak uint64
	for {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64())
		select {
		case <-stop:
			metrics.Read(s)
			return max(peak, s[0].Value.Uint64())
		case <-tick.C:
		}
	}
}

// TestLargeRequestMemory is issue 9's regression test: what translating a
// 30 MiB request allocates, as a multiple of the body.
func TestLargeRequestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 30 MiB requests")
	}
	for _, c := range memoryCases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body()
			alloc, _, held := translateMemory(t, body)
			ratio, heldRatio := float64(alloc)/float64(len(body)), float64(held)/float64(len(body))
			t.Logf("body %.1f MiB, allocated %.1f MiB (%.2f× the body), held %.1f MiB while sending (%.2f×)",
				mib(len(body)), mib(int(alloc)), ratio, mib(int(held)), heldRatio)
			if ratio > c.limit {
				t.Errorf("translating a %.1f MiB request allocated %.1f MiB, %.1f× the body; want ≤ %g×", mib(len(body)), mib(int(alloc)), ratio, c.limit)
			}
			if heldRatio > c.heldLimit {
				t.Errorf("while the upstream read the request the gateway held %.1f MiB more, %.1f× the body; want ≤ %g×", mib(int(held)), heldRatio, c.heldLimit)
			}
		})
	}
}

func mib(n int) float64 { return float64(n) / (1 << 20) }

// BenchmarkLargeRequest reports, per 30 MiB request, the bytes allocated
// and the sampled peak of the heap, both as multiples of the body.
func BenchmarkLargeRequest(b *testing.B) {
	for _, c := range memoryCases {
		b.Run(c.name, func(b *testing.B) {
			body := c.body()
			b.SetBytes(int64(len(body)))
			var alloc, peak, held uint64
			for b.Loop() {
				a, p, h := translateMemory(b, body)
				alloc, peak, held = alloc+a, max(peak, p), max(held, h)
			}
			b.ReportMetric(float64(alloc)/float64(b.N)/float64(len(body)), "alloc/body")
			b.ReportMetric(float64(peak)/float64(len(body)), "peakheap/body")
			b.ReportMetric(float64(held)/float64(len(body)), "heldsending/body")
		})
	}
}

// BenchmarkTranslateRequest measures a request's whole translation, from
// the client's bytes to the upstream's: parse, decode, convert, encode.
func BenchmarkTranslateRequest(b *testing.B) {
	file, err := os.ReadFile("testdata/request/tools_roundtrip.txt")
	if err != nil {
		b.Fatal(err)
	}
	small, _, _ := strings.Cut(string(file), separator)
	for _, c := range []struct {
		name string
		body func() []byte
	}{{"small", func() []byte { return []byte(small) }}, {"agent_session_30MiB", memoryCases[0].body}} {
		b.Run(c.name, func(b *testing.B) {
			body := c.body()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req, err := providers.ParseRequest(body)
				if err != nil {
					b.Fatal(err)
				}
				if err := req.Decode(); err != nil {
					b.Fatal(err)
				}
				g, err := toGenerateRequest(req, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := encodeRequest(g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// claudeCodeRequest is the captured Claude Code request grown to size
// bytes with more tool results, as a long agent session sends it.
func claudeCodeRequest(tb testing.TB, size int) []byte {
	tb.Helper()
	body, err := os.ReadFile("../providers/anthropic/testdata/inbound/claude-code-01-request.json")
	if err != nil {
		tb.Fatal(err)
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		tb.Fatal(err)
	}
	var msgs []json.RawMessage
	json.Unmarshal(req["messages"], &msgs)
	for i := 0; len(body) < size; i++ {
		id := "toolu_" + strings.Repeat("x", 8) + string(rune('a'+i%26))
		call, _ := json.Marshal(map[string]any{"role": "assistant", "content": []any{
			map[string]any{"type": "tool_use", "id": id, "name": "Read", "input": map[string]any{"file_path": "/src/main.go"}}}})
		result, _ := json.Marshal(map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "tool_result", "tool_use_id": id, "content": strings.Repeat("func main() { fmt.Println(\"hi\") }\n", 100)}}})
		msgs = append(msgs, call, result)
		req["messages"], _ = json.Marshal(msgs)
		body, _ = json.Marshal(req)
	}
	return body
}

// BenchmarkMessagesParseAndRoute is what the gateway spends on a 150 KB
// Claude Code request before it reaches a provider: the one scan for the
// routing facts and the decision (with a config rule on the facts).
func BenchmarkMessagesParseAndRoute(b *testing.B) {
	body := claudeCodeRequest(b, 150<<10)
	cfg := config.Default()
	cfg.Routing.Rules = []config.Rule{{When: "est_tokens > 60000 || has_images", Use: "remote"}}
	cfg.Routing.Aliases = []config.Alias{{Glob: "claude-*haiku*", Target: "local"}, {Glob: "claude-*", Target: "auto"}}
	cfg.Routing.LocalModel, cfg.Routing.RemoteModel = "qwen3", "deepseek-chat"
	cfg.Providers = []config.Provider{
		{Name: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Timeout: 1, IdleTimeout: 1, DefaultMaxTokens: 1},
		{Name: "deepseek", APIKey: "sk-x", Timeout: 1, IdleTimeout: 1, DefaultMaxTokens: 1},
	}
	up, err := buildUpstreams(cfg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	eng, err := strategy.NewEngine(up.table)
	if err != nil {
		b.Fatal(err)
	}
	r, _ := http.NewRequest("POST", "/v1/messages", bytes.NewReader(body))
	r.Header.Set("User-Agent", "claude-cli/2.1.328 (external, sdk-cli)")
	s := &Server{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := messagesDoor{}.parse(body, r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Decide(s.routingRequest(r, "messages", c.model, c.stream, c.facts), strategy.Live{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessagesTranslateRequest is the extra cost of a route that does
// not speak Messages: the translation to Chat Completions and its scan.
func BenchmarkMessagesTranslateRequest(b *testing.B) {
	body := claudeCodeRequest(b, 150<<10)
	info, err := providers.ScanMessages(body)
	if err != nil {
		b.Fatal(err)
	}
	c := &messagesCodec{body: body, info: info}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.chat("qwen3"); err != nil {
			b.Fatal(err)
		}
	}
}

package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/strategy"
)

// codexRequest is the captured Codex CLI request grown to size bytes with
// more shell calls and their output, as a long agent session sends it.
func codexRequest(tb testing.TB, size int) []byte {
	tb.Helper()
	body, err := os.ReadFile("../providers/openai/testdata/responses/codex-01.request.json")
	if err != nil {
		tb.Fatal(err)
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		tb.Fatal(err)
	}
	var items []json.RawMessage
	json.Unmarshal(req["input"], &items)
	for i := 0; len(body) < size; i++ {
		id := "call_" + strings.Repeat("x", 8) + string(rune('a'+i%26))
		call, _ := json.Marshal(map[string]any{"type": "function_call", "call_id": id, "name": "exec_command",
			"arguments": `{"cmd":"cat main.go"}`})
		out, _ := json.Marshal(map[string]any{"type": "function_call_output", "call_id": id,
			"output": strings.Repeat("func main() { fmt.Println(\"hi\") }\n", 100)})
		items = append(items, call, out)
		req["input"], _ = json.Marshal(items)
		body, _ = json.Marshal(req)
	}
	return body
}

// BenchmarkResponsesParseAndRoute is what the gateway spends on a 150 KB
// Codex request before it reaches a provider: the one scan for the routing
// facts and the decision (with config rules on the facts and the client).
func BenchmarkResponsesParseAndRoute(b *testing.B) {
	body := codexRequest(b, 150<<10)
	cfg := config.Default()
	cfg.Routing.Rules = []config.Rule{{When: "est_tokens > 60000 || has_images", Use: "remote"},
		{When: `client == "codex" && endpoint == "responses"`, Use: "local"}}
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
	r, _ := http.NewRequest("POST", "/v1/responses", bytes.NewReader(body))
	r.Header.Set("User-Agent", "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)")
	r.Header.Set("Session-Id", "01a23bcd-ea3c-7b72-ac41-cc617af5650b")
	s := &Server{}
	d := responsesDoor{store: newResponseStore(storeMaxEntries, storeMaxBytes)}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.parse(body, r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Decide(s.routingRequest(r, "responses", c.model, c.stream, c.facts), strategy.Live{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponsesTranslateRequest is the extra cost of a route that
// does not serve Responses: the translation to Chat Completions and its
// scan.
func BenchmarkResponsesTranslateRequest(b *testing.B) {
	body := codexRequest(b, 150<<10)
	c, err := responsesDoor{store: newResponseStore(1, 1)}.parse(body, &http.Request{Header: http.Header{}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.codec.chat("qwen3"); err != nil {
			b.Fatal(err)
		}
	}
}

//go:build linux

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/localrouter/localrouter/proxy/usage"
)

// usageBackends are a local and a remote Chat Completions fake; the local
// one answers 503 to a prompt that says "please fail", for a fallback.
func usageBackends(t *testing.T) (local, remote *fakeChat) {
	local, remote = newFakeChat(t), newFakeChat(t)
	local.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
		if !strings.Contains(string(req["messages"]), "please fail") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, openAIErrorJSON("model is loading", "server_error", "", ""))
		return true
	})
	return local, remote
}

func usageConfig(local, remote *fakeChat, extra string) string {
	return `server:
  port: PORT
notifications: false
routing:
  default: remote
  local_model: qwen3
  remote_model: deepseek-chat
  fallback: true
  rules:
    - {when: 'header("X-Want") == "local"', use: local}
providers:
  ollama: {type: openai, api_key: ` + upstreamKey + `, base_url: ` + local.URL + `/v1, local: true, models: [qwen3]}
  deepseek: {type: openai, api_key: ` + upstreamKey + `, base_url: ` + remote.URL + `/v1, local: false, models: [deepseek-chat]}
usage:
  prices:
    deepseek-chat: {input: 1, output: 2}
` + extra
}

// call sends body to path with headers (name, value pairs) and returns the
// status and body.
func call(t *testing.T, p *proc, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "codex_cli_rs/0.50")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// records waits until the usage database at path holds n records and
// returns them, oldest first.
func records(t *testing.T, path string, n int) []usage.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		var recs []usage.Record
		if s, err := usage.OpenReadOnly(path); err == nil {
			recs, _ = s.Recent(context.Background(), usage.Filter{Limit: 1000})
			s.Close()
		}
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) != n {
				t.Fatalf("%s holds %d records, want %d", path, len(recs), n)
			}
			for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
				recs[i], recs[j] = recs[j], recs[i]
			}
			return recs
		}
		<-poll.C
	}
}

// TestUsageEndToEnd sends requests through the binary on several doors,
// to both sides, with a fallback and a stream without usage; each leaves
// one record with the right fields; `localrouter usage --json` prints the
// same figures; the tray's line shows them over D-Bus; a SIGTERM right
// after a burst loses none; the records survive the restart.
func TestUsageEndToEnd(t *testing.T) {
	local, remote := usageBackends(t)
	path, port := writeConfig(t, usageConfig(local, remote, ""))
	env := userEnv(t)
	db := filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter", "usage.db")
	p, tray := startWithTray(t, path, port, env)

	type want struct {
		door, side, provider, model string
		status, in, out             int
		stream, fallback, estimated bool
	}
	sends := []struct {
		path, body string
		hdr        []string
		want       want
	}{
		{"/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`, nil,
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, 30, 9, false, false, false}},
		{"/v1/chat/completions", `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hello"}]}`, nil,
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, -1, -1, true, false, true}},
		{"/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`, []string{"X-Want", "local"},
			want{"messages", "local", "ollama", "qwen3", 200, 30, 9, false, false, false}},
		{"/api/chat", `{"model":"qwen3","stream":false,"messages":[{"role":"user","content":"hello"}]}`, nil,
			want{"ollama-chat", "local", "ollama", "qwen3", 200, 30, 9, false, false, false}},
		{"/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"please fail"}]}`, []string{"X-Want", "local"},
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, 30, 9, false, true, false}},
		{"/v1/embeddings", `{"model":"auto","input":"hello"}`, nil,
			want{"embeddings", "remote", "deepseek", "deepseek-chat", 200, -1, -1, false, false, false}},
		{"/v1/chat/completions", `{"model":"nowhere/none","messages":[{"role":"user","content":"hello"}]}`, nil,
			want{"chat", "", "", "", 404, 0, 0, false, false, false}},
	}
	for i, s := range sends {
		if status, body := call(t, p, s.path, s.body, s.hdr...); status != s.want.status {
			t.Fatalf("request %d (%s): %d %s", i, s.path, status, body)
		}
	}
	// A request that never reached routing leaves no record.
	if status, _ := call(t, p, "/v1/chat/completions", `{"model":`); status != 400 {
		t.Errorf("bad JSON: %d, want 400", status)
	}
	recs := records(t, db, len(sends))
	for i, s := range sends {
		r := recs[i]
		got := want{r.Door, r.Side, r.Provider, r.Model, r.Status, r.InputTokens, r.OutputTokens, r.Stream, r.Fallback, r.Estimated}
		if s.want.in < 0 { // an estimate, or an embedding's own usage: its size is not this test's business
			got.in, got.out = -1, -1
			if r.InputTokens <= 0 {
				t.Errorf("record %d has no input tokens", i)
			}
		}
		if got != s.want {
			t.Errorf("record %d (%s):\n got %+v\nwant %+v", i, s.path, got, s.want)
		}
		if r.ID == 0 || r.Client != "codex" || r.Path != s.path || r.Latency <= 0 || r.TTFB <= 0 {
			t.Errorf("record %d: id %d client %q path %q latency %v ttfb %v", i, r.ID, r.Client, r.Path, r.Latency, r.TTFB)
		}
		if r.Side == "local" && (r.CostUSD != 0 || math.Abs(r.SavedUSD-(30*1+9*2)/1e6) > 1e-12) {
			t.Errorf("record %d, local: cost %v saved %v; want free, saving deepseek-chat's $1/$2 per million", i, r.CostUSD, r.SavedUSD)
		}
	}
	if !strings.Contains(recs[4].Reason, "fallback from ollama/qwen3") {
		t.Errorf("the fallback's reason %q", recs[4].Reason)
	}
	if recs[1].OutputTokens <= 0 {
		t.Errorf("the stream without usage counted %d output tokens", recs[1].OutputTokens)
	}

	// localrouter usage --json, run while the gateway runs, prints the same figures.
	totals := func() usage.Totals {
		s, err := usage.OpenReadOnly(db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tot, err := s.Totals(context.Background(), time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tot
	}
	dbTot := totals()
	out, err := run(t, env, "usage", "--config", path, "--since", "1d", "--by", "side", "--json")
	if err != nil {
		t.Fatalf("localrouter usage: %v\n%s", err, out)
	}
	var got struct {
		Totals struct {
			Requests      int64   `json:"requests"`
			LocalRequests int64   `json:"local_requests"`
			InputTokens   int64   `json:"input_tokens"`
			OutputTokens  int64   `json:"output_tokens"`
			Errors        int64   `json:"errors"`
			Fallbacks     int64   `json:"fallbacks"`
			CostUSD       float64 `json:"cost_usd"`
			SavedUSD      float64 `json:"saved_usd"`
		}
		Buckets []struct {
			Key, Side string
			Requests  int64
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	if g := got.Totals; g.Requests != 7 || g.Requests != dbTot.Requests || g.LocalRequests != 2 || g.InputTokens != dbTot.InputTokens ||
		g.OutputTokens != dbTot.OutputTokens || g.Errors != 1 || g.Fallbacks != 1 || g.CostUSD != dbTot.CostUSD || g.SavedUSD != dbTot.SavedUSD {
		t.Errorf("usage --json totals %+v, want %+v (7 requests, 2 local, 1 error, 1 fallback)", g, dbTot)
	}
	if len(got.Buckets) != 3 || got.Buckets[1].Side != "local" || got.Buckets[1].Requests != 2 {
		t.Errorf("usage --by side buckets %+v, want none, local (2), remote", got.Buckets)
	}
	if out, err := run(t, env, "usage", "--config", path, "--by", "provider"); err != nil || !strings.Contains(out, "deepseek") ||
		!strings.Contains(out, "estimates") {
		t.Errorf("usage as a table: %v\n%s", err, out)
	}

	// The tray's line, over D-Bus.
	tokens := dbTot.InputTokens + dbTot.OutputTokens
	line := fmt.Sprintf("Today: 7 requests · %d tokens · 29%% local · ≈ $%.2f saved", tokens, dbTot.SavedUSD)
	tray.WaitFor(t, 10*time.Second, "the usage line", func() (bool, string) {
		m, err := tray.Menu()
		if err != nil {
			return false, err.Error()
		}
		for _, n := range m.Children {
			if strings.HasPrefix(n.Label(), "Today:") {
				return n.Label() == line, n.Label()
			}
		}
		return false, "no usage line"
	})

	// A burst, then SIGTERM at once: every answered request is stored.
	const burst = 200
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range burst / 8 {
				call(t, p, "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`)
			}
		})
	}
	wg.Wait()
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.Logs())
	}
	if n := len(records(t, db, len(sends)+burst)); n != len(sends)+burst {
		t.Errorf("after SIGTERM: %d records", n)
	}

	// The records survive a restart and the new ones add to them.
	p = startAt(t, path, port, env)
	call(t, p, "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hello again"}]}`)
	records(t, db, len(sends)+burst+1)
	if st := status(t, p); st["usage"] == nil || st["usage"].(map[string]any)["path"] != db {
		t.Errorf("/health usage = %v, want the database at %s", st["usage"], db)
	}
}

// TestUsageBrokenDatabase: a corrupt usage.db is moved aside and a new one
// started; a cache dir that cannot be written leaves no records. In both
// the gateway serves and /health says what happened.
func TestUsageBrokenDatabase(t *testing.T) {
	local, remote := usageBackends(t)
	hello := `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`

	t.Run("corrupt", func(t *testing.T) {
		path, port := writeConfig(t, usageConfig(local, remote, ""))
		env := userEnv(t)
		db := filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter", "usage.db")
		os.MkdirAll(filepath.Dir(db), 0o700)
		junk := strings.Repeat("not a database ", 1000)
		if err := os.WriteFile(db, []byte(junk), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startAt(t, path, port, env)
		if status, body := call(t, p, "/v1/chat/completions", hello); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		records(t, db, 1)
		u, _ := status(t, p)["usage"].(map[string]any)
		notice, _ := u["notice"].(string)
		if !strings.Contains(notice, "corrupt") || u["error"] != nil {
			t.Errorf("/health usage = %v, want a notice that the corrupt file was moved aside", u)
		}
		aside := strings.TrimSuffix(strings.TrimPrefix(notice[strings.Index(notice, "moved aside to ")+len("moved aside to "):], ""), ", a new one started")
		if b, err := os.ReadFile(aside); err != nil || string(b) != junk {
			t.Errorf("the corrupt file is not at %s: %v", aside, err)
		}
		p.waitLog(t, "usage database was corrupt")
	})

	t.Run("disabled", func(t *testing.T) {
		path, port := writeConfig(t, usageConfig(local, remote, "  enabled: false\n"))
		env := userEnv(t)
		db := filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter", "usage.db")
		p := startAt(t, path, port, env)
		if status, body := call(t, p, "/v1/chat/completions", hello); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if u, _ := status(t, p)["usage"].(map[string]any); u["enabled"] != false || u["error"] != nil {
			t.Errorf("/health usage = %v, want disabled, no error", u)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("usage.enabled: false, yet %s exists (%v)", db, err)
		}
		// /metrics still counts.
		if got := sumOf(awaitRequests(t, p, "", 1), "localrouter_requests_total", nil); got != 1 {
			t.Errorf("/metrics with usage off: %v requests, want 1", got)
		}
	})

	t.Run("cache dir not writable", func(t *testing.T) {
		path, port := writeConfig(t, usageConfig(local, remote, ""))
		env := userEnv(t)
		// A file where the cache dir should be: as unwritable as a
		// read-only dir, for root (who runs CI) too.
		cache := filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter")
		os.MkdirAll(filepath.Dir(cache), 0o700)
		if err := os.WriteFile(cache, nil, 0o400); err != nil {
			t.Fatal(err)
		}
		p := startAt(t, path, port, env)
		for range 3 {
			if status, body := call(t, p, "/v1/chat/completions", hello); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
		}
		u, _ := status(t, p)["usage"].(map[string]any)
		if e, _ := u["error"].(string); !strings.Contains(e, "usage") || u["enabled"] != true {
			t.Errorf("/health usage = %v, want enabled with the open error", u)
		}
		if n := strings.Count(p.finalLogs(t), "usage is not recorded"); n != 1 {
			t.Errorf("%d log lines about the usage database, want 1:\n%s", n, p.Logs())
		}
	})
}

// TestMetricsEndToEnd scrapes the binary's /metrics after 30 mixed
// requests (both sides, streams, a failure, a fallback) and parses it with
// Prometheus's own text parser: the counters match exactly. Without the
// api_key /metrics is refused.
func TestMetricsEndToEnd(t *testing.T) {
	local, remote := usageBackends(t)
	cfg := strings.Replace(usageConfig(local, remote, ""), "server:\n", "server:\n  api_key: gw-secret\n", 1)
	p := start(t, cfg)
	auth := []string{"Authorization", "Bearer gw-secret"}
	type kind struct {
		body             string
		hdr              []string
		n                int
		side, provider   string
		status, fallback int
	}
	kinds := []kind{
		{`{"model":"auto","messages":[{"role":"user","content":"hello"}]}`, nil, 10, "remote", "deepseek", 200, 0},
		{`{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`, nil, 8, "remote", "deepseek", 200, 0},
		{`{"model":"local","messages":[{"role":"user","content":"hello"}]}`, nil, 6, "local", "ollama", 200, 0},
		{`{"model":"local","stream":true,"messages":[{"role":"user","content":"hello"}]}`, nil, 4, "local", "ollama", 200, 0},
		// Last: a local 503 marks the local side degraded for a while.
		{`{"model":"auto","messages":[{"role":"user","content":"please fail"}]}`, []string{"X-Want", "local"}, 1, "remote", "deepseek", 200, 1},
		{`{"model":"ollama/qwen3","messages":[{"role":"user","content":"please fail"}]}`, nil, 1, "local", "ollama", 503, 0},
	}
	total := 0
	for _, k := range kinds {
		for range k.n {
			if status, body := call(t, p, "/v1/chat/completions", k.body, append(auth, k.hdr...)...); status != k.status {
				t.Fatalf("%s: %d %s", k.body, status, body)
			}
			total++
		}
	}
	if total != 30 {
		t.Fatalf("sent %d, want 30", total)
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the api_key: %d, want 401", resp.StatusCode)
	}

	samples := awaitRequests(t, p, "gw-secret", 30)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"localrouter_requests_total", nil, 30},
		{"localrouter_requests_total", map[string]string{"door": "chat", "side": "remote", "provider": "deepseek", "model": "deepseek-chat", "status": "200"}, 19},
		{"localrouter_requests_total", map[string]string{"side": "local", "provider": "ollama", "model": "qwen3", "status": "200"}, 10},
		{"localrouter_requests_total", map[string]string{"side": "local", "status": "503"}, 1},
		// The fake's usage is 30 in, 9 out; the local streams ask for none
		// and are estimated, so only the others are exact.
		{"localrouter_tokens_total", map[string]string{"side": "remote", "kind": "input"}, 19 * 30},
		{"localrouter_tokens_total", map[string]string{"side": "remote", "kind": "output"}, 19 * 9},
		{"localrouter_cost_usd_total", map[string]string{"provider": "deepseek"}, 19 * (30*1 + 9*2) / 1e6},
		{"localrouter_cost_usd_total", map[string]string{"provider": "ollama"}, 0},
		{"localrouter_request_duration_seconds_count", nil, 30},
		{"localrouter_ttfb_seconds_count", map[string]string{"side": "local"}, 11},
		{"localrouter_fallbacks_total", nil, 1},
		{"localrouter_upstream_errors_total", map[string]string{"provider": "ollama", "status": "503"}, 2},
	}
	for _, c := range checks {
		if got := sumOf(samples, c.name, c.labels); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if sumOf(samples, "go_goroutines", nil) == 0 {
		t.Error("no Go runtime metrics")
	}
}

// awaitRequests scrapes /metrics until it counts n requests (a handler
// counts its request just after the answer's last byte) or 10 s pass.
func awaitRequests(t *testing.T, p *proc, key string, n float64) model.Vector {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		samples := scrapeMetrics(t, p, key)
		if sumOf(samples, "localrouter_requests_total", nil) == n || time.Now().After(deadline) {
			return samples
		}
		<-poll.C
	}
}

func scrapeMetrics(t *testing.T, p *proc, key string) model.Vector {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	dec := expfmt.SampleDecoder{Dec: expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header)),
		Opts: &expfmt.DecodeOptions{Timestamp: model.Now()}}
	var all model.Vector
	for {
		var v model.Vector
		if err := dec.Decode(&v); err == io.EOF {
			return all
		} else if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		all = append(all, v...)
	}
}

func sumOf(v model.Vector, name string, labels map[string]string) float64 {
	var total float64
next:
	for _, s := range v {
		if string(s.Metric[model.MetricNameLabel]) != name {
			continue
		}
		for k, want := range labels {
			if string(s.Metric[model.LabelName(k)]) != want {
				continue next
			}
		}
		total += float64(s.Value)
	}
	return total
}

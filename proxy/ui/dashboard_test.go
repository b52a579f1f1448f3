package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/proxy/usage"
)

// at is the tests' clock: mid-afternoon, so that today holds the records.
var at = time.Date(2026, 12, 3, 15, 0, 0, 0, time.Local)

// store is a real usage database in a temp dir holding recs.
func store(t *testing.T, recs ...usage.Record) *usage.Store {
	t.Helper()
	s, err := usage.Open(filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return s
}

var sample = []usage.Record{
	{Time: at.Add(-time.Hour), Door: "chat", Path: "/v1/chat/completions", Client: "curl", Side: "local", Provider: "ollama",
		Model: "qwen3", Reason: "strategy", Status: 200, Latency: 120 * time.Millisecond, TTFB: 30 * time.Millisecond,
		InputTokens: 12, OutputTokens: 4, SavedUSD: 0.002},
	{Time: at.Add(-50 * time.Minute), Door: "messages", Path: "/v1/messages", Client: "claude-cli", Side: "remote",
		Provider: "deepseek", Model: "deepseek-chat", Reason: "strategy", Status: 200, Stream: true,
		Latency: 900 * time.Millisecond, TTFB: 200 * time.Millisecond, InputTokens: 100, OutputTokens: 50, CostUSD: 0.01},
	{Time: at.Add(-40 * time.Minute), Door: "chat", Path: "/v1/chat/completions", Client: "curl", Side: "remote",
		Provider: "deepseek", Model: "deepseek-chat", Status: 502, Error: "upstream 500", Latency: 40 * time.Millisecond},
	{Time: at.AddDate(0, 0, -3), Door: "chat", Path: "/v1/chat/completions", Client: "curl", Side: "local",
		Provider: "ollama", Model: "qwen3", Status: 200, Fallback: true, InputTokens: 7, OutputTokens: 3, Estimated: true},
}

func serve(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	o.Now = func() time.Time { return at }
	ts := httptest.NewServer(New(o))
	t.Cleanup(ts.Close)
	return ts
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func TestRecordsFilters(t *testing.T) {
	ts := serve(t, Options{Store: store(t, sample...)})
	for _, tc := range []struct {
		query   string
		clients []string // newest first
	}{
		{"", []string{"curl", "curl", "claude-cli", "curl"}}, // by id: the order they were stored
		{"side=local", []string{"curl", "curl"}},
		{"provider=deepseek", []string{"curl", "claude-cli"}},
		{"client=claude-cli", []string{"claude-cli"}},
		{"errors=1", []string{"curl"}},
		{"limit=1", []string{"curl"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var got struct{ Records []record }
			if code := getJSON(t, ts.URL+"/ui/api/records?"+tc.query, &got); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			var clients []string
			for _, r := range got.Records {
				clients = append(clients, r.Client)
			}
			if diff := cmp.Diff(tc.clients, clients); diff != "" {
				t.Errorf("clients (-want +got):\n%s", diff)
			}
		})
	}
	var all struct{ Records []record }
	getJSON(t, ts.URL+"/ui/api/records", &all)
	var one record
	if code := getJSON(t, ts.URL+"/ui/api/records/"+itoa(all.Records[2].ID), &one); code != http.StatusOK {
		t.Fatalf("one record: %d", code)
	}
	if one.Client != "claude-cli" || one.LatencyMS != 900 || one.TTFBMS != 200 || !one.Stream || one.InputTokens != 100 {
		t.Errorf("record %+v", one)
	}
	for path, want := range map[string]int{
		"/ui/api/records/999":        http.StatusNotFound,
		"/ui/api/records/x":          http.StatusBadRequest,
		"/ui/api/records?limit=-1":   http.StatusBadRequest,
		"/ui/api/records?before=abc": http.StatusBadRequest,
		"/ui/api/usage?range=1y":     http.StatusBadRequest,
		"/ui/nope":                   http.StatusNotFound,
	} {
		if code := getJSON(t, ts.URL+path, nil); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestUsageWindows(t *testing.T) {
	ts := serve(t, Options{Store: store(t, sample...)})
	type resp struct {
		Days   []string
		Totals totals
		ByDay  []bucket `json:"by_day"`
	}
	var today, week resp
	getJSON(t, ts.URL+"/ui/api/usage?range=today", &today)
	getJSON(t, ts.URL+"/ui/api/usage?range=7d", &week)
	if want := (totals{Requests: 3, LocalRequests: 1, InputTokens: 112, OutputTokens: 54, Errors: 1, CostUSD: 0.01, SavedUSD: 0.002}); today.Totals != want {
		t.Errorf("today's totals %+v, want %+v", today.Totals, want)
	}
	if len(today.Days) != 1 || today.Days[0] != "2026-12-03" {
		t.Errorf("today's days %v", today.Days)
	}
	if week.Totals.Requests != 4 || week.Totals.Fallbacks != 1 || len(week.Days) != 7 {
		t.Errorf("7 days: totals %+v, %d days", week.Totals, len(week.Days))
	}
	sides := map[string]int64{}
	for _, b := range week.ByDay {
		sides[b.Key+" "+b.Side] += b.Requests
	}
	want := map[string]int64{"2026-11-30 local": 1, "2026-12-03 local": 1, "2026-12-03 remote": 2}
	if diff := cmp.Diff(want, sides); diff != "" {
		t.Errorf("by day and side (-want +got):\n%s", diff)
	}
}

func TestNoStore(t *testing.T) {
	ts := serve(t, Options{})
	for _, p := range []string{"/ui/api/records", "/ui/api/usage", "/ui/api/events", "/ui/api/records/1"} {
		if code := getJSON(t, ts.URL+p, nil); code != http.StatusServiceUnavailable {
			t.Errorf("%s without a store: %d, want 503", p, code)
		}
	}
	broken := serve(t, Options{Off: "usage records are not kept: open usage.db: read-only file system"})
	resp, err := http.Get(broken.URL + "/ui/api/records")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "read-only file system") {
		t.Errorf("without a store, for a reason: %s", b)
	}
	if code := getJSON(t, ts.URL+"/ui/", nil); code != http.StatusOK {
		t.Errorf("the page without a store: %d, want 200", code)
	}
}

// feed is a Feed whose subscribers get what send sends.
type feed struct{ subs chan chan usage.Record }

func (f *feed) Subscribe() (<-chan usage.Record, func()) {
	c := make(chan usage.Record, 4)
	f.subs <- c
	return c, func() {}
}

func TestEventsStream(t *testing.T) {
	f := &feed{subs: make(chan chan usage.Record, 1)}
	ts := serve(t, Options{Store: store(t), Feed: f})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/ui/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sub := <-f.subs
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); line != ": live\n" {
		t.Fatalf("first line %q", line)
	}
	rec := sample[1]
	rec.ID = 42
	sub <- rec
	var event, data string
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
			break
		}
	}
	var got record
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatal(err)
	}
	if event != "record" || got.ID != 42 || got.Client != "claude-cli" || got.OutputTokens != 50 {
		t.Errorf("event %q record %+v", event, got)
	}
}

// TestPageIsSelfContained: the page and its files name no other host, so
// it works offline and tells nobody what it shows.
func TestPageIsSelfContained(t *testing.T) {
	ts := serve(t, Options{})
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		body := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//cdn") {
			t.Errorf("%s names another host", p)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
}

package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/proxy/usage"
)

// records is a Recorder that keeps what it gets.
type records struct {
	mu   sync.Mutex // guards recs
	recs []usage.Record
	got  chan struct{}
}

func newRecords() *records { return &records{got: make(chan struct{}, 1000)} }

func (r *records) Record(rec usage.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// next waits for the record of the request just answered: the handler
// records after the body is written, so the client may see the answer first.
func (r *records) next(t *testing.T) usage.Record {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(hangGuard):
		t.Fatal("no usage record")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[len(r.recs)-1]
}

func recordedGateway(t testing.TB, yaml string, rec Recorder) (*Server, *httptest.Server) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prices, err := usage.LoadPrices(map[string]usage.Price{"deepseek-chat": {Input: 1, Output: 2}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Usage: rec, Prices: prices})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func send(t *testing.T, url, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer gw-key")
	req.Header.Set("User-Agent", "codex_cli_rs/0.40")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestUsageRecordPerRoutedRequest(t *testing.T) {
	remote := newUpstream(t, either)
	local := newUpstream(t, either)
	yaml := strings.NewReplacer("UPSTREAM", remote.URL, "LOCAL", local.URL).Replace(twoSides)
	rec := newRecords()
	_, gw := recordedGateway(t, yaml, rec)

	type want struct {
		door, side, provider, model string
		status, in, out             int
		stream, estimated           bool
	}
	for _, c := range []struct {
		name, path, body string
		want             want
	}{
		{"remote chat", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`,
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, 9, 3, false, false}},
		{"stream without usage", "/v1/chat/completions", `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hello there"}]}`,
			// three content events and the finish: one token each.
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, 0, 4, true, true}},
		{"stream with usage", "/v1/chat/completions", `{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			want{"chat", "remote", "deepseek", "deepseek-chat", 200, 5, 3, true, false}},
		{"local ollama chat", "/api/chat", `{"model":"local","stream":false,"messages":[{"role":"user","content":"hi"}]}`,
			want{"ollama-chat", "local", "ollama", "qwen3", 200, 9, 3, false, false}},
		{"messages", "/v1/messages", `{"model":"local","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
			want{"messages", "local", "ollama", "qwen3", 200, 9, 3, false, false}},
		{"no route", "/v1/chat/completions", `{"model":"nowhere/none","messages":[{"role":"user","content":"hi"}]}`,
			want{"chat", "", "", "", 404, 0, 0, false, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := send(t, gw.URL, c.path, c.body)
			r := rec.next(t)
			got := want{r.Door, r.Side, r.Provider, r.Model, r.Status, r.InputTokens, r.OutputTokens, r.Stream, r.Estimated}
			if c.want.estimated && r.InputTokens > 0 {
				got.in = 0 // the prompt estimate's exact figure is providers' business
			}
			if got != c.want || status != c.want.status {
				t.Errorf("record %+v (HTTP %d %s), want %+v", got, status, body, c.want)
			}
			if c.want.estimated && r.InputTokens == 0 {
				t.Error("an estimated record has no input estimate")
			}
			if r.Client != "codex" || r.Path != c.path || r.Latency <= 0 || r.TTFB <= 0 || r.TTFB > r.Latency {
				t.Errorf("client %q path %q latency %v ttfb %v", r.Client, r.Path, r.Latency, r.TTFB)
			}
			if r.Side == "local" && (r.RemoteModel != "deepseek-chat" || r.CostUSD != 0 || r.SavedUSD <= 0) {
				t.Errorf("local record: remote %s/%s cost %v saved %v; want free, saving deepseek-chat's price",
					r.RemoteProvider, r.RemoteModel, r.CostUSD, r.SavedUSD)
			}
			if r.Side == "remote" && r.CostUSD <= 0 {
				t.Errorf("remote record costs %v", r.CostUSD)
			}
		})
	}
	// A request that never reached routing leaves none.
	if status, _ := send(t, gw.URL, "/v1/chat/completions", `{not json`); status != 400 {
		t.Fatalf("bad JSON: %d", status)
	}
	send(t, gw.URL, "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`)
	if r := rec.next(t); r.Status != 200 {
		t.Errorf("the record after a bad request is %+v, want the good one's", r)
	}
	rec.mu.Lock()
	if n := len(rec.recs); n != 7 {
		t.Errorf("%d records, want 7 (the bad request has none)", n)
	}
	rec.mu.Unlock()
}

func TestUsageRecordsFallback(t *testing.T) {
	remote := newUpstream(t, either)
	local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"message":"model is loading","type":"server_error"}}`)
	})
	yaml := strings.NewReplacer("UPSTREAM", remote.URL, "LOCAL", local.URL, "default: remote", "default: local").Replace(twoSides)
	rec := newRecords()
	_, gw := recordedGateway(t, yaml, rec)
	if status, body := send(t, gw.URL, "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	r := rec.next(t)
	if !r.Fallback || r.Side != "remote" || r.Provider != "deepseek" || !strings.Contains(r.Reason, "fallback from ollama/qwen3") {
		t.Errorf("record %+v, want the fallback to remote", r)
	}
	m := scrape(t, gw.URL, "gw-key")
	if got := sum(m, "localrouter_fallbacks_total", nil); got != 1 {
		t.Errorf("fallbacks_total = %v, want 1", got)
	}
	if got := sum(m, "localrouter_upstream_errors_total", map[string]string{"provider": "ollama", "status": "503"}); got != 1 {
		t.Errorf("upstream_errors_total{ollama,503} = %v, want 1", got)
	}
}

// TestMetricsCountRequests scrapes /metrics over HTTP, parses it with
// Prometheus's own text parser and checks it counts what was sent.
func TestMetricsCountRequests(t *testing.T) {
	remote := newUpstream(t, either)
	local := newUpstream(t, either)
	yaml := strings.NewReplacer("UPSTREAM", remote.URL, "LOCAL", local.URL).Replace(twoSides)
	_, gw := recordedGateway(t, yaml, nil)
	for range 3 {
		send(t, gw.URL, "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`)
	}
	for range 2 {
		send(t, gw.URL, "/v1/chat/completions", `{"model":"local","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	}
	send(t, gw.URL, "/v1/chat/completions", `{"model":"nowhere/none","messages":[{"role":"user","content":"hi"}]}`)

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the api_key: %d, want 401", resp.StatusCode)
	}
	// The handler records after writing; the last request's count may land
	// a moment after its answer.
	deadline := time.Now().Add(hangGuard)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	var m map[string]*family
	for {
		m = scrape(t, gw.URL, "gw-key")
		if sum(m, "localrouter_requests_total", nil) == 6 || time.Now().After(deadline) {
			break
		}
		<-poll.C
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"localrouter_requests_total", nil, 6},
		{"localrouter_requests_total", map[string]string{"door": "chat", "side": "remote", "provider": "deepseek", "model": "deepseek-chat", "status": "200"}, 3},
		{"localrouter_requests_total", map[string]string{"side": "local", "provider": "ollama", "status": "200"}, 2},
		{"localrouter_requests_total", map[string]string{"side": "", "status": "404"}, 1},
		{"localrouter_tokens_total", map[string]string{"side": "remote", "kind": "input"}, 27},
		{"localrouter_tokens_total", map[string]string{"side": "remote", "kind": "output"}, 9},
		{"localrouter_cost_usd_total", map[string]string{"provider": "deepseek"}, 3 * (9*1 + 3*2) / 1e6},
		{"localrouter_request_duration_seconds_count", map[string]string{"door": "chat"}, 6},
		{"localrouter_ttfb_seconds_count", map[string]string{"side": "local"}, 2},
		{"localrouter_fallbacks_total", nil, 0},
	} {
		if got := sum(m, c.name, c.labels); !near(got, c.want) {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

// family is one metric's samples, as parsed.
type family struct {
	samples []*model.Sample
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url, key string) map[string]*family {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	dec := expfmt.SampleDecoder{Dec: expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header)), Opts: &expfmt.DecodeOptions{Timestamp: model.Now()}}
	out := map[string]*family{}
	for {
		var v model.Vector
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		for _, s := range v {
			name := string(s.Metric[model.MetricNameLabel])
			if out[name] == nil {
				out[name] = &family{}
			}
			out[name].samples = append(out[name].samples, s)
		}
	}
	return out
}

// sum adds the samples of name whose labels include labels.
func sum(m map[string]*family, name string, labels map[string]string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	var total float64
next:
	for _, s := range f.samples {
		for k, v := range labels {
			if string(s.Metric[model.LabelName(k)]) != v {
				continue next
			}
		}
		total += float64(s.Value)
	}
	return total
}

// BenchmarkRecordPath is what the usage record costs a request: build it,
// price it, count it in the metrics and queue it for the store. Compare
// with BenchmarkNonStream/gateway's figures, which include it.
func BenchmarkRecordPath(b *testing.B) {
	for _, name := range []string{"metrics", "metrics+store"} {
		b.Run(name, func(b *testing.B) {
			var rec Recorder
			if name == "metrics+store" {
				store, err := usage.Open(b.TempDir() + "/usage.db")
				if err != nil {
					b.Fatal(err)
				}
				r := usage.NewRecorder(store, nil, usage.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
				b.Cleanup(func() { r.Close() })
				rec = r
			}
			s, _ := recordedGateway(b, strings.NewReplacer("UPSTREAM", "http://127.0.0.1:1", "LOCAL", "http://127.0.0.1:2").Replace(twoSides), rec)
			st := s.state.Load()
			r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
			w := httptest.NewRecorder()
			sreq := s.routingRequest(r, "chat", "local", false, providersFacts())
			l := requestLog{start: time.Now(), endpoint: "chat", client: "codex", status: 200, req: sreq, router: st.router, live: s.live(),
				usage: &providersUsage}
			l.dec, _ = st.router.Decide(sreq, l.live)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.record(&l, r, w)
			}
		})
	}
}

// BenchmarkNonStreamRecorded is BenchmarkNonStream/gateway with the usage
// store wired as main wires it.
func BenchmarkNonStreamRecorded(b *testing.B) {
	up := benchUpstream(b)
	store, err := usage.Open(b.TempDir() + "/usage.db")
	if err != nil {
		b.Fatal(err)
	}
	prices, _ := usage.LoadPrices(nil)
	r := usage.NewRecorder(store, prices)
	b.Cleanup(func() { r.Close() })
	cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", up.URL+"/v1")), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Usage: r, Prices: prices})
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(s.Handler())
	b.Cleanup(gw.Close)
	runBench(b, gw.URL, benchRequest, 1, "")
}

var providersUsage = providers.Usage{PromptTokens: 1200, CompletionTokens: 300}

func providersFacts() providers.Facts {
	return providers.Facts{Messages: 2, PromptChars: 4000, EstTokens: 1000}
}

// TestUsageTenThousandRequests sends 10,000 requests through the gateway
// at full speed into a real usage store (1,008 under the race detector):
// every one is stored or counted as dropped.
func TestUsageTenThousandRequests(t *testing.T) {
	up := newUpstream(t, completion)
	store, err := usage.Open(t.TempDir() + "/usage.db")
	if err != nil {
		t.Fatal(err)
	}
	path := store.Path()
	rec := usage.NewRecorder(store, nil)
	_, gw := recordedGateway(t, strings.NewReplacer("UPSTREAM", up.URL, "LOCAL", up.URL).Replace(twoSides), rec)
	clients, each := 16, 625
	if raceEnabled {
		each = 63
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				req, _ := http.NewRequest(http.MethodPost, gw.URL+"/v1/chat/completions",
					strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Authorization", "Bearer gw-key")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	gw.Close() // waits for the handlers, and so for their records
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := usage.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	tot, err := ro.Totals(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Requests+rec.Dropped() != int64(clients*each) {
		t.Errorf("%d stored + %d dropped, want %d", tot.Requests, rec.Dropped(), clients*each)
	}
	t.Logf("%d stored, %d dropped", tot.Requests, rec.Dropped())
}

// heldLog is a slog.Handler whose request lines wait for release, as a
// slow log disk would hold them.
type heldLog struct {
	slog.Handler
	entered chan struct{}
	release chan struct{}
}

func (h heldLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "request" {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.Handler.Handle(ctx, r)
}

// TestAnswerLeavesBeforeTheLogLine holds the request's log line and checks
// that the client has its whole answer, or a stream's [DONE], all the same.
func TestAnswerLeavesBeforeTheLogLine(t *testing.T) {
	up := newUpstream(t, either)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", up.URL)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := heldLog{Handler: slog.NewTextHandler(io.Discard, nil), entered: make(chan struct{}, 1), release: make(chan struct{})}
	s, err := New(Options{Config: cfg, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(s.Handler())
	defer gw.Close()
	for _, stream := range []bool{false, true} {
		body := `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		type answer struct {
			status int
			body   string
		}
		got := make(chan answer, 1)
		go func() {
			resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				got <- answer{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			if !stream {
				b, _ := io.ReadAll(resp.Body)
				got <- answer{resp.StatusCode, string(b)}
				return
			}
			// A stream's client stops at [DONE]; the body's chunked end is
			// net/http's to write when the handler returns.
			var b strings.Builder
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				b.WriteString(sc.Text() + "\n")
				if sc.Text() == "data: [DONE]" {
					break
				}
			}
			got <- answer{resp.StatusCode, b.String()}
		}()
		select {
		case <-h.entered:
		case <-time.After(hangGuard):
			t.Fatalf("stream=%v: the request was never logged", stream)
		}
		select {
		case a := <-got:
			if a.status != http.StatusOK || !strings.Contains(a.body, "chat.completion") {
				t.Errorf("stream=%v: answer %d %q", stream, a.status, a.body)
			}
			if stream && !strings.HasSuffix(a.body, "data: [DONE]\n") {
				t.Errorf("stream=%v: answer does not end with [DONE]: %q", stream, a.body)
			}
		case <-time.After(hangGuard):
			t.Errorf("stream=%v: the client has no answer while the log line waits", stream)
		}
		h.release <- struct{}{}
	}
}

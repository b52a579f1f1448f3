package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/proxy/usage"
)

// The dashboard (/ui) in real headless Chromium, driven with chromedp
// against the built binary and fake upstreams: requests sent through the
// gateway appear in the Live log as they finish, the filters and a row's
// detail work, the Usage page's figures are the store's, and the page asks
// nothing of any host but the gateway.

// browserWait bounds each wait on the page: a hang guard, not a timing check.
const browserWait = 10 * time.Second

// chromium finds Debian's Chromium. Without it the browser tests skip, but
// on CI (CI=true) they fail: there .ci/run must install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("headless Chromium not found: install the Debian package chromium (apt-get install chromium)")
	}
	t.Skip("headless Chromium not found: install the Debian package chromium to run the dashboard tests")
	return ""
}

// browser is one headless Chromium with a fresh profile, and every URL its
// pages requested.
type browser struct {
	ctx  context.Context
	mu   sync.Mutex // guards urls
	urls []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.urls = append(b.urls, e.Request.URL)
			b.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	b.ctx = ctx
	// The first run starts the browser, and must have no deadline of its
	// own (it would end the browser): the hang guard waits beside it.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium: %v", err)
		}
	case <-time.After(3 * browserWait):
		t.Fatal("Chromium did not start within 30s")
	}
	return b
}

// run runs steps under the hang guard.
func (b *browser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls the page until expr is true.
func (b *browser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait+time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(browserWait),
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates expr in the page (awaiting a promise) and decodes its value.
func eval[T any](t *testing.T, b *browser, what, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) requested() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls...)
}

// click clicks the element sel selects, as a user's mouse does.
func (b *browser) click(t *testing.T, sel string) {
	t.Helper()
	b.run(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// selectOption picks value in a <select> as a user's pick does: the value
// changes and the page hears a change event.
func (b *browser) selectOption(t *testing.T, sel, value string) {
	t.Helper()
	got := eval[string](t, b, "select "+value+" in "+sel, `(() => { const s = document.querySelector(`+jsString(sel)+`);
		s.value = `+jsString(value)+`; s.dispatchEvent(new Event("change", {bubbles: true})); return s.value; })()`)
	if got != value {
		t.Fatalf("%s has no option %q", sel, value)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// liveRow is one row of the Live log as the page shows it.
type liveRow struct {
	ID     int64  `json:"id"`
	Fresh  bool   `json:"fresh"` // it came from the live feed, not a reload
	Time   string `json:"time"`
	Client string `json:"client"`
	Door   string `json:"door"`
	Route  string `json:"route"`
	Status string `json:"status"`
	Tokens string `json:"tokens"`
	Cost   string `json:"cost"`
}

const rowsJS = `[...document.querySelectorAll("#log tbody tr")].map(tr => ({
	id: Number(tr.dataset.id), fresh: tr.classList.contains("fresh"),
	time: tr.querySelector(".c-time").innerText, client: tr.querySelector(".c-client").innerText,
	door: tr.querySelector(".c-door").innerText, route: tr.querySelector(".c-route").innerText,
	status: tr.querySelector(".c-status").innerText, tokens: tr.querySelector(".c-tokens").innerText,
	cost: tr.querySelector(".c-cost").innerText}))`

func (b *browser) rows(t *testing.T) []liveRow {
	t.Helper()
	return eval[[]liveRow](t, b, "read the log", rowsJS)
}

// sent is one request the test made and what the client saw of it.
type sent struct {
	side, route, client string // route: provider/model
	status              int
	tokens              string // as the page shows them
	fallback            bool
}

// dashboardSetup is a gateway with a local and a remote fake, a provider
// that refuses its key (the failing request), and fallback on.
func dashboardSetup(t *testing.T, apiKey string) (instance, *flakyLocal) {
	t.Helper()
	local := newFlakyLocal(t)
	remote := newFakeOpenAI(t)
	cfg := strings.Replace(routingSetup{apiKey: apiKey, localURL: local.URL, remoteURL: remote.URL}.yaml(), "mock:\n",
		"  broken:\n    api_key: sk-wrong-key\n    base_url: "+remote.URL+"/v1\n    local: false\n    models: [deepseek-chat]\nmock:\n", 1)
	return newInstance(t, "notifications: false\n"+cfg), local
}

// sendMixed sends 30 requests: local and remote, stream and not, from two
// clients, one failing (an upstream that refuses its key) and, last, one
// that falls back from a failing local server to the remote side.
func sendMixed(t *testing.T, g *gateway, local *flakyLocal) []sent {
	t.Helper()
	var out []sent
	send := func(model string, stream bool, client string) {
		body := map[string]any{"model": model, "stream": stream, "messages": []any{map[string]any{"role": "user", "content": "hello"}}}
		if stream {
			// Forwarded as sent: the fake then reports the stream's usage.
			body["stream_options"] = map[string]any{"include_usage": true}
		}
		b, _ := json.Marshal(body)
		r, err := g.request(http.MethodPost, "/v1/chat/completions", string(b), map[string]string{"User-Agent": client}, false)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		side, rest, _ := strings.Cut(r.route, ":")
		route, _, _ := strings.Cut(rest, " ")
		s := sent{side: side, route: route, status: r.status, fallback: strings.Contains(r.route, "fallback from")}
		s.client = map[string]string{"aider/0.86.1": "aider", "zed/0.201.4": "zed"}[client]
		switch {
		case r.status != http.StatusOK:
		case stream:
			s.tokens = "12 / 5"
		default:
			s.tokens = "12 / 4"
		}
		out = append(out, s)
	}
	clients := []string{"aider/0.86.1", "zed/0.201.4"}
	for i := range 28 {
		model := "remote"
		if i%7 < 3 {
			model = "local"
		}
		send(model, i%2 == 1, clients[i%3%2])
	}
	send("broken/deepseek-chat", false, clients[0])
	local.fail(http.StatusInternalServerError, `{"error":{"message":"llama runner process has terminated: exit status 2","type":"api_error","param":null,"code":null}}`)
	send("local", false, clients[1])
	return out
}

func TestDashboardLive(t *testing.T) {
	b := newBrowser(t)
	in, local := dashboardSetup(t, "")
	g := in.start(t)
	gw, _ := url.Parse(g.p.url)

	b.run(t, "open /ui", chromedp.Navigate(g.p.url+"/ui"))
	b.waitFor(t, "the live feed connects", `document.querySelector("#feed").classList.contains("on") && document.body.dataset.logLoaded !== undefined`)

	reqs := sendMixed(t, g, local)
	var kinds = map[string]int{}
	for _, s := range reqs {
		kinds[s.side]++
		if s.status != http.StatusOK {
			kinds["failed"]++
		}
		if s.fallback {
			kinds["fallback"]++
		}
	}
	if kinds["local"] < 10 || kinds["remote"] < 10 || kinds["failed"] != 1 || kinds["fallback"] != 1 {
		t.Fatalf("the requests were not the mix meant: %v", kinds)
	}

	b.waitFor(t, "30 rows in the live log", `document.querySelectorAll("#log tbody tr").length >= 30`)
	rows := b.rows(t)
	if len(rows) != len(reqs) {
		t.Fatalf("%d rows, want %d", len(rows), len(reqs))
	}
	// Newest first: the last request is the top row.
	for i, s := range reqs {
		r := rows[len(rows)-1-i]
		if !r.Fresh {
			t.Errorf("request %d: its row did not come from the live feed", i)
		}
		if !strings.HasPrefix(r.Route, s.side+" ") || !strings.Contains(r.Route, s.route) {
			t.Errorf("request %d: route %q, want %s %s", i, r.Route, s.side, s.route)
		}
		if s.fallback != strings.Contains(r.Route, "fallback") {
			t.Errorf("request %d: route %q, fallback %v", i, r.Route, s.fallback)
		}
		if r.Status != fmt.Sprint(s.status) {
			t.Errorf("request %d: status %q, want %d", i, r.Status, s.status)
		}
		if s.tokens != "" && strings.TrimSpace(r.Tokens) != s.tokens {
			t.Errorf("request %d: tokens %q, want %q", i, r.Tokens, s.tokens)
		}
		if r.Client != s.client || r.Door != "chat" || r.Time == "" {
			t.Errorf("request %d: client %q door %q time %q, want %q chat", i, r.Client, r.Door, r.Time, s.client)
		}
	}

	// Filters, as a user picks them.
	count := func(pred func(sent) bool) (n int) {
		for _, s := range reqs {
			if pred(s) {
				n++
			}
		}
		return n
	}
	for _, f := range []struct {
		sel, value string
		want       func(sent) bool
		row        func(liveRow) bool
	}{
		{"#f-side", "local", func(s sent) bool { return s.side == "local" }, func(r liveRow) bool { return strings.HasPrefix(r.Route, "local ") }},
		{"#f-side", "remote", func(s sent) bool { return s.side == "remote" }, func(r liveRow) bool { return strings.HasPrefix(r.Route, "remote ") }},
		{"#f-provider", "broken", func(s sent) bool { return strings.HasPrefix(s.route, "broken/") }, func(r liveRow) bool { return strings.Contains(r.Route, "broken/") }},
		{"#f-client", "zed", func(s sent) bool { return s.client == "zed" }, func(r liveRow) bool { return r.Client == "zed" }},
		{"#f-status", "errors", func(s sent) bool { return s.status >= 400 }, func(r liveRow) bool { return r.Status != "200" }},
	} {
		want := count(f.want)
		b.selectOption(t, f.sel, f.value)
		b.waitFor(t, fmt.Sprintf("%s=%s shows %d rows", f.sel, f.value, want),
			fmt.Sprintf(`document.querySelectorAll("#log tbody tr").length === %d && [...document.querySelectorAll("#log tbody tr")].every(tr => !tr.classList.contains("fresh"))`, want))
		for _, r := range b.rows(t) {
			if !f.row(r) {
				t.Errorf("%s=%s shows %+v", f.sel, f.value, r)
			}
		}
		b.selectOption(t, f.sel, "")
	}
	b.waitFor(t, "all rows again", `document.querySelectorAll("#log tbody tr").length === 30`)

	// A row's full record.
	rows = b.rows(t)
	top := rows[0] // the fallback
	b.click(t, fmt.Sprintf(`#log tbody tr[data-id="%d"]`, top.ID))
	b.waitFor(t, "the detail opens", `!document.querySelector("#detail").hidden && document.querySelector("#detail-id").innerText === "#`+fmt.Sprint(top.ID)+`"`)
	detail := eval[map[string]string](t, b, "read the detail", `Object.fromEntries([...document.querySelectorAll("#detail-fields dd")].map(d => [d.dataset.field, d.innerText]))`)
	last := reqs[len(reqs)-1]
	if detail["Fallback"] != "yes" || detail["Side"] != last.side || !strings.HasSuffix(last.route, detail["Model"]) || detail["Status"] != "200" ||
		detail["Path"] != "/v1/chat/completions" || detail["Client"] != last.client {
		t.Errorf("detail of the fallback: %v", detail)
	}
	b.click(t, "#detail-close")

	// The Usage page: today's figures are the store's.
	st, err := usage.OpenReadOnly(filepath.Join(envValue(in.env, "XDG_CACHE_HOME"), "localrouter", "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	y, m, d := time.Now().Date()
	tot, err := st.Totals(context.Background(), time.Date(y, m, d, 0, 0, 0, 0, time.Local))
	if err != nil {
		t.Fatal(err)
	}
	if tot.Requests != 30 {
		t.Fatalf("the store holds %d requests today, want 30", tot.Requests)
	}
	b.click(t, `nav a[data-tab="usage"]`)
	b.click(t, `button[data-range="today"]`)
	b.waitFor(t, "today's usage", `document.body.dataset.usageLoaded === "today"`)
	cards := eval[map[string]string](t, b, "read the cards", `Object.fromEntries([...document.querySelectorAll("#cards .card")].map(c => [c.dataset.card, c.querySelector(".v").innerText]))`)
	wantCards := map[string]string{"requests": "30", "tokens": fmt.Sprint(tot.InputTokens + tot.OutputTokens),
		"local": fmt.Sprintf("%d%%", (200*tot.LocalRequests+tot.Requests)/(2*tot.Requests))}
	for k, v := range wantCards {
		if cards[k] != v {
			t.Errorf("Usage card %s: %q, want %q (cards %v)", k, cards[k], v, cards)
		}
	}
	usageCLIMatchesPage(t, b, in)
	bars := eval[map[string]int64](t, b, "read the tokens chart", `(() => { const s = {}; for (const r of document.querySelectorAll("#chart-tokens rect.bar")) s[r.dataset.series] = (s[r.dataset.series] || 0) + Number(r.dataset.value); return s; })()`)
	buckets, err := st.Summary(context.Background(), time.Date(y, m, d, 0, 0, 0, 0, time.Local), "side")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, bk := range buckets {
		want[bk.Side] += bk.InputTokens + bk.OutputTokens
	}
	if bars["local"] == 0 || bars["remote"] == 0 || bars["local"] != want["local"] || bars["remote"] != want["remote"] {
		t.Errorf("tokens chart %v, want the store's %v, both sides drawn", bars, want)
	}
	models := eval[map[string]string](t, b, "read the chart by model", `Object.fromEntries([...document.querySelectorAll("#chart-models rect.bar")].map(r => [r.dataset.x, r.dataset.series]))`)
	if diff := cmp.Diff(map[string]string{"qwen3": "local", "deepseek-chat": "remote"}, models); diff != "" {
		t.Errorf("tokens by model chart (-want +got):\n%s", diff)
	}
	notes := eval[string](t, b, "read the notes", `document.querySelector("#usage .note").innerText`)
	if !strings.Contains(notes, "estimate") {
		t.Errorf("the Usage page does not say cost is an estimate: %q", notes)
	}

	b.click(t, `nav a[data-tab="health"]`)
	b.waitFor(t, "health", `document.body.dataset.healthLoaded === "1"`)
	health := eval[map[string]string](t, b, "read health", `Object.fromEntries([...document.querySelectorAll("#strategy dd")].map(d => [d.dataset.field, d.innerText]))`)
	if health["Source"] != "config" || health["Local model"] != "qwen3" || health["Remote model"] != "deepseek-chat" {
		t.Errorf("Health strategy %v", health)
	}
	if v := eval[string](t, b, "read the usage card", `document.querySelector('#health-cards [data-card="usage"] .v').innerText`); v != "kept" {
		t.Errorf("Health says usage records are %q, want kept", v)
	}
	backend := eval[string](t, b, "read backends", `document.querySelector("#backends tbody").innerText`)
	if !strings.Contains(backend, "localprov") || !strings.Contains(backend, "qwen3") {
		t.Errorf("Health backends %q", backend)
	}

	// Light and dark follow the system's preference.
	colors := map[string]string{}
	for _, scheme := range []string{"dark", "light"} {
		ctx, cancel := context.WithTimeout(b.ctx, browserWait)
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		colors[scheme] = eval[string](t, b, "read the background", `getComputedStyle(document.body).backgroundColor`)
	}
	if want := map[string]string{"dark": "rgb(18, 18, 20)", "light": "rgb(247, 247, 248)"}; !cmp.Equal(colors, want) {
		t.Errorf("background by color scheme %v, want %v", colors, want)
	}

	if os.Getenv("LOCALROUTER_SCREENSHOT") == "1" {
		screenshot(t, b)
	}

	// Nothing but the gateway was asked for anything.
	urls := b.requested()
	if len(urls) < 5 {
		t.Fatalf("only %d requests recorded: %v", len(urls), urls)
	}
	for _, u := range urls {
		if p, err := url.Parse(u); err != nil || p.Host != gw.Host {
			t.Errorf("the page requested %s: not the gateway (%s)", u, gw.Host)
		}
	}
}

// screenshot saves the Live page, the request log the test filled, as
// docs/dashboard.png (LOCALROUTER_SCREENSHOT=1 only: a plain test run
// leaves the tree alone).
func screenshot(t *testing.T, b *browser) {
	t.Helper()
	b.click(t, `nav a[data-tab="live"]`)
	b.waitFor(t, "the log", `!document.querySelector("#live").hidden && document.querySelectorAll("#log tbody tr").length === 30`)
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "dashboard.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// usageCLIMatchesPage compares `localrouter usage --since today --json`,
// run while the gateway runs, with what the Usage page shows for Today:
// the cards and the table by provider.
func usageCLIMatchesPage(t *testing.T, b *browser, in instance) {
	t.Helper()
	type totals struct {
		Requests      int64   `json:"requests"`
		LocalRequests int64   `json:"local_requests"`
		InputTokens   int64   `json:"input_tokens"`
		OutputTokens  int64   `json:"output_tokens"`
		CostUSD       float64 `json:"cost_usd"`
		SavedUSD      float64 `json:"saved_usd"`
	}
	var cli struct {
		Totals  totals
		Buckets []struct {
			Key, Side string
			totals
		}
	}
	out, err := run(t, in.env, "usage", "--config", in.path, "--since", "today", "--by", "provider", "--json")
	if err != nil {
		t.Fatalf("localrouter usage: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatalf("localrouter usage --json: %v\n%s", err, out)
	}
	cards := eval[map[string]string](t, b, "read the cards", `Object.fromEntries([...document.querySelectorAll("#cards .card")].map(c => [c.dataset.card, c.querySelector(".v").innerText]))`)
	ct := cli.Totals
	want := map[string]string{"requests": fmt.Sprint(ct.Requests), "tokens": fmt.Sprint(ct.InputTokens + ct.OutputTokens),
		"local": fmt.Sprintf("%d%%", (200*ct.LocalRequests+ct.Requests)/(2*ct.Requests)), "cost": usd(ct.CostUSD), "saved": usd(ct.SavedUSD)}
	if diff := cmp.Diff(want, cards); diff != "" {
		t.Errorf("Usage cards for Today against localrouter usage --since today (-cli +page):\n%s", diff)
	}
	// By provider: the page sums each provider's sides into one row.
	cliRows := map[string][]string{}
	sums := map[string]*totals{}
	for _, bk := range cli.Buckets {
		if sums[bk.Key] == nil {
			sums[bk.Key] = &totals{}
		}
		s := sums[bk.Key]
		s.Requests += bk.Requests
		s.InputTokens += bk.InputTokens
		s.OutputTokens += bk.OutputTokens
		s.CostUSD += bk.CostUSD
		s.SavedUSD += bk.SavedUSD
	}
	for k, s := range sums {
		cliRows[k] = []string{fmt.Sprint(s.Requests), fmt.Sprint(s.InputTokens), fmt.Sprint(s.OutputTokens), usd(s.CostUSD), usd(s.SavedUSD)}
	}
	page := eval[map[string][]string](t, b, "read the table by provider", `Object.fromEntries([...document.querySelectorAll("#by-provider tbody tr")].map(tr =>
		[tr.dataset.key, [...tr.children].slice(2).map(td => td.innerText)]))`)
	if len(cliRows) < 3 {
		t.Errorf("localrouter usage --by provider lists %d providers, want 3: %s", len(cliRows), out)
	}
	if diff := cmp.Diff(cliRows, page); diff != "" {
		t.Errorf("Usage by provider for Today against localrouter usage --since today --by provider (-cli +page):\n%s", diff)
	}
}

// usd formats dollars as the page does.
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.0001:
		return "<$0.0001"
	case v < 0.01:
		return fmt.Sprintf("$%.4f", v)
	default:
		return fmt.Sprintf("$%.2f", v)
	}
}

// TestDashboardFeedEndsOnShutdown: an open dashboard does not hold up a
// quit: its live feed ends when the gateway shuts down, instead of being
// cut as a stream still running after the grace period.
func TestDashboardFeedEndsOnShutdown(t *testing.T) {
	in, _ := dashboardSetup(t, "")
	g := in.start(t)
	resp, err := http.Get(g.p.url + "/ui/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len(": live\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != ": live\n\n" {
		t.Fatalf("the feed began %q, %v", first, err)
	}
	if err := g.p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, g.p.Logs())
	}
	if rest, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("the feed did not end cleanly: %v (read %q)", err, rest)
	}
	if strings.Contains(g.p.Logs(), "grace period") {
		t.Errorf("the open feed held up the shutdown:\n%s", g.p.Logs())
	}
}

// TestDashboardLoadOlder: the log opens with the latest 200 requests and
// pages back through the rest on request.
func TestDashboardLoadOlder(t *testing.T) {
	b := newBrowser(t)
	in, _ := dashboardSetup(t, "")
	g := in.start(t)
	for i := range 230 {
		if r := g.mustChat(t, "remote", false, fmt.Sprint("hello ", i), nil); r.status != http.StatusOK {
			t.Fatalf("request %d: %v", i, r)
		}
	}
	st, err := usage.OpenReadOnly(filepath.Join(envValue(in.env, "XDG_CACHE_HOME"), "localrouter", "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventually(t, "230 records stored", func() (bool, string) {
		tot, err := st.Totals(context.Background(), time.Time{})
		return err == nil && tot.Requests == 230, fmt.Sprint(tot.Requests, err)
	})
	b.run(t, "open /ui", chromedp.Navigate(g.p.url+"/ui/"))
	b.waitFor(t, "the latest 200", `document.querySelectorAll("#log tbody tr").length === 200 && !document.querySelector("#older").hidden`)
	b.click(t, "#older")
	b.waitFor(t, "all 230", `document.querySelectorAll("#log tbody tr").length === 230 && document.querySelector("#older").hidden`)
	ids := eval[[]int64](t, b, "read the ids", `[...document.querySelectorAll("#log tbody tr")].map(tr => Number(tr.dataset.id))`)
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("rows out of order at %d: %v", i, ids[i-1:i+1])
		}
	}
}

// TestDashboardUsageBroken: with a usage.db that cannot be opened the
// gateway serves on, and the page says why it has no records.
func TestDashboardUsageBroken(t *testing.T) {
	b := newBrowser(t)
	in, _ := dashboardSetup(t, "")
	// A file where the database's directory should be.
	in.write(t, strings.Replace(readFile(t, in.path), "mock:\n", "usage:\n  path: "+in.path+"/usage.db\nmock:\n", 1))
	g := in.start(t)
	if r := g.mustChat(t, "remote", false, "hello", nil); r.status != http.StatusOK {
		t.Fatalf("chat with a broken usage.db: %v", r)
	}
	b.run(t, "open /ui", chromedp.Navigate(g.p.url+"/ui/"))
	b.waitFor(t, "the reason", `!document.querySelector("#error").hidden && document.querySelector("#error").innerText.includes("usage records are not kept")`)
	b.click(t, `nav a[data-tab="health"]`)
	b.waitFor(t, "Health says so", `document.querySelector('#health-cards [data-card="usage"] .v')?.innerText === "failing"`)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests in this file drive routing end to end: a strategy server the
// test flips at run time, a local and a remote OpenAI fake, the control
// endpoints, fallback, config reload and `localrouter check`.

const (
	clientKey      = "lr-client-key-e2e-7d1c"
	stratLocal     = `{"strategy":"local","local_model":"qwen3","remote_model":"deepseek-chat","updated_at":"2026-11-25T10:00:00Z"}`
	stratRemote    = `{"strategy":"remote","local_model":"qwen3","remote_model":"deepseek-chat","updated_at":"2026-11-25T11:00:00Z"}`
	routeLocal     = "local:localprov/qwen3"
	routeRemote    = "remote:deepseek/deepseek-chat"
	pollDeadline   = 10 * time.Second
	strategyPeriod = "1s"
	// strategyTimeout bounds one strategy fetch; TestStrategyFailuresKeepRouting
	// waits it out once.
	strategyTimeout = "1s"
)

// stratServer serves a strategy document that the test changes at run time.
type stratServer struct {
	*httptest.Server
	answer atomic.Pointer[stratAnswer]
	hits   atomic.Int64
}

type stratAnswer struct {
	status int
	body   string
	delay  time.Duration // before answering, unless the client gives up first
}

func newStratServer(t *testing.T, body string) *stratServer {
	s := &stratServer{}
	s.set(http.StatusOK, body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		a := s.answer.Load()
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stratServer) set(status int, body string) {
	s.answer.Store(&stratAnswer{status: status, body: body})
}

// newLocalFake is newFakeOpenAI that also answers GET /v1/models, which the
// gateway's health probe of the local side asks for. Model-list requests are
// not recorded, so reqs counts chat requests only.
func newLocalFake(t *testing.T) *fakeOpenAI {
	f := &fakeOpenAI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen3","object":"model","owned_by":"local"}]}`)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			// Ollama's and LM Studio's discovery APIs, which the probe
			// tries first: a plain OpenAI-compatible server has neither.
			http.NotFound(w, r)
			return
		}
		f.serve(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func upstreamHits(f *fakeOpenAI) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// closedURL returns the URL of a port nothing listens on any more.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// routingSetup describes the config most tests here use: a local provider
// "localprov" serving qwen3 and a remote one "deepseek" serving deepseek-chat.
type routingSetup struct {
	apiKey      string
	strategyURL string
	localURL    string
	remoteURL   string
	noFallback  bool
	remoteModel string
	extra       string // appended under routing:
}

func (c routingSetup) yaml() string {
	var b strings.Builder
	b.WriteString("server:\n  port: PORT\n")
	if c.apiKey != "" {
		b.WriteString("  api_key: " + c.apiKey + "\n")
	}
	if c.strategyURL != "" {
		b.WriteString("remote_strategy:\n  url: " + c.strategyURL + "\n  poll_interval: " + strategyPeriod + "\n  timeout: " + strategyTimeout + "\n")
	}
	rm := c.remoteModel
	if rm == "" {
		rm = "deepseek-chat"
	}
	fmt.Fprintf(&b, "routing:\n  default: remote\n  local_model: qwen3\n  remote_model: %s\n  fallback: %v\n", rm, !c.noFallback)
	b.WriteString(c.extra)
	b.WriteString("providers:\n")
	if c.localURL != "" {
		b.WriteString("  localprov:\n    api_key: " + upstreamKey + "\n    base_url: " + c.localURL + "/v1\n    local: true\n    models: [qwen3]\n")
	}
	b.WriteString("  deepseek:\n    api_key: " + upstreamKey + "\n    base_url: " + c.remoteURL + "/v1\n    local: false\n    models: [deepseek-chat]\n")
	b.WriteString("mock:\n  token_delay: 1ms\n")
	return b.String()
}

// instance is a config file, a port and a user environment that survive a
// restart of the binary.
type instance struct {
	path string
	port int
	env  []string
}

func newInstance(t *testing.T, cfg string) instance {
	t.Helper()
	in := instance{path: filepath.Join(t.TempDir(), "config.yaml"), port: freePort(t), env: userEnv(t)}
	in.write(t, cfg)
	return in
}

// write replaces the config file atomically (temp file + rename), as editors do.
func (in instance) write(t *testing.T, cfg string) {
	t.Helper()
	cfg = strings.ReplaceAll(cfg, "PORT", fmt.Sprint(in.port))
	tmp := in.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, in.path); err != nil {
		t.Fatal(err)
	}
}

func (in instance) start(t *testing.T, args ...string) *gateway {
	t.Helper()
	return newGateway(t, startAt(t, in.path, in.port, in.env, args...))
}

// restart stops g's process with SIGTERM and starts a new one on the same
// config, port and user environment (so the same cache dir).
func (in instance) restart(t *testing.T, g *gateway) *gateway {
	t.Helper()
	g.c.CloseIdleConnections()
	g.p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.p.done:
		g.p.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, g.p.Logs())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10s of SIGTERM")
	}
	return in.start(t)
}

// gateway is a running localrouter with its own HTTP client, so a restart
// never reuses a connection to the old process.
type gateway struct {
	p   *proc
	c   *http.Client
	key string // sent as Authorization: Bearer when set
}

func newGateway(t *testing.T, p *proc) *gateway {
	g := &gateway{p: p, c: &http.Client{Transport: &http.Transport{}, Timeout: 15 * time.Second}}
	t.Cleanup(g.c.CloseIdleConnections)
	return g
}

type result struct {
	status int
	route  string
	header http.Header
	body   string
	text   string // the answer's content: message content, or the stream's deltas joined
}

func (r result) String() string {
	return fmt.Sprintf("status %d route %q body %.300s", r.status, r.route, r.body)
}

// request sends a request with the gateway's key (if any) unless noAuth.
func (g *gateway) request(method, path, body string, hdr map[string]string, noAuth bool) (result, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.p.url+path, rd)
	if err != nil {
		return result{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.key != "" && !noAuth {
		req.Header.Set("Authorization", "Bearer "+g.key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := g.c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, route: resp.Header.Get("X-LocalRouter-Route"), header: resp.Header, body: string(b)}, nil
}

// chat sends a chat completion with one user message. content is a string or
// a JSON-encodable array of parts.
func (g *gateway) chat(model string, stream bool, content any, hdr map[string]string) (result, error) {
	body, err := json.Marshal(map[string]any{
		"model": model, "stream": stream,
		"messages": []any{map[string]any{"role": "user", "content": content}},
	})
	if err != nil {
		return result{}, err
	}
	r, err := g.request(http.MethodPost, "/v1/chat/completions", string(body), hdr, false)
	if err != nil {
		return r, err
	}
	if r.route == "" {
		return r, fmt.Errorf("no X-LocalRouter-Route header: %v", r)
	}
	if r.status != http.StatusOK {
		return r, nil
	}
	if stream {
		r.text, err = sseText(r.body)
	} else {
		var c struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if err = json.Unmarshal([]byte(r.body), &c); err == nil && len(c.Choices) > 0 {
			r.text = c.Choices[0].Message.Content
		}
	}
	return r, err
}

// mustChat is chat that fails the test on a transport error or a missing route header.
func (g *gateway) mustChat(t *testing.T, model string, stream bool, content any, hdr map[string]string) result {
	t.Helper()
	r, err := g.chat(model, stream, content, hdr)
	if err != nil {
		t.Fatalf("chat %s (stream %v): %v\n%s", model, stream, err, g.p.Logs())
	}
	return r
}

// sseText joins the content deltas of a stream and checks it ended with
// [DONE] and carried no error event.
func sseText(body string) (string, error) {
	var b strings.Builder
	done := false
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			continue
		}
		var ev struct {
			Error   json.RawMessage `json:"error"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return "", fmt.Errorf("bad stream event %q: %v", line, err)
		}
		if len(ev.Error) > 0 {
			return "", fmt.Errorf("stream carried an error event: %s", line)
		}
		for _, c := range ev.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
	if !done {
		return "", fmt.Errorf("stream did not end with [DONE]:\n%s", body)
	}
	return b.String(), nil
}

// lrStatus is the part of the /health document these tests read.
type lrStatus struct {
	Status   string `json:"status"`
	Side     string `json:"side"`
	Route    string `json:"route"`
	Override string `json:"override"`
	Mock     bool   `json:"mock"`
	LocalUp  bool   `json:"local_up"`
	// LocalDegraded: a local provider answered 5xx and is in its back-off.
	LocalDegraded bool `json:"local_degraded"`
	Strategy      struct {
		Source      string `json:"source"`
		Strategy    string `json:"strategy"`
		LocalModel  string `json:"local_model"`
		RemoteModel string `json:"remote_model"`
		UpdatedAt   string `json:"updated_at"`
		Error       string `json:"error"`
		Rules       int    `json:"rules"`
	} `json:"strategy"`
	LastFallback *struct {
		From  string `json:"from"`
		To    string `json:"to"`
		Error string `json:"error"`
	} `json:"last_fallback"`
	ConfigError string `json:"config_error"`
	Sessions    struct {
		Mode  string `json:"mode"`
		Count int    `json:"count"`
	} `json:"sessions"`
}

func decodeStatus(t *testing.T, r result) lrStatus {
	t.Helper()
	var s lrStatus
	if r.status != http.StatusOK {
		t.Fatalf("status document: %v", r)
	}
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || s.Status != "ok" {
		t.Fatalf("not a status document (%v): %s", err, r.body)
	}
	return s
}

// health reads GET /health, which needs no key.
func (g *gateway) health(t *testing.T) lrStatus {
	t.Helper()
	r, err := g.request(http.MethodGet, "/health", "", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return decodeStatus(t, r)
}

// control sends a control request with the key and returns the status document.
func (g *gateway) control(t *testing.T, method, path, body string) lrStatus {
	t.Helper()
	r, err := g.request(method, path, body, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return decodeStatus(t, r)
}

// eventually calls check every 50ms until it reports true or the deadline
// passes; then the test fails with what check last said.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	for {
		ok, last := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, pollDeadline, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStrategy waits until /health shows the strategy fetched from the server.
func (g *gateway) waitStrategy(t *testing.T, side string) {
	t.Helper()
	eventually(t, "strategy "+side+" fetched", func() (bool, string) {
		h := g.health(t)
		return h.Strategy.Source == "remote" && h.Strategy.Strategy == side, fmt.Sprintf("%+v", h.Strategy)
	})
}

// wantOpenAIError checks r is an error with the given status in OpenAI's shape.
func wantOpenAIError(t *testing.T, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.body)
		return
	}
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Errorf("error body not in OpenAI's shape: %s", r.body)
		return
	}
	var raw map[string]map[string]json.RawMessage
	json.Unmarshal([]byte(r.body), &raw)
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := raw["error"][k]; !ok {
			t.Errorf("error body lacks %q: %s", k, r.body)
		}
	}
}

func TestStrategyFlipFollowed(t *testing.T) {
	local, remote := newLocalFake(t), newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
	g := in.start(t)
	g.waitStrategy(t, "local")

	for _, stream := range []bool{false, true} {
		r := g.mustChat(t, "auto", stream, "hi", nil)
		if r.status != 200 || r.route != routeLocal+" (strategy)" {
			t.Fatalf("auto (stream %v) with strategy local: %v", stream, r)
		}
		if !stream && r.text != "Hello from qwen3." {
			t.Errorf("answer %q, want the local upstream's", r.text)
		}
	}
	if m := local.last(t); !strings.Contains(string(m.body), `"model":"qwen3"`) {
		t.Errorf("local upstream got %s", m.body)
	}
	remoteBefore := upstreamHits(remote)

	ss.set(http.StatusOK, stratRemote)
	eventually(t, "auto follows the flip to remote", func() (bool, string) {
		r, err := g.chat("auto", false, "hi", nil)
		if err != nil {
			return false, err.Error()
		}
		if r.status != 200 {
			t.Fatalf("request during the flip failed: %v", r)
		}
		return r.route == routeRemote+" (strategy)", r.String()
	})
	r := g.mustChat(t, "auto", true, "hi", nil)
	if r.status != 200 || r.route != routeRemote+" (strategy)" || r.text != "The quick brown fox." {
		t.Errorf("stream after the flip: %v text %q", r, r.text)
	}
	if upstreamHits(remote) == remoteBefore {
		t.Error("remote upstream got no request after the flip")
	}
	h := g.health(t)
	if h.Strategy.Source != "remote" || h.Strategy.Strategy != "remote" || h.Side != "remote" ||
		h.Strategy.UpdatedAt != "2026-11-25T11:00:00Z" || !strings.HasPrefix(h.Route, routeRemote) {
		t.Errorf("/health after the flip: %+v", h)
	}

	// And back.
	ss.set(http.StatusOK, stratLocal)
	eventually(t, "auto follows the flip back to local", func() (bool, string) {
		r, err := g.chat("auto", false, "hi", nil)
		if err != nil {
			return false, err.Error()
		}
		return r.status == 200 && r.route == routeLocal+" (strategy)", r.String()
	})
	if h := g.health(t); h.Strategy.Strategy != "local" || h.Side != "local" {
		t.Errorf("/health after flipping back: %+v", h)
	}
}

func TestOverrideBeatsStrategy(t *testing.T) {
	local, remote := newLocalFake(t), newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	in := newInstance(t, routingSetup{apiKey: clientKey, strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
	g := in.start(t)
	g.key = clientKey
	g.waitStrategy(t, "local")

	// The key guards the API and the control endpoints, not /health.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/localrouter/status", ""},
		{"PUT", "/localrouter/override", `{"override":"remote"}`},
		{"PUT", "/localrouter/mock", `{"mock":true}`},
		{"POST", "/localrouter/refresh", ""},
		{"POST", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`},
	} {
		r, err := g.request(c.method, c.path, c.body, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("no key "+c.method+" "+c.path, func(t *testing.T) { wantOpenAIError(t, r, http.StatusUnauthorized) })
		r, err = g.request(c.method, c.path, c.body, map[string]string{"Authorization": "Bearer wrong"}, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("wrong key "+c.method+" "+c.path, func(t *testing.T) { wantOpenAIError(t, r, http.StatusUnauthorized) })
	}
	if h := g.health(t); h.Override != "auto" || h.Mock {
		t.Fatalf("unauthorized control requests changed the state: %+v", h)
	}
	if s := g.control(t, "GET", "/localrouter/status", ""); s.Strategy.Strategy != "local" {
		t.Errorf("GET /localrouter/status: %+v", s)
	}

	s := g.control(t, "PUT", "/localrouter/override", `{"override":"remote"}`)
	if s.Override != "remote" || s.Side != "remote" {
		t.Errorf("PUT override remote answered %+v", s)
	}
	for _, stream := range []bool{false, true} {
		r := g.mustChat(t, "auto", stream, "hi", nil)
		if r.status != 200 || !strings.HasPrefix(r.route, routeRemote) || !strings.Contains(r.route, "override") {
			t.Errorf("auto (stream %v) with override remote: %v", stream, r)
		}
	}
	// Naming a side still wins over the override (DESIGN §5 step 2).
	if r := g.mustChat(t, "local", false, "hi", nil); r.status != 200 || !strings.HasPrefix(r.route, routeLocal) {
		t.Errorf("model local with override remote: %v", r)
	}
	if h := g.health(t); h.Override != "remote" || h.Strategy.Strategy != "local" {
		t.Errorf("/health with override remote: %+v", h)
	}

	s = g.control(t, "PUT", "/localrouter/override", `{"override":"auto"}`)
	if s.Override != "auto" || s.Side != "local" {
		t.Errorf("PUT override auto answered %+v", s)
	}
	if r := g.mustChat(t, "auto", false, "hi", nil); r.status != 200 || r.route != routeLocal+" (strategy)" {
		t.Errorf("auto after override auto: %v", r)
	}

	for _, body := range []string{`{"override":"sideways"}`, `{"override":`, `{}`, `{"override":5}`} {
		r, err := g.request("PUT", "/localrouter/override", body, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("bad override "+body, func(t *testing.T) { wantOpenAIError(t, r, http.StatusBadRequest) })
	}
	if h := g.health(t); h.Override != "auto" {
		t.Errorf("a rejected override changed it: %+v", h)
	}

	// Mock mode: answers from the mock, nothing reaches an upstream.
	before := upstreamHits(local) + upstreamHits(remote)
	if s := g.control(t, "PUT", "/localrouter/mock", `{"mock":true}`); !s.Mock {
		t.Errorf("PUT mock true answered %+v", s)
	}
	for _, stream := range []bool{false, true} {
		r := g.mustChat(t, "auto", stream, "hi", nil)
		if r.status != 200 || !strings.Contains(r.text, "mock provider") {
			t.Errorf("auto (stream %v) in mock mode: %v text %q", stream, r, r.text)
		}
	}
	if n := upstreamHits(local) + upstreamHits(remote); n != before {
		t.Errorf("upstreams got %d requests in mock mode", n-before)
	}

	// Override and mock survive a restart.
	g.control(t, "PUT", "/localrouter/override", `{"override":"remote"}`)
	g = in.restart(t, g)
	g.key = clientKey
	if h := g.health(t); h.Override != "remote" || !h.Mock || h.Side != "remote" {
		t.Errorf("/health after restart: override %q mock %v side %q, want remote, true, remote", h.Override, h.Mock, h.Side)
	}
	if r := g.mustChat(t, "auto", false, "hi", nil); r.status != 200 || !strings.Contains(r.text, "mock provider") ||
		!strings.HasPrefix(r.route, routeRemote) {
		t.Errorf("auto after restart: %v text %q", r, r.text)
	}
	if n := upstreamHits(local) + upstreamHits(remote); n != before {
		t.Errorf("upstreams got %d requests in mock mode", n-before)
	}
	// Turning mock off takes effect on the next request, no restart.
	g.control(t, "PUT", "/localrouter/mock", `{"mock":false}`)
	if r := g.mustChat(t, "auto", false, "hi", nil); r.status != 200 || r.text != "Hello from deepseek-chat." {
		t.Errorf("auto after mock off: %v text %q", r, r.text)
	}
}

func TestFallbackToRemoteWhenLocalDown(t *testing.T) {
	remote := newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	dead := closedURL(t)

	t.Run("fallback on", func(t *testing.T) {
		// The local side answers its health probe, so it is up when the
		// first request comes, but drops every chat connection unanswered,
		// as a server does that dies under the request. A dead port from
		// the start would let the start-up probe mark local down first,
		// and then no request ever tries local: nothing would fall back.
		var localChats atomic.Int64
		local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/models" {
				io.WriteString(w, `{"object":"list","data":[{"id":"qwen3"}]}`)
				return
			}
			if r.URL.Path != "/v1/chat/completions" {
				http.NotFound(w, r) // the probe's other model APIs
				return
			}
			localChats.Add(1)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(local.Close)
		in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
		g := in.start(t)
		g.waitStrategy(t, "local")
		if h := g.health(t); !h.LocalUp {
			t.Fatalf("/health local_up false before any request, with the local side answering its probe")
		}
		before := upstreamHits(remote)
		r := g.mustChat(t, "auto", false, "hi", nil)
		if r.status != 200 || r.text != "Hello from deepseek-chat." || !strings.HasPrefix(r.route, routeRemote) || !strings.Contains(r.route, "fallback") {
			t.Errorf("first request with local failing: %v text %q, want remote's answer by fallback", r, r.text)
		}
		if n := localChats.Load(); n != 1 {
			t.Errorf("local got %d chat requests, want 1: the request must have tried local first", n)
		}
		if n := upstreamHits(remote) - before; n != 1 {
			t.Errorf("remote got %d requests, want 1: the fallback", n)
		}
		h := g.health(t)
		if h.LastFallback == nil || !strings.HasPrefix(h.LastFallback.From, routeLocal) || !strings.HasPrefix(h.LastFallback.To, routeRemote) {
			t.Errorf("/health last_fallback = %+v, want from %s to %s", h.LastFallback, routeLocal, routeRemote)
		}

		// Now local is gone for good: every request still gets an answer,
		// from remote, by fallback or because local is known to be down.
		local.Close()
		for i := range 10 {
			stream := i%2 == 1
			r := g.mustChat(t, "auto", stream, "hi", nil)
			if r.status != 200 || !strings.HasPrefix(r.route, routeRemote) ||
				!(strings.Contains(r.route, "fallback") || strings.Contains(r.route, "local down")) {
				t.Errorf("request %d (stream %v) with local down: %v", i, stream, r)
			}
			if !stream && r.text != "Hello from deepseek-chat." {
				t.Errorf("request %d: answer %q", i, r.text)
			}
		}
		if n := upstreamHits(remote) - before; n != 11 {
			t.Errorf("remote got %d requests, want 11", n)
		}
		if h := g.health(t); h.LocalUp {
			t.Errorf("/health local_up true with the local side down: %+v", h)
		}
		// A provider named explicitly never falls back.
		for _, stream := range []bool{false, true} {
			r := g.mustChat(t, "localprov/qwen3", stream, "hi", nil)
			wantOpenAIError(t, r, http.StatusBadGateway)
			if !strings.HasPrefix(r.route, routeLocal) {
				t.Errorf("explicit localprov/qwen3: route %q", r.route)
			}
		}
	})

	t.Run("fallback off", func(t *testing.T) {
		in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: dead, remoteURL: remote.URL, noFallback: true}.yaml())
		g := in.start(t)
		g.waitStrategy(t, "local")
		before := upstreamHits(remote)
		for _, stream := range []bool{false, true} {
			r := g.mustChat(t, "auto", stream, "hi", nil)
			wantOpenAIError(t, r, http.StatusBadGateway)
			if r.route != routeLocal+" (strategy)" {
				t.Errorf("auto (stream %v) with fallback off: route %q", stream, r.route)
			}
		}
		if upstreamHits(remote) != before {
			t.Error("remote got a request with fallback off")
		}
		if h := g.health(t); h.LastFallback != nil {
			t.Errorf("last_fallback set with fallback off: %+v", h.LastFallback)
		}
	})
}

// TestFallbackWhenLocalFails covers a local side that is up (it answers its
// health probe) but fails requests with 503: the first request falls back,
// the 503 degrades the local side, and the next go remote at once for the
// back-off (routing.local_backoff, 30s by default); /health records it.
func TestFallbackWhenLocalFails(t *testing.T) {
	remote := newFakeOpenAI(t)
	var localChats atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen3"}]}`)
			return
		}
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r) // the probe's other model APIs
			return
		}
		localChats.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"message":"model is loading","type":"server_error","param":null,"code":null}}`)
	}))
	t.Cleanup(local.Close)
	ss := newStratServer(t, stratLocal)
	in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
	g := in.start(t)
	g.waitStrategy(t, "local")
	for i := range 6 {
		stream := i%2 == 1
		r := g.mustChat(t, "auto", stream, "hi", nil)
		want := "fallback"
		if i > 0 {
			want = "local degraded"
		}
		if r.status != 200 || !strings.HasPrefix(r.route, routeRemote) || !strings.Contains(r.route, want) {
			t.Errorf("request %d (stream %v) with local failing: %v, want remote by %s", i, stream, r, want)
		}
	}
	if n := localChats.Load(); n != 1 {
		t.Errorf("local got %d chat requests, want 1 (tried once, then passed over)", n)
	}
	h := g.health(t)
	if !h.LocalUp || h.LastFallback == nil || !strings.HasPrefix(h.LastFallback.From, routeLocal) ||
		!strings.HasPrefix(h.LastFallback.To, routeRemote) || !strings.Contains(h.LastFallback.Error, "503") && !strings.Contains(h.LastFallback.Error, "loading") {
		t.Errorf("/health after fallbacks: local_up %v last_fallback %+v", h.LocalUp, h.LastFallback)
	}
	// Explicit: the upstream's own 503 comes back.
	r := g.mustChat(t, "localprov/qwen3", false, "hi", nil)
	wantOpenAIError(t, r, http.StatusServiceUnavailable)
}

func TestStrategyFailuresKeepRouting(t *testing.T) {
	local, remote := newLocalFake(t), newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml())
	g := in.start(t)
	g.waitStrategy(t, "local")

	for _, c := range []struct {
		name, body string
		status     int
		want       string // in strategy.error
	}{
		{"500", `{"error":"boom"}`, 500, "500"},
		{"garbage", `<html>not json`, 200, "JSON"},
		{"bad side", `{"strategy":"sideways","local_model":"qwen3"}`, 200, "sideways"},
		{"rule does not compile", `{"strategy":"remote","rules":[{"when":"est_tokens >","use":"remote"}]}`, 200, "est_tokens >"},
		{"unknown provider", `{"strategy":"remote","rules":[{"when":"true","use":"nope/x"}]}`, 200, "nope"},
		{"empty rule", `{"strategy":"remote","rules":[{"when":"","use":"remote"}]}`, 200, "when"},
		{"oversized", `{"strategy":"remote","pad":"` + strings.Repeat("x", 1<<20) + `"}`, 200, "1 MiB"},
		{"slow", stratRemote, 200, "no answer within"},
		// 565 characters that allocate 512 MiB on every request they see.
		{"rule too costly", costlyStrategy(t), 200, "could allocate"},
	} {
		a := &stratAnswer{status: c.status, body: c.body}
		if c.name == "slow" {
			a.delay = 5 * time.Second
		}
		ss.answer.Store(a)
		s := g.control(t, "POST", "/localrouter/refresh", "")
		if s.Strategy.Error == "" || !strings.Contains(s.Strategy.Error, c.want) {
			t.Errorf("%s: refresh answered strategy.error %q, want it to mention %q", c.name, s.Strategy.Error, c.want)
		}
		if s.Strategy.Strategy != "local" || s.Side != "local" {
			t.Errorf("%s: strategy changed: %+v", c.name, s.Strategy)
		}
		for _, stream := range []bool{false, true} {
			if r := g.mustChat(t, "auto", stream, "hi", nil); r.status != 200 || r.route != routeLocal+" (strategy)" {
				t.Errorf("%s: auto (stream %v): %v", c.name, stream, r)
			}
		}
	}
	if strings.Contains(g.p.Logs(), "panic") {
		t.Errorf("log mentions a panic:\n%s", g.p.Logs())
	}

	// A good answer clears the error.
	ss.set(http.StatusOK, stratLocal)
	if s := g.control(t, "POST", "/localrouter/refresh", ""); s.Strategy.Error != "" || s.Strategy.Source != "remote" {
		t.Errorf("refresh after recovery: %+v", s.Strategy)
	}

	// Restart while the strategy server is gone: the cached strategy routes.
	ss.set(500, "")
	ss.Close()
	g = in.restart(t, g)
	h := g.health(t)
	if h.Strategy.Source != "cache" || h.Strategy.Strategy != "local" || h.Side != "local" {
		t.Errorf("/health after a restart offline: %+v", h.Strategy)
	}
	for _, stream := range []bool{false, true} {
		if r := g.mustChat(t, "auto", stream, "hi", nil); r.status != 200 || r.route != routeLocal+" (strategy)" {
			t.Errorf("auto (stream %v) after a restart offline: %v", stream, r)
		}
	}
	eventually(t, "the failed fetch shows in /health", func() (bool, string) {
		h := g.health(t)
		return h.Strategy.Error != "" && h.Strategy.Source == "cache", fmt.Sprintf("%+v", h.Strategy)
	})
}

func TestConfigReload(t *testing.T) {
	remote := newFakeOpenAI(t)
	setup := routingSetup{remoteURL: remote.URL}
	in := newInstance(t, setup.yaml())
	g := in.start(t)
	if r := g.mustChat(t, "auto", false, "hi", nil); r.route != "remote:deepseek/deepseek-chat (default side)" {
		t.Fatalf("auto before reload: %v", r)
	}

	// Traffic throughout: none of it may fail.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		sent     atomic.Int64
		failMu   sync.Mutex
		failures []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := g.chat("auto", i%2 == 1, "hi", nil)
			sent.Add(1)
			if err != nil || r.status != 200 {
				failMu.Lock()
				failures = append(failures, fmt.Sprintf("request %d: %v %v", i, err, r))
				failMu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})

	setup.remoteModel = "deepseek-reasoner"
	in.write(t, setup.yaml())
	eventually(t, "auto routes to deepseek-reasoner after the edit", func() (bool, string) {
		r, err := g.chat("auto", false, "hi", nil)
		if err != nil {
			return false, err.Error()
		}
		return r.route == "remote:deepseek/deepseek-reasoner (default side)" && r.text == "Hello from deepseek-reasoner.", r.String()
	})
	g.p.waitLog(t, "config reloaded")

	// A broken file is rejected; the running config stays.
	broken := strings.Replace(setup.yaml(), "routing:\n", "routing:\n  rules: [unclosed\n", 1)
	in.write(t, broken)
	g.p.waitLog(t, "config reload rejected")
	var line string
	for _, l := range strings.Split(g.p.Logs(), "\n") {
		if strings.Contains(l, "config reload rejected") {
			line = l
		}
	}
	if !strings.Contains(line, in.path+":") {
		t.Errorf("rejection does not name the file and line:\n%s", line)
	}
	h := g.health(t)
	if h.ConfigError == "" || !strings.Contains(h.ConfigError, in.path) {
		t.Errorf("/health config_error = %q, want the file's error", h.ConfigError)
	}
	for _, stream := range []bool{false, true} {
		if r := g.mustChat(t, "auto", stream, "hi", nil); r.status != 200 || r.route != "remote:deepseek/deepseek-reasoner (default side)" {
			t.Errorf("auto (stream %v) with a broken file on disk: %v", stream, r)
		}
	}
	// A config that parses but does not validate is rejected too.
	invalid := strings.Replace(setup.yaml(), "default: remote", "default: sideways", 1)
	in.write(t, invalid)
	eventually(t, "config_error names routing.default", func() (bool, string) {
		h := g.health(t)
		return strings.Contains(h.ConfigError, "routing.default"), h.ConfigError
	})

	// Fixed: applied, and the error clears.
	setup.remoteModel = "deepseek-coder"
	in.write(t, setup.yaml())
	eventually(t, "the fixed file is applied", func() (bool, string) {
		h := g.health(t)
		return h.ConfigError == "" && strings.HasPrefix(h.Route, "remote:deepseek/deepseek-coder"), fmt.Sprintf("config_error %q route %q", h.ConfigError, h.Route)
	})
	if r := g.mustChat(t, "auto", false, "hi", nil); r.status != 200 || r.text != "Hello from deepseek-coder." {
		t.Errorf("auto after the fix: %v", r)
	}

	close(stop)
	wg.Wait()
	if n := sent.Load(); n < 10 {
		t.Errorf("only %d background requests were sent", n)
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during reloads:\n%s", len(failures), sent.Load(), strings.Join(failures, "\n"))
	}
}

func TestCheckFetchesStrategy(t *testing.T) {
	local, remote := newLocalFake(t), newFakeOpenAI(t)
	ss := newStratServer(t, stratLocal)
	env := userEnv(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(strings.ReplaceAll(routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL}.yaml(), "PORT", "8080")), 0o600)
	out, err := run(t, env, "check", "--config", path)
	if err != nil {
		t.Fatalf("check with a working strategy URL: %v\n%s", err, out)
	}
	for _, want := range []string{ss.URL, "strategy local", `"qwen3"`, `"deepseek-chat"`, "2026-11-25T10:00:00Z", routeLocal + " (strategy)"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if ss.hits.Load() == 0 {
		t.Error("check did not fetch the strategy")
	}

	// The same user (so the strategy is cached), the URL now dead.
	dead := closedURL(t)
	os.WriteFile(path, []byte(strings.ReplaceAll(routingSetup{strategyURL: dead, localURL: local.URL, remoteURL: remote.URL}.yaml(), "PORT", "8080")), 0o600)
	out, err = run(t, env, "check", "--config", path)
	if err == nil {
		t.Fatalf("check with a dead strategy URL exited 0:\n%s", out)
	}
	if !strings.Contains(out, "fetch failed") || !strings.Contains(out, dead) {
		t.Errorf("check does not say the fetch from %s failed:\n%s", dead, out)
	}
	// A fresh user has no cache: still non-zero.
	out, err = run(t, userEnv(t), "check", "--config", path)
	if err == nil || !strings.Contains(out, "fetch failed") {
		t.Errorf("check with a dead strategy URL and no cache: %v\n%s", err, out)
	}
}

// TestStrategyRulesRouteByFacts: the config's rules come before the
// strategy's, the first match wins, and the override beats them all.
func TestStrategyRulesRouteByFacts(t *testing.T) {
	local, remote := newLocalFake(t), newFakeOpenAI(t)
	ss := newStratServer(t, `{"strategy":"local","local_model":"qwen3","remote_model":"deepseek-chat","updated_at":"2026-11-25T10:00:00Z",`+
		`"rules":[{"when":"est_tokens > 50","use":"remote"}]}`)
	rules := "  rules:\n" +
		"    - {when: 'has_images', use: remote}\n" +
		"    - {when: 'header(\"x-route\") == \"local\"', use: local}\n"
	in := newInstance(t, routingSetup{strategyURL: ss.URL, localURL: local.URL, remoteURL: remote.URL, extra: rules}.yaml())
	g := in.start(t)
	g.waitStrategy(t, "local")
	if h := g.health(t); h.Strategy.Rules != 1 {
		t.Errorf("/health strategy.rules = %d, want 1", h.Strategy.Rules)
	}

	image := []any{
		map[string]any{"type": "text", "text": "what is this?"},
		map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:image/png;base64,iVBORw0KGgo="}},
	}
	long := strings.Repeat("Tell me more about foxes. ", 20) // ~520 chars, est_tokens > 50
	toLocal := map[string]string{"X-Route": "local"}
	for _, c := range []struct {
		name    string
		content any
		hdr     map[string]string
		want    string
	}{
		{"short plain", "hi", nil, routeLocal + " (strategy)"},
		{"image", image, nil, routeRemote + " (rule 1 (config))"},
		{"long", long, nil, routeRemote + " (rule 1 (strategy))"},
		{"long with X-Route: local", long, toLocal, routeLocal + " (rule 2 (config))"},
		{"image with X-Route: local", image, toLocal, routeRemote + " (rule 1 (config))"},
		{"long with x-route lower case name", long, map[string]string{"x-route": "local"}, routeLocal + " (rule 2 (config))"},
		{"long with X-Route: remote", long, map[string]string{"X-Route": "remote"}, routeRemote + " (rule 1 (strategy))"},
	} {
		for _, stream := range []bool{false, true} {
			r := g.mustChat(t, "auto", stream, c.content, c.hdr)
			if r.status != 200 || r.route != c.want {
				t.Errorf("%s (stream %v): %v, want route %q", c.name, stream, r, c.want)
			}
		}
	}
	// The override comes before every rule.
	g.control(t, "PUT", "/localrouter/override", `{"override":"local"}`)
	if r := g.mustChat(t, "auto", false, image, nil); r.status != 200 || r.route != routeLocal+" (override)" {
		t.Errorf("image with override local: %v", r)
	}
}

// costlyStrategy is a strategy whose rule doubles a string 27 times with
// let: short enough for every length limit, and 512 MiB per evaluation.
func costlyStrategy(t *testing.T) string {
	var b strings.Builder
	b.WriteString(`let s0 = "xx"; `)
	for i := 1; i <= 27; i++ {
		fmt.Fprintf(&b, "let s%d = s%d + s%d; ", i, i-1, i-1)
	}
	b.WriteString("len(s27) > 0")
	doc, err := json.Marshal(map[string]any{"strategy": "remote", "rules": []map[string]string{{"when": b.String(), "use": "remote"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

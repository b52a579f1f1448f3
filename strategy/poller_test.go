package strategy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	pollLocalJSON  = `{"strategy":"local","local_model":"qwen-35b-awq","remote_model":"gemini-3-flash","updated_at":"2026-11-25T10:00:00Z"}`
	pollRemoteJSON = `{"strategy":"remote","local_model":"qwen-35b-awq","remote_model":"gemini-3-flash","updated_at":"2026-11-25T11:00:00Z"}`

	// pollWait bounds every wait for something that should happen at once; it
	// is generous because the race detector on a busy machine is slow.
	pollWait = 5 * time.Second
)

var (
	pollWantLocal  = &Strategy{Strategy: Local, LocalModel: "qwen-35b-awq", RemoteModel: "gemini-3-flash", UpdatedAt: "2026-11-25T10:00:00Z"}
	pollWantRemote = &Strategy{Strategy: Remote, LocalModel: "qwen-35b-awq", RemoteModel: "gemini-3-flash", UpdatedAt: "2026-11-25T11:00:00Z"}
)

func TestPollerParseStrategy(t *testing.T) {
	long := strings.Repeat("x", maxRuleWhen+1)
	many := `{"strategy":"local","rules":[` + strings.TrimSuffix(strings.Repeat(`{"when":"true","use":"local"},`, maxRules+1), ",") + `]}`
	tests := []struct {
		name    string
		in      string
		want    *Strategy
		wantErr string
	}{
		{name: "seed fields", in: pollLocalJSON, want: pollWantLocal},
		{
			name: "unknown fields ignored",
			in:   `{"strategy":"remote","remote_model":"m","future":{"a":[1,2]},"version":3}`,
			want: &Strategy{Strategy: Remote, RemoteModel: "m"},
		},
		{
			name: "rules",
			in:   `{"strategy":"local","rules":[{"when":"est_tokens > 60000","use":"remote"},{"when":"has_images","use":"google/gemini-3-flash","note":"x"}]}`,
			want: &Strategy{Strategy: Local, Rules: []RuleSpec{
				{When: "est_tokens > 60000", Use: "remote"},
				{When: "has_images", Use: "google/gemini-3-flash"},
			}},
		},
		{name: "empty rules are no rules", in: `{"strategy":"local","rules":[]}`, want: &Strategy{Strategy: Local}},
		{name: "64 rules", in: strings.Replace(many, `{"when":"true","use":"local"},`, "", 1), want: nil},
		{name: "65 rules", in: many, wantErr: "at most 64 rules"},
		{name: "sideways", in: `{"strategy":"sideways"}`, wantErr: `strategy must be "local" or "remote", got "sideways"`},
		{name: "missing strategy", in: `{"local_model":"m"}`, wantErr: `got ""`},
		{name: "case matters", in: `{"strategy":"Local"}`, wantErr: `got "Local"`},
		{name: "null", in: `null`, wantErr: `got ""`},
		{name: "garbage", in: `<html>oops</html>`, wantErr: "invalid JSON"},
		{name: "trailing data", in: pollLocalJSON + `{}`, wantErr: "invalid JSON"},
		{name: "strategy not a string", in: `{"strategy":1}`, wantErr: "invalid JSON"},
		{name: "rules not a list", in: `{"strategy":"local","rules":{"when":"true"}}`, wantErr: "invalid JSON"},
		{name: "empty when", in: `{"strategy":"local","rules":[{"when":" ","use":"local"}]}`, wantErr: "rule 1: when is empty"},
		{name: "empty use", in: `{"strategy":"local","rules":[{"when":"true","use":"local"},{"when":"true"}]}`, wantErr: "rule 2: use is empty"},
		{name: "when too long", in: `{"strategy":"local","rules":[{"when":"` + long + `","use":"local"}]}`, wantErr: "longer than 1024"},
		{name: "when at the limit", in: `{"strategy":"local","rules":[{"when":"` + long[1:] + `","use":"local"}]}`, want: &Strategy{Strategy: Local, Rules: []RuleSpec{{When: long[1:], Use: "local"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStrategy([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.want == nil {
				return // only acceptance is checked
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseStrategy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPollNewPollerURL(t *testing.T) {
	tests := []struct {
		url    string
		wantOK bool
	}{
		{"https://strategy.example.com/s.json", true},
		{"http://127.0.0.1:9/s", true},
		{"http://127.8.9.10/s", true},
		{"http://localhost:8080/s", true},
		{"http://[::1]:8080/s", true},
		{"http://192.168.1.10/s", true},
		{"http://10.1.2.3/s", true},
		{"http://172.16.0.1/s", true},
		{"http://[fd00::1]/s", true},
		{"http://strategy.example.com/s.json", false},
		{"http://8.8.8.8/s", false},
		{"http://172.32.0.1/s", false},
		{"http://[::ffff:8.8.8.8]/s", false},
		{"http://0.0.0.0/s", false},
		{"http://localhost.example.com/s", false},
		{"ftp://127.0.0.1/s", false},
		{"file:///etc/passwd", false},
		{"127.0.0.1/s", false},
		{"https:///s", false},
		{"", false},
		{"http://[::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			p, err := NewPoller(PollerOptions{URL: tt.url, Logger: pollTestLogger(t)})
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Fatalf("NewPoller(%q): got error %v, want ok=%v", tt.url, err, tt.wantOK)
			}
			if err != nil {
				return
			}
			if got := p.Status(); got.Source != SourceConfig || p.Current() != nil {
				t.Errorf("fresh poller: got source %q and strategy %v, want config and nil", got.Source, p.Current())
			}
		})
	}
}

// A flip on the server is seen within about one poll.
func TestPollFlip(t *testing.T) {
	srv, h := newStrategyServer(t, serveDoc(pollLocalJSON))
	p := newTestPoller(t, PollerOptions{URL: srv.URL, Interval: 50 * time.Millisecond})
	ch, unsub := p.Subscribe()
	defer unsub()
	stop := runTestPoller(t, p)
	defer stop()

	waitSignal(t, ch, "local strategy", func() bool { return sameStrategy(p.Current(), pollWantLocal) })
	h.set(serveDoc(pollRemoteJSON))
	start := time.Now()
	waitSignal(t, ch, "remote strategy", func() bool { return sameStrategy(p.Current(), pollWantRemote) })
	t.Logf("flip seen after %v", time.Since(start))
	if st := p.Status(); st.Source != SourceRemote || st.Error != "" || st.Stale {
		t.Errorf("got status %+v, want source remote, no error, not stale", st)
	}
}

// A 304 keeps the snapshot and counts as a successful fetch.
func TestPoll304(t *testing.T) {
	const etag, lastMod = `"v1"`, "Tue, 25 Nov 2026 10:00:00 GMT"
	var reqs atomic.Int32
	var mu sync.Mutex // guards condErr
	var condErr error
	srv, _ := newStrategyServer(t, func(w http.ResponseWriter, r *http.Request) {
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		if reqs.Add(1) == 1 {
			if inm != "" || ims != "" {
				mu.Lock()
				condErr = fmt.Errorf("first request: got If-None-Match %q, If-Modified-Since %q, want none", inm, ims)
				mu.Unlock()
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Last-Modified", lastMod)
			w.Write([]byte(pollLocalJSON))
			return
		}
		if inm != etag || ims != lastMod {
			mu.Lock()
			condErr = fmt.Errorf("got If-None-Match %q, If-Modified-Since %q, want %q, %q", inm, ims, etag, lastMod)
			mu.Unlock()
			w.Write([]byte(pollLocalJSON))
			return
		}
		w.WriteHeader(http.StatusNotModified)
	})
	p := newTestPoller(t, PollerOptions{URL: srv.URL})
	ctx := context.Background()
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	first, st1 := p.Current(), p.Status()
	ch, unsub := p.Subscribe()
	defer unsub()

	for range 2 {
		if err := p.Refresh(ctx); err != nil {
			t.Fatalf("refresh answered 304: got %v, want nil", err)
		}
	}
	mu.Lock()
	if condErr != nil {
		t.Error(condErr)
	}
	mu.Unlock()
	if got := reqs.Load(); got != 3 {
		t.Errorf("got %d requests, want 3", got)
	}
	if got := p.Current(); got != first {
		t.Errorf("after 304: got strategy %+v, want the same snapshot %+v", got, first)
	}
	st := p.Status()
	if st.Source != SourceRemote || st.Error != "" || st.Stale {
		t.Errorf("after 304: got status %+v, want source remote, no error", st)
	}
	if !st.FetchedAt.After(st1.FetchedAt) {
		t.Errorf("after 304: got FetchedAt %v, want later than %v", st.FetchedAt, st1.FetchedAt)
	}
	select {
	case <-ch:
		t.Error("a 304 signalled subscribers; want no signal")
	default:
	}
}

// Every kind of bad answer leaves routing on the last good strategy and
// reports the failure.
func TestPollRejects(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	big := `{"strategy":"remote","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	rejectBadRules := func(s *Strategy) error {
		for i, r := range s.Rules {
			if strings.Count(r.When, "(") != strings.Count(r.When, ")") {
				return fmt.Errorf("rule %d: unbalanced parentheses", i)
			}
		}
		return nil
	}
	tests := []struct {
		name    string
		bad     http.HandlerFunc
		timeout time.Duration
		wantErr string
		wantIs  error
	}{
		{name: "500", bad: serveStatus(http.StatusInternalServerError), wantErr: "status 500"},
		{name: "404", bad: serveStatus(http.StatusNotFound), wantErr: "status 404"},
		{name: "garbage", bad: serveDoc("<html>not json</html>"), wantErr: "invalid JSON"},
		{name: "sideways", bad: serveDoc(`{"strategy":"sideways"}`), wantErr: `strategy must be "local" or "remote", got "sideways"`},
		{name: "2 MiB body", bad: serveDoc(big), wantErr: "body larger than 1 MiB"},
		{name: "rule does not compile", bad: serveDoc(`{"strategy":"remote","rules":[{"when":"((est_tokens > 5","use":"remote"}]}`), wantErr: "unbalanced parentheses"},
		{
			name: "stalls past the timeout",
			bad: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			},
			// Long enough that the good fetch before it never runs into
			// it on a loaded machine (it did at 300ms): it bounds the
			// first, healthy refresh too.
			timeout: 2 * time.Second,
			wantErr: "no answer within 2s",
			wantIs:  context.DeadlineExceeded,
		},
		{
			name: "stalls mid-body",
			bad: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"strategy":"rem`))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			},
			// Long enough that the good fetch before it never runs into
			// it on a loaded machine (it did at 300ms): it bounds the
			// first, healthy refresh too.
			timeout: 2 * time.Second,
			wantErr: "no answer within 2s",
			wantIs:  context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, h := newStrategyServer(t, serveDoc(pollLocalJSON))
			timeout := tt.timeout
			if timeout == 0 {
				timeout = pollWait
			}
			p := newTestPoller(t, PollerOptions{URL: srv.URL, Timeout: timeout, Validate: rejectBadRules})
			ctx := context.Background()
			if err := p.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			good := p.Current()
			ch, unsub := p.Subscribe()
			defer unsub()

			h.set(tt.bad)
			err := p.Refresh(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got error %v, want errors.Is %v", err, tt.wantIs)
			}
			if got := p.Current(); got != good {
				t.Errorf("got strategy %+v, want the last good one %+v", got, good)
			}
			st := p.Status()
			wantPrefix := "strategy " + srv.URL + ": "
			if !strings.HasPrefix(st.Error, wantPrefix) || !strings.Contains(st.Error, tt.wantErr) {
				t.Errorf("got Status().Error %q, want %q… containing %q", st.Error, wantPrefix, tt.wantErr)
			}
			if !st.Stale || st.Source != SourceRemote {
				t.Errorf("got status %+v, want stale, source remote", st)
			}
			expectSignal(t, ch, "error appeared")

			// The same failure again is no news.
			p.Refresh(ctx)
			expectNoSignal(t, ch, "same error again")

			h.set(serveDoc(pollLocalJSON))
			if err := p.Refresh(ctx); err != nil {
				t.Fatalf("recovery: got %v, want nil", err)
			}
			if st := p.Status(); st.Error != "" || st.Stale {
				t.Errorf("after recovery: got status %+v, want no error, not stale", st)
			}
			if got := p.Current(); got != good {
				t.Errorf("after recovery with the same strategy: got a new snapshot %+v, want the old one kept", got)
			}
			expectSignal(t, ch, "error cleared")
		})
	}
}

// A body of exactly 1 MiB is still accepted.
func TestPollBodyCapBoundary(t *testing.T) {
	head, tail := `{"strategy":"remote","pad":"`, `"}`
	body := head + strings.Repeat("x", maxBody-len(head)-len(tail)) + tail
	srv, _ := newStrategyServer(t, serveDoc(body))
	p := newTestPoller(t, PollerOptions{URL: srv.URL})
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatalf("got %v for a %d-byte body, want nil", err, len(body))
	}
	if got := p.Current(); got == nil || got.Strategy != Remote {
		t.Errorf("got %+v, want strategy remote", got)
	}
}

// A restart while offline routes as before, from the disk cache.
func TestPollCacheRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "localrouter", "strategy.json")
	srv, _ := newStrategyServer(t, serveDoc(pollRemoteJSON))
	p1 := newTestPoller(t, PollerOptions{URL: srv.URL, CachePath: path})
	if err := p1.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cache not written: %v", err)
	}
	if string(got) != pollRemoteJSON {
		t.Errorf("cache holds %q, want the raw body %q", got, pollRemoteJSON)
	}
	if runtime.GOOS != "windows" {
		checkFileMode(t, path, 0o600)
		checkFileMode(t, filepath.Dir(path), 0o700|os.ModeDir)
	}

	dead := deadURL(t)
	p2 := newTestPoller(t, PollerOptions{URL: dead, CachePath: path})
	if got := p2.Current(); !sameStrategy(got, pollWantRemote) {
		t.Fatalf("after restart: got %+v, want the cached %+v", got, pollWantRemote)
	}
	if st := p2.Status(); st.Source != SourceCache || st.Error != "" || st.Stale || !st.FetchedAt.IsZero() {
		t.Errorf("after restart: got status %+v, want source cache, no error, never fetched", st)
	}

	stop := runTestPoller(t, p2) // the first fetch fails against the dead URL
	ch, unsub := p2.Subscribe()
	defer unsub()
	waitSignal(t, ch, "a failed fetch", func() bool { return p2.Status().Error != "" })
	stop()
	st := p2.Status()
	if !sameStrategy(p2.Current(), pollWantRemote) || st.Source != SourceCache || !st.Stale {
		t.Errorf("offline: got %+v with status %+v, want the cached strategy, source cache, stale", p2.Current(), st)
	}
	if !strings.HasPrefix(st.Error, "strategy "+dead+": ") {
		t.Errorf("got Status().Error %q, want it to name %s", st.Error, dead)
	}
}

// A cache that does not parse or validate is ignored, not fatal.
func TestPollCacheInvalidIgnored(t *testing.T) {
	tests := []struct{ name, content string }{
		{"garbage", "\x00\x01not json"},
		{"sideways", `{"strategy":"sideways"}`},
		{"rejected by Validate", `{"strategy":"local","rules":[{"when":"bad","use":"remote"}]}`},
		{"empty", ""},
		{"larger than 1 MiB", `{"strategy":"local","pad":"` + strings.Repeat("x", maxBody) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "strategy.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs pollLogBuffer
			p, err := NewPoller(PollerOptions{
				URL: "http://127.0.0.1:9/s", CachePath: path, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Validate: func(s *Strategy) error {
					if len(s.Rules) > 0 && s.Rules[0].When == "bad" {
						return errors.New("rule 0 does not compile")
					}
					return nil
				},
			})
			if err != nil {
				t.Fatalf("got %v, want a poller despite the bad cache", err)
			}
			if got := p.Current(); got != nil {
				t.Errorf("got %+v, want nil", got)
			}
			if got := p.Status().Source; got != SourceConfig {
				t.Errorf("got source %q, want config", got)
			}
			if !strings.Contains(logs.String(), "ignoring strategy cache") {
				t.Errorf("got logs %q, want the bad cache mentioned", logs.String())
			}
		})
	}
}

// The cache is rewritten only when the body changes, and atomically.
func TestPollCacheWrittenOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "strategy.json")
	srv, h := newStrategyServer(t, servePlain(pollLocalJSON))
	p := newTestPoller(t, PollerOptions{URL: srv.URL, CachePath: path})
	ctx := context.Background()
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	ch, unsub := p.Subscribe()
	defer unsub()

	// The same body again: no write, no signal.
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("cache rewritten for an unchanged body (stat %v, %v)", fi, err)
	}
	expectNoSignal(t, ch, "same body")

	// Other bytes, same strategy: the cache follows, subscribers are not told.
	reformatted := strings.ReplaceAll(pollLocalJSON, ",", ", ")
	h.set(servePlain(reformatted))
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != reformatted {
		t.Errorf("cache holds %q, want %q", got, reformatted)
	}
	expectNoSignal(t, ch, "same strategy, other bytes")

	h.set(servePlain(pollRemoteJSON))
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != pollRemoteJSON {
		t.Errorf("cache holds %q, want %q", got, pollRemoteJSON)
	}
	expectSignal(t, ch, "strategy changed")

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cache dir holds %v, want only strategy.json (no temp files left)", names)
	}
}

func TestPollRedirect(t *testing.T) {
	const token = "Bearer redirect-t0ken-51c3"
	var otherHits atomic.Int32
	var otherAuth atomic.Value // the Authorization header the other server got
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		otherAuth.Store(r.Header.Get("Authorization"))
		w.Write([]byte(pollRemoteJSON))
	}))
	t.Cleanup(other.Close)
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/s", http.StatusFound) // same host name, plain http
	}))
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name    string
		url     string
		client  *http.Client
		target  string // where the server redirects; "" = the test server itself, another path
		wantErr string
	}{
		{name: "same host, other path", wantErr: ""},
		{name: "another host", target: "http://evil.example/s", wantErr: "redirect to another host (evil.example) refused"},
		{name: "localhost is another name", target: "http://localhost:" + otherPort + "/s", wantErr: "redirect to another host (localhost) refused"},
		// Another port is another server, maybe another user's: the token stays home.
		{name: "same host, other port", target: other.URL + "/s", wantErr: "redirect to another origin (" + other.URL + ") refused"},
		{name: "https to http", url: tlsSrv.URL, client: tlsSrv.Client(), wantErr: "redirect from https to http refused"},
		{name: "loop", target: "/loop", wantErr: "stopped after 10 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otherHits.Store(0)
			u := tt.url
			if u == "" {
				srv, _ := newStrategyServer(t, func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.URL.Path == "/moved":
						w.Write([]byte(pollLocalJSON))
					case tt.target == "":
						http.Redirect(w, r, "/moved", http.StatusMovedPermanently)
					default:
						http.Redirect(w, r, tt.target, http.StatusFound)
					}
				})
				u = srv.URL + "/s"
			}
			// A caller's client keeps its transport but not its redirect policy.
			client := tt.client
			if client == nil {
				client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
			}
			otherAuth.Store("")
			p := newTestPoller(t, PollerOptions{URL: u, Client: client, Headers: map[string]string{"Authorization": token}})
			err := p.Refresh(context.Background())
			if tt.wantErr == "" {
				if err != nil || !sameStrategy(p.Current(), pollWantLocal) {
					t.Fatalf("got %v and %+v, want the redirect followed", err, p.Current())
				}
				return
			}
			if n := otherHits.Load(); n != 0 {
				t.Errorf("the other host got %d requests (Authorization %q), want 0", n, otherAuth.Load())
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if p.Current() != nil {
				t.Errorf("got strategy %+v, want none", p.Current())
			}
		})
	}
}

func TestCheckRedirectOrigin(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{from: "https://s.example/a", to: "https://s.example/b", ok: true},
		{from: "https://s.example/a", to: "https://S.EXAMPLE:443/b", ok: true},
		{from: "http://10.0.0.2:80/a", to: "http://10.0.0.2/b", ok: true},
		{from: "https://s.example/a", to: "https://s.example:8443/b"},
		{from: "http://10.0.0.2:8080/a", to: "http://10.0.0.2:8081/a"},
		{from: "http://10.0.0.2/a", to: "https://10.0.0.2/a"},
		{from: "https://s.example/a", to: "http://s.example:443/a"},
	}
	for _, tt := range tests {
		t.Run(tt.from+" to "+tt.to, func(t *testing.T) {
			from, err := http.NewRequest(http.MethodGet, tt.from, nil)
			if err != nil {
				t.Fatal(err)
			}
			to, err := http.NewRequest(http.MethodGet, tt.to, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkRedirect(to, []*http.Request{from}); (err == nil) != tt.ok {
				t.Errorf("got %v, want followed %v", err, tt.ok)
			}
		})
	}
}

// Configured headers are sent, and their values never reach errors,
// Status or logs; nor does a password in the URL.
func TestPollHeadersSecret(t *testing.T) {
	const token, password = "s3cret-token-4f9a", "pa55-w0rd-77"
	var gotAuth, gotCustom atomic.Value
	srv, h := newStrategyServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		gotCustom.Store(r.Header.Get("X-Tenant"))
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	u := strings.Replace(srv.URL, "http://", "http://user:"+password+"@", 1) + "/s"
	var logs pollLogBuffer
	p := newTestPoller(t, PollerOptions{
		URL:     u,
		Headers: map[string]string{"Authorization": "Bearer " + token, "x-tenant": "acme"},
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx := context.Background()
	var errs []string
	if err := p.Refresh(ctx); err == nil {
		t.Fatal("got nil, want status 500")
	} else {
		errs = append(errs, err.Error())
	}
	if got := gotAuth.Load(); got != "Bearer "+token {
		t.Errorf("server got Authorization %q, want the configured one", got)
	}
	if got := gotCustom.Load(); got != "acme" {
		t.Errorf("server got X-Tenant %q, want acme", got)
	}
	st := p.Status()
	errs = append(errs, st.Error, st.URL)

	h.set(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/?t="+r.Header.Get("Authorization"), http.StatusFound)
	})
	if err := p.Refresh(ctx); err == nil {
		t.Fatal("got nil, want a refused redirect")
	} else {
		errs = append(errs, err.Error())
	}
	errs = append(errs, p.Status().Error)

	h.set(serveDoc(pollLocalJSON))
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	errs = append(errs, logs.String())
	for _, s := range errs {
		if strings.Contains(s, token) || strings.Contains(s, password) {
			t.Errorf("secret leaked in %q", s)
		}
	}
	if !strings.Contains(logs.String(), "strategy poll failed") {
		t.Errorf("got logs %q, want the failure logged", logs.String())
	}
	if !strings.Contains(st.URL, "user:xxxxx@") {
		t.Errorf("got Status().URL %q, want the password redacted", st.URL)
	}
}

// Refresh may run at any time alongside Run; the race detector checks it.
func TestPollRefreshConcurrentWithRun(t *testing.T) {
	var n atomic.Int64
	srv, _ := newStrategyServer(t, func(w http.ResponseWriter, r *http.Request) {
		body := pollLocalJSON
		if n.Add(1)%3 == 0 {
			body = pollRemoteJSON
		}
		serveDoc(body)(w, r)
	})
	p := newTestPoller(t, PollerOptions{URL: srv.URL, Interval: 5 * time.Millisecond})
	ch, unsub := p.Subscribe()
	defer unsub()
	stop := runTestPoller(t, p)
	defer stop()

	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for range 25 {
				if err := p.Refresh(context.Background()); err != nil {
					t.Errorf("Refresh: %v", err)
					return
				}
			}
		})
	}
	readers := sync.WaitGroup{}
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				if s := p.Current(); s == nil {
					t.Error("signalled with no strategy")
				}
				_ = p.Status()
			}
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	if n.Load() < 100 {
		t.Errorf("server got %d requests, want at least 100", n.Load())
	}
	if st := p.Status(); st.Error != "" || st.Source != SourceRemote {
		t.Errorf("got status %+v, want source remote, no error", st)
	}
}

func TestPollSubscribe(t *testing.T) {
	srv, h := newStrategyServer(t, serveDoc(pollLocalJSON))
	p := newTestPoller(t, PollerOptions{URL: srv.URL})
	ctx := context.Background()
	a, unsubA := p.Subscribe()
	defer unsubA()
	b, unsubB := p.Subscribe()

	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, a, "a: first strategy")
	expectSignal(t, b, "b: first strategy")

	unsubB()
	unsubB() // a second call is harmless
	h.set(serveDoc(pollRemoteJSON))
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	expectSignal(t, a, "a: flip")
	expectNoSignal(t, b, "b after unsubscribing")

	// Nobody reads a: sends must not block, and signals coalesce.
	for _, body := range []string{pollLocalJSON, pollRemoteJSON, pollLocalJSON} {
		h.set(serveDoc(body))
		if err := p.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(a); got != 1 {
		t.Errorf("got %d pending signals, want 1", got)
	}
}

func TestPollRunCancel(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		srv, _ := newStrategyServer(t, serveDoc(pollLocalJSON))
		p := newTestPoller(t, PollerOptions{URL: srv.URL, Interval: time.Hour})
		ch, unsub := p.Subscribe()
		defer unsub()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		waitSignal(t, ch, "first fetch at start-up", func() bool { return p.Current() != nil })
		cancel()
		expectRunReturn(t, done)
	})
	t.Run("mid-fetch", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		srv, _ := newStrategyServer(t, func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		p := newTestPoller(t, PollerOptions{URL: srv.URL, Timeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		select {
		case <-arrived:
		case <-time.After(pollWait):
			t.Fatal("no request arrived")
		}
		cancel()
		expectRunReturn(t, done)
		if st := p.Status(); st.Error != "" {
			t.Errorf("got Status().Error %q, want none: cancelling is not a failure of the source", st.Error)
		}
	})
}

func TestPollJitter(t *testing.T) {
	p := newTestPoller(t, PollerOptions{URL: "http://127.0.0.1:9/", Interval: time.Second})
	lo, hi := 900*time.Millisecond, 1100*time.Millisecond
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := p.nextDelay()
		if d < lo || d > hi {
			t.Fatalf("got delay %v, want within [%v, %v]", d, lo, hi)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("got %d distinct delays in 1000, want jitter", len(seen))
	}
	if got := newTestPoller(t, PollerOptions{URL: "http://127.0.0.1:9/"}).interval; got != 60*time.Second {
		t.Errorf("got default interval %v, want 60s", got)
	}
}

// swapHandler is an http.Handler whose behaviour a test can swap mid-run.
type swapHandler struct {
	mu sync.Mutex // guards h
	h  http.HandlerFunc
}

func (s *swapHandler) set(h http.HandlerFunc) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h(w, r)
}

func newStrategyServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *swapHandler) {
	t.Helper()
	sh := &swapHandler{h: h}
	srv := httptest.NewServer(sh)
	t.Cleanup(srv.Close)
	return srv, sh
}

// serveDoc answers with body, with an ETag, and 304 when it still matches.
func serveDoc(body string) http.HandlerFunc {
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256([]byte(body)))
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
}

// servePlain answers with body and no validators, so every fetch gets a 200.
func servePlain(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }
}

func serveStatus(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", code) }
}

func newTestPoller(t *testing.T, o PollerOptions) *Poller {
	t.Helper()
	if o.Logger == nil {
		o.Logger = pollTestLogger(t)
	}
	p, err := NewPoller(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pollTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runTestPoller starts p.Run; the returned func stops it and checks it returned.
func runTestPoller(t *testing.T, p *Poller) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			expectRunReturn(t, done)
		})
	}
}

// expectRunReturn checks that Run returned context.Canceled within a second.
func expectRunReturn(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run did not return long after cancel")
	}
}

// waitSignal waits on ch until cond holds.
func waitSignal(t *testing.T, ch <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(pollWait)
	for !cond() {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func expectSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	default:
		t.Errorf("%s: got no signal, want one", what)
	}
}

func expectNoSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Errorf("%s: got a signal, want none", what)
	default:
	}
}

func sameStrategy(got, want *Strategy) bool { return got != nil && cmp.Equal(got, want) }

func checkFileMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("%s: got mode %v, want %v", path, got, want)
	}
}

// deadURL returns a URL on which nothing listens any more.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/strategy.json"
}

// pollLogBuffer is a bytes.Buffer safe for a logger and a test to share.
type pollLogBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *pollLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *pollLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first good fetch after starting from the cache changes the source the
// status shows, so subscribers (the tray) are told even when the strategy is
// the same.
func TestPollCacheToRemoteIsSignalled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "localrouter", "strategy.json")
	srv, _ := newStrategyServer(t, serveDoc(pollRemoteJSON))
	if err := newTestPoller(t, PollerOptions{URL: srv.URL, CachePath: path}).Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := newTestPoller(t, PollerOptions{URL: srv.URL, CachePath: path})
	if src := p.Status().Source; src != SourceCache {
		t.Fatalf("source before the first fetch = %q, want cache", src)
	}
	changes, unsub := p.Subscribe()
	defer unsub()
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
	default:
		t.Error("subscribers not told that the source moved from cache to remote")
	}
	if src := p.Status().Source; src != SourceRemote {
		t.Errorf("source = %q, want remote", src)
	}
}

// hangGuard bounds a wait for something that must happen: it only stops a
// test that would otherwise hang, and is no measure of how fast it happens.
const hangGuard = 10 * time.Second

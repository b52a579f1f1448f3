package proxy

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

// uiGateway serves a Server whose dashboard is a stand-in that answers
// "page" for every /ui/ path, so that only the guard is under test.
func uiGateway(t *testing.T, yaml string) (*Server, *httptest.Server) {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", "http://127.0.0.1:1")+yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	s, err := New(Options{Config: cfg, Version: "test", Logger: slog.New(slog.DiscardHandler), UI: ui})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// noRedirect is a client that shows redirects instead of following them,
// with a cookie jar of its own.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// tokenOf is the one-time token in a DashboardURL, rebased on ts.
func tokenOf(t *testing.T, s *Server) string {
	t.Helper()
	u, err := url.Parse(s.DashboardURL())
	if err != nil || u.Path != "/ui/" {
		t.Fatalf("DashboardURL %q: %v", s.DashboardURL(), err)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		t.Fatalf("DashboardURL %q has no token", u)
	}
	return tok
}

func TestDashboardTokenCookie(t *testing.T) {
	s, ts := uiGateway(t, "server:\n  api_key: gw-secret-key\n")
	c := noRedirect()

	if resp, _ := get(t, c, ts.URL+"/ui/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/ui/ without key or cookie: %d, want 401", resp.StatusCode)
	}
	tok := tokenOf(t, s)
	if strings.Contains(s.DashboardURL(), "gw-secret-key") {
		t.Fatal("the dashboard address holds the api_key")
	}
	resp, _ := get(t, c, ts.URL+"/ui/?token="+tok)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("token exchange: %d Location %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == uiCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/ui" || cookie.Value == tok {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui, not the token", cookie)
	}
	withCookie := func(path string, hdr ...string) (*http.Response, string) {
		return get(t, c, ts.URL+path, append([]string{"Cookie", cookie.Name + "=" + cookie.Value}, hdr...)...)
	}
	if resp, body := withCookie("/ui/"); resp.StatusCode != http.StatusOK || body != "page /ui/" {
		t.Errorf("/ui/ with the cookie: %d %q", resp.StatusCode, body)
	}
	if resp, body := withCookie("/ui/api/status"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"backends"`) {
		t.Errorf("/ui/api/status with the cookie: %d %q", resp.StatusCode, body)
	}
	// The cookie opens the dashboard only, not the API.
	if resp, _ := withCookie("/v1/models"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/v1/models with the dashboard cookie: %d, want 401", resp.StatusCode)
	}
	if resp, _ := withCookie("/localrouter/status"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/localrouter/status with the dashboard cookie: %d, want 401", resp.StatusCode)
	}
	// A token is spent once.
	if resp, body := get(t, c, ts.URL+"/ui/?token="+tok); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid_token") {
		t.Errorf("a spent token: %d %s, want 401 invalid_token", resp.StatusCode, body)
	}
	if resp, _ := get(t, c, ts.URL+"/ui/?token=forged"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, c, ts.URL+"/ui/", "Cookie", uiCookie+"=forged"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged cookie: %d, want 401", resp.StatusCode)
	}
	// The key itself still opens everything, as for the API.
	if resp, _ := get(t, c, ts.URL+"/ui/", "Authorization", "Bearer gw-secret-key"); resp.StatusCode != http.StatusOK {
		t.Errorf("/ui/ with the api_key: %d, want 200", resp.StatusCode)
	}
	// POST /localrouter/dashboard mints one for headless use, behind the key.
	postLink := func(auth string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/localrouter/dashboard", nil)
		req.Header.Set("Authorization", auth)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var link struct{ URL string }
		json.NewDecoder(resp.Body).Decode(&link)
		return resp, link.URL
	}
	if resp, _ := postLink(""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /localrouter/dashboard without the key: %d, want 401", resp.StatusCode)
	}
	var link struct{ URL string }
	resp, link.URL = postLink("Bearer gw-secret-key")
	if !strings.Contains(link.URL, "/ui/?token=") || strings.Contains(link.URL, "gw-secret-key") {
		t.Errorf("POST /localrouter/dashboard: %q", link.URL)
	}
}

func TestDashboardTokenExpiresAndFollowsTheKey(t *testing.T) {
	a := newUIAuth()
	now := time.Now()
	key := []byte("k1")
	tok := a.mint(key, now)
	if _, ok := a.exchange(tok, key, now.Add(uiTokenTTL+time.Second)); ok {
		t.Error("an expired token was accepted")
	}
	tok = a.mint(key, now)
	if _, ok := a.exchange(tok, []byte("k2"), now); ok {
		t.Error("a token minted under another api_key was accepted")
	}
	tok = a.mint(key, now)
	id, ok := a.exchange(tok, key, now)
	if !ok {
		t.Fatal("a fresh token was refused")
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.AddCookie(&http.Cookie{Name: uiCookie, Value: id})
	if !a.session(req, key, now) {
		t.Error("the session was refused")
	}
	if a.session(req, []byte("k2"), now) {
		t.Error("the session outlived a change of api_key")
	}
	if a.session(req, key, now.Add(uiSessionTTL+time.Second)) {
		t.Error("an expired session was accepted")
	}
	for range 3 * uiMaxPending {
		a.mint(key, now)
	}
	if n := len(a.tokens); n > uiMaxPending {
		t.Errorf("%d tokens pending, want at most %d", n, uiMaxPending)
	}
}

// TestDashboardForeignOrigin: another site's page cannot read the
// dashboard's data or its live feed, whether or not server.allowed_origins
// lets it call the API, and no CORS header ever allows it.
func TestDashboardForeignOrigin(t *testing.T) {
	for _, yaml := range []string{"", "server:\n  allowed_origins: [\"https://evil.example\"]\n"} {
		_, ts := uiGateway(t, yaml)
		c := noRedirect()
		for _, path := range []string{"/ui/", "/ui/api/records", "/ui/api/events", "/ui/api/status", "/ui/api/usage"} {
			resp, body := get(t, c, ts.URL+path, "Origin", "https://evil.example")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "forbidden_origin") {
				t.Errorf("%s from a foreign Origin: %d %s, want 403 forbidden_origin", path, resp.StatusCode, body)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s from a foreign Origin: CORS header %s: %s", path, k, resp.Header.Get(k))
				}
			}
		}
		// A preflight gets no CORS allowance either.
		req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/ui/api/records", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from a foreign Origin: %d ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		// The page's own origin passes.
		host := strings.TrimPrefix(ts.URL, "http://")
		if resp, _ := get(t, c, ts.URL+"/ui/", "Origin", "http://"+host); resp.StatusCode != http.StatusOK {
			t.Errorf("/ui/ from its own origin: %d, want 200", resp.StatusCode)
		}
	}
}

func TestDashboardWithoutKeyNeedsNoToken(t *testing.T) {
	s, ts := uiGateway(t, "")
	if u := s.DashboardURL(); strings.Contains(u, "token") || !strings.HasSuffix(u, "/ui/") {
		t.Errorf("DashboardURL without api_key: %q", u)
	}
	resp, body := get(t, noRedirect(), ts.URL+"/ui")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %q, want a redirect to /ui/", resp.StatusCode, body)
	}
}

//go:build linux

package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// fakeBrowserOpener puts an xdg-open first on PATH in env that appends
// what it is asked to open to the returned file, as the tray's opener
// would hand it to the desktop's browser.
func fakeBrowserOpener(t *testing.T, env []string) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	record := filepath.Join(dir, "opened.txt")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '" + record + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv = "PATH=" + dir + string(os.PathListSeparator) + v
		}
		out = append(out, kv)
	}
	return out, record
}

// opened waits for the n-th line the fake opener recorded.
func opened(t *testing.T, record string, n int) string {
	t.Helper()
	var lines []string
	eventually(t, fmt.Sprintf("the tray opens address %d", n), func() (bool, string) {
		b, _ := os.ReadFile(record)
		lines = strings.Fields(string(b))
		return len(lines) >= n, string(b)
	})
	return lines[n-1]
}

// TestDashboardTokenCookie: with server.api_key set, the tray's Open
// dashboard opens /ui with a one-time token; the page trades it for an
// HttpOnly, SameSite=Strict cookie and drops it from the address; a spent
// token and a browser without the cookie are refused; another site's page
// cannot read the data or the live feed; the key appears in no URL, page
// or log.
func TestDashboardTokenCookie(t *testing.T) {
	b := newBrowser(t)
	in, _ := dashboardSetup(t, clientKey)
	env, record := fakeBrowserOpener(t, in.env)
	p, c := startWithTray(t, in.path, in.port, env)
	g := newGateway(t, p)
	g.key = clientKey
	if r := g.mustChat(t, "remote", false, "hello", nil); r.status != http.StatusOK {
		t.Fatalf("chat with the key: %v", r)
	}

	// Without the key or a cookie the page is refused.
	b.run(t, "open /ui/ bare", chromedp.Navigate(p.url+"/ui/"))
	text := eval[string](t, b, "read the page", `document.body.innerText`)
	if !strings.Contains(text, "invalid_api_key") {
		t.Errorf("/ui/ without a cookie shows %q, want the 401", text)
	}

	c.ClickLabel(t, "Open dashboard")
	link := opened(t, record, 1)
	u, err := url.Parse(link)
	if err != nil || u.Host != strings.TrimPrefix(p.url, "http://") || u.Path != "/ui/" || u.Query().Get("token") == "" {
		t.Fatalf("the tray opened %q, want %s/ui/?token=…", link, p.url)
	}
	if strings.Contains(link, clientKey) {
		t.Fatal("the dashboard link holds the api_key")
	}
	b.run(t, "open the tray's link", chromedp.Navigate(link))
	b.waitFor(t, "the page with the request", `document.querySelector("#feed").classList.contains("on") && document.querySelectorAll("#log tbody tr").length === 1`)
	loc := eval[string](t, b, "read the address", `location.href`)
	jsCookie := eval[string](t, b, "read document.cookie", `document.cookie`)
	if loc != p.url+"/ui/" {
		t.Errorf("the address after the exchange is %q, want %s/ui/ (the token dropped)", loc, p.url)
	}
	if jsCookie != "" {
		t.Errorf("the page's script can read the cookie %q: it must be HttpOnly", jsCookie)
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, ck := range cookies.Cookies {
		if ck.Name == "localrouter_ui" {
			session = ck
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Path != "/ui" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ui", session)
	}
	if session.Value == u.Query().Get("token") || strings.Contains(session.Value, clientKey) {
		t.Error("the cookie is the token or holds the key")
	}
	// The live feed works under the cookie: a new request shows up.
	g.mustChat(t, "local", true, "hello", nil)
	b.waitFor(t, "the new request, live", `document.querySelectorAll("#log tbody tr.fresh").length === 1`)

	// A spent token opens nothing in a browser without the cookie.
	other := newBrowser(t)
	other.run(t, "reuse the link", chromedp.Navigate(link))
	text = eval[string](t, other, "read the page", `document.body.innerText`)
	if !strings.Contains(text, "invalid_token") {
		t.Errorf("a spent token shows %q, want refused", text)
	}
	// Each click makes a new token.
	c.ClickLabel(t, "Open dashboard")
	if again := opened(t, record, 2); again == link {
		t.Error("the tray opened the same token twice")
	}

	// Another site's page, in the browser that holds the cookie: its
	// scripts can neither read the data nor follow the feed.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>elsewhere</title>")
	}))
	defer evil.Close()
	b.run(t, "open another site", chromedp.Navigate(evil.URL))
	got := eval[map[string]string](t, b, "read the dashboard from there", `(async () => {
		const out = {};
		try { const r = await fetch(`+jsString(p.url+"/ui/api/records")+`, {credentials: "include"}); out.fetch = "read " + r.status + " " + (await r.text()).slice(0, 80); }
		catch (e) { out.fetch = "blocked"; }
		out.feed = await new Promise((done) => {
			const es = new EventSource(`+jsString(p.url+"/ui/api/events")+`, {withCredentials: true});
			es.onmessage = () => { es.close(); done("read"); };
			es.addEventListener("record", () => { es.close(); done("read"); });
			es.onerror = () => { es.close(); done("blocked"); };
		});
		return out;
	})()`)
	if got["fetch"] != "blocked" || got["feed"] != "blocked" {
		t.Errorf("another site's page: %v, want both blocked", got)
	}
	// The gateway itself refused them, whatever the browser would allow.
	for _, path := range []string{"/ui/api/records", "/ui/api/events"} {
		r, err := g.request(http.MethodGet, path, "", map[string]string{"Origin": evil.URL, "Cookie": "localrouter_ui=" + session.Value}, true)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(r.body, "forbidden_origin") {
			t.Errorf("%s from %s with the cookie: %d ACAO %q %s", path, evil.URL, r.status, r.header.Get("Access-Control-Allow-Origin"), r.body)
		}
	}

	for _, u := range append(b.requested(), other.requested()...) {
		if strings.Contains(u, clientKey) {
			t.Errorf("a URL holds the api_key: %s", u)
		}
	}
	b.run(t, "open the page again", chromedp.Navigate(p.url+"/ui/"))
	html := eval[string](t, b, "the page's source", `document.documentElement.outerHTML`)
	if strings.Contains(html, clientKey) {
		t.Error("the page holds the api_key")
	}
	if logs := p.finalLogs(t); strings.Contains(logs, clientKey) || strings.Contains(logs, u.Query().Get("token")) {
		t.Error("the log holds the api_key or the token")
	}
}

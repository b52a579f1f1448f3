package proxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The dashboard (/ui, DESIGN §12) is guarded like the API. A browser cannot
// send server.api_key, so with a key set the tray opens /ui?token=T, a
// one-time token the page trades for a session cookie; the key itself never
// reaches the page, a URL or the log.

const (
	uiCookie = "localrouter_ui"
	// uiTokenTTL bounds how long a token minted for the tray's click may
	// wait for the browser to start.
	uiTokenTTL = 2 * time.Minute
	// uiSessionTTL is how long a dashboard session lasts; a later visit
	// goes through the tray again.
	uiSessionTTL = 12 * time.Hour
	// uiMaxPending caps unexchanged tokens, so that a script minting them
	// in a loop cannot grow memory.
	uiMaxPending = 64
)

// uiAuth holds the dashboard's one-time tokens and sessions. It lives on
// the Server, so a config reload keeps them; each is bound to the api_key
// it was granted under, so a changed key ends them.
type uiAuth struct {
	mu       sync.Mutex // guards tokens and sessions
	tokens   map[string]uiGrant
	sessions map[string]uiGrant
}

// uiGrant is a token or a session, by the SHA-256 of its value.
type uiGrant struct {
	expires time.Time
	key     [32]byte // SHA-256 of the api_key it was granted under
}

func newUIAuth() *uiAuth {
	return &uiAuth{tokens: map[string]uiGrant{}, sessions: map[string]uiGrant{}}
}

func isUIPath(p string) bool { return p == "/ui" || strings.HasPrefix(p, "/ui/") }

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func uiDigest(s string) string {
	h := sha256.Sum256([]byte(s))
	return string(h[:])
}

// mint returns a new one-time token for apiKey.
func (a *uiAuth) mint(apiKey []byte, now time.Time) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, g := range a.tokens {
		if now.After(g.expires) || len(a.tokens) >= uiMaxPending {
			delete(a.tokens, k)
		}
	}
	t := randomID()
	a.tokens[uiDigest(t)] = uiGrant{expires: now.Add(uiTokenTTL), key: sha256.Sum256(apiKey)}
	return t
}

// exchange spends token and returns a new session id; false when the
// token is unknown, spent, expired or was minted under another key.
func (a *uiAuth) exchange(token string, apiKey []byte, now time.Time) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.tokens[uiDigest(token)]
	delete(a.tokens, uiDigest(token))
	if !ok || now.After(g.expires) || g.key != sha256.Sum256(apiKey) {
		return "", false
	}
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
	id := randomID()
	a.sessions[uiDigest(id)] = uiGrant{expires: now.Add(uiSessionTTL), key: g.key}
	return id, true
}

// session reports whether r carries a live session cookie granted under apiKey.
func (a *uiAuth) session(r *http.Request, apiKey []byte, now time.Time) bool {
	c, err := r.Cookie(uiCookie)
	if err != nil || c.Value == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.sessions[uiDigest(c.Value)]
	return ok && now.Before(g.expires) && g.key == sha256.Sum256(apiKey)
}

// allowUI lets a /ui request without the api_key in by its session
// cookie, or trades a valid ?token= for one (answering the request with
// a redirect to the page, the token gone from the address bar). It
// reports whether r may pass; when not, and it answered, answered is set.
func (g *guard) allowUI(w http.ResponseWriter, r *http.Request) (ok, answered bool) {
	if g.ui == nil || !isUIPath(r.URL.Path) {
		return false, false
	}
	now := time.Now()
	if g.ui.session(r, g.apiKey, now) {
		return true, false
	}
	token := r.URL.Query().Get("token")
	if token == "" || r.Method != http.MethodGet {
		return false, false
	}
	id, valid := g.ui.exchange(token, g.apiKey, now)
	if !valid {
		writeErrorFor(w, r, newAPIError(http.StatusUnauthorized, "authentication_error", "invalid_token", "",
			"this dashboard link was used already or has expired: open the dashboard from the tray again"))
		return false, true
	}
	http.SetCookie(w, &http.Cookie{Name: uiCookie, Value: id, Path: "/ui", MaxAge: int(uiSessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	return false, true
}

// sameOrigin reports whether origin is the gateway's own, as a page it
// served sends it: only such pages may read /ui, whatever
// server.allowed_origins allows for the API.
func sameOrigin(r *http.Request, origin string) bool {
	return r.Host != "" && (origin == "http://"+r.Host)
}

// DashboardURL returns the address that opens the dashboard in a browser:
// with server.api_key set it carries a fresh one-time token.
func (s *Server) DashboardURL() string {
	st := s.state.Load()
	base := "http://" + st.cfg.Addr()
	if b := s.bound.Load(); b != nil {
		base = "http://" + *b
	}
	if st.guard.apiKey == nil {
		return base + "/ui/"
	}
	return base + "/ui/?token=" + s.ui.mint(st.guard.apiKey, time.Now())
}

// dashboardLink serves POST /localrouter/dashboard: the tray's Open
// dashboard for headless use ({"url": …}, with a one-time token).
func (s *Server) dashboardLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]string{"url": s.DashboardURL()})
}

// UIStatus is what the dashboard's Health page shows: the /health
// document and what the local probe learned of each local backend.
type UIStatus struct {
	Status
	Backends []LocalBackend `json:"backends"`
}

// LocalBackend is one local provider as the probe last saw it.
type LocalBackend struct {
	Provider string       `json:"provider"`
	Models   []LocalModel `json:"models"`
}

// LocalModel is one model a local backend holds.
type LocalModel struct {
	Name string `json:"name"`
	// ContextWindow in tokens: the config's context_window, else what the
	// backend reports; 0 when neither says.
	ContextWindow int `json:"context_window"`
}

func (s *Server) uiStatus(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	out := UIStatus{Status: s.Status(), Backends: []LocalBackend{}}
	truth := st.truth.Load()
	for _, p := range st.up.table.Providers {
		if !p.Local {
			continue
		}
		b := LocalBackend{Provider: p.Name, Models: []LocalModel{}}
		names := truth.models(p.Name)
		for _, m := range p.Models {
			if !containsName(names, m) {
				names = append(names, m)
			}
		}
		for _, m := range names {
			cw := p.ContextWindow
			if cw == 0 {
				mi, _ := truth.ModelInfo(p.Name, m)
				cw = mi.ContextWindow
			}
			b.Models = append(b.Models, LocalModel{Name: m, ContextWindow: cw})
		}
		out.Backends = append(out.Backends, b)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out)
}

// containsName reports whether names holds m, Ollama's "m:latest" included.
func containsName(names []string, m string) bool {
	for _, n := range names {
		if n == m || strings.TrimSuffix(n, ":latest") == m {
			return true
		}
	}
	return false
}

// untilShutdown runs h with a request context that also ends when shutdown
// begins: the dashboard's live feed never ends on its own, and would
// otherwise be cut only after the grace period meant for answers.
func (s *Server) untilShutdown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.uiQuit, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

package proxy

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// guard holds the checks every request passes before a handler sees it
// (DESIGN §8). It never changes once built.
type guard struct {
	// loopback is true when the server listens on a loopback address; only
	// then can Host be checked against DNS rebinding.
	loopback bool
	origins  map[string]bool
	anyOrig  bool
	apiKey   []byte
	ui       *uiAuth // the dashboard's tokens and sessions (ui.go); nil lets none in
}

func newGuard(host string, origins []string, apiKey string) *guard {
	g := &guard{loopback: isLoopbackHost(host), origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			g.anyOrig = true
		}
		g.origins[strings.TrimRight(o, "/")] = true
	}
	if apiKey != "" {
		g.apiKey = []byte(apiKey)
	}
	return g
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// allow checks r and answers it when it may not pass. /health needs no api_key.
func (g *guard) allow(w http.ResponseWriter, r *http.Request) bool {
	{
		if g.loopback {
			// A browser tricked by DNS rebinding sends its own host name;
			// an empty Host (HTTP/1.0) is refused too, unlike Ollama's guard.
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if host == "" || !isLoopbackHost(host) {
				writeErrorFor(w, r, newAPIError(http.StatusForbidden, "invalid_request_error", "forbidden_host", "",
					"Host "+quoteHost(r.Host)+" is not allowed: LocalRouter listens on loopback and only answers requests for localhost"))
				return false
			}
		}
		if origin := r.Header.Get("Origin"); origin != "" && isUIPath(r.URL.Path) {
			// The dashboard's data is for its own page only: no CORS for it.
			if !sameOrigin(r, origin) {
				writeErrorFor(w, r, newAPIError(http.StatusForbidden, "invalid_request_error", "forbidden_origin", "",
					"Origin "+origin+" may not read the dashboard: only its own page may"))
				return false
			}
		} else if origin != "" {
			if !g.anyOrig && !g.origins[origin] {
				writeErrorFor(w, r, newAPIError(http.StatusForbidden, "invalid_request_error", "forbidden_origin", "",
					"Origin "+origin+" is not allowed: add it to server.allowed_origins"))
				return false
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, Anthropic-Version, Anthropic-Beta")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return false
			}
			h.Set("Access-Control-Expose-Headers", "X-LocalRouter-Route, X-LocalRouter-Overhead")
		}
		if g.apiKey != nil && r.URL.Path != "/health" && !g.authorized(r) {
			if ok, answered := g.allowUI(w, r); ok || answered {
				return ok
			}
			writeErrorFor(w, r, newAPIError(http.StatusUnauthorized, "authentication_error", "invalid_api_key", "",
				"missing or wrong API key: send Authorization: Bearer <server.api_key> (or x-api-key)"))
			return false
		}
	}
	return true
}

func (g *guard) authorized(r *http.Request) bool {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		key = r.Header.Get("X-Goog-Api-Key")
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = a[7:]
	}
	return subtle.ConstantTimeCompare([]byte(key), g.apiKey) == 1
}

func quoteHost(h string) string {
	if h == "" {
		return "(empty)"
	}
	if len(h) > 100 {
		h = h[:100]
	}
	return `"` + h + `"`
}

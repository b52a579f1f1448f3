package config

import (
	"net/netip"
	"net/url"
	"strings"
)

// Kind returns the provider's protocol: Type when set, else inferred from
// the name ("anthropic…" is anthropic, "google…" and "gemini…" are google,
// any other name is OpenAI-compatible, like most vendors).
func (p Provider) Kind() string {
	if p.Type != "" {
		return p.Type
	}
	name := strings.ToLower(p.Name)
	switch {
	case strings.HasPrefix(name, "anthropic"):
		return "anthropic"
	case strings.HasPrefix(name, "google"), strings.HasPrefix(name, "gemini"):
		return "google"
	default:
		return "openai"
	}
}

// IsLocal reports whether the provider belongs to the local side. An
// explicit Local wins; otherwise names starting with "local" or "ollama"
// are local, and so is a BaseURL on this machine or the LAN (loopback,
// private or link-local address).
func (p Provider) IsLocal() bool {
	if p.Local != nil {
		return *p.Local
	}
	name := strings.ToLower(p.Name)
	if strings.HasPrefix(name, "local") || strings.HasPrefix(name, "ollama") {
		return true
	}
	return isLocalURL(p.BaseURL)
}

// isLocalURL reports whether raw is a URL whose host is this machine or a
// private or link-local address. Host names other than localhost count as
// remote: resolving them here would make the answer depend on DNS.
func isLocalURL(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Validate checks c and returns every problem found, joined, each naming
// the field and, for a parsed config, the file and line.
func (c *Config) Validate() error {
	return joinErrors(c.validate(), c.Secrets())
}

// checker collects the problems of one config.
type checker struct {
	c    *Config
	errs []*fieldError
}

func (k *checker) errorf(field, format string, args ...any) {
	k.errs = append(k.errs, &fieldError{
		file:  k.c.source(),
		line:  k.c.line(field),
		field: field,
		msg:   fmt.Sprintf(format, args...),
	})
}

// shown quotes the value of field for a message; see nodeInfo.raw.
func (k *checker) shown(field, v string) string {
	if raw := k.c.nodes[field].raw; raw != "" {
		return fmt.Sprintf("the expansion of %q", raw)
	}
	return fmt.Sprintf("%q", v)
}

// source names c in messages.
func (c *Config) source() string {
	if c.src != "" {
		return c.src
	}
	return c.Path
}

// line returns the line of field in the file or, for a field that was not
// written there (a missing "when"), of the nearest enclosing one.
func (c *Config) line(field string) int {
	for field != "" {
		if n, ok := c.nodes[field]; ok {
			return n.line
		}
		field = field[:max(strings.LastIndexAny(field, ".["), 0)]
	}
	return 0
}

func (c *Config) validate() []*fieldError {
	k := &checker{c: c}

	s := c.Server
	if s.Host == "" {
		k.errorf("server.host", `must not be empty (use "127.0.0.1" for this machine only, "0.0.0.0" for every interface)`)
	}
	if s.Port < 1 || s.Port > 65535 {
		k.errorf("server.port", "must be between 1 and 65535, got %d", s.Port)
	}
	if s.MaxBody <= 0 {
		k.errorf("server.max_body", "must be more than 0, got %d", s.MaxBody)
	}
	for i, o := range s.AllowedOrigins {
		k.origin(fmt.Sprintf("server.allowed_origins[%d]", i), o)
	}

	r := c.RemoteStrategy
	if r.URL != "" {
		k.url("remote_strategy.url", r.URL)
	}
	if r.PollInterval < time.Second {
		k.errorf("remote_strategy.poll_interval", "must be at least 1s, got %v", r.PollInterval)
	}
	k.positive("remote_strategy.timeout", r.Timeout)
	k.headers("remote_strategy.headers", r.Headers)

	if d := c.Routing.Default; d != "local" && d != "remote" {
		k.errorf("routing.default", `must be "local" or "remote", got %s`, k.shown("routing.default", d))
	}
	for i, rule := range c.Routing.Rules {
		field := fmt.Sprintf("routing.rules[%d]", i)
		if strings.TrimSpace(rule.When) == "" {
			k.errorf(field+".when", "is required")
		}
		k.use(field+".use", rule.Use)
	}

	for _, p := range c.Providers {
		k.provider(p)
	}

	if c.Mock.TokenDelay < 0 {
		k.errorf("mock.token_delay", "must not be negative, got %v", c.Mock.TokenDelay)
	}
	return k.errs
}

func (k *checker) provider(p Provider) {
	field := "providers." + p.Name
	switch {
	case p.Name == "":
		k.errorf(field, "a provider name must not be empty")
	case strings.Contains(p.Name, "/"):
		// "provider/model" names a model, so the name cannot contain "/".
		k.errorf(field, `a provider name must not contain "/"`)
	}
	switch p.Type {
	case "", "openai", "anthropic", "google", "mock":
	default:
		k.errorf(field+".type", "unknown type %s (want openai, anthropic, google or mock)", k.shown(field+".type", p.Type))
	}
	if p.BaseURL != "" {
		k.url(field+".base_url", p.BaseURL)
	}
	for i, m := range p.Models {
		if strings.TrimSpace(m) == "" {
			k.errorf(fmt.Sprintf("%s.models[%d]", field, i), "must not be empty")
		}
	}
	k.headers(field+".headers", p.Headers)
	k.positive(field+".timeout", p.Timeout)
	k.positive(field+".idle_timeout", p.IdleTimeout)
	if p.ContextWindow < 0 {
		k.errorf(field+".context_window", "must not be negative, got %d", p.ContextWindow)
	}
	if p.DefaultMaxTokens <= 0 {
		k.errorf(field+".default_max_tokens", "must be more than 0, got %d", p.DefaultMaxTokens)
	}
}

func (k *checker) positive(field string, d time.Duration) {
	if d <= 0 {
		k.errorf(field, "must be more than 0, got %v", d)
	}
}

// use checks a rule's target: a side, or a model of a configured provider.
func (k *checker) use(field, use string) {
	switch {
	case use == "":
		k.errorf(field, "is required")
	case use == "local", use == "remote":
	case strings.Contains(use, "/"):
		prov, model, _ := strings.Cut(use, "/")
		if prov == "" || model == "" {
			k.errorf(field, `must be "local", "remote" or "provider/model", got %s`, k.shown(field, use))
		} else if _, ok := k.c.Provider(prov); !ok {
			k.errorf(field, "no provider named %q", prov)
		}
	default:
		k.errorf(field, `must be "local", "remote" or "provider/model", got %s`, k.shown(field, use))
	}
}

// url checks that raw is an absolute http or https URL. It never quotes
// raw: URLs can carry credentials ("https://user:pass@host", "?key=").
func (k *checker) url(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		k.errorf(field, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		// Without "://", url.Parse reads "localhost:8000/v1" as scheme
		// "localhost"; naming that scheme would only confuse.
		if u.Scheme == "" || !strings.Contains(raw, "://") {
			k.errorf(field, `must be an http or https URL, like "https://host/path"`)
		} else {
			k.errorf(field, "must be an http or https URL, got scheme %q", u.Scheme)
		}
	case u.Host == "":
		k.errorf(field, "has no host")
	}
}

// origin checks that o is a browser origin. Browsers send exactly
// scheme://host[:port], in lower case, so anything else (a trailing slash,
// a path) would silently never match.
func (k *checker) origin(field, o string) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || o != strings.ToLower(u.Scheme+"://"+u.Host) {
		k.errorf(field, `must be an origin like "http://localhost:3000" (lower-case scheme, host and port only), got %s`, k.shown(field, o))
	}
}

// headers checks header names and that no value would split the request.
// Values are never quoted: they are secrets.
func (k *checker) headers(field string, h map[string]Secret) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		f, v := field+"."+name, h[name]
		if !isToken(name) {
			k.errorf(f, "%q is not a valid header name", name)
		}
		if strings.ContainsAny(string(v), "\r\n\x00") {
			k.errorf(f, "the value must not contain a line break or NUL")
		}
	}
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), the syntax
// of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Validate checks c and returns every problem found, joined, each naming
// the field and, for a parsed config, the file, line and column. Messages
// say what a value must be, never what it is: the value may be a secret in
// the wrong place, or the file no config at all (see fieldError).
func (c *Config) Validate() error {
	return joinErrors(c.validate(), c.Secrets())
}

// checker collects the problems of one config.
type checker struct {
	c    *Config
	errs []*fieldError
}

func (k *checker) errorf(field, format string, args ...any) {
	at := k.c.position(field)
	msg := fmt.Sprintf(format, args...)
	if k.c.nodes[field].expanded {
		msg += "; checked after ${VAR} expansion"
	}
	k.errs = append(k.errs, &fieldError{
		file:  k.c.source(),
		line:  at.line,
		col:   at.col,
		field: field,
		msg:   msg,
	})
}

// source names c in messages.
func (c *Config) source() string {
	if c.src != "" {
		return c.src
	}
	return c.Path
}

// position returns where field is in the file or, for a field that was not
// written there (a missing "when"), the nearest enclosing one.
func (c *Config) position(field string) nodeInfo {
	for field != "" {
		if n, ok := c.nodes[field]; ok {
			return nodeInfo{line: n.line, col: n.col}
		}
		field = field[:max(strings.LastIndexAny(field, ".["), 0)]
	}
	return nodeInfo{}
}

func (c *Config) validate() []*fieldError {
	k := &checker{c: c}

	s := c.Server
	if s.Host == "" {
		k.errorf("server.host", `must not be empty (use "127.0.0.1" for this machine only, "0.0.0.0" for every interface)`)
	}
	if s.Port < 1 || s.Port > 65535 {
		k.errorf("server.port", "must be between 1 and 65535")
	}
	if s.MaxBody <= 0 {
		k.errorf("server.max_body", "must be more than 0")
	}
	for i, o := range s.AllowedOrigins {
		k.origin(fmt.Sprintf("server.allowed_origins[%d]", i), o)
	}

	r := c.RemoteStrategy
	if r.URL != "" {
		k.url("remote_strategy.url", r.URL)
	}
	if r.PollInterval < time.Second {
		k.errorf("remote_strategy.poll_interval", "must be at least 1s")
	}
	k.positive("remote_strategy.timeout", r.Timeout)
	k.headers("remote_strategy.headers", r.Headers)

	if d := c.Routing.Default; d != "local" && d != "remote" {
		k.errorf("routing.default", `must be "local" or "remote"`)
	}
	if c.Routing.LocalBackoff < 0 {
		k.errorf("routing.local_backoff", "must be 0 (off) or more")
	}
	switch c.Routing.Sessions {
	case "sticky", "follow", "off":
	default:
		k.errorf("routing.sessions", `must be "sticky", "follow" or "off"`)
	}
	if c.Routing.SessionMax < 1 {
		k.errorf("routing.session_max", "must be at least 1")
	}
	k.positive("routing.session_ttl", c.Routing.SessionTTL)
	for i, rule := range c.Routing.Rules {
		field := fmt.Sprintf("routing.rules[%d]", i)
		if strings.TrimSpace(rule.When) == "" {
			k.errorf(field+".when", "is required")
		}
		if rule.Use != "private" { // the Local only action (DESIGN §11)
			k.use(field+".use", rule.Use)
		}
	}
	for i, p := range c.Privacy.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			k.errorf(fmt.Sprintf("privacy.patterns[%d]", i), "is not a regular expression: %v", err)
		}
	}

	for _, a := range c.Routing.Aliases {
		k.alias(joinPath("routing.aliases", a.Glob), a)
	}

	for _, p := range c.Providers {
		k.provider(p)
	}

	if c.Usage.Retention < 0 {
		k.errorf("usage.retention", "must be 0 (keep forever) or more")
	}
	for name, p := range c.Usage.Prices {
		if p.Input < 0 || p.Output < 0 {
			k.errorf(joinPath("usage.prices", name), "must not be negative")
		}
	}

	if c.Mock.TokenDelay < 0 {
		k.errorf("mock.token_delay", "must not be negative")
	}
	return k.errs
}

func (k *checker) provider(p Provider) {
	field := joinPath("providers", p.Name)
	switch {
	case p.Name == "":
		k.errorf(field, "a provider name must not be empty")
	case strings.Contains(p.Name, "/"):
		// "provider/model" names a model, so the name cannot contain "/".
		k.errorf(field, `a provider name must not contain "/"`)
	case strings.IndexFunc(p.Name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		// The name goes into the route header and the log lines, where a
		// newline would split them.
		k.errorf(field, "a provider name must not contain spaces or control characters")
	}
	switch p.Type {
	case "", "openai", "anthropic", "google", "mock":
	default:
		k.errorf(field+".type", "must be openai, anthropic, google or mock")
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
		k.errorf(field+".context_window", "must not be negative")
	}
	for i, q := range p.Protocols {
		if !slices.Contains(Protocols, q) {
			k.errorf(fmt.Sprintf("%s.protocols[%d]", field, i), "must be one of %s", strings.Join(Protocols, ", "))
		}
	}
	if p.DefaultMaxTokens <= 0 {
		k.errorf(field+".default_max_tokens", "must be more than 0")
	}
}

// alias checks an alias: a non-empty glob and a target that routes.
func (k *checker) alias(field string, a Alias) {
	if strings.TrimSpace(a.Glob) == "" {
		k.errorf(field, "the model-name glob must not be empty")
	}
	switch t := a.Target; {
	case t == "auto", t == "local", t == "remote":
	case strings.Contains(t, "/"):
		k.use(field, t) // provider/model: the provider must be configured
	default:
		k.errorf(field, `must be "auto", "local", "remote" or "provider/model"`)
	}
}

func (k *checker) positive(field string, d time.Duration) {
	if d <= 0 {
		k.errorf(field, "must be more than 0")
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
			k.errorf(field, `must be "local", "remote" or "provider/model"`)
		} else if _, ok := k.c.Provider(prov); !ok {
			k.errorf(field, `names a provider that is not configured: the part before "/" must be a key of providers`)
		}
	default:
		k.errorf(field, `must be "local", "remote" or "provider/model"`)
	}
}

// url checks that raw is an absolute http or https URL.
func (k *checker) url(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		k.errorf(field, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		k.errorf(field, `must be an http or https URL, like "https://host/path"`)
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
		k.errorf(field, `must be an origin like "http://localhost:3000" (lower-case scheme, host and port only)`)
	}
}

// headers checks header names and that no value would split the request.
func (k *checker) headers(field string, h map[string]Secret) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		f, v := joinPath(field, name), h[name]
		if !isToken(name) {
			k.errorf(f, "is not a valid header name")
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

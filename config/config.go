// Package config loads, checks and describes LocalRouter's local YAML
// configuration: where the file lives, how a new one is created from the
// template, and what each setting means.
//
// Parse decodes strictly: an unknown key, a duplicate key or a value of the
// wrong type is an error, and every error names the file, the line and the
// field. ${VAR} and ${VAR:-default} in values expand from the environment.
// Secret values (API keys, upstream headers) have the type Secret, which
// redacts itself wherever it is printed, logged or marshalled.
package config

import (
	"net"
	"strconv"
	"time"
)

// Config is the whole local configuration. Start from Default or Parse, not
// from a zero Config: Validate rejects the zero values of several fields.
type Config struct {
	// Path is the file the config was loaded from; empty unless Load made it.
	Path string `yaml:"-"`

	// Server is the HTTP listener clients connect to.
	Server Server `yaml:"server"`

	// Notifications enables desktop notifications from the tray. Default true.
	Notifications bool `yaml:"notifications"`

	// RemoteStrategy is where the routing strategy is fetched from.
	RemoteStrategy RemoteStrategy `yaml:"remote_strategy"`

	// Routing is the local part of the routing decision.
	Routing Routing `yaml:"routing"`

	// Providers are decoded from the YAML mapping of name to entry, in file
	// order, with each Name taken from its key.
	Providers []Provider `yaml:"providers"`

	// Mock configures the provider used in mock mode.
	Mock Mock `yaml:"mock"`

	// Privacy makes requests that hold secrets private: they never leave
	// the machine (DESIGN §11).
	Privacy Privacy `yaml:"privacy"`

	// Usage is the local record of routed requests (DESIGN §12).
	Usage Usage `yaml:"usage"`

	// src names the config in error messages; Parse's name, which Validate
	// needs long after Parse has returned.
	src string
	// nodes maps a field path ("server.port", "routing.rules[0]") to where
	// its value was in the file, so Validate can point at the line.
	nodes map[string]nodeInfo
}

// Server is the HTTP listener that clients talk to.
type Server struct {
	// Host is the address to listen on. Default "127.0.0.1": only this
	// machine can connect.
	Host string `yaml:"host"`

	// Port is the TCP port, 1 to 65535. Default 8080.
	Port int `yaml:"port"`

	// APIKey, when set, must be sent by clients as "Authorization: Bearer <key>".
	APIKey Secret `yaml:"api_key"`

	// AllowedOrigins are the browser origins ("http://localhost:3000") allowed
	// to call the API cross-origin. Default none.
	AllowedOrigins []string `yaml:"allowed_origins"`

	// MaxBody caps a request body. Default 32 MiB.
	MaxBody ByteSize `yaml:"max_body"`
}

// RemoteStrategy says where and how often to fetch the strategy JSON.
type RemoteStrategy struct {
	// URL is any http or https GET returning the strategy JSON. Empty means
	// no remote strategy: routing follows the local config alone.
	URL string `yaml:"url"`

	// PollInterval is the time between fetches. Default 60s, at least 1s.
	PollInterval time.Duration `yaml:"poll_interval"`

	// Timeout bounds one fetch. Default 5s.
	Timeout time.Duration `yaml:"timeout"`

	// Headers are sent with each fetch, e.g. Authorization for a private
	// endpoint, hence secrets.
	Headers map[string]Secret `yaml:"headers"`
}

// Routing is the local part of the routing decision.
type Routing struct {
	// Default is the side used before any strategy is known: "local" or
	// "remote". Default "remote".
	Default string `yaml:"default"`

	// LocalModel and RemoteModel are used when the strategy names none.
	LocalModel  string `yaml:"local_model"`
	RemoteModel string `yaml:"remote_model"`

	// FIMModel is each side's model for fill-in-the-middle: /v1/completions
	// and /api/generate with a suffix or raw. A chat model is rarely a
	// good one. Empty sides use the side's chat model.
	FIMModel SideModels `yaml:"fim_model"`

	// EmbeddingModel is each side's model for /v1/embeddings and
	// /api/embed. Empty sides use the side's chat model.
	EmbeddingModel SideModels `yaml:"embedding_model"`

	// Fallback tries the other side once when the chosen one fails before
	// the first byte. Default true.
	Fallback bool `yaml:"fallback"`

	// ContextGuard sends a strategy-routed request remote when the local
	// model's context window cannot hold its prompt estimate plus
	// max_tokens, or it has tools and the model lacks the tools capability
	// (DESIGN §11). Default true.
	ContextGuard bool `yaml:"context_guard"`

	// LocalBackoff is how long a local provider that answered 5xx is passed
	// over for the other side before it is tried first again. Default 30s.
	LocalBackoff time.Duration `yaml:"local_backoff"`

	// Sessions keeps a conversation on the route it began on (DESIGN §10):
	// "sticky" (default: a strategy flip or rule change applies to new
	// sessions only), "follow" (a running session moves at its next user
	// turn, never inside a tool loop) or "off".
	Sessions string `yaml:"sessions"`
	// SessionMax bounds the table of running sessions, least recently used
	// dropped first; default 10000. SessionTTL ends a session idle that
	// long; default 1h.
	SessionMax int           `yaml:"session_max"`
	SessionTTL time.Duration `yaml:"session_ttl"`

	// Rules are expr rules checked before the strategy's; first match wins.
	Rules []Rule `yaml:"rules"`

	// Aliases map requested model names, by glob ("claude-*haiku*"), to
	// auto, local, remote or provider/model before any other routing step.
	// Written as a mapping; the first matching glob in file order wins.
	Aliases []Alias `yaml:"aliases"`
}

// SideModels name a model per side, for requests of one kind. Like
// local_model and remote_model, each may be provider/model.
type SideModels struct {
	Local  string `yaml:"local"`
	Remote string `yaml:"remote"`
}

// Alias is one entry of routing.aliases.
type Alias struct {
	// Glob matches the whole model name: '*' is any run of characters,
	// '?' one character.
	Glob string
	// Target is auto, local, remote or provider/model.
	Target string
}

// Rule sends matching requests to a side or a provider.
type Rule struct {
	// When is an expr expression over the request; see DESIGN.md §5.
	When string `yaml:"when"`
	// Use is "local", "remote" or "provider/model".
	Use string `yaml:"use"`
}

// Provider is one upstream: a cloud vendor, or a vLLM/Ollama server.
type Provider struct {
	// Name is the provider's key in the providers mapping.
	Name string `yaml:"-"`

	// Type is the protocol: "openai", "anthropic", "google" or "mock".
	// Empty means inferred from Name; see Kind.
	Type string `yaml:"type"`

	// APIKey authenticates to the upstream, usually "${VENDOR_API_KEY}".
	// LocalRouter skips a cloud provider that has none.
	APIKey Secret `yaml:"api_key"`

	// BaseURL overrides the vendor's default endpoint. OpenAI-compatible
	// URLs include the version path ("http://host:8000/v1"); anthropic and
	// google ones are the API root.
	BaseURL string `yaml:"base_url"`

	// Models are the model names this provider serves.
	Models []string `yaml:"models"`

	// Headers are extra headers sent upstream; values are secrets.
	Headers map[string]Secret `yaml:"headers"`

	// Timeout is the longest wait for the upstream's response headers.
	// Default 120s.
	Timeout time.Duration `yaml:"timeout"`

	// IdleTimeout is the longest gap between two stream events. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`

	// Local puts the provider on the local side; nil means inferred, see IsLocal.
	Local *bool `yaml:"local"`

	// ContextWindow is the model's context size in tokens; 0 means unknown.
	ContextWindow int `yaml:"context_window"`

	// DefaultMaxTokens is sent when a request has no max_tokens and the
	// protocol requires one (Anthropic). Default 8192.
	DefaultMaxTokens int `yaml:"default_max_tokens"`

	// Protocols are the front-door protocols the upstream speaks natively
	// besides its Type's own ("anthropic" for Ollama ≥ 0.14, LM Studio and
	// vLLM, which serve /v1/messages): a request in one of them is passed
	// through with only the model replaced instead of translated.
	Protocols []string `yaml:"protocols"`
}

// Protocol names a provider may list in protocols.
// completions and embeddings need listing only for an upstream LocalRouter
// believes lacks them; every other OpenAI-compatible one is taken to serve
// both.
var Protocols = []string{"openai", "anthropic", "responses", "ollama", "completions", "embeddings"}

// Speaks reports whether the provider takes protocol natively: its Type's
// own, or one listed in Protocols.
func (p Provider) Speaks(protocol string) bool {
	if p.Kind() == protocol {
		return true
	}
	for _, q := range p.Protocols {
		if q == protocol {
			return true
		}
	}
	return false
}

// Privacy configures Local only's secret scan.
type Privacy struct {
	// Patterns are regular expressions (Go syntax) matched against each
	// request's body as sent, besides the built-in set of secrets; a
	// request that matches one stays local. Default none.
	Patterns []string `yaml:"patterns"`
}

// Usage configures the usage store: one record per routed request, kept on
// this machine for the tray, the dashboard and `localrouter usage`.
type Usage struct {
	// Enabled keeps the records. Default true.
	Enabled bool `yaml:"enabled"`
	// Retention is how long records are kept; 0 keeps them forever.
	// Default 90d.
	Retention time.Duration `yaml:"retention"`
	// Path is the database file. Default "" for
	// <user cache dir>/localrouter/usage.db.
	Path string `yaml:"path"`
	// Prices override the embedded price table, by "provider/model" or
	// "model" (a local model is free unless priced here). Default none.
	Prices map[string]Price `yaml:"prices"`
}

// Price is a model's price in US dollars per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// Mock configures the mock provider used in mock mode.
type Mock struct {
	// TokenDelay is the pause between streamed tokens. Default 30ms.
	TokenDelay time.Duration `yaml:"token_delay"`
}

// Default returns a config with every default set and no providers.
func Default() *Config {
	return &Config{
		Server: Server{
			Host:    "127.0.0.1",
			Port:    8080,
			MaxBody: 32 * mib,
		},
		Notifications: true,
		RemoteStrategy: RemoteStrategy{
			PollInterval: 60 * time.Second,
			Timeout:      5 * time.Second,
		},
		Routing: Routing{
			Default:      "remote",
			Fallback:     true,
			ContextGuard: true,
			LocalBackoff: 30 * time.Second,
			Sessions:     "sticky",
			SessionMax:   10000,
			SessionTTL:   time.Hour,
		},
		Mock:  Mock{TokenDelay: 30 * time.Millisecond},
		Usage: Usage{Enabled: true, Retention: 90 * 24 * time.Hour},
	}
}

// newProvider returns a provider entry with its defaults set.
func newProvider(name string) Provider {
	return Provider{
		Name:             name,
		Timeout:          120 * time.Second,
		IdleTimeout:      60 * time.Second,
		DefaultMaxTokens: 8192,
	}
}

// Addr returns the listen address, host:port.
func (c *Config) Addr() string {
	return net.JoinHostPort(c.Server.Host, strconv.Itoa(c.Server.Port))
}

// Provider returns the provider with the given name.
func (c *Config) Provider(name string) (Provider, bool) {
	for _, p := range c.Providers {
		if p.Name == name {
			return p, true
		}
	}
	return Provider{}, false
}

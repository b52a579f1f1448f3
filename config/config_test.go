package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/assets"
)

// templateEnv are the variables the template reads its API keys from.
var templateEnv = []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"}

// unsetenv unsets key for the rest of the test; t.Setenv restores it after.
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// exported returns c without its unexported bookkeeping, for comparisons.
func exported(c *Config) Config {
	v := *c
	v.src, v.nodes = "", nil
	return v
}

func TestResolvePath(t *testing.T) {
	dir := t.TempDir()
	unixLike := runtime.GOOS != "windows" && runtime.GOOS != "darwin" && runtime.GOOS != "ios" && runtime.GOOS != "plan9"
	tests := []struct {
		name     string
		flag     string
		env      string // $LOCALROUTER_CONFIG_PATH
		xdg      string // $XDG_CONFIG_HOME
		home     string // $HOME
		unixOnly bool   // os.UserConfigDir reads XDG_CONFIG_HOME and HOME only there
		want     string
		wantErr  bool
	}{
		{name: "flag wins over env", flag: "/from/flag.yaml", env: "/from/env.yaml", want: "/from/flag.yaml"},
		{name: "env when no flag", env: "/from/env.yaml", xdg: "/xdg", want: "/from/env.yaml"},
		{name: "relative flag made absolute", flag: "rel/c.yaml", want: filepath.Join(dir, "rel", "c.yaml")},
		{name: "XDG_CONFIG_HOME", xdg: "/xdg", home: "/home/u", unixOnly: true, want: "/xdg/localrouter/config.yaml"},
		{name: "HOME without XDG_CONFIG_HOME", home: "/home/u", unixOnly: true, want: "/home/u/.config/localrouter/config.yaml"},
		{name: "no HOME at all", unixOnly: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixOnly && !unixLike {
				t.Skip("os.UserConfigDir does not use XDG_CONFIG_HOME on " + runtime.GOOS)
			}
			t.Chdir(dir)
			t.Setenv(envPath, tt.env)
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := ResolvePath(tt.flag)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ResolvePath(%q) = %q, want an error", tt.flag, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolvePath(%q): %v", tt.flag, err)
			}
			want, err := filepath.Abs(filepath.FromSlash(tt.want)) // adds a drive letter on Windows
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("ResolvePath(%q) = %q, want %q", tt.flag, got, want)
			}
		})
	}
}

func TestEnsureAndLoad(t *testing.T) {
	for _, k := range templateEnv {
		unsetenv(t, k)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "a", "localrouter")
	path := filepath.Join(dir, "config.yaml")

	created, err := Ensure(path, assets.ConfigTemplate)
	if err != nil || !created {
		t.Fatalf("Ensure on a missing file = %v, %v, want true, nil", created, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(assets.ConfigTemplate) {
		t.Errorf("created file differs from the template")
	}
	if runtime.GOOS != "windows" {
		for _, c := range []struct {
			path string
			want os.FileMode
		}{{path, 0o600}, {dir, 0o700}, {filepath.Dir(dir), 0o700}} {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("mode of %s = %v, want %v", c.path, got, c.want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries after Ensure, want 1 (no temporary file left)", len(entries))
	}

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load of the new file: %v", err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}

	edited := []byte("server:\n  port: 9999\n")
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	created, err = Ensure(path, assets.ConfigTemplate)
	if err != nil || created {
		t.Fatalf("Ensure on an existing file = %v, %v, want false, nil", created, err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(edited) {
		t.Errorf("Ensure changed an existing file: got %q, want %q", got, edited)
	}
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Port != 9999 {
		t.Errorf("port = %d, want 9999", c.Server.Port)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want one wrapping os.ErrNotExist", err)
	}
}

// emptyFiles are files with no settings: a truncated file, or one an editor
// saved blank. Taking them as "all defaults" would drop every provider and
// silently serve mock answers.
var emptyFiles = []struct{ name, content string }{
	{"empty", ""},
	{"whitespace", " \n\t\n\r\n"},
	{"only comments", "# nothing here\n  # indented comment\n"},
	{"explicit document start", "---\n"},
	{"null document", "~\n"},
}

func TestParseEmpty(t *testing.T) {
	for _, tt := range emptyFiles {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.content), "x.yaml")
			if !errors.Is(err, errEmpty) || c != nil {
				t.Errorf("got %v, %v, want only an error wrapping errEmpty", c, err)
			}
		})
	}
}

func TestLoadEmptyFile(t *testing.T) {
	for _, tt := range emptyFiles {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load accepted a file with no settings (port %d, %d providers)", c.Server.Port, len(c.Providers))
			}
			if want := "config " + path + ": the file has no settings"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want it to start %q", err, want)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	for _, k := range templateEnv {
		unsetenv(t, k)
	}
	c, err := Parse(assets.ConfigTemplate, "config.yaml")
	if err != nil {
		t.Fatalf("template does not parse: %v", err)
	}
	if got, want := c.Addr(), "127.0.0.1:8080"; got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	if c.RemoteStrategy.URL != "" {
		t.Errorf("remote_strategy.url = %q, want empty", c.RemoteStrategy.URL)
	}
	if c.Routing.Default != "remote" || c.Routing.RemoteModel != "" {
		t.Errorf("routing = %+v, want default remote and no remote_model", c.Routing)
	}
	var names []string
	for _, p := range c.Providers {
		names = append(names, p.Name)
		// The gateway skips cloud providers without a key; a local one
		// would be usable without any, which the template must not have.
		if p.APIKey != "" || p.IsLocal() {
			t.Errorf("provider %s is usable without env vars (key set: %v, local: %v)", p.Name, p.APIKey != "", p.IsLocal())
		}
	}
	if got, want := strings.Join(names, ","), "openai,anthropic,google,deepseek"; got != want {
		t.Errorf("providers = %s, want %s", got, want)
	}
	// Apart from providers, the template spells out the defaults.
	d := Default()
	d.Providers = c.Providers
	d.Server.AllowedOrigins = c.Server.AllowedOrigins
	d.RemoteStrategy.Headers = c.RemoteStrategy.Headers
	d.Routing.Rules = c.Routing.Rules
	if got, want := exported(c), exported(d); !reflect.DeepEqual(got, want) {
		t.Errorf("template config = %+v, want the defaults %+v", got, want)
	}

	t.Setenv("OPENAI_API_KEY", "sk-test")
	c, err = Parse(assets.ConfigTemplate, "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Provider("openai"); p.APIKey != "sk-test" {
		t.Errorf("openai key not taken from $OPENAI_API_KEY")
	}
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		// A file with no settings at all is an error: see emptyFiles.
		{"empty sections", "server:\nrouting:\nproviders:\nmock: {}\n"},
		{"only comments and a null section", "# nothing here\nserver: ~\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got, want := exported(c), exported(Default()); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseBoolsStick(t *testing.T) {
	tests := []struct {
		yaml                    string
		notifications, fallback bool
	}{
		{"notifications: false\nrouting: {fallback: false}\n", false, false},
		{"notifications: true\nrouting: {fallback: true}\n", true, true},
		{"routing: {default: local}\n", true, true},
		{"notifications: off\n", false, true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.yaml, "\n", " "), func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if c.Notifications != tt.notifications || c.Routing.Fallback != tt.fallback {
				t.Errorf("notifications, fallback = %v, %v, want %v, %v",
					c.Notifications, c.Routing.Fallback, tt.notifications, tt.fallback)
			}
		})
	}
}

// TestParseFull sets every field, which also proves the decoder handles
// every field type of Config.
func TestParseFull(t *testing.T) {
	const in = `
server:
  host: 0.0.0.0
  port: 9000
  api_key: client-key
  allowed_origins: [http://localhost:3000, https://app.example.com]
  max_body: 1MiB
notifications: false
remote_strategy:
  url: https://example.com/strategy.json
  poll_interval: 5m
  timeout: 2s
  headers: {Authorization: Bearer strat-token}
routing:
  default: local
  local_model: qwen
  remote_model: gemini-3-flash
  fim_model: {local: qwen2.5-coder:1.5b, remote: deepseek/deepseek-chat}
  embedding_model:
    local: nomic-embed-text
  fallback: false
  context_guard: false
  local_backoff: 5s
  sessions: follow
  session_max: 500
  session_ttl: 10m
  rules:
    - {when: has_images, use: remote}
    - when: est_tokens > 1000
      use: zeta/big
providers:
  zeta:
    type: openai
    api_key: zeta-key
    base_url: https://zeta.example.com/v1
    models: [big, small]
    headers: {X-Org: org-1}
    timeout: 30s
    idle_timeout: 10s
    local: false
    context_window: 128000
    default_max_tokens: 4096
    protocols: [completions, embeddings]
  alpha: {}
  mid: ~
mock:
  token_delay: 0s
usage:
  enabled: false
  retention: 30d
  path: /tmp/usage.db
  prices:
    ollama/qwen3: {input: 0.1, output: 0.25}
    gpt-4o: {input: 2, output: 8}
`
	no := false
	want := Config{
		Server: Server{
			Host: "0.0.0.0", Port: 9000, APIKey: "client-key",
			AllowedOrigins: []string{"http://localhost:3000", "https://app.example.com"},
			MaxBody:        1 << 20,
		},
		RemoteStrategy: RemoteStrategy{
			URL: "https://example.com/strategy.json", PollInterval: 5 * time.Minute, Timeout: 2 * time.Second,
			Headers: map[string]Secret{"Authorization": "Bearer strat-token"},
		},
		Routing: Routing{
			Default: "local", LocalModel: "qwen", RemoteModel: "gemini-3-flash",
			FIMModel:       SideModels{Local: "qwen2.5-coder:1.5b", Remote: "deepseek/deepseek-chat"},
			EmbeddingModel: SideModels{Local: "nomic-embed-text"},
			LocalBackoff:   5 * time.Second,
			Sessions:       "follow", SessionMax: 500, SessionTTL: 10 * time.Minute,
			Rules: []Rule{{When: "has_images", Use: "remote"}, {When: "est_tokens > 1000", Use: "zeta/big"}},
		},
		Providers: []Provider{
			{
				Name: "zeta", Type: "openai", APIKey: "zeta-key", BaseURL: "https://zeta.example.com/v1",
				Models: []string{"big", "small"}, Headers: map[string]Secret{"X-Org": "org-1"},
				Timeout: 30 * time.Second, IdleTimeout: 10 * time.Second, Local: &no,
				ContextWindow: 128000, DefaultMaxTokens: 4096, Protocols: []string{"completions", "embeddings"},
			},
			newProvider("alpha"),
			newProvider("mid"),
		},
		Usage: Usage{Retention: 30 * 24 * time.Hour, Path: "/tmp/usage.db",
			Prices: map[string]Price{"ollama/qwen3": {Input: 0.1, Output: 0.25}, "gpt-4o": {Input: 2, Output: 8}}},
	}
	c, err := Parse([]byte(in), "full.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := exported(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if c.Path != "" {
		t.Errorf("Parse set Path to %q, want it left to Load", c.Path)
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	const in = `
providers:
  base: &base {api_key: shared, timeout: 5s, models: [m1]}
  copy: *base
  merged:
    <<: *base
    timeout: 7s
`
	c, err := Parse([]byte(in), "x.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name    string
		key     Secret
		timeout time.Duration
	}{
		{"base", "shared", 5 * time.Second},
		{"copy", "shared", 5 * time.Second},
		{"merged", "shared", 7 * time.Second},
	}
	for _, tt := range tests {
		p, ok := c.Provider(tt.name)
		if !ok {
			t.Fatalf("provider %s missing", tt.name)
		}
		if string(p.APIKey) != string(tt.key) || p.Timeout != tt.timeout || len(p.Models) != 1 {
			t.Errorf("%s: got key %q timeout %v models %v, want %q %v [m1]",
				tt.name, string(p.APIKey), p.Timeout, p.Models, string(tt.key), tt.timeout)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("LR_TEST_PORT", "9090")
	t.Setenv("LR_TEST_YAML", "a: b\nc")
	t.Setenv("LR_TEST_EMPTY", "")
	t.Setenv("LR_TEST_REF", "${LR_TEST_PORT}")
	unsetenv(t, "LR_TEST_UNSET")
	tests := []struct {
		name  string
		yaml  string
		check func(*Config) (got, want any)
	}{
		{"number from env", "server: {port: '${LR_TEST_PORT}'}",
			func(c *Config) (any, any) { return c.Server.Port, 9090 }},
		{"unset means absent, so the default", "server: {port: '${LR_TEST_UNSET}'}",
			func(c *Config) (any, any) { return c.Server.Port, 8080 }},
		{"default form when unset", "server: {port: '${LR_TEST_UNSET:-7070}'}",
			func(c *Config) (any, any) { return c.Server.Port, 7070 }},
		{"default form when empty", "routing: {local_model: '${LR_TEST_EMPTY:-qwen}'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "qwen" }},
		{"default form when set", "routing: {local_model: '${LR_TEST_PORT:-qwen}'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "9090" }},
		{"unset key is empty", "providers: {openai: {api_key: '${LR_TEST_UNSET}'}}",
			func(c *Config) (any, any) { return string(c.Providers[0].APIKey), "" }},
		{"inside a longer value", "routing: {local_model: 'm-${LR_TEST_PORT}-x'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "m-9090-x" }},
		{"YAML-looking value stays a string", "routing: {local_model: '${LR_TEST_YAML}'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "a: b\nc" }},
		{"YAML-looking secret stays a string", "providers: {openai: {api_key: '${LR_TEST_YAML}'}}",
			func(c *Config) (any, any) { return string(c.Providers[0].APIKey), "a: b\nc" }},
		{"expanded once, not again", "routing: {local_model: '${LR_TEST_REF}'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "${LR_TEST_PORT}" }},
		{"dollar dollar stays", "routing: {local_model: 'a$$b$${LR_TEST_PORT}'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "a$$b$${LR_TEST_PORT}" }},
		{"lone dollar stays", "routing: {local_model: 'p$ss$'}",
			func(c *Config) (any, any) { return c.Routing.LocalModel, "p$ss$" }},
		{"unset header is dropped", "remote_strategy: {headers: {Authorization: '${LR_TEST_UNSET}'}}",
			func(c *Config) (any, any) { return len(c.RemoteStrategy.Headers), 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "x.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}

	t.Run("keys are not expanded", func(t *testing.T) {
		t.Setenv("LR_TEST_KEY", "port")
		_, err := Parse([]byte("server:\n  ${LR_TEST_KEY}: 1\n"), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), `unknown field "${LR_TEST_KEY}" in server`) {
			t.Errorf("got %v, want an unknown field error for the literal key", err)
		}
	})
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B": "two", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"${A}", "1", true},
		{"x${A}y${B}z", "x1ytwoz", true},
		{"${NOPE}", "", true},
		{"${NOPE:-d}", "d", true},
		{"${EMPTY:-d}", "d", true},
		{"${A:-d}", "1", true},
		{"${NOPE:-}", "", true},
		{"${A:-a:-b}", "1", true},
		{"$A", "$A", false},
		{"$", "$", false},
		{"$$", "$$", false},
		{"$${A}", "$${A}", false},
		{"${", "${", false},
		{"${A", "${A", false},
		{"${}", "${}", false},
		{"${1A}", "${1A}", false},
		{"${A B}", "${A B}", false},
		{"${A}${", "1${", true},
		{"price: $5", "price: $5", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, changed := expand(tt.in, lookup)
			if got != tt.want || changed != tt.changed {
				t.Errorf("expand(%q) = %q, %v, want %q, %v", tt.in, got, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestAddrAndProvider(t *testing.T) {
	c := Default()
	c.Server.Host = "::1"
	if got, want := c.Addr(), "[::1]:8080"; got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	c.Providers = []Provider{newProvider("a"), newProvider("b")}
	if p, ok := c.Provider("b"); !ok || p.Name != "b" {
		t.Errorf("Provider(b) = %v, %v, want b, true", p.Name, ok)
	}
	if _, ok := c.Provider("c"); ok {
		t.Errorf("Provider(c) found, want not found")
	}
}

// TestParseAliasBombs: aliases let a few lines stand for exponentially or
// quadratically many values; Parse must stay fast and not run out of memory.
func TestParseAliasBombs(t *testing.T) {
	t.Run("merges of merges", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("providers:\n  m0: &m0 {timeout: 5s}\n")
		for i := 1; i <= 100; i++ {
			fmt.Fprintf(&b, "  m%d: &m%d {<<: [*m%d, *m%d]}\n", i, i, i-1, i-1)
		}
		c, err := Parse([]byte(b.String()), "x.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := c.Provider("m100"); p.Timeout != 5*time.Second {
			t.Errorf("m100 timeout = %v, want 5s", p.Timeout)
		}
	})
	t.Run("lists of lists", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("mock: &s [")
		b.WriteString(strings.Repeat("a, ", 1000))
		b.WriteString("a]\nproviders:\n  p: &p {models: *s}\n")
		for i := range 1000 {
			fmt.Fprintf(&b, "  p%d: *p\n", i)
		}
		_, err := Parse([]byte(b.String()), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), "too many values") {
			t.Errorf("got %.200v, want a too many values error", err)
		}
	})
}

func TestParseAliasesKeepFileOrder(t *testing.T) {
	c, err := Parse([]byte(`
routing:
  aliases:
    "claude-*haiku*": local
    "claude-*": auto
    "gpt-5*": remote
    "big": ollama/qwen3:32b
providers:
  ollama: {base_url: "http://127.0.0.1:11434/v1", protocols: [anthropic]}
`), "aliases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Alias{{"claude-*haiku*", "local"}, {"claude-*", "auto"}, {"gpt-5*", "remote"}, {"big", "ollama/qwen3:32b"}}
	if !reflect.DeepEqual(c.Routing.Aliases, want) {
		t.Errorf("aliases: got %v, want %v", c.Routing.Aliases, want)
	}
	p, _ := c.Provider("ollama")
	if !p.Speaks("anthropic") || !p.Speaks("openai") || p.Speaks("responses") {
		t.Errorf("ollama with protocols [anthropic]: Speaks anthropic %v, openai %v, responses %v; want true, true, false",
			p.Speaks("anthropic"), p.Speaks("openai"), p.Speaks("responses"))
	}
}

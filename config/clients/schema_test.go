package clients

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	toml "github.com/pelletier/go-toml/v2"
)

// The files for Claude Code, Codex and opencode decode strictly into the
// shapes their docs give (unknown keys are errors), with the values the
// tools need to reach LocalRouter.

// claudeSettings is Claude Code's settings.json as far as setup writes it
// (docs.claude.com/en/docs/claude-code/settings, "Environment variables").
type claudeSettings struct {
	Env struct {
		BaseURL   string `json:"ANTHROPIC_BASE_URL"`
		AuthToken string `json:"ANTHROPIC_AUTH_TOKEN"`
		APIKey    string `json:"ANTHROPIC_API_KEY"`
		Opus      string `json:"ANTHROPIC_DEFAULT_OPUS_MODEL"`
		Sonnet    string `json:"ANTHROPIC_DEFAULT_SONNET_MODEL"`
		Haiku     string `json:"ANTHROPIC_DEFAULT_HAIKU_MODEL"`
	} `json:"env"`
}

// codexConfig is Codex's config.toml as far as setup writes it
// (github.com/openai/codex docs/config.md, "model_providers").
type codexConfig struct {
	Model          string `toml:"model"`
	ModelProvider  string `toml:"model_provider"`
	ModelProviders map[string]struct {
		Name    string `toml:"name"`
		BaseURL string `toml:"base_url"`
		EnvKey  string `toml:"env_key"`
		WireAPI string `toml:"wire_api"`
	} `toml:"model_providers"`
}

// opencodeConfig is opencode.json as far as setup writes it
// (opencode.ai/docs/providers, "Custom provider").
type opencodeConfig struct {
	Schema   string `json:"$schema"`
	Model    string `json:"model"`
	Provider map[string]struct {
		NPM     string `json:"npm"`
		Name    string `json:"name"`
		Options struct {
			BaseURL string `json:"baseURL"`
			APIKey  string `json:"apiKey"`
		} `json:"options"`
		Models map[string]struct {
			Name  string `json:"name"`
			Limit struct {
				Context int `json:"context"`
				Output  int `json:"output"`
			} `json:"limit"`
		} `json:"models"`
	} `json:"provider"`
}

func writeNew(t *testing.T, client string, tgt Target) []byte {
	t.Helper()
	r, err := Apply(client, tgt, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func strictJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("not the documented schema: %v\n%s", err, b)
	}
}

func TestClaudeCodeSchema(t *testing.T) {
	for _, key := range []string{testKey, ""} {
		tgt := testTarget()
		tgt.APIKey, tgt.Model = key, "local"
		var s claudeSettings
		strictJSON(t, writeNew(t, "claude-code", tgt), &s)
		wantToken := key
		if key == "" {
			wantToken = "localrouter" // any token: Claude Code asks for a login without one
		}
		e := s.Env
		if e.BaseURL != "http://127.0.0.1:8080" || e.AuthToken != wantToken || e.APIKey != "" ||
			e.Opus != "local" || e.Sonnet != "local" || e.Haiku != "local" {
			t.Errorf("key %q: env = %+v", key, e)
		}
	}
}

func TestCodexSchema(t *testing.T) {
	for _, key := range []string{testKey, ""} {
		tgt := testTarget()
		tgt.APIKey = key
		b := writeNew(t, "codex", tgt)
		var c codexConfig
		d := toml.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&c); err != nil {
			t.Fatalf("not the documented schema: %v\n%s", err, b)
		}
		p := c.ModelProviders[c.ModelProvider]
		if c.Model != "auto" || c.ModelProvider != "localrouter" || p.BaseURL != "http://127.0.0.1:8080/v1" || p.WireAPI != "responses" {
			t.Errorf("key %q: %+v", key, c)
		}
		// Codex reads the key from the variable env_key names; the key
		// itself never goes into config.toml.
		wantEnv := ""
		if key != "" {
			wantEnv = envKey
		}
		if p.EnvKey != wantEnv || (key != "" && strings.Contains(string(b), key)) {
			t.Errorf("key %q: env_key %q, want %q; file:\n%s", key, p.EnvKey, wantEnv, b)
		}
	}
}

// TestCodexKeyRemoved: a key taken out of LocalRouter's config takes
// env_key out of Codex's, or Codex would refuse to start without it.
func TestCodexKeyRemoved(t *testing.T) {
	env, tgt := testEnv(t), testTarget()
	if _, err := Apply("codex", tgt, env); err != nil {
		t.Fatal(err)
	}
	tgt.APIKey = ""
	r, err := Apply("codex", tgt, env)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(r.Path)
	if strings.Contains(string(b), "env_key") {
		t.Errorf("env_key kept:\n%s", b)
	}
}

func TestOpencodeSchema(t *testing.T) {
	tgt := testTarget()
	tgt.Model, tgt.Context = "ollama/qwen3", 40960
	var c opencodeConfig
	strictJSON(t, writeNew(t, "opencode", tgt), &c)
	p := c.Provider["localrouter"]
	if c.Model != "localrouter/ollama/qwen3" || p.NPM != "@ai-sdk/openai-compatible" ||
		p.Options.BaseURL != "http://127.0.0.1:8080/v1" || p.Options.APIKey != testKey {
		t.Errorf("%+v", c)
	}
	m, ok := p.Models["ollama/qwen3"]
	if !ok || m.Limit.Context != 40960 || m.Limit.Output != outputTokens {
		t.Errorf("models = %+v", p.Models)
	}
}

// TestPaths: each tool's file where its docs put it, per platform and
// with the variables that move it.
func TestPaths(t *testing.T) {
	cases := []struct {
		client, goos string
		env          map[string]string
		want         string
	}{
		{"claude-code", "linux", nil, "/h/.claude/settings.json"},
		{"claude-code", "linux", map[string]string{"CLAUDE_CONFIG_DIR": "/c"}, "/c/settings.json"},
		{"codex", "darwin", nil, "/h/.codex/config.toml"},
		{"codex", "linux", map[string]string{"CODEX_HOME": "/x"}, "/x/config.toml"},
		{"opencode", "linux", nil, "/h/.config/opencode/opencode.json"},
		{"opencode", "linux", map[string]string{"XDG_CONFIG_HOME": "/x"}, "/x/opencode/opencode.json"},
		{"opencode", "linux", map[string]string{"OPENCODE_CONFIG": "/p/oc.json"}, "/p/oc.json"},
		{"continue", "windows", nil, "/h/.continue/config.yaml"},
		{"zed", "linux", nil, "/h/.config/zed/settings.json"},
		{"zed", "linux", map[string]string{"XDG_CONFIG_HOME": "/x"}, "/x/zed/settings.json"},
		{"zed", "darwin", map[string]string{"XDG_CONFIG_HOME": "/x"}, "/h/.config/zed/settings.json"},
		{"zed", "windows", map[string]string{"APPDATA": "/appdata"}, "/appdata/Zed/settings.json"},
		{"cline", "linux", nil, "/h/.cline/data/settings/providers.json"},
		{"cline", "linux", map[string]string{"CLINE_DIR": "/c"}, "/c/data/settings/providers.json"},
		{"qwen-code", "windows", nil, "/h/.qwen/settings.json"},
		{"aider", "linux", nil, "/h/.aider.conf.yml"},
	}
	for _, c := range cases {
		env := Env{Home: "/h", GOOS: c.goos, Getenv: func(k string) string { return c.env[k] }}
		cl, _ := find(c.client)
		if got := filepath.ToSlash(cl.path(env)); got != c.want {
			t.Errorf("%s on %s with %v: %s, want %s", c.client, c.goos, c.env, got, c.want)
		}
	}
}

// TestPasteClients: the tools configured by pasting get their settings
// printed, never the key, and writing nothing there is nothing to undo.
func TestPasteClients(t *testing.T) {
	cases := []struct{ client, goos, want string }{
		{"copilot-cli", "linux", `export COPILOT_PROVIDER_BASE_URL="http://127.0.0.1:8080/v1"`},
		{"copilot-cli", "windows", `$env:COPILOT_MODEL = "auto"`},
		{"jetbrains", "linux", "URL:      http://127.0.0.1:8080/v1"},
		{"copilot", "linux", `"github.copilot.chat.byok.ollamaEndpoint": "http://127.0.0.1:8080"`},
	}
	for _, c := range cases {
		env := testEnv(t)
		env.GOOS = c.goos
		for _, f := range []func(string, Target, Env) (Result, error){Preview, Apply} {
			r, err := f(c.client, testTarget(), env)
			if err != nil {
				t.Fatal(err)
			}
			if r.Path != "" || r.Changed || !strings.Contains(r.Note, c.want) || strings.Contains(r.Note, testKey) {
				t.Errorf("%s on %s: %+v, want a note with %q and no key", c.client, c.goos, r, c.want)
			}
		}
		if entries, _ := os.ReadDir(env.Home); len(entries) != 0 {
			t.Errorf("%s wrote into the home directory", c.client)
		}
		if _, err := Undo(c.client, env); err == nil || !strings.Contains(err.Error(), ErrNothingToUndo.Error()) {
			t.Errorf("%s --undo: %v", c.client, err)
		}
	}
}

func TestUnknownClient(t *testing.T) {
	_, err := Apply("vim", testTarget(), testEnv(t))
	if err == nil || !strings.Contains(err.Error(), "claude-code") {
		t.Errorf("got %v, want an error listing the clients", err)
	}
}

func TestClientNames(t *testing.T) {
	var got []string
	for _, c := range Clients(testEnv(t)) {
		got = append(got, c.Name)
	}
	want := []string{"claude-code", "codex", "opencode", "continue", "zed", "cline", "qwen-code", "aider", "copilot-cli", "jetbrains", "copilot"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("clients (-want +got):\n%s", d)
	}
}

func TestClaudeCodeTiers(t *testing.T) {
	tgt := testTarget()
	tgt.Tiers = map[string]string{"haiku": "local", "opus": "anthropic/claude-opus-4-6"}
	var s claudeSettings
	strictJSON(t, writeNew(t, "claude-code", tgt), &s)
	if s.Env.Opus != "anthropic/claude-opus-4-6" || s.Env.Sonnet != "auto" || s.Env.Haiku != "local" {
		t.Errorf("tiers: %+v", s.Env)
	}
}

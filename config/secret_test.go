package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const key = "sk-live-0123456789abcdef"

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret(key)
	p := Provider{Name: "openai", APIKey: s, Headers: map[string]Secret{"X-Key": s}}
	tests := []struct {
		name string
		got  string
	}{
		{"%v", fmt.Sprintf("%v", s)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%10.3s", fmt.Sprintf("%10.3s", s)},
		{"Println", fmt.Sprintln(s)},
		{"struct %+v", fmt.Sprintf("%+v", p)},
		{"struct %#v", fmt.Sprintf("%#v", p)},
		{"pointer to config %v", fmt.Sprintf("%v", &Config{Providers: []Provider{p}})},
		{"json.Marshal", mustJSON(t, p)},
		{"json.Marshal map", mustJSON(t, map[string]Secret{"k": s})},
		{"yaml.Marshal", mustYAML(t, p)},
		{"slog attr", logJSON(slog.Any("api_key", s))},
		{"slog String attr", logJSON(slog.String("api_key", s.String()))},
		{"slog struct", logJSON(slog.Any("provider", p))},
		{"error wrapping", fmt.Errorf("call failed with key %v", s).Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, key) || strings.Contains(tt.got, key[:8]) {
				t.Errorf("output shows the secret: %s", tt.got)
			}
			if !strings.Contains(tt.got, "[redacted]") && !strings.Contains(tt.got, fmt.Sprintf("%x", "[redacted]")) &&
				tt.name != "%10.3s" {
				t.Errorf("output = %s, want [redacted] in it", tt.got)
			}
		})
	}
}

func TestSecretEmpty(t *testing.T) {
	var s Secret
	b, _ := json.Marshal(s)
	for _, got := range []string{s.String(), fmt.Sprint(s), s.LogValue().String(), string(b)} {
		if got != "" && got != `""` {
			t.Errorf("empty secret printed as %q, want empty", got)
		}
	}
	if got := Secret("x").String(); got != "[redacted]" {
		t.Errorf("String() = %q, want [redacted]", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func logJSON(attr slog.Attr) string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", attr)
	return buf.String()
}

func TestSecretsAndRedact(t *testing.T) {
	c := Default()
	c.Server.APIKey = "client-secret"
	c.RemoteStrategy.Headers = map[string]Secret{"Authorization": "Bearer strategy-token", "Empty": ""}
	c.Providers = []Provider{
		{Name: "a", APIKey: "sk-abc"},
		{Name: "b", APIKey: "sk-abc123456", Headers: map[string]Secret{"X": "client-secret"}},
		{Name: "c"},
	}
	got := c.Secrets()
	want := []string{"Bearer strategy-token", "client-secret", "sk-abc123456", "sk-abc"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Secrets() = %q, want %q (each once, longest first)", got, want)
	}

	tests := []struct{ in, want string }{
		{"no secrets here", "no secrets here"},
		{"upstream said: bad key sk-abc123456 (401)", "upstream said: bad key [redacted] (401)"},
		{"key=sk-abc, other=sk-abc123456.", "key=[redacted], other=[redacted]."},
		{"Authorization: Bearer strategy-token", "Authorization: [redacted]"},
		{"client-secretclient-secret", "[redacted][redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := c.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := Default().Redact("sk-abc"); got != "sk-abc" {
		t.Errorf("Redact with no secrets = %q, want it unchanged", got)
	}
}

// TestParseErrorsHideSecrets: a key in the wrong shape, or an environment
// value in the wrong field, must not show up in the error.
func TestParseErrorsHideSecrets(t *testing.T) {
	t.Setenv("LR_TEST_SECRET", key)
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"api_key as a list", "providers:\n  openai:\n    api_key: [" + key + "]\n",
			"config x.yaml:3:14: providers.openai.api_key: must be a string, got a list"},
		{"api_key as a mapping", "providers:\n  openai:\n    api_key: {" + key + ": 1}\n",
			"config x.yaml:3:14: providers.openai.api_key: must be a string, got a mapping"},
		{"header value as a list", "remote_strategy:\n  headers:\n    Authorization: [Bearer " + key + "]\n",
			"config x.yaml:3:20: remote_strategy.headers.Authorization: must be a string, got a list"},
		{"env secret in a number field", "server:\n  port: ${LR_TEST_SECRET}\n",
			"config x.yaml:2:9: server.port: must be a whole number; checked after ${VAR} expansion"},
		{"env secret in an enum field", "routing:\n  default: ${LR_TEST_SECRET}\n",
			`config x.yaml:2:3: routing.default: must be "local" or "remote"; checked after ${VAR} expansion`},
		{"key in a URL", "providers:\n  x:\n    base_url: ftp://user:" + key + "@host/v1\n",
			`config x.yaml:3:5: providers.x.base_url: must be an http or https URL, like "https://host/path"`},
		{"key pasted into the wrong field", "providers:\n  x:\n    api_key: " + key + "\n    type: " + key + "\n",
			"config x.yaml:4:5: providers.x.type: must be openai, anthropic, google or mock"},
		// Keys are named in messages; one that is also a secret is
		// redacted as a last line of defence.
		{"key used as a key", "providers:\n  x:\n    api_key: " + key + "\n    " + key + ": 1\n",
			`config x.yaml:4:5: unknown field "[redacted]" in providers.x`},
		{"bad header value", "providers:\n  x:\n    headers: {X-Key: \"" + key + "\\r\\nEvil: 1\"}\n",
			"config x.yaml:3:15: providers.x.headers.X-Key: the value must not contain a line break or NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "x.yaml")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Contains(err.Error(), key[:8]) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

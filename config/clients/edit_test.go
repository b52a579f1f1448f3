package clients

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
	"gopkg.in/yaml.v3"
)

func TestEditJSON(t *testing.T) {
	ops := []op{set("http://lr", "env", "URL"), upsert(field("name", "lr"), obj{{"name", "lr"}, {"n", 1}}, "list")}
	cases := []struct{ name, in, want string }{
		{"empty file", "", "{\n  \"env\": {\n    \"URL\": \"http://lr\"\n  },\n  \"list\": [\n    {\n      \"name\": \"lr\",\n      \"n\": 1\n    }\n  ]\n}\n"},
		{"one line", `{"a": 1, "env": {"B": "b"}, "list": [{"name": "x"}]}`,
			`{"a": 1, "env": {"B": "b", "URL": "http://lr"}, "list": [{"name": "x"}, {"name":"lr","n":1}]}`},
		{"empty objects", "{\n\t\"env\": {},\n\t\"list\": []\n}\n",
			"{\n\t\"env\": {\n\t\t\"URL\": \"http://lr\"\n\t},\n\t\"list\": [\n\t\t{\n\t\t\t\"name\": \"lr\",\n\t\t\t\"n\": 1\n\t\t}\n\t]\n}\n"},
		{"trailing commas and comments", "{\n  \"env\": {\n    \"B\": \"b\", // mine\n  },\n  /* list */ \"list\": [\n    {\"name\": \"lr\", \"n\": 0}, // old\n  ],\n}\n",
			"{\n  \"env\": {\n    \"B\": \"b\", // mine\n    \"URL\": \"http://lr\"\n  },\n  /* list */ \"list\": [\n    {\n      \"name\": \"lr\",\n      \"n\": 1\n    }, // old\n  ],\n}\n"},
		{"value replaced in place", "{\"env\": {\"URL\": \"old\" /* keep */}, \"list\": [{\"n\": 1, \"name\": \"lr\"}]}",
			"{\"env\": {\"URL\": \"http://lr\" /* keep */}, \"list\": [{\"n\": 1, \"name\": \"lr\"}]}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := editJSON("f.json", []byte(c.in), ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
	if _, err := editJSON("f.json", []byte("{\n  \"env\": \"x\"\n}"), ops); err == nil || !strings.Contains(err.Error(), "f.json:2") {
		t.Errorf("env not an object: %v, want an error at f.json:2", err)
	}
}

func TestEditTOML(t *testing.T) {
	ops := []op{set("auto", "model"), set("http://lr", "p", "lr", "url"), set("responses", "p", "lr", "wire"), del("p", "lr", "key")}
	cases := []struct{ name, in, want string }{
		{"table there, keys missing or stale", "[p.lr]\nurl = \"old\" # note\nkey = \"K\"\n\n[other]\nx = 1\n",
			"model = \"auto\"\n[p.lr]\nurl = \"http://lr\" # note\nwire = \"responses\"\n\n[other]\nx = 1\n"},
		{"no newline at the end", "model = 'gpt'", "model = \"auto\"\n\n[p.lr]\nurl = \"http://lr\"\nwire = \"responses\"\n"},
		{"a sub-table of ours is the user's", "[p.lr]\nurl = \"http://lr\"\n[p.lr.headers]\nX = \"y\"\n",
			"model = \"auto\"\n[p.lr]\nurl = \"http://lr\"\nwire = \"responses\"\n[p.lr.headers]\nX = \"y\"\n"},
		{"set already", "model = \"auto\"\n[p.lr]\nurl = 'http://lr'\nwire = \"responses\"\n", "model = \"auto\"\n[p.lr]\nurl = 'http://lr'\nwire = \"responses\"\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := editTOML("c.toml", []byte(c.in), ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
	for _, in := range []string{"p = {lr = {url = \"x\"}}\n", "[p]\nlr.url = \"x\"\n"} {
		_, err := editTOML("c.toml", []byte(in), ops)
		var pe *ParseError
		if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "inline") {
			t.Errorf("%q: %v, want a refusal to edit an inline table", in, err)
		}
	}
}

func TestTargetFor(t *testing.T) {
	local := true
	cfg := config.Default()
	cfg.Path = "/c.yaml"
	cfg.Server.Host, cfg.Server.Port, cfg.Server.APIKey = "0.0.0.0", 9090, "k"
	cfg.Routing.Default, cfg.Routing.RemoteModel = "local", "deepseek/deepseek-chat"
	cfg.Providers = []config.Provider{
		{Name: "ollama", Local: &local, ContextWindow: 40960, Models: []string{"qwen3"}},
		{Name: "deepseek", ContextWindow: 64000},
		{Name: "openai", Models: []string{"gpt-5"}},
	}
	cases := []struct {
		model string
		want  int
	}{
		{"", 40960}, // auto: routing.default is local
		{"local", 40960},
		{"remote", 64000},
		{"deepseek/deepseek-chat", 64000},
		{"qwen3", 40960},
		{"gpt-5", defaultContext},
		{"openai/gpt-5", defaultContext},
	}
	for _, c := range cases {
		got := TargetFor(cfg, c.model)
		if got.Context != c.want || got.URL != "http://127.0.0.1:9090" || got.APIKey != "k" || got.ConfigPath != "/c.yaml" {
			t.Errorf("%q: %+v, want context %d at http://127.0.0.1:9090", c.model, got, c.want)
		}
	}
	if m := TargetFor(cfg, "").Model; m != "auto" {
		t.Errorf("default model %q, want auto", m)
	}
	cfg.Routing.Aliases = []config.Alias{{Glob: "gpt-*", Target: "remote"}, {Glob: "claude-*haiku*", Target: "local"}, {Glob: "claude-opus-*", Target: "openai/gpt-5"}}
	tiers := TargetFor(cfg, "").Tiers
	if tiers["haiku"] != "local" || tiers["opus"] != "openai/gpt-5" || tiers["sonnet"] != "" {
		t.Errorf("tiers %v, want haiku local and opus openai/gpt-5 from the aliases, sonnet auto", tiers)
	}
	if tiers := TargetFor(cfg, "qwen3").Tiers; len(tiers) != 0 {
		t.Errorf("--model qwen3 gives tiers %v, want every tier qwen3", tiers)
	}
	cfg.Server.Host = "::1"
	if u := TargetFor(cfg, "").URL; u != "http://[::1]:9090" {
		t.Errorf("IPv6 host: %s", u)
	}
}

// TestQwenEntryReplaced: a new port or model replaces LocalRouter's entry
// in Qwen Code's list instead of adding a second one.
func TestQwenEntryReplaced(t *testing.T) {
	env, tgt := testEnv(t), testTarget()
	if _, err := Apply("qwen-code", tgt, env); err != nil {
		t.Fatal(err)
	}
	tgt.URL, tgt.Model = "http://127.0.0.1:9999", "local"
	r, err := Apply("qwen-code", tgt, env)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(r.Path)
	if n := strings.Count(string(b), `"envKey"`); n != 1 || !strings.Contains(string(b), "9999") {
		t.Errorf("%d entries after a second setup on another port:\n%s", n, b)
	}
}

// TestYAMLBlankLines: blank lines between entries stay; a block scalar's
// own blank lines stay content, no more and no fewer.
func TestYAMLBlankLines(t *testing.T) {
	in := "a: 1\n\nrules:\n  - |\n    one\n\n    three\n\n\nb: 2\n"
	got, err := editYAML("c.yaml", []byte(in), []op{set("x", "a"), set("y", "c")})
	if err != nil {
		t.Fatal(err)
	}
	want := "a: x\n\nrules:\n  - |\n    one\n\n    three\n\n\nb: 2\nc: y\n"
	if string(got) != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	var v struct{ Rules []string }
	if err := yaml.Unmarshal(got, &v); err != nil || len(v.Rules) != 1 || v.Rules[0] != "one\n\nthree\n" {
		t.Errorf("the block scalar reads %q (%v)", v.Rules, err)
	}
}

// TestParseErrorsQuoteNoValue: a key typed without quotes is not repeated
// in the error, which reaches the terminal and the tray's notification.
func TestParseErrorsQuoteNoValue(t *testing.T) {
	for _, in := range []string{"{\n  \"apiKey\": sk-secret-token\n}", "{\"apiKey\": \"sk-secret-token\t\"}"} {
		_, err := editJSON("s.json", []byte(in), nil)
		if err == nil || strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestContinueJSONKept: a user still on Continue's config.json gets no
// config.yaml, which would hide it.
func TestContinueJSONKept(t *testing.T) {
	env := testEnv(t)
	dir := filepath.Join(env.Home, ".continue")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"models": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply("continue", testTarget(), env); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("got %v, want a refusal naming config.json", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
		t.Error("config.yaml written beside config.json")
	}
}

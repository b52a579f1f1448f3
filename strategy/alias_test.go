package strategy

import (
	"strings"
	"testing"
)

func TestMatchGlob(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"claude-*", "claude-sonnet-4-6", true},
		{"claude-*", "claude-", true},
		{"claude-*", "claude", false},
		{"claude-*haiku*", "claude-haiku-4-5", true},
		{"claude-*haiku*", "claude-3-5-haiku-20241022", true},
		{"claude-*haiku*", "claude-sonnet-4-6", false},
		{"*[1m]", "claude-sonnet-4-6[1m]", true},
		{"gpt-5*", "gpt-5.1-codex", true},
		{"gpt-5*", "gpt-4o", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*/llama-*", "openrouter/meta/llama-4", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"**", "anything", true},
	}
	for _, c := range cases {
		if got := MatchGlob(c.pattern, c.name); got != c.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func BenchmarkMatchGlob(b *testing.B) {
	for b.Loop() {
		MatchGlob("claude-*haiku*", "claude-3-5-sonnet-20241022-with-a-long-tail")
	}
}

func TestAliases(t *testing.T) {
	table := engineTable()
	table.Providers = append(table.Providers, Provider{Name: "anthropic", Kind: "anthropic"})
	table.Aliases = []Alias{
		{Glob: "claude-*haiku*", Target: "local"},
		{Glob: "claude-opus-*", Target: "anthropic/claude-opus-4-6"},
		{Glob: "claude-*", Target: "auto"},
		{Glob: "gpt-5*", Target: "remote"},
	}
	e, err := NewEngine(table)
	if err != nil {
		t.Fatal(err)
	}
	localStrategy := &Strategy{Strategy: Local, LocalModel: "qwen3", RemoteModel: "deepseek-reasoner"}
	tests := []struct {
		name, model string
		live        Live
		wantRoute   string
		wantReason  string
		explicit    bool
	}{
		{"first match wins", "claude-haiku-4-5", Live{Strategy: &Strategy{Strategy: Remote}}, "local:ollama/qwen3", "alias claude-*haiku*, side requested", false},
		{"auto follows the strategy", "claude-sonnet-4-6", Live{Strategy: localStrategy}, "local:ollama/qwen3", "alias claude-*, strategy", false},
		{"auto follows the override", "claude-sonnet-4-6[1m]", Live{Strategy: localStrategy, Override: Remote}, "remote:deepseek/deepseek-reasoner", "alias claude-*, override", false},
		{"provider/model is explicit", "claude-opus-4-6", Live{Strategy: localStrategy}, "remote:anthropic/claude-opus-4-6", "alias claude-opus-*, provider named", true},
		{"side", "gpt-5.1-codex", Live{Strategy: localStrategy}, "remote:deepseek/deepseek-reasoner", "alias gpt-5*, side requested", false},
		{"no alias: a claude name keeps its meaning", "qwen3", Live{}, "local:ollama/qwen3", "model listed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(&Request{Model: tt.model}, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(d.Side) + ":" + d.Provider + "/" + d.Model; got != tt.wantRoute {
				t.Errorf("route %s, want %s", got, tt.wantRoute)
			}
			if !strings.HasPrefix(d.Reason, tt.wantReason) {
				t.Errorf("reason %q, want %q", d.Reason, tt.wantReason)
			}
			if d.Explicit != tt.explicit {
				t.Errorf("explicit %v, want %v", d.Explicit, tt.explicit)
			}
		})
	}

	// Without an alias a claude name is routed as any unknown name (DESIGN
	// §5 step 3); with no remote model configured it keeps its own name,
	// which goes to the anthropic provider by prefix.
	plain := engineTable()
	plain.RemoteModel = ""
	plain.Providers = append(plain.Providers, Provider{Name: "anthropic", Kind: "anthropic"})
	pe, _ := NewEngine(plain)
	d, err := pe.Decide(&Request{Model: "claude-sonnet-4-6"}, Live{Strategy: &Strategy{Strategy: Remote}})
	if err != nil || d.Provider != "anthropic" || d.Model != "claude-sonnet-4-6" {
		t.Errorf("no alias: got %+v, %v; want anthropic/claude-sonnet-4-6", d, err)
	}

	// A fallback of an aliased request goes to the other side's model, not
	// the client's tier name.
	d, _ = e.Decide(&Request{Model: "claude-sonnet-4-6"}, Live{Strategy: localStrategy})
	alt, ok := e.Fallback(&Request{Model: "claude-sonnet-4-6"}, d, Live{Strategy: localStrategy})
	if !ok || alt.Provider != "deepseek" || alt.Model != "deepseek-reasoner" {
		t.Errorf("fallback: got %+v, %v; want deepseek/deepseek-reasoner", alt, ok)
	}
}

func TestAliasTargetsAreChecked(t *testing.T) {
	for _, target := range []string{"", "nowhere/x", "qwen3"} {
		table := engineTable()
		table.Aliases = []Alias{{Glob: "claude-*", Target: target}}
		if _, err := NewEngine(table); err == nil {
			t.Errorf("alias target %q was accepted", target)
		}
	}
}

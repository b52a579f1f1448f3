package strategy

import (
	"errors"
	"strings"
	"testing"
)

func TestPrivateStaysLocal(t *testing.T) {
	remoteStrategy := &Strategy{Strategy: Remote, RemoteModel: "deepseek-reasoner"}
	tests := []struct {
		name       string
		rules      []RuleSpec
		aliases    []Alias
		req        Request
		live       Live
		wantRoute  string
		wantReason string // substring
	}{
		{name: "local only keeps auto local under a remote strategy", req: Request{Model: "auto"},
			live: Live{Private: true, Strategy: remoteStrategy}, wantRoute: "local:ollama/qwen3", wantReason: "private: local only, kept local from deepseek/deepseek-reasoner"},
		{name: "local only beats a remote override", req: Request{Model: "auto"},
			live: Live{Private: true, Override: Remote}, wantRoute: "local:ollama/qwen3", wantReason: "kept local from deepseek/deepseek-chat"},
		{name: "a private request naming remote stays local", req: Request{Model: "remote", Private: "header"},
			wantRoute: "local:ollama/qwen3", wantReason: "private: header, kept local from deepseek/deepseek-chat"},
		{name: "a remote provider/model stays local", req: Request{Model: "deepseek/deepseek-chat", Private: "secret: AWS access key"},
			wantRoute: "local:ollama/qwen3", wantReason: "private: secret: AWS access key"},
		{name: "a model only a remote provider lists stays local", req: Request{Model: "deepseek-reasoner", Private: "header"},
			wantRoute: "local:ollama/qwen3", wantReason: "kept local from deepseek/deepseek-reasoner"},
		{name: "a remote alias stays local", aliases: []Alias{{Glob: "claude-*", Target: "deepseek/deepseek-chat"}},
			req: Request{Model: "claude-sonnet-4", Private: "header"}, wantRoute: "local:ollama/qwen3", wantReason: "kept local"},
		{name: "a local provider/model is kept as asked", req: Request{Model: "ollama/qwen3-coder", Private: "header"},
			wantRoute: "local:ollama/qwen3-coder", wantReason: "provider named, private: header"},
		{name: "a remote rule yields", rules: []RuleSpec{{When: "true", Use: "deepseek/deepseek-reasoner"}},
			req: Request{Model: "auto"}, live: Live{Private: true}, wantRoute: "local:ollama/qwen3", wantReason: "kept local from deepseek/deepseek-reasoner"},
		{name: "a use: private rule", rules: []RuleSpec{{When: "true", Use: "remote"}, {When: `client == "codex"`, Use: "private"}},
			req: Request{Model: "deepseek/deepseek-chat", Client: "codex"}, wantRoute: "local:ollama/qwen3", wantReason: "private: rule 2 (config"},
		{name: "a use: private rule that does not hold", rules: []RuleSpec{{When: `client == "codex"`, Use: "private"}},
			req: Request{Model: "auto", Client: "aider"}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "default side"},
		{name: "a private rule of the strategy", req: Request{Model: "auto", HasImages: true},
			live:      Live{Strategy: &Strategy{Strategy: Remote, Rules: []RuleSpec{{When: "has_images", Use: "private"}}}},
			wantRoute: "local:ollama/qwen3", wantReason: "private: rule 1 (strategy)"},
		{name: "completions keep the local fim model", req: Request{Model: "auto", Endpoint: EndpointCompletions, Private: "header"},
			live: Live{Override: Remote}, wantRoute: "local:ollama/qwen2.5-coder", wantReason: "fim model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := engineTable(tc.rules...)
			tab.Aliases = tc.aliases
			tab.FIMModel = SideModels{Local: "qwen2.5-coder", Remote: "deepseek-chat"}
			e, err := NewEngine(tab)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(&tc.req, tc.live)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(d.Side) + ":" + d.Provider + "/" + d.Model; got != tc.wantRoute {
				t.Errorf("got route %s (%s), want %s", got, d.Reason, tc.wantRoute)
			}
			if !strings.Contains(d.Reason, tc.wantReason) {
				t.Errorf("got reason %q, want it to hold %q", d.Reason, tc.wantReason)
			}
			wantPrivate := tc.live.Private || tc.req.Private != "" || strings.Contains(tc.wantReason, "private")
			if d.Private != wantPrivate {
				t.Errorf("got Private %v, want %v", d.Private, wantPrivate)
			}
			if _, ok := e.Fallback(&tc.req, d, tc.live); ok && d.Private {
				t.Error("a private decision has a fallback")
			}
		})
	}
}

func TestPrivateRefusedWhenLocalCannotServe(t *testing.T) {
	onlyRemote := Table{Default: Remote, RemoteModel: "deepseek-chat", Fallback: true,
		Providers: []Provider{{Name: "deepseek", Kind: "openai", Models: []string{"deepseek-chat"}}}}
	noLocalModel := engineTable()
	noLocalModel.LocalModel = ""
	noLocalModel.Providers[0].Models = nil
	for _, tc := range []struct {
		name string
		tab  Table
		req  Request
		live Live
		want string
	}{
		{"local side down", engineTable(), Request{Model: "auto", Private: "header"}, Live{LocalDown: true}, "the local side is down"},
		{"local only, local side down", engineTable(), Request{Model: "remote"}, Live{LocalDown: true, Private: true}, "turn Local only off"},
		{"no local provider", onlyRemote, Request{Model: "auto"}, Live{Private: true}, "no local provider is configured"},
		{"no local model", noLocalModel, Request{Model: "deepseek-chat", Private: "header"}, Live{}, "set routing.local_model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEngine(tc.tab)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(&tc.req, tc.live)
			var pe *PrivateError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *PrivateError", d, err)
			}
			if !strings.Contains(pe.Msg, tc.want) || !strings.Contains(pe.Msg, "does not send it remote") {
				t.Errorf("got %q, want it to say %q and that it is not sent remote", pe.Msg, tc.want)
			}
		})
	}
}

func TestRuleUsePrivateCompiles(t *testing.T) {
	if _, err := CompileRules([]string{"true"}, []string{"private"}, "config"); err != nil {
		t.Fatal(err)
	}
	_, err := CompileRules([]string{"true"}, []string{"privat"}, "config")
	if err == nil || !strings.Contains(err.Error(), `"private"`) {
		t.Errorf("got %v, want an error naming private among the actions", err)
	}
}

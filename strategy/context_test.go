package strategy

import "testing"

type fakeLocal map[string]ModelInfo

func (f fakeLocal) ModelInfo(provider, model string) (ModelInfo, bool) {
	mi, ok := f[provider+"/"+model]
	return mi, ok
}

func TestContextGuard(t *testing.T) {
	table := Table{
		Default: Local, LocalModel: "qwen3:8b", RemoteModel: "deepseek-chat", Fallback: true, ContextGuard: true,
		Providers: []Provider{
			{Name: "ollama", Kind: "openai", Local: true},
			{Name: "sized", Kind: "openai", Local: true, ContextWindow: 32768, Models: []string{"big"}},
			{Name: "deepseek", Kind: "openai", Models: []string{"deepseek-chat"}},
		},
	}
	learned := fakeLocal{
		"ollama/qwen3:8b": {ContextWindow: 8192, ToolsKnown: true},
		"sized/big":       {ContextWindow: 4096, Tools: true, ToolsKnown: true},
	}
	local := &Strategy{Strategy: Local}
	tests := []struct {
		name       string
		req        Request
		live       Live
		guardOff   bool
		wantRoute  string
		wantReason string
	}{
		{name: "fits", req: Request{Model: "auto", EstTokens: 2000}, live: Live{Strategy: local},
			wantRoute: "local:ollama/qwen3:8b", wantReason: "strategy"},
		{name: "prompt too long", req: Request{Model: "auto", EstTokens: 20000}, live: Live{Strategy: local},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "strategy, exceeds local context 8192"},
		{name: "prompt plus max_tokens too long", req: Request{Model: "auto", EstTokens: 4000, MaxTokens: 5000},
			live: Live{Strategy: local}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "strategy, exceeds local context 8192"},
		{name: "default side guarded too", req: Request{Model: "auto", EstTokens: 20000},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "default side, exceeds local context 8192"},
		{name: "tools without the capability", req: Request{Model: "auto", EstTokens: 100, HasTools: true},
			live: Live{Strategy: local}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "strategy, local model has no tools"},
		{name: "nothing learned: trusted", req: Request{Model: "auto", EstTokens: 20000, HasTools: true},
			live: Live{Strategy: local, Local: fakeLocal{}}, wantRoute: "local:ollama/qwen3:8b", wantReason: "strategy"},
		{name: "config context_window wins over the backend", req: Request{Model: "auto", EstTokens: 20000},
			live:      Live{Strategy: &Strategy{Strategy: Local, LocalModel: "sized/big"}},
			wantRoute: "local:sized/big", wantReason: "strategy"},
		{name: "explicit provider/model is sent as asked", req: Request{Model: "ollama/qwen3:8b", EstTokens: 20000, HasTools: true},
			live: Live{Strategy: local}, wantRoute: "local:ollama/qwen3:8b", wantReason: "provider named"},
		{name: "side requested is sent as asked", req: Request{Model: "local", EstTokens: 20000},
			live: Live{Strategy: local}, wantRoute: "local:ollama/qwen3:8b", wantReason: "side requested"},
		{name: "guard off", req: Request{Model: "auto", EstTokens: 20000}, live: Live{Strategy: local}, guardOff: true,
			wantRoute: "local:ollama/qwen3:8b", wantReason: "strategy"},
		{name: "degraded local goes remote", req: Request{Model: "auto", EstTokens: 10},
			live: Live{Strategy: local, LocalDegraded: true}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "strategy, local degraded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := table
			tb.ContextGuard = !tt.guardOff
			e, err := NewEngine(tb)
			if err != nil {
				t.Fatal(err)
			}
			if tt.live.Local == nil {
				tt.live.Local = learned
			}
			d, err := e.Decide(&tt.req, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(d.Side) + ":" + d.Provider + "/" + d.Model; got != tt.wantRoute || d.Reason != tt.wantReason {
				t.Errorf("got %s (%s), want %s (%s)", got, d.Reason, tt.wantRoute, tt.wantReason)
			}
		})
	}
}

func TestLocalContextIsLearned(t *testing.T) {
	e, err := NewEngine(Table{Default: Remote, LocalModel: "qwen3:8b", RemoteModel: "deepseek-chat",
		Providers: []Provider{{Name: "ollama", Kind: "openai", Local: true}, {Name: "deepseek", Kind: "openai"}},
		Rules:     []RuleSpec{{When: "est_tokens < local_context", Use: "local"}}})
	if err != nil {
		t.Fatal(err)
	}
	live := Live{Local: fakeLocal{"ollama/qwen3:8b": {ContextWindow: 8192}}}
	for _, tc := range []struct {
		est  int
		side Side
	}{{1000, Local}, {9000, Remote}} {
		d, err := e.Decide(&Request{Model: "auto", EstTokens: tc.est}, live)
		if err != nil || d.Side != tc.side {
			t.Errorf("est %d: %v %v, want %s", tc.est, d, err, tc.side)
		}
	}
}

// BenchmarkDecideGuarded is BenchmarkDecide's strategy-routed request with
// the context guard on and a learned local model, the per-request cost the
// guard adds.
func BenchmarkDecideGuarded(b *testing.B) {
	e, err := NewEngine(Table{Default: Local, LocalModel: "qwen3:8b", RemoteModel: "deepseek-chat", Fallback: true, ContextGuard: true,
		Providers: []Provider{{Name: "ollama", Kind: "openai", Local: true}, {Name: "deepseek", Kind: "openai", Models: []string{"deepseek-chat"}}}})
	if err != nil {
		b.Fatal(err)
	}
	live := Live{Strategy: &Strategy{Strategy: Local}, Local: fakeLocal{"ollama/qwen3:8b": {ContextWindow: 32768, Tools: true, ToolsKnown: true}}}
	r := &Request{Model: "auto", EstTokens: 20000, HasTools: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(r, live); err != nil {
			b.Fatal(err)
		}
	}
}

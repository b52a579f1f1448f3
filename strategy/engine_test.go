package strategy

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// engineTable has a local and a remote provider and one rule of each origin.
func engineTable(rules ...RuleSpec) Table {
	return Table{
		Default: Remote, LocalModel: "qwen3", RemoteModel: "deepseek-chat", Fallback: true,
		Providers: []Provider{
			{Name: "ollama", Kind: "openai", Local: true, Models: []string{"qwen3"}, ContextWindow: 32768},
			{Name: "deepseek", Kind: "openai", Models: []string{"deepseek-chat", "deepseek-reasoner"}},
		},
		Rules: rules,
	}
}

func TestDecisionOrder(t *testing.T) {
	localStrategy := &Strategy{Strategy: Local, LocalModel: "qwen3", RemoteModel: "deepseek-reasoner"}
	withRules := func(s *Strategy, rules ...RuleSpec) *Strategy {
		c := *s
		c.Rules = rules
		return &c
	}
	tests := []struct {
		name       string
		rules      []RuleSpec // config rules
		req        Request
		live       Live
		wantRoute  string // side:provider/model
		wantReason string // substring
	}{
		{name: "explicit provider/model beats the override", req: Request{Model: "deepseek/deepseek-chat"},
			live: Live{Override: Local}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "provider named"},
		{name: "listed model beats the strategy", req: Request{Model: "deepseek-reasoner"},
			live: Live{Strategy: localStrategy}, wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "listed"},
		{name: "named side beats the override", req: Request{Model: "remote"},
			live: Live{Override: Local}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "side requested"},
		{name: "named side uses the strategy's model", req: Request{Model: "remote"},
			live: Live{Strategy: localStrategy}, wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "side requested"},
		{name: "override beats rules and strategy", rules: []RuleSpec{{When: "true", Use: "remote"}}, req: Request{Model: "auto"},
			live: Live{Override: Local, Strategy: localStrategy}, wantRoute: "local:ollama/qwen3", wantReason: "override"},
		{name: "config rule beats the strategy's rule", rules: []RuleSpec{{When: "has_images", Use: "remote"}},
			req: Request{Model: "auto", HasImages: true}, live: Live{Strategy: withRules(localStrategy, RuleSpec{When: "has_images", Use: "local"})},
			wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "rule 1 (config)"},
		{name: "strategy rule when no config rule matches", rules: []RuleSpec{{When: "has_tools", Use: "local"}},
			req: Request{Model: "auto", EstTokens: 70000}, live: Live{Strategy: withRules(localStrategy, RuleSpec{When: "est_tokens > 60000", Use: "remote"})},
			wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "rule 1 (strategy)"},
		{name: "rule naming provider/model", rules: []RuleSpec{{When: `header("X-Route") == "think"`, Use: "deepseek/deepseek-reasoner"}},
			req:       Request{Model: "auto", Header: func(n string) string { return map[string]string{"X-Route": "think"}[n] }},
			wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "rule 1 (config)"},
		{name: "local_context keeps a long prompt off the local side", rules: []RuleSpec{{When: "est_tokens > local_context", Use: "remote"}},
			req: Request{Model: "auto", EstTokens: 40000}, live: Live{Strategy: localStrategy},
			wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "rule 1 (config)"},
		{name: "a short prompt stays local", rules: []RuleSpec{{When: "est_tokens > local_context", Use: "remote"}},
			req: Request{Model: "auto", EstTokens: 400}, live: Live{Strategy: localStrategy},
			wantRoute: "local:ollama/qwen3", wantReason: "strategy"},
		{name: "strategy side with its model", req: Request{Model: "auto"}, live: Live{Strategy: localStrategy},
			wantRoute: "local:ollama/qwen3", wantReason: "strategy"},
		{name: "default without a strategy", req: Request{Model: "auto"},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "default side"},
		{name: "local down goes remote", req: Request{Model: "auto"}, live: Live{Strategy: localStrategy, LocalDown: true},
			wantRoute: "remote:deepseek/deepseek-reasoner", wantReason: "local down"},
		{name: "local_up is false in rules when down", rules: []RuleSpec{{When: "!local_up", Use: "deepseek/deepseek-chat"}},
			req: Request{Model: "auto"}, live: Live{LocalDown: true}, wantRoute: "remote:deepseek/deepseek-chat", wantReason: "rule 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEngine(engineTable(tt.rules...))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(&tt.req, tt.live)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			got := fmt.Sprintf("%s:%s/%s", d.Side, d.Provider, d.Model)
			if got != tt.wantRoute || !strings.Contains(d.Reason, tt.wantReason) {
				t.Errorf("got %s, want %s (…%s…)", d, tt.wantRoute, tt.wantReason)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: &Strategy{Strategy: Local}}
	r := &Request{Model: "auto"}
	d, _ := e.Decide(r, live)
	alt, ok := e.Fallback(r, d, live)
	if !ok || alt.Side != Remote || alt.Provider != "deepseek" || !strings.Contains(alt.Reason, "fallback") {
		t.Errorf("Fallback(%s) = %s, %v; want the remote side", d, alt, ok)
	}
	back, ok := e.Fallback(r, alt, live)
	if !ok || back.Side != Local {
		t.Errorf("Fallback(%s) = %s, %v; want the local side", alt, back, ok)
	}
	explicit, _ := e.Decide(&Request{Model: "ollama/qwen3"}, live)
	if _, ok := e.Fallback(r, explicit, live); ok {
		t.Error("an explicit provider/model fell back")
	}
	off := engineTable()
	off.Fallback = false
	eoff, _ := NewEngine(off)
	if _, ok := eoff.Fallback(r, d, live); ok {
		t.Error("fell back with routing.fallback off")
	}
}

func TestRulesThatCannotRoute(t *testing.T) {
	if _, err := NewEngine(engineTable(RuleSpec{When: "est_tokens >", Use: "remote"})); err == nil {
		t.Error("a config rule that does not compile was accepted")
	}
	e, _ := NewEngine(engineTable())
	if err := e.CheckStrategy(&Strategy{Strategy: Remote, RemoteModel: "deepseek-reasoner", LocalModel: "qwen3"}); err != nil {
		t.Errorf("CheckStrategy rejected a servable strategy: %v", err)
	}
	for _, s := range []*Strategy{
		{Strategy: Local, Rules: []RuleSpec{{When: "est_tokens >", Use: "remote"}}},
		{Strategy: Local, Rules: []RuleSpec{{When: "true", Use: "nope/x"}}},
		{Strategy: Local, Rules: []RuleSpec{{When: "$env", Use: "remote"}}},
	} {
		if err := e.CheckStrategy(s); err == nil {
			t.Errorf("CheckStrategy accepted rules %+v", s.Rules)
		}
	}
	two := engineTable()
	two.Providers = append(two.Providers, Provider{Name: "openai", Kind: "openai"})
	e2, _ := NewEngine(two)
	if err := e2.CheckStrategy(&Strategy{Strategy: Remote, RemoteModel: "mystery-model"}); err == nil {
		t.Error("CheckStrategy accepted a remote model no provider serves")
	}
	if err := e2.CheckStrategy(&Strategy{Strategy: Remote, RemoteModel: "gpt-5"}); err != nil {
		t.Errorf("CheckStrategy rejected a model the openai provider serves by prefix: %v", err)
	}
}

// TestDecisionsSeeOneSnapshot flips the strategy 1,000 times while 1,000
// goroutines decide: every decision must come from a single strategy, never
// the side of one and the model of another.
func TestDecisionsSeeOneSnapshot(t *testing.T) {
	e, err := NewEngine(Table{Default: Remote, Fallback: true, Providers: []Provider{
		{Name: "box", Local: true}, {Name: "cloud"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Generation k routes local with model L<k> when k is even, remote with
	// R<k> when odd; its rule sends tool requests to the other side.
	var cur atomic.Pointer[Strategy]
	gen := func(k int) *Strategy {
		s := &Strategy{Strategy: Local, LocalModel: fmt.Sprintf("L%d", k), RemoteModel: fmt.Sprintf("R%d", k)}
		other := "remote"
		if k%2 == 1 {
			s.Strategy, other = Remote, "local"
		}
		s.Rules = []RuleSpec{{When: "has_tools", Use: other}}
		return s
	}
	cur.Store(gen(0))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 1000)
	for g := 0; g < 1000; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := &Request{Model: "auto", HasTools: g%2 == 0}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d, err := e.Decide(r, Live{Strategy: cur.Load()})
				if err != nil {
					errs <- err.Error()
					return
				}
				var k int
				fmt.Sscanf(d.Model[1:], "%d", &k)
				wantSide := Local
				if (k%2 == 1) != r.HasTools { // odd generation or a tool request, not both
					wantSide = Remote
				}
				wantPrefix := "L"
				if wantSide == Remote {
					wantPrefix = "R"
				}
				if d.Side != wantSide || !strings.HasPrefix(d.Model, wantPrefix) {
					errs <- fmt.Sprintf("mixed snapshot: %s (tools=%v)", d, r.HasTools)
					return
				}
				if i%8 == 7 {
					return // enough decisions per goroutine; keeps the test short under -race
				}
			}
		}(g)
	}
	for k := 1; k <= 1000; k++ {
		cur.Store(gen(k))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkDecide10Rules is one auto decision where none of 10 realistic
// rules matches until the last, so all ten run.
func BenchmarkDecide10Rules(b *testing.B) {
	rules := []RuleSpec{
		{When: "has_images", Use: "remote"},
		{When: "est_tokens > 60000", Use: "remote"},
		{When: `header("x-route") == "local"`, Use: "local"},
		{When: "hour >= 22 && hour < 7", Use: "local"},
		{When: `model startsWith "claude"`, Use: "remote"},
		{When: "messages > 200", Use: "remote"},
		{When: "!local_up", Use: "remote"},
		{When: "prompt_chars > local_context * 3", Use: "remote"},
		{When: "weekday == 9", Use: "local"},
		{When: "stream && has_tools", Use: "deepseek/deepseek-reasoner"},
	}
	e, err := NewEngine(engineTable(rules...))
	if err != nil {
		b.Fatal(err)
	}
	h := map[string][]string{"Content-Type": {"application/json"}}
	r := &Request{Model: "auto", Stream: true, HasTools: true, Messages: 12, PromptChars: 9000, EstTokens: 2300, Header: HeaderFunc(h)}
	live := Live{Strategy: &Strategy{Strategy: Local, LocalModel: "qwen3", RemoteModel: "deepseek-chat"}}
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(r, live)
		if err != nil || d.Model != "deepseek-reasoner" {
			b.Fatalf("%v %v", d, err)
		}
	}
}

func TestRulesPassOverTargetsThatCannotServe(t *testing.T) {
	tb := engineTable(
		RuleSpec{When: "true", Use: "openai/gpt-5"}, // configured, but skipped for want of a key
		RuleSpec{When: "has_images", Use: "remote"},
	)
	tb.Skipped = []string{"openai"}
	e, err := NewEngine(tb)
	if err != nil {
		t.Fatalf("a rule naming a skipped provider rejected the config: %v", err)
	}
	d, err := e.Decide(&Request{Model: "auto", HasImages: true}, Live{Strategy: &Strategy{Strategy: Local}})
	if err != nil || d.Reason != "rule 2 (config)" || d.Side != Remote {
		t.Errorf("got %s, %v; want rule 2 after passing over the skipped provider", d, err)
	}
	// A side rule whose side has no provider gives way to the strategy's rule.
	only := Table{Default: Remote, Providers: []Provider{{Name: "cloud"}},
		Rules: []RuleSpec{{When: "true", Use: "local"}}}
	e2, _ := NewEngine(only)
	d, err = e2.Decide(&Request{Model: "auto"}, Live{Strategy: &Strategy{Strategy: Remote, RemoteModel: "m",
		Rules: []RuleSpec{{When: "true", Use: "remote"}}}})
	if err != nil || d.Reason != "rule 1 (strategy)" {
		t.Errorf("got %s, %v; want the strategy's rule after the unservable local rule", d, err)
	}
}

// TestEndpointModels: the completions and embeddings doors use the side's
// fim_model or embedding_model where one is set, over the config's and the
// strategy's chat models, for every name the strategy routes; a name that
// picks a provider keeps it.
func TestEndpointModels(t *testing.T) {
	tb := engineTable()
	tb.Providers = append(tb.Providers, Provider{Name: "mistral", Kind: "openai", Models: []string{"codestral-latest"}})
	tb.FIMModel = SideModels{Local: "qwen2.5-coder:1.5b", Remote: "mistral/codestral-latest"}
	tb.EmbeddingModel = SideModels{Local: "nomic-embed-text"}
	localStrategy := &Strategy{Strategy: Local, LocalModel: "qwen3", RemoteModel: "deepseek-reasoner"}
	fimLocal := []RuleSpec{{When: `endpoint == "completions"`, Use: "local"}}
	tests := []struct {
		name       string
		rules      []RuleSpec
		req        Request
		live       Live
		wantRoute  string
		wantReason string // substring; "-" says the reason must name no endpoint model
	}{
		{name: "fim auto, default side", req: Request{Model: "auto", Endpoint: "completions"},
			wantRoute: "remote:mistral/codestral-latest", wantReason: "default side, fim model"},
		{name: "fim over the strategy's model", req: Request{Model: "auto", Endpoint: "completions"}, live: Live{Strategy: localStrategy},
			wantRoute: "local:ollama/qwen2.5-coder:1.5b", wantReason: "strategy, fim model"},
		{name: "fim local", req: Request{Model: "local", Endpoint: "completions"},
			wantRoute: "local:ollama/qwen2.5-coder:1.5b", wantReason: "fim model"},
		{name: "fim with a name an editor hard-codes", req: Request{Model: "gpt-3.5-turbo-instruct", Endpoint: "completions"},
			wantRoute: "remote:mistral/codestral-latest", wantReason: "fim model"},
		{name: "fim provider/model is kept", req: Request{Model: "deepseek/deepseek-chat", Endpoint: "completions"},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "-"},
		{name: "fim listed model is kept", req: Request{Model: "qwen3", Endpoint: "completions"},
			wantRoute: "local:ollama/qwen3", wantReason: "-"},
		{name: "fim rule keeps it local", rules: fimLocal, req: Request{Model: "auto", Endpoint: "completions"},
			wantRoute: "local:ollama/qwen2.5-coder:1.5b", wantReason: "rule 1 (config, on endpoint), fim model"},
		{name: "the rule leaves chat alone", rules: fimLocal, req: Request{Model: "auto", Endpoint: "chat"},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "-"},
		{name: "fim local down goes to the remote fim model", req: Request{Model: "auto", Endpoint: "completions"},
			live: Live{Strategy: localStrategy, LocalDown: true}, wantRoute: "remote:mistral/codestral-latest", wantReason: "local down, fim model"},
		{name: "embeddings local", req: Request{Model: "local", Endpoint: "embeddings"},
			wantRoute: "local:ollama/nomic-embed-text", wantReason: "embedding model"},
		{name: "embeddings side without one keeps the chat model", req: Request{Model: "remote", Endpoint: "embeddings"},
			wantRoute: "remote:deepseek/deepseek-chat", wantReason: "-"},
		{name: "chat keeps the chat model", req: Request{Model: "local", Endpoint: "chat"},
			wantRoute: "local:ollama/qwen3", wantReason: "-"},
		{name: "messages keep the chat model", req: Request{Model: "auto", Endpoint: "messages"}, live: Live{Strategy: localStrategy},
			wantRoute: "local:ollama/qwen3", wantReason: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tb
			tb.Rules = tt.rules
			e, err := NewEngine(tb)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(&tt.req, tt.live)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			got := fmt.Sprintf("%s:%s/%s", d.Side, d.Provider, d.Model)
			okReason := strings.Contains(d.Reason, tt.wantReason)
			if tt.wantReason == "-" {
				okReason = !strings.Contains(d.Reason, "fim model") && !strings.Contains(d.Reason, "embedding model")
			}
			if got != tt.wantRoute || !okReason {
				t.Errorf("got %s, want %s (…%s…)", d, tt.wantRoute, tt.wantReason)
			}
		})
	}

	t.Run("fallback", func(t *testing.T) {
		e, err := NewEngine(tb)
		if err != nil {
			t.Fatal(err)
		}
		r := &Request{Model: "auto", Endpoint: "completions"}
		live := Live{Strategy: localStrategy}
		d, _ := e.Decide(r, live)
		alt, ok := e.Fallback(r, d, live)
		if !ok || alt.Provider != "mistral" || alt.Model != "codestral-latest" || !strings.Contains(alt.Reason, "fim model") {
			t.Errorf("Fallback(%s) = %s, %v; want the remote fim model", d, alt, ok)
		}
	})
}

// A rule's reason in the route header says when it picked by the kind of
// request, and only then.
func TestRuleReasonNamesRequestKinds(t *testing.T) {
	rs, err := CompileRules([]string{`endpoint == "completions"`, `client == "zed" && endpoint != "chat"`, `has_images`},
		[]string{"local", "local", "remote"}, "config")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"rule 1 (config, on endpoint)", "rule 2 (config, on endpoint and client)", "rule 3 (config)"} {
		if got := rs.rules[i].reason; got != want {
			t.Errorf("rule %d reason %q, want %q", i+1, got, want)
		}
	}
}

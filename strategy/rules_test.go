package strategy

import (
	"errors"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/expr-lang/expr/file"
)

// compileRule compiles one rule or fails the test.
func compileRule(t testing.TB, when, use string) *Rules {
	t.Helper()
	rs, err := CompileRules([]string{when}, []string{use}, "config")
	if err != nil {
		t.Fatalf("CompileRules(%q): %v", when, err)
	}
	return rs
}

func TestRulesEnvFields(t *testing.T) {
	hdr := HeaderFunc(http.Header{"X-Route": {"local"}})
	tests := []struct {
		name string
		when string
		env  Env // the rule must hold for env and not for the zero Env
	}{
		{name: "model", when: `model == "gpt-4o"`, env: Env{Model: "gpt-4o"}},
		{name: "stream", when: `stream`, env: Env{Stream: true}},
		{name: "messages", when: `messages == 40`, env: Env{Messages: 40}},
		{name: "prompt_chars", when: `prompt_chars > 1000`, env: Env{PromptChars: 1001}},
		{name: "est_tokens", when: `est_tokens > 60000`, env: Env{EstTokens: 60001}},
		{name: "has_images", when: `has_images`, env: Env{HasImages: true}},
		{name: "has_tools", when: `has_tools`, env: Env{HasTools: true}},
		{name: "hour", when: `hour >= 22 || hour == 23`, env: Env{Hour: 23}},
		{name: "weekday", when: `weekday == 6`, env: Env{Weekday: 6}},
		{name: "strategy", when: `strategy == "remote"`, env: Env{Strategy: "remote"}},
		{name: "local_model", when: `local_model startsWith "qwen"`, env: Env{LocalModel: "qwen-35b-awq"}},
		{name: "remote_model", when: `remote_model contains "flash"`, env: Env{RemoteModel: "gemini-3-flash"}},
		{name: "local_up", when: `local_up`, env: Env{LocalUp: true}},
		{name: "local_context", when: `local_context == 32768`, env: Env{LocalContext: 32768}},
		{name: "header", when: `header("X-Route") == "local"`, env: Env{Header: hdr}},
		{name: "allowed builtin", when: `lower(model) == "gpt-4o" && len(model) == 6`, env: Env{Model: "GPT-4o"}},
		{name: "arithmetic across fields", when: `prompt_chars > local_context * 3`, env: Env{PromptChars: 3001, LocalContext: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := compileRule(t, tt.when, "local")
			if use, i, ok := rs.Match(&tt.env); !ok || use != "local" || i != 0 {
				t.Errorf("Match(env): got %q, %d, %v, want \"local\", 0, true", use, i, ok)
			}
			if use, i, ok := rs.Match(&Env{}); ok {
				t.Errorf("Match(zero Env): got %q, %d, %v, want no match", use, i, ok)
			}
		})
	}
}

func TestRuleHeaderFunc(t *testing.T) {
	h := http.Header{}
	h.Set("X-Route", "local")
	h.Set("Authorization", "Bearer x")
	h["raw_key"] = []string{"as stored"} // not canonical: only an exact lookup finds it
	h["X-Empty"] = []string{}
	lookup := HeaderFunc(h)
	tests := []struct {
		name, header, want string
	}{
		{name: "canonical", header: "X-Route", want: "local"},
		{name: "lower case", header: "x-route", want: "local"},
		{name: "upper case", header: "X-ROUTE", want: "local"},
		{name: "mixed case", header: "x-rOuTe", want: "local"},
		{name: "single word", header: "authorization", want: "Bearer x"},
		{name: "exact non-canonical key", header: "raw_key", want: "as stored"},
		{name: "absent", header: "x-other", want: ""},
		{name: "no values", header: "x-empty", want: ""},
		{name: "empty name", header: "", want: ""},
		{name: "longer than any header", header: strings.Repeat("x", 100), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lookup(tt.header); got != tt.want {
				t.Errorf("header(%q): got %q, want %q", tt.header, got, tt.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { lookup("x-route") }); n != 0 {
		t.Errorf("got %v allocs per lookup, want 0", n)
	}
}

func TestRulesHeaderInRule(t *testing.T) {
	rs := compileRule(t, `header("x-route") == "local" && header("X-ABSENT") == ""`, "local")
	tests := []struct {
		name string
		env  Env
		want bool
	}{
		{name: "header set", env: Env{Header: HeaderFunc(http.Header{"X-Route": {"local"}})}, want: true},
		{name: "header other value", env: Env{Header: HeaderFunc(http.Header{"X-Route": {"remote"}})}},
		{name: "no headers", env: Env{Header: HeaderFunc(nil)}},
		{name: "nil Header", env: Env{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, got := rs.Match(&tt.env); got != tt.want {
				t.Errorf("got match %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileRulesErrors(t *testing.T) {
	tests := []struct {
		name   string
		when   string
		use    string
		field  string
		substr string // in the error text
	}{
		{name: "syntax", when: "est_tokens >", field: "when", substr: `rule 1 (strategy): when "est_tokens >": unexpected token EOF (1:12)`},
		{name: "non-bool result", when: "est_tokens + 1", field: "when", substr: "expected bool, but got int"},
		{name: "string result", when: "model", field: "when", substr: "expected bool"},
		{name: "$env", when: `$env.model == "x"`, field: "when", substr: "$env is not available"},
		{name: "$env index", when: `$env["est_tokens"] > 1`, field: "when", substr: "$env is not available"},
		{name: "$env alone", when: `"model" in $env`, field: "when", substr: "$env is not available"},
		{name: "unknown variable", when: "tokens > 5", field: "when", substr: "unknown name tokens"},
		{name: "Go field name", when: "EstTokens > 5", field: "when", substr: "unknown name EstTokens"},
		{name: "unknown function", when: `exec("rm")`, field: "when", substr: "unknown name exec"},
		{name: "disabled builtin", when: `repeat("x", 1000) == ""`, field: "when", substr: "unknown name repeat"},
		{name: "now is disabled", when: `now().Hour() > 3`, field: "when", substr: "unknown name now"},
		{name: "list predicate", when: `all([1, 2], # > 0)`, field: "when", substr: "function all is not available"},
		{name: "nested loops", when: `any(split(model, ""), any(split(model, ""), true))`, field: "when", substr: "function any is not available"},
		{name: "range", when: `est_tokens in 1..1000000`, field: "when", substr: "ranges are not available"},
		{name: "too long", when: "stream" + strings.Repeat(" ", 1024), field: "when", substr: "longer than 1024 characters"},
		{name: "too many nodes", when: strings.Repeat("1+", 300) + "1 > 0", field: "when", substr: "exceeds maximum allowed nodes"},
		{name: "empty when", when: "  ", field: "when", substr: "is empty"},
		{name: "use sideways", when: "stream", use: "sideways", field: "use", substr: `use "sideways": must be "local", "remote", "private" or "provider/model"`},
		{name: "use without provider", when: "stream", use: "/x", field: "use", substr: "provider/model"},
		{name: "use without model", when: "stream", use: "p/", field: "use", substr: "provider/model"},
		{name: "use empty", when: "stream", use: "", field: "use", substr: "provider/model"},
		{name: "use case matters", when: "stream", use: "Local", field: "use", substr: "provider/model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			use := tt.use
			if use == "" && tt.field == "when" {
				use = "local"
			}
			rs, err := CompileRules([]string{tt.when}, []string{use}, "strategy")
			if err == nil {
				t.Fatalf("got %d rules, want an error containing %q", rs.Len(), tt.substr)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.substr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("got multi-line error %q, want one line", err)
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("got error %T, want *RuleError", err)
			}
			if re.Field != tt.field || re.Index != 0 || re.Origin != "strategy" {
				t.Errorf("got field %q, index %d, origin %q, want %q, 0, \"strategy\"", re.Field, re.Index, re.Origin, tt.field)
			}
		})
	}
}

func TestCompileRulesErrorNamesTheRule(t *testing.T) {
	_, err := CompileRules([]string{"stream", "est_tokens >"}, []string{"local", "remote"}, "strategy")
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want *RuleError", err)
	}
	if want := `rule 2 (strategy): when "est_tokens >": unexpected token EOF (1:12)`; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	var fe *file.Error
	if !errors.As(err, &fe) {
		t.Errorf("got error chain without *file.Error, want expr's error inside")
	}
}

func TestCompileRulesErrorTruncatesLongWhen(t *testing.T) {
	_, err := CompileRules([]string{strings.Repeat("é", 2000)}, []string{"local"}, "config")
	if err == nil {
		t.Fatal("got no error, want one")
	}
	if n := len([]rune(err.Error())); n > 200 {
		t.Errorf("got a %d-character error, want the rule text shortened", n)
	}
}

func TestCompileRulesLengthMismatch(t *testing.T) {
	if _, err := CompileRules([]string{"stream"}, nil, "config"); err == nil {
		t.Error("got no error for 1 when and 0 uses, want one")
	}
}

func TestCompileRulesUses(t *testing.T) {
	for _, use := range []string{"local", "remote", "deepseek/deepseek-chat", "openrouter/anthropic/claude-3.5", "p/m"} {
		t.Run(use, func(t *testing.T) {
			rs, err := CompileRules([]string{"true"}, []string{use}, "config")
			if err != nil {
				t.Fatal(err)
			}
			if got, _, _ := rs.Match(&Env{}); got != use {
				t.Errorf("got use %q, want %q", got, use)
			}
		})
	}
}

func TestRulesMatchOrder(t *testing.T) {
	tests := []struct {
		name      string
		whens     []string
		uses      []string
		env       Env
		wantUse   string
		wantIndex int
		wantOK    bool
	}{
		{name: "first match wins", whens: []string{"stream", "has_tools", "true"}, uses: []string{"local", "remote", "a/b"},
			env: Env{Stream: true, HasTools: true}, wantUse: "local", wantIndex: 0, wantOK: true},
		{name: "later rule when earlier is false", whens: []string{"stream", "has_tools", "true"}, uses: []string{"local", "remote", "a/b"},
			env: Env{HasTools: true}, wantUse: "remote", wantIndex: 1, wantOK: true},
		{name: "no rule holds", whens: []string{"stream", "has_tools"}, uses: []string{"local", "remote"},
			env: Env{}, wantIndex: -1},
		{name: "runtime error counts as false", whens: []string{"prompt_chars % local_context == 0", "true"}, uses: []string{"local", "remote"},
			env: Env{PromptChars: 10}, wantUse: "remote", wantIndex: 1, wantOK: true},
		{name: "runtime error does not hide a later match", whens: []string{"int(header(\"x-n\")) > 3", "messages > 1"}, uses: []string{"local", "remote"},
			env: Env{Messages: 2, Header: HeaderFunc(http.Header{"X-N": {"many"}})}, wantUse: "remote", wantIndex: 1, wantOK: true},
		{name: "panicking header func counts as false", whens: []string{`header("x") == ""`, "true"}, uses: []string{"local", "remote"},
			env: Env{Header: func(string) string { panic("boom") }}, wantUse: "remote", wantIndex: 1, wantOK: true},
		{name: "no rules", env: Env{}, wantIndex: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := CompileRules(tt.whens, tt.uses, "config")
			if err != nil {
				t.Fatal(err)
			}
			if got := rs.Len(); got != len(tt.whens) {
				t.Errorf("Len: got %d, want %d", got, len(tt.whens))
			}
			use, i, ok := rs.Match(&tt.env)
			if use != tt.wantUse || i != tt.wantIndex || ok != tt.wantOK {
				t.Errorf("got %q, %d, %v, want %q, %d, %v", use, i, ok, tt.wantUse, tt.wantIndex, tt.wantOK)
			}
		})
	}
}

func FuzzRuleCompile(f *testing.F) {
	for _, when := range []string{
		"stream && has_tools", `header("x-route") == "local"`, "prompt_chars > local_context * 3",
		"est_tokens >", "$env.model", `all([1], # > 0)`, "1..3", `lower(model) in ["a", "b"]`,
		`model matches "^gpt-[0-9]+"`, "let x = messages * 2; x > 3 ? stream : !stream",
		`split(model, "")[1:3] == ["a"] || {"k": model}.k == "x"`, `string([model, 1.5, nil, {"a": true}]) != ""`,
		`upper(lower(model)) + header("x") ?? "y" in split(trim(remote_model), "-")`,
		doubling(`"xx"`, 17, concat, "len(%s) > 0"), doubling("model", 4, concat, "len(%s) > 0"),
		// Run-time errors that quote an input.
		`int(model) > 0`, `float(header("x")) > 1`, `{"a": nil}.a[model] == 1`, `{"k": {"a": model}}.k[0:1] == nil`,
	} {
		f.Add(when)
	}
	for _, b := range costBombs {
		f.Add(b.when)
	}
	envs := fuzzEnvs()
	f.Fuzz(func(t *testing.T, when string) {
		rs, err := CompileRules([]string{when}, []string{"local"}, "strategy")
		if cp := (*compilePanic)(nil); errors.As(err, &cp) {
			t.Fatalf("compiling %q panicked: %v", when, cp.v)
		}
		if err != nil {
			return
		}
		c := rs.rules[0].cost
		if !c.within(ruleCostLimit) {
			t.Fatalf("%q compiled with cost %v, over the limit %v", when, c, ruleCostLimit)
		}
		for i := range envs {
			env := envs[i]
			l := longestInput(&env)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rs.Match(&env) // must not panic, whatever the env
			runtime.ReadMemStats(&after)
			if got, want := after.TotalAlloc-before.TotalAlloc, c.at(float64(l)); float64(got) > want {
				t.Errorf("%q on env %d allocated %d bytes, over its bound %v = %.0f for L = %d", when, i, got, c, want, l)
			}
		}
	})
}

// fuzzEnvs are the envs FuzzRuleCompile evaluates rules against: empty,
// typical, and long and hostile (invalid UTF-8, runes that grow when upper
// cased, numbers at their limits).
func fuzzEnvs() []Env {
	long := strings.Repeat("ɐ\xffa-/", 1200)
	return []Env{
		{},
		benchEnv(),
		{
			Model: long, Strategy: long, LocalModel: long, RemoteModel: long, Stream: true, HasImages: true, HasTools: true,
			Messages: math.MinInt, PromptChars: math.MaxInt, EstTokens: -1, Hour: 25, Weekday: -1, LocalUp: true,
			Header: func(string) string { return long },
		},
	}
}

// longestInput is L, for a cost bound, in an env from fuzzEnvs: its Header
// gives one value whatever the name.
func longestInput(env *Env) int {
	l := max(len(env.Model), len(env.Strategy), len(env.LocalModel), len(env.RemoteModel))
	if env.Header != nil {
		l = max(l, len(env.Header("")))
	}
	return l
}

func TestRulesNil(t *testing.T) {
	var rs *Rules
	if got := rs.Len(); got != 0 {
		t.Errorf("Len: got %d, want 0", got)
	}
	if use, i, ok := rs.Match(&Env{Stream: true}); ok || i != -1 || use != "" {
		t.Errorf("got %q, %d, %v, want no match", use, i, ok)
	}
}

func TestRulesMatchDoesNotChangeEnv(t *testing.T) {
	rs := compileRule(t, `header("x") == ""`, "local")
	env := Env{Model: "m"}
	rs.Match(&env)
	if env.Header != nil || env.Model != "m" {
		t.Errorf("got env %+v after Match, want it unchanged", env)
	}
}

func TestRulesConcurrentMatch(t *testing.T) {
	rs := benchRules(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			env := benchEnv()
			env.HasTools = g%2 == 0
			want := env.HasTools
			for range 200 {
				if _, _, ok := rs.Match(&env); ok != want {
					t.Errorf("goroutine %d: got match %v, want %v", g, ok, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRulesMatchAllocs(t *testing.T) {
	rs := benchRules(t)
	env := benchEnv()
	if n := testing.AllocsPerRun(200, func() { rs.Match(&env) }); n > 2 {
		t.Errorf("got %v allocs per Match, want at most 2", n)
	}
}

// benchRules are ten realistic rules of which, on benchEnv, only the last holds.
func benchRules(t testing.TB) *Rules {
	t.Helper()
	whens := []string{
		`has_images`,
		`est_tokens > 60000`,
		`header("x-route") == "local"`,
		`hour >= 22 || hour < 7`,
		`model startsWith "claude"`,
		`messages > 200`,
		`!local_up`,
		`prompt_chars > local_context * 3`,
		`weekday == 0`,
		`stream && has_tools`,
	}
	uses := []string{"remote", "remote", "local", "local", "anthropic/claude-sonnet-4-5", "remote", "remote", "remote", "local", "local"}
	rs, err := CompileRules(whens, uses, "strategy")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func benchEnv() Env {
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Accept", "User-Agent", "Authorization", "Content-Length", "Accept-Encoding", "X-Request-Id"} {
		h.Set(k, "v")
	}
	return Env{
		Model: "auto", Stream: true, Messages: 40, PromptChars: 39884, EstTokens: 10094,
		HasTools: true, Hour: 14, Weekday: 3, Strategy: "local",
		LocalModel: "qwen-35b-awq", RemoteModel: "gemini-3-flash", LocalUp: true, LocalContext: 32768,
		Header: HeaderFunc(h),
	}
}

func BenchmarkMatch10Rules(b *testing.B) {
	rs := benchRules(b)
	env := benchEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, i, _ := rs.Match(&env); i != 9 {
			b.Fatalf("got rule %d, want 9", i)
		}
	}
}

func BenchmarkMatch10RulesParallel(b *testing.B) {
	rs := benchRules(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		env := benchEnv()
		for pb.Next() {
			rs.Match(&env)
		}
	})
}

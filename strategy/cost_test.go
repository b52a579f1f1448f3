package strategy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp/syntax"
	"runtime"
	"strings"
	"testing"
)

// doubling returns a rule that starts from first and doubles it n times
// with let, each step written by step (given the previous name), then
// tests the result with use.
func doubling(first string, n int, step func(prev string) string, use string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "let s0 = %s; ", first)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "let s%d = %s; ", i, step(fmt.Sprintf("s%d", i-1)))
	}
	fmt.Fprintf(&b, use, fmt.Sprintf("s%d", n))
	return b.String()
}

// nest wraps inner in n calls of wrap.
func nest(inner string, n int, wrap func(string) string) string {
	for range n {
		inner = wrap(inner)
	}
	return inner
}

func concat(p string) string { return p + " + " + p }

// costBombs are rules that fit the length and node limits but would build
// values of hundreds of megabytes or more on every evaluation.
var costBombs = []struct{ name, when string }{
	// 27 doublings of "xx": a 256 MiB string, 512 MiB allocated on the way.
	{"let doubling", doubling(`"xx"`, 27, concat, "len(%s) > 0")},
	{"let doubling of an input", doubling("model", 27, concat, "len(%s) > 0")},
	{"let doubling of a header", doubling(`header("x-a")`, 27, concat, `%s == ""`)},
	{"doubling inside upper", doubling(`"xx"`, 20, func(p string) string { return "upper(" + p + " + " + p + ")" }, "len(%s) > 0")},
	{"doubling inside trim", doubling(`"xx"`, 27, func(p string) string { return "trim(" + p + " + " + p + ")" }, "len(%s) > 0")},
	{"doubling through a conditional", doubling(`"xx"`, 27, func(p string) string { return "stream ? " + p + " + " + p + " : " + p }, "len(%s) > 0")},
	{"doubling through ??", doubling(`"xx"`, 27, func(p string) string { return "(" + p + " ?? " + p + ") + " + p }, "len(%s) > 0")},
	{"doubling through string()", doubling(`"xx"`, 27, func(p string) string { return "string(" + p + ") + " + p }, "len(%s) > 0")},
	{"doubling through a slice", doubling(`"xx"`, 27, func(p string) string { return p + "[0:] + " + p }, "len(%s) > 0")},
	// Lists of lists share their elements, but string() prints them all.
	{"list doubling, formatted", doubling("[model]", 27, func(p string) string { return "[" + p + ", " + p + "]" }, "len(string(%s)) > 0")},
	{"map doubling, formatted", doubling(`{"k": model}`, 27, func(p string) string { return `{"a": ` + p + `, "b": ` + p + "}" }, "len(string(%s)) > 0")},
	{"list doubling, compared", doubling("[1]", 27, func(p string) string { return "[" + p + ", " + p + "]" }, "%s == [1]")},
	{"split doubling", doubling(`"xx"`, 25, func(p string) string { return "string(split(" + p + `, ""))` }, "len(%s) > 0")},
	// No let at all: each level formats a list of a level's pieces.
	{"nested string(split())", nest("model", 40, func(s string) string { return "string(split(" + s + `, ""))` }) + " == model"},
	{"nested upper and lower", nest("model", 60, func(s string) string { return "upper(lower(" + s + "))" }) + ` == ""`},
	{"many lowers of an input", strings.Repeat("lower(model) + ", 60) + `"" == ""`},
	{"huge regexp", `model matches "` + strings.Repeat("x{1000}", 140) + `"`},
	{"regexp of 3000 instructions", `model matches "(?:ab){999}"`},
	{"regexp from a header", `model matches header("x-pattern")`},
	{"regexp from a let", `let p = "^gpt"; model matches p`},
}

func TestRuleCostBombsRefused(t *testing.T) {
	for _, tt := range costBombs {
		t.Run(tt.name, func(t *testing.T) {
			if n := len([]rune(tt.when)); n > ruleMaxChars {
				t.Fatalf("the rule has %d characters: it must fit the %d limit to test the cost limit", n, ruleMaxChars)
			}
			rs, err := CompileRules([]string{tt.when}, []string{"local"}, "strategy")
			if err == nil {
				t.Fatalf("got %d compiled rules, want the rule refused (%d characters)", rs.Len(), len(tt.when))
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Field != "when" {
				t.Fatalf("got error %v, want a *RuleError on when", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "could allocate") && !strings.Contains(msg, "matches") {
				t.Errorf("got error %q, want it to say the rule costs too much", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("got multi-line error %q", msg)
			}
		})
	}
}

// The rules of docs/routing.md and other plausible ones stay well inside the limits.
func TestRuleCostAccepted(t *testing.T) {
	for _, when := range []string{
		`has_images`,
		`local_context > 0 && est_tokens > local_context`,
		`header("x-localrouter-route") == "local"`,
		`hour >= 22 || hour < 7 || weekday == 0 || weekday == 6`,
		`!local_up`,
		`lower(model) startsWith "claude" || lower(model) contains "haiku"`,
		`let m = lower(trim(model)); m startsWith "gpt" || m in ["o1", "o3", "o4-mini"]`,
		`model matches "^(gpt-4o|gpt-4\\.1|claude-3-5-sonnet|claude-sonnet-4-5|gemini-2\\.5-pro)(-mini)?$"`,
		`model matches "^gpt-[0-9]+"`,
		`split(model, "/")[0] == "openai" && len(split(header("x-tags"), ",")) > 2`,
		`string(messages) + "x" == "3x" && upper(header("x-a") + header("x-b")) == "AB"`,
		`{"a": model, "b": local_model}[strategy] == "x"`,
		`(header("x-a") ?? model) != "" && model[0:3] == "gpt"`,
		`let x = messages * 2; x > 3 ? stream : !stream`,
		doubling(`"xx"`, 12, concat, "len(%s) > 0"), // 8 KiB: wasteful, harmless
	} {
		t.Run(when, func(t *testing.T) {
			rs := compileRule(t, when, "local")
			if c := rs.rules[0].cost; !c.within(bound{k: ruleMaxGrowth * 3 / 4, c: ruleMaxBytes / 4}) {
				t.Errorf("got cost %v, want it well within the limit %v", c, ruleCostLimit)
			}
		})
	}
}

// Evaluating a rule allocates no more than its bound: measured by the
// runtime on rules near the limits, with long inputs, and reported.
func TestRuleCostMeasured(t *testing.T) {
	long := strings.Repeat("ɐ\xffa", 2000) // grows under upper(); invalid UTF-8 grows under split()
	env := benchEnv()
	env.Model = long
	env.Header = func(string) string { return long }
	for _, when := range []string{
		doubling(`"xx"`, 17, concat, "len(%s) > 0"),                                             // 512 KiB, near the byte limit
		doubling("model", 4, concat, "len(%s) > 0"),                                             // 16× the input
		nest("model", 1, func(s string) string { return "upper(lower(" + s + "))" }) + ` == ""`, // upper's growth
		nest("model", 1, func(s string) string { return "string(split(" + s + `, ""))` }) + " == model",
		`"x" in split(header("x-a"), "") && model matches "(a|b)*c"`,
	} {
		t.Run(when[:min(len(when), 40)], func(t *testing.T) {
			rs, err := CompileRules([]string{when}, []string{"local"}, "strategy")
			if err != nil {
				t.Fatal(err)
			}
			c := rs.rules[0].cost
			rs.Match(&env) // warm the VM pool and regexp caches: charged, but not what is measured
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rs.Match(&env)
			runtime.ReadMemStats(&after)
			got, want := after.TotalAlloc-before.TotalAlloc, c.at(float64(len(long)))
			t.Logf("bound %.0f×L + %.0f = %.0f bytes for L = %d; TotalAlloc +%d, HeapAlloc %d → %d",
				c.k, c.c, want, len(long), got, before.HeapAlloc, after.HeapAlloc)
			if float64(got) > want {
				t.Errorf("evaluation allocated %d bytes, over its bound of %.0f", got, want)
			}
		})
	}
}

// A strategy with a costly rule is refused by the poller like any rule that
// does not compile: routing keeps the last good strategy, and says why.
func TestPollRefusesCostlyRules(t *testing.T) {
	e, err := NewEngine(engineTable())
	if err != nil {
		t.Fatal(err)
	}
	srv, h := newStrategyServer(t, serveDoc(`{"strategy":"local","local_model":"qwen3"}`))
	p := newTestPoller(t, PollerOptions{URL: srv.URL, Validate: e.CheckStrategy})
	ctx := context.Background()
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := p.Current()
	for _, tt := range costBombs {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := json.Marshal(Strategy{Strategy: Remote, Rules: []RuleSpec{{When: "stream", Use: "local"}, {When: tt.when, Use: "remote"}}})
			if err != nil {
				t.Fatal(err)
			}
			h.set(serveDoc(string(doc)))
			err = p.Refresh(ctx)
			if err == nil || !strings.Contains(err.Error(), "rule 2 (strategy)") {
				t.Fatalf("got error %v, want rule 2 refused", err)
			}
			if got := p.Current(); got != good {
				t.Fatalf("got strategy %+v, want the last good one", got)
			}
			if st := p.Status(); !st.Stale || !strings.Contains(st.Error, "rule 2 (strategy)") {
				t.Errorf("got status %+v, want stale with the rule's error", st)
			}
			// Routing still works, on the last good strategy.
			d, err := e.Decide(&Request{Model: "auto"}, Live{Strategy: p.Current()})
			if err != nil || d.Side != Local {
				t.Errorf("got decision %v, %v, want local by the last good strategy", d, err)
			}
		})
	}
}

// The same rules in the config are config errors.
func TestEngineRefusesCostlyConfigRules(t *testing.T) {
	for _, tt := range costBombs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(engineTable(RuleSpec{When: tt.when, Use: "local"}))
			var re *RuleError
			if !errors.As(err, &re) || re.Origin != "config" {
				t.Fatalf("got error %v, want the config rule refused", err)
			}
		})
	}
}

// regexpSize must never count fewer instructions than the compiler makes.
func TestRegexpSizeIsAnUpperBound(t *testing.T) {
	for _, p := range []string{
		"", "a", "abc", "^gpt-[0-9]+", "(a|b)*c", "x{3}", "x{2,5}", "x{2,}", "(?i)claude", `\pL+\d?`,
		"(ab){3,4}(c|d|e)+", "((a{2}){3}){4}", "a*?b+?c??", `^(?:gpt|o[134])(-mini)?$`, "[^a-z]{0,7}", "(a|)|b",
		strings.Repeat("x{100}", 5),
	} {
		t.Run(p, func(t *testing.T) {
			re, err := syntax.Parse(p, syntax.Perl)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := syntax.Compile(re.Simplify())
			if err != nil {
				t.Fatal(err)
			}
			got, err := regexpSize(p)
			if err != nil {
				t.Fatal(err)
			}
			if got < len(prog.Inst) {
				t.Errorf("got %d, want at least the %d instructions compiled", got, len(prog.Inst))
			}
		})
	}
}

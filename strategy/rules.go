package strategy

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Env is the typed environment a rule sees (DESIGN §5). The expr tags are the
// names rules use.
type Env struct {
	Model        string `expr:"model"`         // the model the client asked for
	Stream       bool   `expr:"stream"`        // the client asked for a stream
	Messages     int    `expr:"messages"`      // number of messages
	PromptChars  int    `expr:"prompt_chars"`  // characters of the prompt's text
	EstTokens    int    `expr:"est_tokens"`    // estimated prompt tokens
	HasImages    bool   `expr:"has_images"`    // some message has an image part
	HasTools     bool   `expr:"has_tools"`     // tools defined, called or answered
	Hour         int    `expr:"hour"`          // 0-23, local time
	Weekday      int    `expr:"weekday"`       // 0 = Sunday, local time
	Strategy     string `expr:"strategy"`      // the strategy's side: local or remote
	LocalModel   string `expr:"local_model"`   // the local side's model
	RemoteModel  string `expr:"remote_model"`  // the remote side's model
	LocalUp      bool   `expr:"local_up"`      // the local side answers its health probe
	LocalContext int    `expr:"local_context"` // the local model's context window in tokens; 0 when unknown
	Endpoint     string `expr:"endpoint"`      // the front door: chat, messages, responses, ...
	Client       string `expr:"client"`        // the calling tool, from its User-Agent: claude-code, codex, ...; "" when unknown

	// Header looks up a request header by name, case-insensitively; "" when
	// absent. HeaderFunc makes one from a request's headers. A nil Header
	// behaves as a request without headers.
	Header func(name string) string `expr:"header"`
}

// Limits on one rule. They bound the work a rule can make every request do.
const (
	ruleMaxChars = 1024 // characters of a rule's when
	ruleMaxNodes = 500  // expr syntax nodes of a rule's when
)

// ruleBuiltins are the expr builtins a rule may call: cheap, pure functions
// of their arguments. The rest are disabled: the list-walking ones (all,
// filter, map, reduce, …) would let a rule nest loops over large lists and
// so charge every request as much time as the rule's author liked.
var ruleBuiltins = []string{
	"len", "abs", "ceil", "floor", "round", "int", "float", "string", "min", "max",
	"lower", "upper", "trim", "trimPrefix", "trimSuffix", "hasPrefix", "hasSuffix",
	"indexOf", "lastIndexOf", "split",
}

// Rules are compiled routing rules, in order. A Rules never changes after
// CompileRules and is safe for concurrent use; the nil *Rules has no rules.
//
// A rule can only read its Env and name a target: local, remote or
// provider/model (checked by CompileRules). So an untrusted strategy's rules
// can pick a side or a configured provider and nothing else: they cannot
// reach a network, a file or the process, cannot add a base URL, and cannot
// loop, by construction of the language they are compiled in.
type Rules struct {
	rules  []compiledRule
	origin string
}

type compiledRule struct {
	prog   *vm.Program
	cost   bound // what one evaluation may allocate
	use    string
	reason string // "rule 2 (strategy)", made once for the route header
}

// RuleError says which rule was rejected and why.
type RuleError struct {
	Origin string // "config" or "strategy"
	Index  int    // position in the rule list, from 0
	Field  string // "when" or "use"
	Value  string // the field's text
	Err    error
}

func (e *RuleError) Error() string {
	v := e.Value
	if utf8.RuneCountInString(v) > 60 {
		v = string([]rune(v)[:60]) + "…"
	}
	return fmt.Sprintf("rule %d (%s): %s %q: %s", e.Index+1, e.Origin, e.Field, v, oneLine(e.Err))
}

func (e *RuleError) Unwrap() error { return e.Err }

// oneLine formats err without the multi-line source snippet expr adds: the
// rule text is already quoted beside it.
func oneLine(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Snippet != "" {
		return fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1)
	}
	return err.Error()
}

// CompileRules compiles the rules whens[i] → uses[i]. origin ("config" or
// "strategy") names where they come from in errors, which are *RuleError:
//
//	rule 2 (strategy): when "est_tokens >": unexpected token EOF (1:12)
//
// A use must be "local", "remote", "private" or "provider/model"; whether the provider
// exists is for the caller to check.
func CompileRules(whens, uses []string, origin string) (*Rules, error) {
	if len(whens) != len(uses) {
		return nil, fmt.Errorf("%s rules: %d conditions but %d targets", origin, len(whens), len(uses))
	}
	rs := &Rules{rules: make([]compiledRule, len(whens)), origin: origin}
	for i, when := range whens {
		prog, cost, err := compileWhen(when)
		if err != nil {
			return nil, &RuleError{Origin: origin, Index: i, Field: "when", Value: when, Err: err}
		}
		if err := checkUse(uses[i]); err != nil {
			return nil, &RuleError{Origin: origin, Index: i, Field: "use", Value: uses[i], Err: err}
		}
		reason := fmt.Sprintf("rule %d (%s)", i+1, origin)
		if on := requestKinds(prog.Node()); on != "" {
			// The route header says what kind of request the rule picked.
			reason = fmt.Sprintf("rule %d (%s, on %s)", i+1, origin, on)
		}
		rs.rules[i] = compiledRule{prog: prog, cost: cost, use: uses[i], reason: reason}
	}
	return rs, nil
}

// requestKinds names the variables among endpoint and client that a rule
// reads, "endpoint and client" at most, for its reason.
func requestKinds(n ast.Node) string {
	var v kindsVisitor
	ast.Walk(&n, &v)
	switch {
	case v.endpoint && v.client:
		return "endpoint and client"
	case v.endpoint:
		return "endpoint"
	case v.client:
		return "client"
	}
	return ""
}

type kindsVisitor struct{ endpoint, client bool }

func (v *kindsVisitor) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		v.endpoint = v.endpoint || id.Value == "endpoint"
		v.client = v.client || id.Value == "client"
	}
}

// compileWhen compiles a rule's condition and bounds what one evaluation
// of it may allocate (see ruleCost).
func compileWhen(when string) (prog *vm.Program, cost bound, err error) {
	// A strategy is untrusted input, compiled on the poller's goroutine,
	// where a panic would end the process.
	defer func() {
		if r := recover(); r != nil {
			prog, cost, err = nil, bound{}, &compilePanic{r}
		}
	}()
	switch {
	case strings.TrimSpace(when) == "":
		return nil, bound{}, errors.New("is empty")
	case utf8.RuneCountInString(when) > ruleMaxChars:
		return nil, bound{}, fmt.Errorf("is longer than %d characters", ruleMaxChars)
	}
	g := &ruleGuard{}
	opts := make([]expr.Option, 0, 5+len(ruleBuiltins))
	opts = append(opts, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(ruleMaxNodes), expr.DisableAllBuiltins())
	for _, name := range ruleBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	opts = append(opts, expr.Function(matchesFunc, matchRule, new(func(string, string) bool)), expr.Patch(g))
	prog, err = expr.Compile(when, opts...)
	if g.err != nil {
		// What the guard refuses may well type-check: its error comes first.
		return nil, bound{}, g.err.Bind(file.NewSource(when))
	}
	if err != nil {
		return nil, bound{}, err
	}
	// The cost is bounded on the tree the VM runs: checked, so typed, and
	// with the optimizer's folds.
	cost, err = ruleCost(prog.Node())
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			err = fe.Bind(file.NewSource(when))
		}
		return nil, bound{}, err
	}
	return prog, cost, nil
}

// compilePanic is a panic of expr's compiler, recovered: the rule is refused
// and the process lives on. FuzzRuleCompile looks for these.
type compilePanic struct{ v any }

func (e *compilePanic) Error() string { return fmt.Sprintf("cannot compile: %v", e.v) }

// ruleGuard refuses what expr's options cannot switch off: $env (every
// variable by name, bypassing the typed Env), and the list-walking builtins
// and ranges, which the parser builds whatever builtins are disabled. It
// also refuses a matches pattern that is not a string literal, or that
// compiles to a large program: the checker compiles a literal pattern right
// after the guard, and a pattern made at run time would be compiled on
// every evaluation, at a cost no bound on its length can cap.
type ruleGuard struct {
	err *file.Error // the first refusal
}

func (g *ruleGuard) Visit(node *ast.Node) {
	if g.err != nil {
		return
	}
	var msg string
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			msg = "$env is not available in rules"
		}
	case *ast.BuiltinNode:
		allowed := false
		for _, name := range ruleBuiltins {
			allowed = allowed || n.Name == name
		}
		if !allowed {
			msg = fmt.Sprintf("function %s is not available in rules", n.Name)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "..":
			msg = "ranges are not available in rules"
		case "matches":
			s, ok := n.Right.(*ast.StringNode)
			if !ok {
				msg = "matches needs a string literal as its pattern in rules"
				break
			}
			// A pattern that does not parse is left for the checker to report.
			if size, err := regexpSize(s.Value); err == nil && size > ruleMaxRegexp {
				msg = fmt.Sprintf("matches pattern compiles to about %d instructions; at most %d are allowed in rules", size, ruleMaxRegexp)
				// Compilation goes on after a refusal: keep the checker
				// from compiling the pattern all the same.
				n.Right = &ast.StringNode{}
			} else if err == nil {
				if _, err := ruleRegexp(s.Value); err == nil {
					ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: matchesFunc}, Arguments: []ast.Node{n.Left, n.Right}})
				}
			}
		}
	}
	if msg != "" {
		g.err = &file.Error{Location: (*node).Location(), Message: msg}
	}
}

// checkUse returns an error unless use names a side or a provider/model.
func checkUse(use string) error {
	if use == string(Local) || use == string(Remote) || use == UsePrivate {
		return nil
	}
	if i := strings.IndexByte(use, '/'); i > 0 && i < len(use)-1 {
		return nil
	}
	return fmt.Errorf(`must be %q, %q, %q or "provider/model"`, Local, Remote, UsePrivate)
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// ruleVMs recycles expr VMs: expr.Run makes a new one, with a new stack,
// per run. A VM resets itself at the start of each run.
var ruleVMs = sync.Pool{New: func() any { return new(vm.VM) }}

// noHeader is Header for an Env that has none.
func noHeader(string) string { return "" }

// Match returns the use of the first rule whose when holds for env, and its
// index. A rule that fails at run time (say, a modulo by zero) counts as
// false. ok is false, and index -1, when no rule holds.
func (rs *Rules) Match(env *Env) (use string, index int, ok bool) {
	return rs.matchFrom(env, 0)
}

// matchFrom is Match starting at rule from, for a caller that could not use
// an earlier match.
func (rs *Rules) matchFrom(env *Env, from int) (use string, index int, ok bool) {
	if rs.Len() <= from {
		return "", -1, false
	}
	// The programs read Env's fields by reflection. From a pointer each read
	// would copy its field to the heap; from a value, reads point into this
	// one copy, which makes a Match cost one allocation however many rules run.
	e := *env
	if e.Header == nil {
		e.Header = noHeader
	}
	var boxed any = e
	m := ruleVMs.Get().(*vm.VM)
	defer ruleVMs.Put(m)
	for i := from; i < len(rs.rules); i++ {
		out, err := m.Run(rs.rules[i].prog, boxed)
		if err != nil {
			slog.Debug("rule failed", "rule", i+1, "origin", rs.origin, "err", oneLine(err))
			continue
		}
		if b, _ := out.(bool); b {
			return rs.rules[i].use, i, true
		}
	}
	return "", -1, false
}

// HeaderFunc returns a case-insensitive lookup of h for Env.Header. h is
// expected to hold canonical keys ("X-Route"), as net/http's http.Header
// does; a lookup allocates nothing.
func HeaderFunc(h map[string][]string) func(name string) string {
	return func(name string) string {
		if v := h[name]; len(v) > 0 {
			return v[0]
		}
		var buf [64]byte
		if len(name) > len(buf) {
			return ""
		}
		// A map index with string(bytes) does not copy the bytes.
		if v := h[string(canonicalKey(buf[:0], name))]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
}

// canonicalKey appends name in the canonical form of a MIME header key, as
// textproto.CanonicalMIMEHeaderKey would give it but into b, so without
// allocating: upper case at the start and after each '-', lower case elsewhere.
func canonicalKey(b []byte, name string) []byte {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return b
}

// matchesFunc stands for a rule's `matches`: Go's regexp backtracks over
// a string input with a stack that grows with the input (50 bytes a byte
// for ".*x", FuzzRuleCompile found), which no bound on the rule can cap;
// over a reader it runs its automaton, whose memory is the pattern's.
const matchesFunc = "__matches"

// ruleRegexps caches the compiled patterns of the rules, bounded: a
// strategy may change its patterns on every poll.
var ruleRegexps struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

func ruleRegexp(pattern string) (*regexp.Regexp, error) {
	ruleRegexps.mu.Lock()
	defer ruleRegexps.mu.Unlock()
	if re := ruleRegexps.m[pattern]; re != nil {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if ruleRegexps.m == nil || len(ruleRegexps.m) >= 256 {
		ruleRegexps.m = map[string]*regexp.Regexp{}
	}
	ruleRegexps.m[pattern] = re
	return re, nil
}

func matchRule(params ...any) (any, error) {
	s, _ := params[0].(string)
	pattern, _ := params[1].(string)
	re, err := ruleRegexp(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchReader(strings.NewReader(s)), nil
}

package strategy

import (
	"fmt"
	"reflect"
	"regexp/syntax"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// Limits on the memory one evaluation of one rule may allocate. The length
// and node limits alone do not bound it: `let` names a value that can then
// be used twice, so 27 lines of `let b = a + a` in 500 characters build a
// 256 MiB string, and nesting string(split(…)) grows a string at each level
// without any `let`. expr's own vm.MemoryBudget counts only ranges, arrays
// and maps, not strings, so CompileRules bounds the cost itself.
const (
	// ruleMaxBytes is what a rule may allocate whatever its inputs.
	ruleMaxBytes = 1 << 20
	// ruleMaxGrowth is what a rule may allocate per byte of its longest
	// input string (a string field of Env or a header value). Inputs come
	// from the local client and the config, not from the strategy.
	ruleMaxGrowth = 64
	// ruleMaxRegexp bounds a matches pattern, in instructions of its
	// compiled program: `x{1000}` repeated in one rule compiles to 38 MB,
	// and each concurrent match needs about as much again.
	ruleMaxRegexp = 1000
)

// Allocation charges, in bytes. They are upper bounds that the
// FuzzRuleCompile oracle checks against runtime.MemStats.
const (
	costScalar    = 24      // the longest formatted number: -2.2250738585072014e-308
	costRun       = 1 << 10 // an evaluation: a fresh VM from the pool, the boxed Env
	costNode      = 64      // any node: boxing its result, stack growth, call arguments
	costBox       = 16      // boxing one element of a list into an interface
	costMapEntry  = 128     // one entry of a map literal, its share of the table included
	costRegexpPer = 512     // one instruction of a regexp's matching machine
	costRegexp    = 40 << 10
	// An evaluation stops at its first error, whose message may quote a
	// value (int's argument, a missing key) and is copied a few times on
	// its way out of the VM.
	costErr    = 4 << 10
	costErrPer = 16
	// costRounding covers Go rounding each allocation up to its size class
	// or page: a 32 KiB + 1 byte string takes 40 KiB.
	costRounding = 1.25
)

// bound is an upper bound of k×L + c bytes, L being the length of the longest
// input string of the evaluation.
type bound struct{ k, c float64 }

func (a bound) add(b bound) bound       { return bound{a.k + b.k, a.c + b.c} }
func (a bound) times(f float64) bound   { return bound{a.k * f, a.c * f} }
func (a bound) plus(c float64) bound    { return bound{a.k, a.c + c} }
func (a bound) max(b bound) bound       { return bound{max(a.k, b.k), max(a.c, b.c)} }
func (a bound) at(l float64) float64    { return a.k*l + a.c }
func (a bound) within(limit bound) bool { return a.k <= limit.k && a.c <= limit.c }
func (a bound) String() string          { return fmt.Sprintf("%.0f×L + %.0f bytes", a.k, a.c) }

var (
	ruleCostLimit = bound{ruleMaxGrowth, ruleMaxBytes}
	scalarValue   = costValue{size: bound{c: costScalar}}
	inputValue    = costValue{size: bound{k: 1}}
)

// costValue bounds a value a rule computes.
type costValue struct {
	// size bounds a string's length in bytes, and any value's length as
	// string() formats it (fmt's %v), which is at least its element count.
	size bound
	// elems bounds the elements of a list or map, nested ones included.
	elems bound
}

// ruleCost returns a bound on what one evaluation of the compiled rule tree
// n allocates. It fails for a rule that may allocate more than
// ruleCostLimit, and for any node it does not know how to bound: a rule
// that cannot be bounded is not run.
func ruleCost(n ast.Node) (bound, error) {
	m := costModel{vars: map[string]costValue{}}
	m.charge(n, bound{c: costRun})
	if _, err := m.eval(n); err != nil {
		return bound{}, err
	}
	m.charge(n, m.quoted.times(costErrPer).plus(costErr))
	if m.over != nil {
		return bound{}, &file.Error{Location: m.over.Location(), Message: fmt.Sprintf(
			"could allocate %s plus %s× its longest input string per evaluation; rules may allocate at most %s plus %d×",
			fmtBytes(m.alloc.c), fmtFactor(m.alloc.k), fmtBytes(ruleMaxBytes), ruleMaxGrowth)}
	}
	return m.alloc, nil
}

// costModel evaluates a rule tree on sizes instead of values.
type costModel struct {
	vars  map[string]costValue // the let variables in scope
	alloc bound                // allocated so far
	over  ast.Node             // the node at which alloc first passed the limit
	// quoted bounds the largest value a run-time error may quote.
	quoted bound
}

// charge adds b to the allocations, blaming n if that passes the limit.
func (m *costModel) charge(n ast.Node, b bound) {
	m.alloc = m.alloc.add(b.times(costRounding))
	if m.over == nil && !m.alloc.within(ruleCostLimit) {
		m.over = n
	}
}

func (m *costModel) evalAll(ns []ast.Node) ([]costValue, error) {
	vs := make([]costValue, len(ns))
	for i, n := range ns {
		v, err := m.eval(n)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

func (m *costModel) eval(node ast.Node) (costValue, error) {
	v, err := m.value(node)
	if k := node.Type().Kind(); k == reflect.String || isScalar(node.Type()) {
		v.elems = bound{} // whatever it was made from
	}
	return v, err
}

func (m *costModel) value(node ast.Node) (costValue, error) {
	m.charge(node, bound{c: costNode})
	switch n := node.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return scalarValue, nil
	case *ast.StringNode:
		return costValue{size: bound{c: float64(len(n.Value))}}, nil
	case *ast.BytesNode:
		// %v prints a byte as up to 3 digits and a space.
		l := float64(len(n.Value))
		return costValue{size: bound{c: 4*l + 2}, elems: bound{c: l}}, nil
	case *ast.ConstantNode:
		// The optimizer's folded literals: made once at compile time, and
		// as long as their source at most, so cheap to format here.
		l := float64(len(fmt.Sprint(n.Value)))
		return costValue{size: bound{c: max(l, costScalar)}, elems: bound{c: l}}, nil
	case *ast.IdentifierNode:
		if v, ok := m.vars[n.Value]; ok {
			return v, nil
		}
		switch t := n.Type(); {
		case t.Kind() == reflect.String:
			return inputValue, nil
		case isScalar(t), t.Kind() == reflect.Func: // a func formats as its address
			return scalarValue, nil
		}
	case *ast.UnaryNode:
		if _, err := m.eval(n.Node); err != nil {
			return costValue{}, err
		}
		return scalarValue, nil
	case *ast.BinaryNode:
		return m.binary(n)
	case *ast.ChainNode:
		return m.eval(n.Node)
	case *ast.MemberNode:
		v, err := m.eval(n.Node)
		if err != nil {
			return costValue{}, err
		}
		p, err := m.eval(n.Property)
		if err != nil {
			return costValue{}, err
		}
		m.quoted = m.quoted.max(p.size) // "cannot fetch <key> from …"
		// An element is no larger than its list; a string's byte is a number.
		return costValue{size: v.size.plus(costScalar), elems: v.elems}, nil
	case *ast.SliceNode:
		v, err := m.eval(n.Node)
		if err != nil {
			return costValue{}, err
		}
		for _, i := range []ast.Node{n.From, n.To} {
			if i == nil {
				continue
			}
			if _, err := m.eval(i); err != nil {
				return costValue{}, err
			}
		}
		m.quoted = m.quoted.max(v.size) // "cannot slice <value>"
		return v, nil                   // a slice shares its list's or string's memory
	case *ast.CallNode:
		// header(name) is the only function a rule can call; it returns a
		// header value without copying it.
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "header" {
			if _, err := m.evalAll(n.Arguments); err != nil {
				return costValue{}, err
			}
			return inputValue, nil
		}
		// A matches the guard rewrote (rules.go: matchesFunc): its
		// pattern a literal, its memory the automaton's.
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == matchesFunc && len(n.Arguments) == 2 {
			if s, ok := n.Arguments[1].(*ast.StringNode); ok {
				if _, err := m.eval(n.Arguments[0]); err != nil {
					return costValue{}, err
				}
				insts, err := regexpSize(s.Value)
				if err != nil {
					return costValue{}, err
				}
				m.charge(n, bound{c: costRegexp + costRegexpPer*float64(insts)})
				return scalarValue, nil
			}
		}
	case *ast.BuiltinNode:
		return m.builtin(n)
	case *ast.ConditionalNode:
		if _, err := m.eval(n.Cond); err != nil {
			return costValue{}, err
		}
		vs, err := m.evalAll([]ast.Node{n.Exp1, n.Exp2})
		if err != nil {
			return costValue{}, err
		}
		return costValue{size: vs[0].size.max(vs[1].size), elems: vs[0].elems.max(vs[1].elems)}, nil
	case *ast.VariableDeclaratorNode:
		v, err := m.eval(n.Value)
		if err != nil {
			return costValue{}, err
		}
		// The checker refuses to redeclare a name, so there is nothing to restore.
		m.vars[n.Name] = v
		defer delete(m.vars, n.Name)
		return m.eval(n.Expr)
	case *ast.SequenceNode:
		vs, err := m.evalAll(n.Nodes)
		if err != nil || len(vs) == 0 {
			return scalarValue, err
		}
		return vs[len(vs)-1], nil
	case *ast.ArrayNode:
		vs, err := m.evalAll(n.Nodes)
		if err != nil {
			return costValue{}, err
		}
		l := float64(len(vs))
		v := costValue{size: bound{c: l + 1}, elems: bound{c: l}} // brackets and spaces
		for _, e := range vs {
			v.size, v.elems = v.size.add(e.size), v.elems.add(e.elems)
		}
		m.charge(n, bound{c: costBox * l})
		return v, nil
	case *ast.MapNode:
		l := float64(len(n.Pairs))
		v := costValue{size: bound{c: 5}, elems: bound{c: 4 * l}} // "map[]"; fmt sorts keys and values
		for _, p := range n.Pairs {
			p, ok := p.(*ast.PairNode)
			if !ok {
				return costValue{}, cannotBound(n)
			}
			kv, err := m.evalAll([]ast.Node{p.Key, p.Value})
			if err != nil {
				return costValue{}, err
			}
			v.size = v.size.add(kv[0].size).add(kv[1].size).plus(2) // ":" and " "
			v.elems = v.elems.add(kv[0].elems).add(kv[1].elems)
		}
		m.charge(n, bound{c: costMapEntry*l + 2*costMapEntry})
		return v, nil
	}
	return costValue{}, cannotBound(node)
}

func (m *costModel) binary(n *ast.BinaryNode) (costValue, error) {
	vs, err := m.evalAll([]ast.Node{n.Left, n.Right})
	if err != nil {
		return costValue{}, err
	}
	l, r := vs[0], vs[1]
	switch n.Operator {
	case "+":
		if isScalar(n.Type()) {
			return scalarValue, nil
		}
		v := costValue{size: l.size.add(r.size), elems: l.elems.add(r.elems)}
		m.charge(n, v.size)
		return v, nil
	case "??":
		return costValue{size: l.size.max(r.size), elems: l.elems.max(r.elems)}, nil
	case "==", "!=":
		// Lists compare element by element, through interfaces.
		m.charge(n, l.elems.add(r.elems).times(costBox))
		return scalarValue, nil
	case "in":
		m.charge(n, r.elems.times(costBox).plus(costBox))
		return scalarValue, nil
	case "matches":
		s, ok := n.Right.(*ast.StringNode)
		if !ok {
			return costValue{}, cannotBound(n)
		}
		insts, err := regexpSize(s.Value)
		if err != nil {
			return costValue{}, err
		}
		m.charge(n, bound{c: costRegexp + costRegexpPer*float64(insts)})
		return scalarValue, nil
	case "or", "||", "and", "&&", "<", ">", "<=", ">=", "contains", "startsWith", "endsWith",
		"-", "*", "/", "%", "**", "^":
		return scalarValue, nil
	}
	return costValue{}, cannotBound(n)
}

func (m *costModel) builtin(n *ast.BuiltinNode) (costValue, error) {
	args, err := m.evalAll(n.Arguments)
	if err != nil {
		return costValue{}, err
	}
	if len(args) == 0 {
		return costValue{}, cannotBound(n) // the checker refuses these
	}
	a := args[0]
	switch n.Name {
	case "int", "float":
		m.quoted = m.quoted.max(a.size) // strconv's error quotes a string that is no number
		return scalarValue, nil
	case "len", "abs", "ceil", "floor", "round", "hasPrefix", "hasSuffix", "indexOf", "lastIndexOf":
		return scalarValue, nil
	case "trim", "trimPrefix", "trimSuffix":
		return costValue{size: a.size}, nil // a substring
	case "lower", "upper":
		// A byte of invalid UTF-8 becomes U+FFFD, 3 bytes; strings.Map's
		// builder grows by doubling on the way to 3×.
		m.charge(n, a.size.times(7))
		return costValue{size: a.size.times(3)}, nil
	case "string":
		if isScalar(n.Arguments[0].Type()) {
			return scalarValue, nil
		}
		// fmt's buffer grows by doubling, then is copied; it boxes each element.
		m.charge(n, a.size.times(3).add(a.elems.times(costBox)))
		return costValue{size: a.size}, nil
	case "split":
		// At most one piece per byte, and with an empty separator each
		// invalid byte is a 3-byte U+FFFD: 3×, plus a space per piece.
		pieces := a.size.plus(1)
		m.charge(n, pieces.times(costBox))
		return costValue{size: a.size.times(4).plus(2), elems: pieces}, nil
	case "min", "max":
		v := costValue{}
		for _, e := range args {
			v.size, v.elems = v.size.max(e.size), v.elems.max(e.elems)
			m.charge(n, e.elems.times(costBox))
		}
		return v, nil
	}
	return costValue{}, cannotBound(n)
}

// isScalar reports whether values of type t are numbers or booleans, whose
// cost does not depend on the input.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func cannotBound(n ast.Node) error {
	return &file.Error{Location: n.Location(), Message: fmt.Sprintf("cannot bound the cost of %s", n)}
}

// regexpSize returns an upper bound on the number of instructions pattern
// compiles to, from its syntax tree: compiling a pattern to count them
// exactly would cost what the limit is there to avoid.
func regexpSize(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	return regexpInsts(re) + 2, nil // plus the fail and match instructions
}

// regexpInsts bounds the instructions re compiles to, saturating far above
// any limit.
func regexpInsts(re *syntax.Regexp) int {
	const huge = 1 << 30
	sum := func(subs []*syntax.Regexp) int {
		n := 0
		for _, s := range subs {
			n = min(n+regexpInsts(s), huge)
		}
		return n
	}
	switch re.Op {
	case syntax.OpLiteral:
		return max(len(re.Rune), 1)
	case syntax.OpCapture:
		return min(2+sum(re.Sub), huge)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return min(1+sum(re.Sub), huge)
	case syntax.OpRepeat:
		// Simplify makes max copies of the body (min, then one optional per
		// extra), each with a split; x{n,} is n copies and a star.
		copies := max(re.Min, re.Max) + 1
		return min(copies*(sum(re.Sub)+1), huge)
	case syntax.OpConcat:
		return sum(re.Sub)
	case syntax.OpAlternate:
		return min(sum(re.Sub)+len(re.Sub), huge)
	}
	return 1 // a class, an anchor, an empty match
}

// fmtBytes formats a byte count for an error, exactly unless it is huge.
func fmtBytes(b float64) string {
	if b >= 1e9 {
		return fmt.Sprintf("%.3g bytes", b)
	}
	return fmt.Sprintf("%.0f bytes", b)
}

func fmtFactor(k float64) string {
	if k >= 1e6 {
		return fmt.Sprintf("%.3g", k)
	}
	return fmt.Sprintf("%.0f", k)
}

package strategy

import "strings"

// Alias maps model names that match Glob to Target before any other routing
// step (DESIGN §5): Claude Code, for one, sends tier names such as
// claude-sonnet-4-6 that no local provider lists.
type Alias struct {
	// Glob is matched against the whole requested model name: '*' matches
	// any run of characters, '/' included, and '?' any one character.
	Glob string
	// Target is auto, local, remote or provider/model.
	Target string
}

// alias returns the target of the first alias matching model.
func (e *Engine) alias(model string) (Alias, bool) {
	for _, a := range e.t.Aliases {
		if MatchGlob(a.Glob, model) {
			return a, true
		}
	}
	return Alias{}, false
}

// MatchGlob reports whether name matches pattern, where '*' matches any run
// of characters ('/' included, unlike path.Match: model names such as
// openrouter/meta/llama-4 have slashes) and '?' one character. Matching is
// on bytes, as model names are ASCII.
func MatchGlob(pattern, name string) bool {
	// Backtracking on the last star only: linear in practice, and a
	// pattern can never make it exponential.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	return strings.Trim(pattern[p:], "*") == ""
}

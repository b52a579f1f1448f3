// Package strategy decides, per request, which side (local or remote) and
// which configured provider and model answer it. It deals in provider names
// only, so it never depends on how a provider talks to its upstream.
package strategy

import (
	"fmt"
	"strings"
)

// Side is where a request goes.
type Side string

// The two sides.
const (
	Local  Side = "local"
	Remote Side = "remote"
)

// Provider is what routing needs to know of a configured provider.
type Provider struct {
	Name   string
	Kind   string // openai | anthropic | google | mock
	Local  bool
	Models []string
}

// Table is the routing configuration.
type Table struct {
	Providers   []Provider // in config order
	Default     Side       // side used before any strategy is known
	LocalModel  string
	RemoteModel string
}

// Request holds the facts of a request that routing looks at.
type Request struct {
	Model string
}

// Decision is where a request goes and why.
type Decision struct {
	Side     Side
	Provider string
	Model    string
	Reason   string
	// Explicit is true when the client named the provider or a model only
	// one provider serves; such requests never fall back to the other side.
	Explicit bool
}

// String formats d as in the X-LocalRouter-Route header:
// "remote:deepseek/deepseek-chat (reason)".
func (d Decision) String() string {
	return string(d.Side) + ":" + d.Provider + "/" + d.Model + " (" + d.Reason + ")"
}

// RouteError says why no provider can serve a request.
type RouteError struct {
	Model string
	Msg   string
}

func (e *RouteError) Error() string { return e.Msg }

// Engine makes routing decisions. It is safe for concurrent use and never
// changes after NewEngine; a new configuration gets a new Engine.
type Engine struct {
	t      Table
	byName map[string]*Provider
	// byModel lists, per model name, the providers whose models list it.
	byModel map[string][]*Provider
}

// NewEngine returns an Engine for t.
func NewEngine(t Table) (*Engine, error) {
	if t.Default != Local && t.Default != Remote {
		return nil, fmt.Errorf("strategy: default side must be local or remote, got %q", t.Default)
	}
	e := &Engine{t: t, byName: map[string]*Provider{}, byModel: map[string][]*Provider{}}
	for i := range e.t.Providers {
		p := &e.t.Providers[i]
		e.byName[p.Name] = p
		for _, m := range p.Models {
			e.byModel[m] = append(e.byModel[m], p)
		}
	}
	return e, nil
}

// Decide routes r following DESIGN §5.
func (e *Engine) Decide(r Request) (Decision, error) {
	model := r.Model
	// 1. provider/model, or a model exactly one provider lists.
	if i := strings.IndexByte(model, '/'); i > 0 {
		if p, ok := e.byName[model[:i]]; ok {
			return Decision{Side: p.side(), Provider: p.Name, Model: model[i+1:], Reason: "provider named", Explicit: true}, nil
		}
	}
	if ps := e.byModel[model]; len(ps) == 1 {
		return Decision{Side: ps[0].side(), Provider: ps[0].Name, Model: model, Reason: "model listed by " + ps[0].Name, Explicit: true}, nil
	}
	if i := strings.IndexByte(model, '/'); i > 0 && len(e.byModel[model]) == 0 {
		return Decision{}, &RouteError{Model: model, Msg: fmt.Sprintf("model %q: no provider named %q is configured", model, model[:i])}
	}

	// 2. local or remote names a side.
	var side Side
	var reason string
	switch model {
	case string(Local), string(Remote):
		side, reason = Side(model), "side requested"
	default:
		// 3. Anything else follows the strategy. This is the seam for the
		// override, the rules and the remote strategy.
		side, reason = e.t.Default, "default side"
	}

	// A model several providers list goes to the one on the chosen side.
	if ps := e.byModel[model]; len(ps) > 1 {
		for _, p := range ps {
			if p.side() == side {
				return Decision{Side: side, Provider: p.Name, Model: model, Reason: reason + ", model listed by " + p.Name}, nil
			}
		}
		return Decision{Side: ps[0].side(), Provider: ps[0].Name, Model: model, Reason: "model listed by " + ps[0].Name}, nil
	}

	target := e.t.RemoteModel
	if side == Local {
		target = e.t.LocalModel
	}
	if target == "" && model != "" && model != "auto" && model != string(Local) && model != string(Remote) {
		// No model configured for the side: keep the name the client asked for.
		target = model
	}
	return e.resolve(side, target, reason)
}

// resolve finds the provider that serves model on side.
func (e *Engine) resolve(side Side, model, reason string) (Decision, error) {
	if i := strings.IndexByte(model, '/'); i > 0 {
		if p, ok := e.byName[model[:i]]; ok {
			return Decision{Side: side, Provider: p.Name, Model: model[i+1:], Reason: reason}, nil
		}
	}
	if ps := e.byModel[model]; len(ps) > 0 {
		for _, p := range ps {
			if p.side() == side {
				return Decision{Side: side, Provider: p.Name, Model: model, Reason: reason}, nil
			}
		}
	}
	var onSide []*Provider
	for i := range e.t.Providers {
		if p := &e.t.Providers[i]; p.side() == side {
			onSide = append(onSide, p)
		}
	}
	if len(onSide) == 0 {
		return Decision{}, &RouteError{Model: model, Msg: fmt.Sprintf("no %s provider is configured", side)}
	}
	if model == "" {
		return Decision{}, &RouteError{Msg: fmt.Sprintf("no %s model is configured: set routing.%s_model", side, side)}
	}
	if side == Remote {
		if p := e.byPrefix(onSide, model); p != nil {
			return Decision{Side: side, Provider: p.Name, Model: model, Reason: reason}, nil
		}
	}
	if len(onSide) == 1 || side == Local {
		return Decision{Side: side, Provider: onSide[0].Name, Model: model, Reason: reason}, nil
	}
	return Decision{}, &RouteError{Model: model, Msg: fmt.Sprintf("model %q: no %s provider lists it or matches its name; add it to a provider's models", model, side)}
}

// prefixes map well-known model families to the provider that serves them,
// matched against a provider's name or kind.
var prefixes = []struct{ prefix, provider string }{
	{"gemini", "google"}, {"claude", "anthropic"},
	{"gpt", "openai"}, {"chatgpt", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"},
	{"deepseek", "deepseek"}, {"grok", "xai"}, {"qwen", "qwen"}, {"qwq", "qwen"},
	{"glm", "zai"}, {"glm", "zhipu"}, {"kimi", "moonshot"}, {"moonshot", "moonshot"},
	{"minimax", "minimax"}, {"abab", "minimax"}, {"doubao", "doubao"},
	{"mistral", "mistral"}, {"codestral", "mistral"},
}

func (e *Engine) byPrefix(ps []*Provider, model string) *Provider {
	m := strings.ToLower(model)
	for _, f := range prefixes {
		if !strings.HasPrefix(m, f.prefix) {
			continue
		}
		for _, p := range ps {
			if p.isVendor(f.provider) {
				return p
			}
		}
	}
	return nil
}

// isVendor reports whether p is the named vendor: by its name ("deepseek",
// "deepseek-work") or, for the two protocols that are their own vendor, by
// its kind. Every OpenAI-compatible provider has kind openai, so for them
// only the name counts.
func (p *Provider) isVendor(vendor string) bool {
	name := strings.ToLower(p.Name)
	if name == vendor || strings.HasPrefix(name, vendor+"-") || strings.HasPrefix(name, vendor+"_") {
		return true
	}
	return (vendor == "anthropic" || vendor == "google") && p.Kind == vendor
}

func (p *Provider) side() Side {
	if p.Local {
		return Local
	}
	return Remote
}

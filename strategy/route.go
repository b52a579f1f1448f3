// Package strategy decides, per request, which side (local or remote) and
// which configured provider and model answer it. It deals in provider names
// only, so it never depends on how a provider talks to its upstream.
package strategy

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
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
	Name          string
	Kind          string // openai | anthropic | google | mock
	Local         bool
	Models        []string
	ContextWindow int // tokens; 0 when unknown
}

// Table is the routing configuration.
type Table struct {
	Providers   []Provider // in config order
	Default     Side       // side used before any strategy is known
	LocalModel  string     // used when the strategy names none
	RemoteModel string
	// FIMModel and EmbeddingModel are each side's model for the completions
	// and embeddings front doors, in place of the side's chat model (the
	// strategy's included); an empty side keeps it.
	FIMModel       SideModels
	EmbeddingModel SideModels
	Fallback       bool // try the other side when the chosen one fails early
	// ContextGuard sends a strategy-routed request remote when the local
	// model cannot take it (DESIGN §11; context.go).
	ContextGuard bool
	// Sessions is routing.sessions: sticky (""), follow or off (session.go).
	Sessions string
	Rules    []RuleSpec // the config's own rules, checked before the strategy's
	// Aliases rewrite requested model names before anything else; the
	// first match in order wins.
	Aliases []Alias
	// Skipped names configured providers that cannot be used now (no key):
	// rules may name them, and are passed over while they are unusable.
	Skipped []string
}

// SideModels name a model per side for one kind of request.
type SideModels struct{ Local, Remote string }

// The Request.Endpoint values that have models of their own.
const (
	EndpointCompletions = "completions"
	EndpointEmbeddings  = "embeddings"
)

// Request holds the facts of a request that routing looks at.
type Request struct {
	Model       string
	Stream      bool
	Messages    int
	PromptChars int
	EstTokens   int
	HasImages   bool
	HasTools    bool
	MaxTokens   int    // the answer's limit the client set; 0 when none
	Endpoint    string // the front door: chat, messages, responses, completions, embeddings, ...
	Client      string // the calling tool: claude-code, codex, ... or ""
	// Header looks up a request header case-insensitively; may be nil.
	Header func(name string) string
	// Private says why the request must stay local (its header, a secret
	// in it); "" when nothing about it does (DESIGN §11).
	Private string
	// Session is the client's own session id, Prefix the hash of the
	// conversation's stable start: the session key (DESIGN §10), none when
	// both are empty. ToolTurn says the request continues a tool loop;
	// Turns is the length of its history.
	Session  string
	Prefix   uint64
	ToolTurn bool
	Turns    int
	// Opening: the conversation's first turn, which starts a session keyed
	// by its prefix afresh (a new conversation that opens with the same
	// words as an old one is a new one).
	Opening bool
}

// Live is what changes while a configuration runs. The caller reads each
// part once per request, so a decision never mixes two strategies.
type Live struct {
	Strategy  *Strategy // the current strategy; nil when none is known
	Override  Side      // "" follows the strategy; local or remote forces a side
	LocalDown bool      // the local side failed its health probe
	Private   bool      // Local only is on: every request stays local
	// Local is what the local probe learned of local models; may be nil.
	Local LocalModels
	// LocalDegraded: a local provider answered 5xx lately; routed requests
	// go to the other side until its back-off ends, as when it is down.
	LocalDegraded bool
	// Sessions is the table of running sessions; nil routes every request
	// on its own.
	Sessions *Sessions
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
	// Private is true when the request must stay local: it never falls
	// back to the other side.
	Private bool
	// history says who answered the request's history in its session
	// (session.go; read with Foreign); nil outside a session. A pointer,
	// so that a Decision stays comparable; shared, never changed.
	history *[]Stint
	// hold is how far a running session may keep its route over this one.
	hold hold
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

// Engine makes routing decisions for one configuration. It is safe for
// concurrent use; a new configuration gets a new Engine.
type Engine struct {
	t      Table
	rules  *Rules // the config's rules
	byName map[string]*Provider
	// byModel lists, per model name, the providers whose models list it.
	byModel map[string][]*Provider
	// compiled caches the rules of the last strategy seen, so a strategy's
	// rules compile once, not per request. Decisions racing on a change may
	// compile twice; both results are the same.
	compiled atomic.Pointer[compiledStrategy]
	// whole is, per provider, the history of a session it answered all of:
	// shared and never changed, so a new session allocates none.
	whole map[string]*[]Stint
}

type compiledStrategy struct {
	src   *Strategy
	rules *Rules
	err   error
}

// NewEngine returns an Engine for t, or an error when t's rules do not compile.
func NewEngine(t Table) (*Engine, error) {
	if t.Default != Local && t.Default != Remote {
		return nil, fmt.Errorf("strategy: default side must be local or remote, got %q", t.Default)
	}
	e := &Engine{t: t, byName: map[string]*Provider{}, byModel: map[string][]*Provider{}, whole: map[string]*[]Stint{}}
	for i := range e.t.Providers {
		p := &e.t.Providers[i]
		e.byName[p.Name] = p
		e.whole[p.Name] = &[]Stint{{Provider: p.Name}}
		for _, m := range p.Models {
			e.byModel[m] = append(e.byModel[m], p)
		}
	}
	for _, a := range t.Aliases {
		if err := e.checkTarget(a.Target); err != nil {
			return nil, fmt.Errorf("strategy: alias %q: %w", a.Glob, err)
		}
	}
	rules, err := e.compile(t.Rules, "config")
	if err != nil {
		return nil, err
	}
	e.rules = rules
	return e, nil
}

// checkTarget reports whether an alias target can route here: auto, a side,
// or a provider/model whose provider is configured.
func (e *Engine) checkTarget(target string) error {
	switch target {
	case "auto", string(Local), string(Remote):
		return nil
	case "":
		return fmt.Errorf("empty target: use auto, local, remote or provider/model")
	}
	p, _, ok := strings.Cut(target, "/")
	if !ok {
		return fmt.Errorf("target %q: use auto, local, remote or provider/model", target)
	}
	if _, known := e.byName[p]; !known && !slices.Contains(e.t.Skipped, p) {
		return fmt.Errorf("target %q: no provider named %q is configured", target, p)
	}
	return nil
}

// CheckStrategy reports whether s can route under this configuration: its
// rules compile, and every provider/model it names is configured. The poller
// calls it on every candidate, so a strategy that fails never takes effect.
func (e *Engine) CheckStrategy(s *Strategy) error {
	for _, side := range [2]Side{Local, Remote} {
		model := s.LocalModel
		if side == Remote {
			model = s.RemoteModel
		}
		// A side with no provider here is simply unavailable on this machine
		// (fallback covers it); a side that has providers must be able to
		// serve the model, or every request would fail.
		if model == "" || !e.hasSide(side) {
			continue
		}
		if _, err := e.resolve(side, model, ""); err != nil {
			return fmt.Errorf("%s_model %q: %w", side, model, err)
		}
	}
	_, err := e.compile(s.Rules, "strategy")
	return err
}

func (e *Engine) hasSide(side Side) bool {
	for i := range e.t.Providers {
		if e.t.Providers[i].side() == side {
			return true
		}
	}
	return false
}

func (e *Engine) compile(specs []RuleSpec, origin string) (*Rules, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	whens := make([]string, len(specs))
	uses := make([]string, len(specs))
	for i, r := range specs {
		whens[i], uses[i] = r.When, r.Use
		// A strategy may only pick among what the user configured.
		if p, _, ok := strings.Cut(r.Use, "/"); ok {
			if _, known := e.byName[p]; !known && !slices.Contains(e.t.Skipped, p) {
				return nil, &RuleError{Origin: origin, Index: i, Field: "use", Value: r.Use,
					Err: fmt.Errorf("no provider named %q is configured", p)}
			}
		}
	}
	return CompileRules(whens, uses, origin)
}

// strategyRules returns s's compiled rules, compiling them on first use.
func (e *Engine) strategyRules(s *Strategy) *Rules {
	if s == nil || len(s.Rules) == 0 {
		return nil
	}
	if c := e.compiled.Load(); c != nil && c.src == s {
		return c.rules
	}
	rules, err := e.compile(s.Rules, "strategy")
	e.compiled.Store(&compiledStrategy{src: s, rules: rules, err: err})
	return rules
}

// Decide routes r following DESIGN §5, then keeps it on its session's
// route where DESIGN §10 says it stays.
func (e *Engine) Decide(r *Request, live Live) (Decision, error) {
	var d Decision
	var err error
	if why := e.privateWhy(r, live); why != "" {
		d, err = e.decidePrivate(r, live, why)
		d.hold = holdNone
	} else {
		d, err = e.decideAliased(r, live)
	}
	if err != nil {
		return d, err
	}
	return e.session(r, live, d), nil
}

// decideAliased routes r after its alias.
func (e *Engine) decideAliased(r *Request, live Live) (Decision, error) {
	a, ok := e.alias(r.Model)
	if !ok {
		return e.decide(r, r.Model, live)
	}
	d, err := e.decide(r, a.Target, live)
	d.Reason = "alias " + a.Glob + ", " + d.Reason
	return d, err
}

// decide routes r as if it had asked for model; rules still see the name
// the client sent.
func (e *Engine) decide(r *Request, model string, live Live) (Decision, error) {
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

	s := live.Strategy
	var side Side
	var reason string
	h := holdAny
	switch {
	// 2. local or remote names a side.
	case model == string(Local) || model == string(Remote):
		side, reason, h = Side(model), "side requested", holdSameSide
	// 3. Anything else: override, rules, strategy, default.
	case live.Override == Local || live.Override == Remote:
		side, reason, h = live.Override, "override", holdNone
	default:
		if d, ok := e.byRule(r, model, live); ok {
			d.hold = holdAny
			return d, nil
		}
		side, reason = e.t.Default, "default side"
		if s != nil {
			side, reason = s.Strategy, "strategy"
		}
	}

	// A model several providers list goes to the one on the chosen side.
	if ps := e.byModel[model]; len(ps) > 1 {
		for _, p := range ps {
			if p.side() == side {
				return Decision{Side: side, Provider: p.Name, Model: model, Reason: reason + ", model listed by " + p.Name, hold: h}, nil
			}
		}
		return Decision{Side: ps[0].side(), Provider: ps[0].Name, Model: model, Reason: "model listed by " + ps[0].Name}, nil
	}
	d, err := e.onSide(side, model, reason, r.Endpoint, live)
	if err == nil && (reason == "strategy" || reason == "default side") {
		d = e.guard(r, d, model, live)
	}
	d.hold = h
	return d, err
}

// byRule applies the first matching rule, the config's before the strategy's.
func (e *Engine) byRule(r *Request, model string, live Live) (Decision, bool) {
	srules := e.strategyRules(live.Strategy)
	if e.rules == nil && srules == nil {
		return Decision{}, false
	}
	env := e.env(r, live)
	for _, rs := range [2]*Rules{e.rules, srules} {
		// A rule whose target cannot serve now (its provider has no key, its
		// side no provider) is passed over for the next one.
		for from := 0; ; {
			use, i, ok := rs.matchFrom(&env, from)
			if !ok {
				break
			}
			from = i + 1
			reason := rs.rules[i].reason
			if use == UsePrivate {
				continue // applied before any rule: privateRule
			}
			if use == string(Local) || use == string(Remote) {
				if d, err := e.onSide(Side(use), model, reason, r.Endpoint, live); err == nil {
					return d, true
				}
				continue
			}
			name, m, _ := strings.Cut(use, "/")
			if p, known := e.byName[name]; known {
				return Decision{Side: p.side(), Provider: p.Name, Model: m, Reason: reason}, true
			}
		}
	}
	return Decision{}, false
}

func (e *Engine) env(r *Request, live Live) Env {
	now := time.Now()
	env := Env{
		Model: r.Model, Stream: r.Stream, Messages: r.Messages, PromptChars: r.PromptChars,
		EstTokens: r.EstTokens, HasImages: r.HasImages, HasTools: r.HasTools, Endpoint: r.Endpoint, Client: r.Client,
		Hour: now.Hour(), Weekday: int(now.Weekday()), Header: r.Header,
		Strategy: string(e.t.Default), LocalModel: e.t.LocalModel, RemoteModel: e.t.RemoteModel,
		LocalUp: !live.LocalDown,
	}
	if s := live.Strategy; s != nil {
		env.Strategy = string(s.Strategy)
		if s.LocalModel != "" {
			env.LocalModel = s.LocalModel
		}
		if s.RemoteModel != "" {
			env.RemoteModel = s.RemoteModel
		}
	}
	if d, err := e.resolve(Local, env.LocalModel, ""); err == nil {
		env.LocalContext = e.localInfo(e.byName[d.Provider], d.Model, live).ContextWindow
	}
	return env
}

// onSide routes to side's model for endpoint, or to the other side when
// side is local, the local side is down and fallback is on.
func (e *Engine) onSide(side Side, requested, reason, endpoint string, live Live) (Decision, error) {
	if side == Local && live.LocalDown && e.t.Fallback {
		if d, err := e.onSideModel(Remote, requested, reason+", local down", endpoint, live); err == nil {
			return d, nil
		}
	}
	if side == Local && live.LocalDegraded && e.t.Fallback {
		if d, err := e.onSideModel(Remote, requested, reason+", local degraded", endpoint, live); err == nil {
			return d, nil
		}
	}
	return e.onSideModel(side, requested, reason, endpoint, live)
}

func (e *Engine) onSideModel(side Side, requested, reason, endpoint string, live Live) (Decision, error) {
	if m, why := e.endpointModel(side, endpoint); m != "" {
		return e.resolve(side, m, reason+", "+why)
	}
	target := e.sideModel(side, live.Strategy)
	if target == "" && requested != "" && requested != "auto" && requested != string(Local) && requested != string(Remote) {
		// No model configured for the side: keep the name the client asked for.
		target = requested
	}
	return e.resolve(side, target, reason)
}

// endpointModel is the config's model for side on endpoint's front door,
// and the words the route's reason gives it; "" when that door uses the
// side's chat model. It wins over the strategy's models, which are chat
// models: a strategy cannot name a FIM or embedding model.
func (e *Engine) endpointModel(side Side, endpoint string) (model, why string) {
	var m SideModels
	switch endpoint {
	case EndpointCompletions:
		m, why = e.t.FIMModel, "fim model"
	case EndpointEmbeddings:
		m, why = e.t.EmbeddingModel, "embedding model"
	default:
		return "", ""
	}
	if side == Local {
		return m.Local, why
	}
	return m.Remote, why
}

// sideModel is the strategy's model for side, else the config's.
func (e *Engine) sideModel(side Side, s *Strategy) string {
	if side == Local {
		if s != nil && s.LocalModel != "" {
			return s.LocalModel
		}
		return e.t.LocalModel
	}
	if s != nil && s.RemoteModel != "" {
		return s.RemoteModel
	}
	return e.t.RemoteModel
}

// Fallback returns where d's request goes when d failed before anything
// reached the client: the other side, once, and only for requests the
// strategy routed.
func (e *Engine) Fallback(r *Request, d Decision, live Live) (Decision, bool) {
	if d.Explicit || d.Private || !e.t.Fallback {
		return Decision{}, false
	}
	other := Remote
	if d.Side == Remote {
		other = Local
	}
	requested := r.Model
	if a, ok := e.alias(requested); ok {
		requested = a.Target
	}
	alt, err := e.onSideModel(other, requested, "fallback from "+d.Provider+"/"+d.Model, r.Endpoint, live)
	if err != nil || (alt.Provider == d.Provider && alt.Model == d.Model) {
		return Decision{}, false
	}
	alt.history = e.moveSession(r, live, d, alt)
	return alt, true
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

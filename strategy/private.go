package strategy

// Local only (DESIGN §11): a private request never goes remote. It is
// routed as any other, then kept on the local side: a remote route (the
// strategy's, an override's, a rule's, a remote provider/model or alias) is
// replaced by the local side's model, and it never falls back.

// UsePrivate is the rule action that makes a request private.
const UsePrivate = "private"

// PrivateError says why a private request cannot be served: it would have
// to go remote.
type PrivateError struct {
	Msg string
}

func (e *PrivateError) Error() string { return e.Msg }

// privateWhy says why r must stay local, or "" when it need not: Local only
// is on, the request says so (header, a secret in it), or a use: private
// rule holds.
func (e *Engine) privateWhy(r *Request, live Live) string {
	switch {
	case live.Private:
		return "local only"
	case r.Private != "":
		return r.Private
	}
	return e.privateRule(r, live)
}

// privateRule returns the reason of the first use: private rule whose when
// holds, the config's before the strategy's. Wherever it stands in the
// list, it applies before the rules that pick a route, and to a request
// that names its model: privacy is not a route but a limit on every route.
func (e *Engine) privateRule(r *Request, live Live) string {
	srules := e.strategyRules(live.Strategy)
	if !e.rules.uses(UsePrivate) && !srules.uses(UsePrivate) {
		return ""
	}
	env := e.env(r, live)
	for _, rs := range [2]*Rules{e.rules, srules} {
		for from := 0; ; {
			use, i, ok := rs.matchFrom(&env, from)
			if !ok {
				break
			}
			if use == UsePrivate {
				return rs.rules[i].reason
			}
			from = i + 1
		}
	}
	return ""
}

// uses reports whether any of rs's rules has action use.
func (rs *Rules) uses(use string) bool {
	for i := range rs.Len() {
		if rs.rules[i].use == use {
			return true
		}
	}
	return false
}

// decidePrivate routes r, which must stay local because of why.
func (e *Engine) decidePrivate(r *Request, live Live, why string) (Decision, error) {
	reason := "private: " + why
	hint := ""
	if why == "local only" {
		hint = ", or turn Local only off"
	}
	if !e.hasSide(Local) {
		return Decision{}, &PrivateError{Msg: "the request is private (" + why + ") and no local provider is configured: " +
			"LocalRouter does not send it remote; add a local provider" + hint}
	}
	if live.LocalDown {
		return Decision{}, &PrivateError{Msg: "the request is private (" + why + ") and the local side is down: " +
			"LocalRouter does not send it remote; start the local model server" + hint}
	}
	// The local side is up, so no route below falls back to the remote one.
	d, err := e.decideAliased(r, live)
	if err == nil && e.isLocal(d.Provider) {
		d.Reason += ", " + reason
		d.Private = true
		return d, nil
	}
	if err == nil {
		reason += ", kept local from " + d.Provider + "/" + d.Model
	}
	ld, err := e.onSideModel(Local, "", reason, r.Endpoint, live)
	if err != nil || !e.isLocal(ld.Provider) {
		msg := "the request is private (" + why + ") and has no local model: LocalRouter does not send it remote; set routing.local_model"
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		return Decision{}, &PrivateError{Msg: msg}
	}
	ld.Private = true
	return ld, nil
}

// isLocal reports whether the provider named name is a local one.
func (e *Engine) isLocal(name string) bool {
	p := e.byName[name]
	return p != nil && p.Local
}

package strategy

import "strconv"

// ModelInfo is what a local backend says of one model it serves (DESIGN
// §11): its context window and whether it can call tools.
type ModelInfo struct {
	// ContextWindow is in tokens; 0 when the backend did not say.
	ContextWindow int
	// Tools reports the tools capability; ToolsKnown whether the backend
	// reported capabilities at all (vLLM does not: its models are then
	// trusted with tools, as before).
	Tools, ToolsKnown bool
}

// LocalModels looks up what the local probe learned of provider's model;
// false when it knows nothing of it.
type LocalModels interface {
	ModelInfo(provider, model string) (ModelInfo, bool)
}

// Reasons the context guard gives for sending a request remote.
const (
	reasonNoTools = "local model has no tools"
)

func reasonExceeds(n int) string { return "exceeds local context " + strconv.Itoa(n) }

// localInfo is what routing knows of model on local provider p: the
// config's context_window wins over what the backend reports.
func (e *Engine) localInfo(p *Provider, model string, live Live) ModelInfo {
	var mi ModelInfo
	if live.Local != nil {
		mi, _ = live.Local.ModelInfo(p.Name, model)
	}
	if p.ContextWindow > 0 {
		mi.ContextWindow = p.ContextWindow
	}
	return mi
}

// guard sends a strategy-routed request remote when the local model it was
// given cannot take it (routing.context_guard): the prompt estimate plus
// max_tokens does not fit its context window (Ollama would silently cut the
// prompt), or it has tools and the model lacks the tools capability. d is
// the local decision; the remote one is returned when one resolves, else d.
func (e *Engine) guard(r *Request, d Decision, requested string, live Live) Decision {
	if !e.t.ContextGuard || d.Side != Local || d.Explicit {
		return d
	}
	p := e.byName[d.Provider]
	if p == nil {
		return d
	}
	mi := e.localInfo(p, d.Model, live)
	why := ""
	switch {
	case mi.ContextWindow > 0 && r.EstTokens+r.MaxTokens > mi.ContextWindow:
		why = reasonExceeds(mi.ContextWindow)
	case r.HasTools && mi.ToolsKnown && !mi.Tools:
		why = reasonNoTools
	default:
		return d
	}
	alt, err := e.onSideModel(Remote, requested, d.Reason+", "+why, r.Endpoint, live)
	if err != nil {
		return d
	}
	return alt
}

package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/openai"
	"github.com/localrouter/localrouter/strategy"
)

// Local truth (DESIGN §11): what each local backend really serves, each
// model's context window and capabilities, learned by the probe from the
// backend's own API, and the local side's health beyond refused connections.

// localTruth is one probe's findings, per local provider. It is replaced
// whole, so readers take no lock.
type localTruth struct {
	backends map[string]*backendTruth
}

// backendTruth is what one local provider reported.
type backendTruth struct {
	models []string // as the backend names them, in its order
	info   map[string]strategy.ModelInfo
}

// ModelInfo implements strategy.LocalModels. It runs on every routed
// request, so it only looks up: the probe already filed an Ollama model
// named "name:latest" under "name" too, as clients and configs write it.
func (t *localTruth) ModelInfo(provider, model string) (strategy.ModelInfo, bool) {
	if t == nil {
		return strategy.ModelInfo{}, false
	}
	b := t.backends[provider]
	if b == nil {
		return strategy.ModelInfo{}, false
	}
	mi, ok := b.info[model]
	return mi, ok
}

// models lists what provider's backend holds; nil when unknown.
func (t *localTruth) models(provider string) []string {
	if t == nil || t.backends[provider] == nil {
		return nil
	}
	return t.backends[provider].models
}

// maxShow bounds the /api/show calls one probe makes to one Ollama: a
// server with hundreds of models is still probed in a few requests' time.
const maxShow = 64

// probeLocal asks each local provider what it serves. A provider that
// answers at all is up; the local side is down when none does. What the
// answers say of the models replaces the last probe's findings.
func (s *Server) probeLocal(ctx context.Context) {
	st := s.state.Load()
	configs := map[string]config.Provider{}
	for _, pc := range st.cfg.Providers {
		configs[pc.Name] = pc
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		up       bool
		probed   int
		backends = map[string]*backendTruth{}
	)
	for _, p := range st.up.table.Providers {
		if !p.Local {
			continue
		}
		pc, ok := configs[p.Name]
		if !ok || (p.Kind != "openai" && p.Kind != "anthropic") {
			// A mock or Gemini-speaking local provider has no model API
			// the probe knows: trust it, and let a refused request mark
			// the side down.
			up = true
			continue
		}
		probed++
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			b, err := learnBackend(pctx, pc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				return
			}
			up = true
			if b != nil {
				backends[p.Name] = b
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	st.truth.Store(&localTruth{backends: backends})
	if probed == 0 && !up {
		// Nothing local is configured: down, but nothing to warn about.
		s.localDown.Store(true)
		return
	}
	s.setLocalDown(!up)
}

// errUnreachable is a backend that gave no HTTP answer, errBroken one
// that answered its model list with a 5xx.
var (
	errUnreachable = errors.New("local backend unreachable")
	errBroken      = errors.New("local backend fails its model list")
)

// learnBackend probes one local provider. It returns errUnreachable when
// the backend gives no HTTP answer; a nil truth with no error is a backend
// that answers but whose models could not be learned.
func learnBackend(ctx context.Context, pc config.Provider) (*backendTruth, error) {
	base := strings.TrimRight(pc.BaseURL, "/")
	if base == "" && pc.Kind() == "openai" {
		base, _ = openai.DefaultBaseURL(pc.Name)
	}
	root := strings.TrimSuffix(base, "/v1")
	g := &getter{ctx: ctx, pc: pc}
	if pc.Kind() == "anthropic" {
		// An Anthropic-speaking local server is often Ollama ≥ 0.14, whose
		// native API says the most; else (LM Studio, vLLM, a LAN proxy)
		// /v1/models in Anthropic's shape or OpenAI's.
		if b, err := learnOllama(g, root); b != nil {
			return b, err
		}
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		ok, err := g.json(http.MethodGet, root+"/v1/models", nil, &list)
		if err != nil || !ok {
			return nil, err
		}
		b := &backendTruth{info: map[string]strategy.ModelInfo{}}
		for _, m := range list.Data {
			b.models = append(b.models, m.ID)
		}
		return b, nil
	}
	// Each API in turn; the backend is up when any of them answers
	// without a 5xx, though it be with a 404 (it does not serve that one).
	var last error
	answered := false
	for _, learn := range []func() (*backendTruth, error){
		func() (*backendTruth, error) { return learnOllama(g, root) },
		func() (*backendTruth, error) { return learnLMStudio(g, root) },
		func() (*backendTruth, error) { return learnOpenAI(g, base) },
	} {
		b, err := learn()
		if b != nil {
			return b, nil
		}
		if err == nil {
			answered = true
		} else {
			last = err
		}
	}
	if answered {
		return nil, nil
	}
	return nil, last
}

// learnOllama reads Ollama's native API: /api/tags for the models (a null
// or empty list is a server with none), /api/show for each one's context
// length and capabilities, /api/ps for the context a loaded model really
// runs with, which is what Ollama truncates prompts at.
func learnOllama(g *getter, root string) (*backendTruth, error) {
	type details struct {
		ContextLength int `json:"context_length"`
	}
	// maxShow bounds the /api/show calls of one probe.
	var tags struct {
		Models *[]struct {
			Name         string   `json:"name"`
			Details      details  `json:"details"`
			Capabilities []string `json:"capabilities"`
		} `json:"models"`
	}
	ok, err := g.json(http.MethodGet, root+"/api/tags", nil, &tags)
	if err != nil || !ok {
		return nil, err
	}
	b := &backendTruth{models: []string{}, info: map[string]strategy.ModelInfo{}}
	if tags.Models == nil {
		// {"models": null} and {"models": []} are both "up, no models";
		// an answer without the key is not Ollama.
		if !g.hadKey("models") {
			return nil, nil
		}
		return b, nil
	}
	for i, m := range *tags.Models {
		b.models = append(b.models, m.Name)
		mi := strategy.ModelInfo{ContextWindow: m.Details.ContextLength}
		if m.Capabilities != nil {
			mi.Tools, mi.ToolsKnown = slices.Contains(m.Capabilities, "tools"), true
		}
		// Ollama ≥ 0.12 puts both in /api/tags (capture 05); older ones
		// only in /api/show, asked then only.
		if !mi.ToolsKnown && i < maxShow {
			var show struct {
				ModelInfo    map[string]json.RawMessage `json:"model_info"`
				Capabilities []string                   `json:"capabilities"`
			}
			body, _ := json.Marshal(map[string]string{"model": m.Name})
			if ok, err := g.json(http.MethodPost, root+"/api/show", body, &show); err == nil && ok {
				if mi.ContextWindow == 0 {
					mi.ContextWindow = contextLength(show.ModelInfo)
				}
				if !mi.ToolsKnown && show.Capabilities != nil {
					mi.Tools, mi.ToolsKnown = slices.Contains(show.Capabilities, "tools"), true
				}
			}
		}
		b.info[m.Name] = mi
	}
	var ps struct {
		Models []struct {
			Name          string `json:"name"`
			ContextLength int    `json:"context_length"`
		} `json:"models"`
	}
	if ok, err := g.json(http.MethodGet, root+"/api/ps", nil, &ps); err == nil && ok {
		for _, m := range ps.Models {
			if mi, known := b.info[m.Name]; known && m.ContextLength > 0 {
				mi.ContextWindow = m.ContextLength
				b.info[m.Name] = mi
			}
		}
	}
	for name, mi := range b.info {
		if short, ok := strings.CutSuffix(name, ":latest"); ok {
			if _, taken := b.info[short]; !taken {
				b.info[short] = mi
			}
		}
	}
	return b, nil
}

// contextLength finds <arch>.context_length in /api/show's model_info,
// the architecture named by general.architecture.
func contextLength(info map[string]json.RawMessage) int {
	var arch string
	if json.Unmarshal(info["general.architecture"], &arch) != nil || arch == "" {
		return 0
	}
	var n int
	if json.Unmarshal(info[arch+".context_length"], &n) != nil {
		return 0
	}
	return n
}

// learnLMStudio reads LM Studio's /api/v0/models: max_context_length, the
// context of a loaded model, and the tool_use capability.
func learnLMStudio(g *getter, root string) (*backendTruth, error) {
	var list struct {
		Data []struct {
			ID                  string   `json:"id"`
			Type                string   `json:"type"`
			MaxContextLength    int      `json:"max_context_length"`
			LoadedContextLength int      `json:"loaded_context_length"`
			Capabilities        []string `json:"capabilities"`
		} `json:"data"`
	}
	ok, err := g.json(http.MethodGet, root+"/api/v0/models", nil, &list)
	if err != nil || !ok || list.Data == nil {
		return nil, err
	}
	b := &backendTruth{models: []string{}, info: map[string]strategy.ModelInfo{}}
	for _, m := range list.Data {
		b.models = append(b.models, m.ID)
		mi := strategy.ModelInfo{ContextWindow: m.MaxContextLength, ToolsKnown: m.Type == "llm" || m.Type == "vlm"}
		if m.LoadedContextLength > 0 {
			mi.ContextWindow = m.LoadedContextLength
		}
		mi.Tools = slices.Contains(m.Capabilities, "tool_use")
		b.info[m.ID] = mi
	}
	return b, nil
}

// learnOpenAI reads an OpenAI-compatible /v1/models: vLLM adds
// max_model_len; an empty or null data list is a server with no models.
func learnOpenAI(g *getter, base string) (*backendTruth, error) {
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	ok, err := g.json(http.MethodGet, base+"/models", nil, &list)
	if err != nil || !ok {
		return nil, err
	}
	b := &backendTruth{models: []string{}, info: map[string]strategy.ModelInfo{}}
	for _, m := range list.Data {
		b.models = append(b.models, m.ID)
		b.info[m.ID] = strategy.ModelInfo{ContextWindow: m.MaxModelLen}
	}
	return b, nil
}

// getter makes the probe's requests to one backend, with its key and
// headers; what it reads is bounded.
type getter struct {
	ctx  context.Context
	pc   config.Provider
	keys map[string]json.RawMessage // the top-level keys of the last answer
}

const maxProbeAnswer = 8 << 20

// json fetches url into v. ok is false when the backend answered but not
// with a 200 and a JSON object (it does not serve that API); err is
// errUnreachable when it did not answer.
func (g *getter) json(method, url string, body []byte, v any) (ok bool, err error) {
	req, err := http.NewRequestWithContext(g.ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return false, errUnreachable
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.pc.APIKey != "" {
		if g.pc.Kind() == "anthropic" {
			req.Header.Set("x-api-key", string(g.pc.APIKey))
			req.Header.Set("anthropic-version", "2023-06-01")
		} else {
			req.Header.Set("Authorization", "Bearer "+string(g.pc.APIKey))
		}
	}
	for k, v := range g.pc.Headers {
		req.Header.Set(k, string(v))
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return false, errUnreachable
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeAnswer))
	if resp.StatusCode >= 500 {
		// A server that fails its own model list is not serving.
		return false, errBroken
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, nil
	}
	g.keys = nil
	if json.Unmarshal(b, &g.keys) != nil || json.Unmarshal(b, v) != nil {
		return false, nil
	}
	return true, nil
}

func (g *getter) hadKey(k string) bool {
	_, ok := g.keys[k]
	return ok
}

// probeClient never follows a redirect off the backend and never waits
// longer than a probe may.
var probeClient = &http.Client{
	Timeout:       probeTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// localHealth tracks a local side that answers but fails: a provider that
// answered 5xx is degraded until its back-off ends.
type localHealth struct {
	until atomic.Int64 // unix nanoseconds; 0 or past: not degraded
}

func (h *localHealth) degraded(now time.Time) bool { return now.UnixNano() < h.until.Load() }

// noteLocalFailure marks the local side degraded when dec's local provider
// answered err with a 5xx: routed requests then go to the other side at
// once for the back-off instead of trying it first each time. The first
// failure of a back-off is logged and notified (the tray says so once);
// the end of the back-off is notified too.
func (s *Server) noteLocalFailure(st *state, dec strategy.Decision, err error) {
	var pe *providers.Error
	if dec.Side != strategy.Local || !errors.As(err, &pe) || pe.Status < 500 {
		return
	}
	backoff := st.cfg.Routing.LocalBackoff
	if backoff <= 0 {
		return
	}
	now := time.Now()
	was := s.lhealth.degraded(now)
	s.lhealth.until.Store(now.Add(backoff).UnixNano())
	if was {
		return
	}
	s.log.Warn("local side degraded: routed requests go remote for the back-off", "provider", dec.Provider,
		"status", pe.Status, "backoff", backoff)
	s.notify()
	time.AfterFunc(backoff, s.notify)
}

// fallbackWhy reports whether a request whose route dec failed with err
// may go to the other side, and what the new route's reason adds: a 404
// "model not found" from a local upstream falls back like a 5xx, since
// the strategy named a model this machine does not hold.
func fallbackWhy(dec strategy.Decision, err error) (string, bool) {
	if isRetryable(err) {
		return "", true
	}
	var pe *providers.Error
	if dec.Side == strategy.Local && errors.As(err, &pe) && pe.Status == http.StatusNotFound {
		return ", local model not found", true
	}
	return "", false
}

// localMaxTokens is the max_tokens a request without one gets on route dec:
// for a local provider of type anthropic, whose protocol requires one, the
// model's own limit when the backend reports it, rather than the 8192
// default that cuts a local model's long answers short. 0 otherwise.
func (s *Server) localMaxTokens(st *state, dec strategy.Decision) int {
	if dec.Side != strategy.Local {
		return 0
	}
	for _, p := range st.up.table.Providers {
		if p.Name != dec.Provider || p.Kind != "anthropic" {
			continue
		}
		if p.ContextWindow > 0 {
			return p.ContextWindow
		}
		mi, _ := st.truth.Load().ModelInfo(p.Name, dec.Model)
		return mi.ContextWindow
	}
	return 0
}

// withLocalMax returns req with max_tokens n when it has none and n > 0;
// req itself is not changed, since a fallback sends it again elsewhere.
func withLocalMax(req *providers.ChatCompletionRequest, n int) *providers.ChatCompletionRequest {
	if n <= 0 || req.MaxTokens != nil || req.MaxCompletionTokens != nil {
		return req
	}
	cp := *req
	max := n // only here on the heap: &n would put every call's n there
	cp.MaxTokens = &max
	return &cp
}

// streamCut watches a translated stream for the way Ollama's OpenAI
// endpoint ends one whose model runner died (captures 40 and 42): a last
// chunk with an empty model and empty content, then no [DONE]. Its
// fields are written by the relay's producer before it returns and read
// by its fail after, so they need no lock.
type streamCut struct {
	err       error
	lastEmpty bool
}

func (c *streamCut) saw(chunk *providers.ChatCompletionStreamResponse) {
	c.lastEmpty = bytes.Contains(chunk.Raw, []byte(`"model":""`)) && bytes.Contains(chunk.Raw, []byte(`"content":""`))
}

// localStreamFailure is the in-band error a stream from dec ends with: e,
// unless dec is local and the stream was cut as a crashed Ollama runner
// cuts it, when the client is told the local model failed, with what
// Ollama's /api/ps says of the model now where it can be asked.
func (s *Server) localStreamFailure(ctx context.Context, dec strategy.Decision, cut *streamCut, e *apiError) *apiError {
	if dec.Side != strategy.Local || !errors.Is(cut.err, openai.ErrNoDone) {
		return e
	}
	msg := "the local model " + dec.Provider + "/" + dec.Model + " failed while answering: its stream ended"
	if cut.lastEmpty {
		msg += " with an empty chunk and no [DONE], as Ollama's does when its model runner crashes"
	} else {
		msg += " before [DONE]"
	}
	if loaded, ok := s.ollamaLoaded(ctx, dec); ok {
		if loaded {
			msg += "; Ollama's /api/ps still lists the model"
		} else {
			msg += "; Ollama's /api/ps no longer lists the model: its runner stopped (see the Ollama server log)"
		}
	}
	return newAPIError(http.StatusBadGateway, "server_error", "local_model_failed", "", msg)
}

// ollamaLoaded asks an Ollama backend's /api/ps whether dec's model is
// loaded; ok is false when the backend is no Ollama or does not answer.
func (s *Server) ollamaLoaded(ctx context.Context, dec strategy.Decision) (loaded, ok bool) {
	st := s.state.Load()
	var pc config.Provider
	found := false
	for _, p := range st.cfg.Providers {
		if p.Name == dec.Provider {
			pc, found = p, true
		}
	}
	if !found {
		return false, false
	}
	root := strings.TrimSuffix(strings.TrimRight(pc.BaseURL, "/"), "/v1")
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	g := &getter{ctx: pctx, pc: pc}
	var ps struct {
		Models *[]struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"models"`
	}
	if okGet, err := g.json(http.MethodGet, root+"/api/ps", nil, &ps); err != nil || !okGet || ps.Models == nil {
		return false, false
	}
	for _, m := range *ps.Models {
		if m.Name == dec.Model || m.Model == dec.Model || m.Name == dec.Model+":latest" {
			return true, true
		}
	}
	return false, true
}

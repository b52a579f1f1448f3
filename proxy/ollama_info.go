package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// The Ollama door's discovery endpoints (DESIGN §9): what Copilot's BYOK
// Ollama provider, JetBrains, Zed and Open WebUI read before their first
// request. They describe the names LocalRouter routes, in Ollama's shapes,
// matching what a real Ollama server answers (../shared/captures/ollama).

// ollamaVersion is what /api/version answers: clients gate features on it
// (Copilot wants ≥ 0.6.4), and LocalRouter serves the API of this release.
const ollamaVersion = "0.13.5"

func ollamaRoot(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Ollama is running")
}

func ollamaVersionInfo(w http.ResponseWriter, _ *http.Request) {
	writeOllamaJSON(w, http.StatusOK, map[string]string{"version": ollamaVersion})
}

// ollamaModel is one entry of /api/tags and /api/ps.
type ollamaModel struct {
	Name         string        `json:"name"`
	Model        string        `json:"model"`
	ModifiedAt   string        `json:"modified_at"`
	Size         int64         `json:"size"`
	Digest       string        `json:"digest"`
	Details      ollamaDetails `json:"details"`
	Capabilities []string      `json:"capabilities"`
	// /api/ps only.
	ExpiresAt string `json:"expires_at,omitempty"`
	SizeVRAM  *int64 `json:"size_vram,omitempty"`
}

type ollamaDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

// ollamaTags serves GET /api/tags (and, with running set, /api/ps): every
// name LocalRouter routes, as installed models.
func (s *Server) ollamaTags(running bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.state.Load()
		live := s.live()
		models := []ollamaModel{}
		for _, n := range routableNames(st) {
			target := s.ollamaTarget(st, r, n.id, live)
			m := ollamaModel{Name: n.id, Model: n.id, ModifiedAt: s.started.Format(time.RFC3339Nano),
				Digest: digest(n.id), Details: target.details(), Capabilities: target.capabilities()}
			if running {
				zero := int64(0)
				m.ExpiresAt, m.SizeVRAM = "2318-01-01T00:00:00Z", &zero
			}
			models = append(models, m)
		}
		writeOllamaJSON(w, http.StatusOK, map[string]any{"models": models})
	}
}

// ollamaShow serves POST /api/show: a native Ollama upstream's own answer
// for the model the name routes to (its real context length, template and
// capabilities), else one made from what the config says.
func (s *Server) ollamaShow(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	body, aerr := readBody(w, r, st.maxBody)
	if aerr != nil {
		writeOllamaError(w, aerr.status, aerr.Error())
		return
	}
	var req struct {
		Model string `json:"model"`
		Name  string `json:"name"` // before Ollama 0.5
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeOllamaError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	if name == "" {
		writeOllamaError(w, http.StatusBadRequest, "model is required")
		return
	}
	dec, err := st.router.Decide(&strategy.Request{Model: ollamaName(name), Endpoint: "chat",
		Header: strategy.HeaderFunc(r.Header)}, s.live())
	if err != nil {
		on, why := st.mockMode(s)
		if !on {
			writeOllamaError(w, http.StatusNotFound, "model '"+name+"' not found")
			return
		}
		// In mock mode every name is answered, as the chat doors answer it.
		dec = strategy.Decision{Side: st.up.table.Default, Provider: "mock", Model: ollamaName(name), Reason: why}
	}
	w.Header().Set("X-LocalRouter-Route", dec.String())
	if p, ok := s.provider(st, dec); ok {
		if n, ok := p.(providers.Native); ok && n.Speaks(providers.ProtocolOllama) {
			if b, err := providers.WithModel(body, dec.Model); err == nil {
				resp, err := n.Forward(r.Context(), providers.NativeRequest{Protocol: providers.ProtocolOllama,
					Path: "/api/show", Body: b, Header: r.Header}, nil)
				if err == nil {
					writeBody(w, resp.Status, resp.ContentType, resp.Body)
					return
				}
				s.log.Debug("api/show upstream failed; answering from the config", "route", dec.String(), "err", err)
			}
		}
	}
	t := s.targetOf(st, dec)
	arch := t.details().Family
	info := map[string]any{"general.architecture": arch, "general.basename": dec.Model}
	if t.contextWindow > 0 {
		info[arch+".context_length"] = t.contextWindow
	}
	writeOllamaJSON(w, http.StatusOK, map[string]any{
		"modelfile":    "# LocalRouter routes " + name + " to " + dec.String() + "\nFROM " + dec.Model + "\n",
		"parameters":   "",
		"template":     "{{ .Prompt }}",
		"details":      t.details(),
		"model_info":   info,
		"capabilities": t.capabilities(),
		"modified_at":  s.started.Format(time.RFC3339Nano),
	})
}

// ollamaName is a name as LocalRouter routes it: Ollama clients add the
// default tag to names they list ("auto:latest"), which no provider knows.
func ollamaName(name string) string {
	return strings.TrimSuffix(name, ":latest")
}

// ollamaTarget is what a name routes to now, for describing it.
func (s *Server) ollamaTarget(st *state, r *http.Request, name string, live strategy.Live) target {
	dec, err := st.router.Decide(&strategy.Request{Model: name, Endpoint: "chat", Header: strategy.HeaderFunc(r.Header)}, live)
	if err != nil {
		return target{model: name}
	}
	return s.targetOf(st, dec)
}

// target is the provider and model a name resolves to.
type target struct {
	model         string
	local         bool
	contextWindow int
	fim           bool // the provider has a completions API
	embedding     bool // the config names it as an embedding model
}

func (s *Server) targetOf(st *state, dec strategy.Decision) target {
	em := st.cfg.Routing.EmbeddingModel
	t := target{model: dec.Model, embedding: dec.Model != "" && (dec.Model == em.Local || dec.Model == em.Remote)}
	for _, p := range st.up.table.Providers {
		if p.Name == dec.Provider {
			t.local, t.contextWindow = p.Local, p.ContextWindow
		}
	}
	if t.local && t.contextWindow == 0 {
		// What the local backend reports, as the router sees it.
		mi, _ := st.truth.Load().ModelInfo(dec.Provider, dec.Model)
		t.contextWindow = mi.ContextWindow
	}
	if p, ok := s.provider(st, dec); ok {
		n, native := p.(providers.Native)
		t.fim = native && n.Speaks(providers.ProtocolCompletions)
	}
	return t
}

var paramSize = regexp.MustCompile(`(?i)(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([bm])(?:$|[^a-z0-9])`)

// details guesses an Ollama details block from the model name: the family
// is its leading word ("qwen3-coder:30b" → qwen3), the size its "30b" part.
// Clients show them and some require them; a native upstream's /api/show
// gives the real ones.
func (t target) details() ollamaDetails {
	name := t.model
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	family := strings.ToLower(name)
	if i := strings.IndexAny(family, "-:_. "); i > 0 {
		family = family[:i]
	}
	if family == "" {
		family = "localrouter"
	}
	size := "unknown"
	if m := paramSize.FindStringSubmatch(name); m != nil {
		size = m[1] + strings.ToUpper(m[2])
	}
	return ollamaDetails{Format: "gguf", Family: family, Families: []string{family}, ParameterSize: size, QuantizationLevel: "unknown"}
}

// capabilities are what every routed model takes (completion, tools), and
// FIM (insert) where the provider has a completions API; a model the config
// names as routing.embedding_model only embeds.
func (t target) capabilities() []string {
	if t.embedding {
		// Offered as a chat model, it would only fail.
		return []string{"embedding"}
	}
	c := []string{"completion", "tools"}
	if t.fim {
		c = append(c, "insert")
	}
	return c
}

// digest is a stable stand-in for a model blob's digest.
func digest(name string) string {
	sum := sha256.Sum256([]byte("localrouter:" + name))
	return hex.EncodeToString(sum[:])
}

func writeOllamaJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, ollamaErrorBody(err.Error())
	}
	writeBody(w, status, "application/json; charset=utf-8", body)
}

func writeOllamaError(w http.ResponseWriter, status int, msg string) {
	writeBody(w, status, "application/json; charset=utf-8", ollamaErrorBody(msg))
}

// ollamaErrorBody is Ollama's error shape, {"error":"…"}.
func ollamaErrorBody(msg string) []byte {
	b := append([]byte(`{"error":`), providers.AppendJSONString(nil, msg)...)
	return append(b, '}')
}

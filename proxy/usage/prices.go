package usage

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/localrouter/localrouter/assets"
)

//go:generate go run ./internal/genprices -in ${TOKENLENS_TGZ} -out ../../assets/prices.json

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
}

// Catalog is the price table's file format (assets/prices.json).
type Catalog struct {
	Source  string `json:"source"`
	Version string `json:"version"`
	Date    string `json:"date"`
	Licence string `json:"licence"`
	// Models maps a catalog provider ("openai", "openrouter") to its
	// models' prices.
	Models map[string]map[string]Price `json:"models"`
}

// Prices prices records: the embedded catalog, and the config's own prices
// over it. Its methods are safe for concurrent use.
type Prices struct {
	catalog   Catalog
	overrides map[string]Price // lower-case "provider/model" or "model"
	// found caches each lookup: a route's provider and model repeat, and
	// the normalising a miss costs allocates.
	found sync.Map // priceKey -> priceHit
}

type priceKey struct {
	provider, model string
	local           bool
}

type priceHit struct {
	p  Price
	ok bool
}

// LoadPrices reads the embedded catalog; overrides ("provider/model" or
// "model" to a price) win over it, for local models too.
func LoadPrices(overrides map[string]Price) (*Prices, error) {
	p := &Prices{overrides: map[string]Price{}}
	if err := json.Unmarshal(assets.Prices, &p.catalog); err != nil {
		return nil, fmt.Errorf("usage: embedded price table: %w", err)
	}
	for k, v := range overrides {
		p.overrides[strings.ToLower(k)] = v
	}
	return p, nil
}

// Catalog describes the embedded table: where it is from, when, and its
// licence.
func (p *Prices) Catalog() (source, version, date, licence string) {
	return p.catalog.Source, p.catalog.Version, p.catalog.Date, p.catalog.Licence
}

// Fill sets r's CostUSD and, for a local answer, SavedUSD: its tokens at
// the price of the remote model it would otherwise have gone to.
func (p *Prices) Fill(r *Record) {
	local := r.Side == "local"
	r.CostUSD, r.SavedUSD = 0, 0
	if pr, ok := p.Lookup(r.Provider, r.Model, local); ok {
		r.CostUSD = pr.cost(r.InputTokens, r.OutputTokens)
	}
	if local && r.RemoteModel != "" {
		if pr, ok := p.Lookup(r.RemoteProvider, r.RemoteModel, false); ok {
			r.SavedUSD = max(0, pr.cost(r.InputTokens, r.OutputTokens)-r.CostUSD)
		}
	}
}

func (pr Price) cost(in, out int) float64 {
	return (float64(in)*pr.Input + float64(out)*pr.Output) / 1e6
}

// Lookup finds the price of model on the configured provider. A local
// model is free unless the config prices it.
func (p *Prices) Lookup(provider, model string, local bool) (Price, bool) {
	k := priceKey{provider, model, local}
	if h, ok := p.found.Load(k); ok {
		h := h.(priceHit)
		return h.p, h.ok
	}
	pr, ok := p.lookup(strings.ToLower(provider), strings.ToLower(model), local)
	p.found.Store(k, priceHit{pr, ok})
	return pr, ok
}

func (p *Prices) lookup(provider, model string, local bool) (Price, bool) {
	if pr, ok := p.overrides[provider+"/"+model]; ok {
		return pr, true
	}
	if pr, ok := p.overrides[model]; ok {
		return pr, true
	}
	if local {
		return Price{}, true
	}
	bare := model
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		bare = model[i+1:] // openai/gpt-4o on a provider that is not a router
	}
	// The provider's own table first: a configured "openrouter" or
	// "deepseek-work" is the catalog's openrouter or deepseek.
	for _, cp := range catalogNames(provider) {
		if ms, ok := p.catalog.Models[cp]; ok {
			if pr, ok := ms[model]; ok {
				return pr, true
			}
			if pr, ok := dated(ms, bare); ok {
				return pr, true
			}
		}
	}
	// Then the vendor of the model's family, as the router picks one.
	for _, f := range vendors {
		if strings.HasPrefix(bare, f.prefix) {
			if pr, ok := dated(p.catalog.Models[f.vendor], bare); ok {
				return pr, true
			}
		}
	}
	return Price{}, false
}

// catalogNames are the catalog providers a configured provider name may
// be: itself, and its vendor without a "-work"-style suffix.
func catalogNames(provider string) []string {
	names := []string{provider}
	if i := strings.IndexAny(provider, "-_"); i > 0 {
		names = append(names, provider[:i])
	}
	if alias, ok := providerAliases[names[len(names)-1]]; ok {
		names = append(names, alias)
	}
	return names
}

// providerAliases map the names users give providers to catalog ids.
var providerAliases = map[string]string{
	"gemini": "google", "qwen": "alibaba", "dashscope": "alibaba", "moonshot": "moonshotai", "kimi": "moonshotai",
	"glm": "zhipuai", "zhipu": "zhipuai", "grok": "xai", "together": "togetherai", "fireworks": "fireworks-ai",
}

// vendors map model families to the catalog provider that sells them,
// as strategy's prefixes do for routing.
var vendors = []struct{ prefix, vendor string }{
	{"gemini", "google"}, {"claude", "anthropic"},
	{"gpt", "openai"}, {"chatgpt", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"},
	{"text-embedding", "openai"}, {"deepseek", "deepseek"}, {"grok", "xai"}, {"qwen", "alibaba"}, {"qwq", "alibaba"},
	{"glm", "zhipuai"}, {"glm", "zai"}, {"kimi", "moonshotai"}, {"moonshot", "moonshotai"},
	{"mistral", "mistral"}, {"codestral", "mistral"}, {"magistral", "mistral"}, {"devstral", "mistral"},
}

// dated finds model in ms as it is or, for a name without its date
// (claude-sonnet-4), as the catalog's dated one (claude-sonnet-4-20250514),
// the latest when there are several.
func dated(ms map[string]Price, model string) (Price, bool) {
	if pr, ok := ms[model]; ok {
		return pr, true
	}
	var best string
	for k := range ms {
		if date, ok := strings.CutPrefix(k, model+"-"); ok && isDate(date) && k > best {
			best = k
		}
	}
	pr, ok := ms[best]
	return pr, ok && best != ""
}

func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

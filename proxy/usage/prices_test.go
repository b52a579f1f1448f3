package usage

import (
	"encoding/json"
	"testing"

	"github.com/localrouter/localrouter/assets"
)

func TestEmbeddedCatalog(t *testing.T) {
	var c Catalog
	if err := json.Unmarshal(assets.Prices, &c); err != nil {
		t.Fatal(err)
	}
	if c.Source == "" || c.Date == "" || c.Licence == "" || c.Version == "" {
		t.Errorf("the price table does not say where it is from: %+v", Catalog{Source: c.Source, Version: c.Version, Date: c.Date, Licence: c.Licence})
	}
	if n := len(c.Models["openai"]) + len(c.Models["anthropic"]) + len(c.Models["deepseek"]); n < 20 {
		t.Errorf("only %d OpenAI, Anthropic and DeepSeek models priced", n)
	}
}

func TestLookup(t *testing.T) {
	p, err := LoadPrices(map[string]Price{"ollama/qwen3": {Input: 0.1, Output: 0.2}, "GPT-4o": {Input: 1, Output: 1}})
	if err != nil {
		t.Fatal(err)
	}
	gpt4oMini := Price{Input: 0.15, Output: 0.6}
	for _, c := range []struct {
		name, provider, model string
		local                 bool
		want                  Price
		ok                    bool
	}{
		{"the provider's own table", "openai", "gpt-4o-mini", false, gpt4oMini, true},
		{"a provider name with a suffix", "openai-work", "gpt-4o-mini", false, gpt4oMini, true},
		{"a vendor prefix on the model", "azure-mine", "openai/gpt-4o-mini", false, gpt4oMini, true},
		{"by the model's family", "my-gateway", "gpt-4o-mini", false, gpt4oMini, true},
		{"a router's own name", "openrouter", "openai/gpt-4o-mini", false, gpt4oMini, true},
		{"an undated name", "anthropic", "claude-sonnet-4", false, Price{Input: 3, Output: 15}, true},
		{"case", "DeepSeek", "DeepSeek-Chat", false, Price{Input: 0.57, Output: 1.68}, true},
		{"the config wins", "openai", "gpt-4o", false, Price{Input: 1, Output: 1}, true},
		{"local is free", "ollama", "llama3", true, Price{}, true},
		{"unless priced", "ollama", "qwen3", true, Price{Input: 0.1, Output: 0.2}, true},
		{"unknown", "acme", "zzz-1", false, Price{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // the second answer comes from the cache
				got, ok := p.Lookup(c.provider, c.model, c.local)
				if got != c.want || ok != c.ok {
					t.Errorf("Lookup(%s, %s) = %+v, %v; want %+v, %v", c.provider, c.model, got, ok, c.want, c.ok)
				}
			}
		})
	}
}

func TestFill(t *testing.T) {
	p, err := LoadPrices(map[string]Price{"deepseek-chat": {Input: 1, Output: 2}})
	if err != nil {
		t.Fatal(err)
	}
	remote := Record{Side: "remote", Provider: "deepseek", Model: "deepseek-chat", InputTokens: 1_000_000, OutputTokens: 500_000}
	p.Fill(&remote)
	if remote.CostUSD != 2 || remote.SavedUSD != 0 {
		t.Errorf("remote: cost %v saved %v, want 2, 0", remote.CostUSD, remote.SavedUSD)
	}
	local := Record{Side: "local", Provider: "ollama", Model: "qwen3", InputTokens: 1_000_000, OutputTokens: 500_000,
		RemoteProvider: "deepseek", RemoteModel: "deepseek-chat"}
	p.Fill(&local)
	if local.CostUSD != 0 || local.SavedUSD != 2 {
		t.Errorf("local: cost %v saved %v, want 0, 2", local.CostUSD, local.SavedUSD)
	}
	unpriced := Record{Side: "local", Provider: "ollama", Model: "qwen3", InputTokens: 10, RemoteProvider: "acme", RemoteModel: "zzz"}
	p.Fill(&unpriced)
	if unpriced.SavedUSD != 0 {
		t.Errorf("saved against an unpriced model: %v", unpriced.SavedUSD)
	}
}

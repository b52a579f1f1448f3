package strategy

import (
	"errors"
	"testing"
)

func TestDecide(t *testing.T) {
	table := Table{
		Default:     Remote,
		LocalModel:  "qwen3",
		RemoteModel: "gemini-3-flash",
		Providers: []Provider{
			{Name: "ollama", Kind: "openai", Local: true, Models: []string{"qwen3", "shared-model"}},
			{Name: "google", Kind: "google"},
			{Name: "deepseek", Kind: "openai", Models: []string{"deepseek-chat", "shared-model"}},
			{Name: "openrouter", Kind: "openai", Models: []string{"meta-llama/llama-3-70b"}},
			{Name: "claude-work", Kind: "anthropic"},
		},
	}
	tests := []struct {
		name     string
		table    *Table
		model    string
		want     Decision
		wantErr  bool
		explicit bool
	}{
		{name: "provider/model", model: "deepseek/deepseek-reasoner",
			want: Decision{Side: Remote, Provider: "deepseek", Model: "deepseek-reasoner"}, explicit: true},
		{name: "provider/model keeps slashes after the provider", model: "openrouter/anthropic/claude-3.5",
			want: Decision{Side: Remote, Provider: "openrouter", Model: "anthropic/claude-3.5"}, explicit: true},
		{name: "local provider/model", model: "ollama/llama3.2:3b",
			want: Decision{Side: Local, Provider: "ollama", Model: "llama3.2:3b"}, explicit: true},
		{name: "unknown provider", model: "nope/x", wantErr: true},
		{name: "bare model one provider lists", model: "deepseek-chat",
			want: Decision{Side: Remote, Provider: "deepseek", Model: "deepseek-chat"}, explicit: true},
		{name: "listed model with a slash", model: "meta-llama/llama-3-70b",
			want: Decision{Side: Remote, Provider: "openrouter", Model: "meta-llama/llama-3-70b"}, explicit: true},
		{name: "model several list goes to the chosen side", model: "shared-model",
			want: Decision{Side: Remote, Provider: "deepseek", Model: "shared-model"}},
		{name: "local side", model: "local", want: Decision{Side: Local, Provider: "ollama", Model: "qwen3"}},
		{name: "remote side resolves by prefix", model: "remote", want: Decision{Side: Remote, Provider: "google", Model: "gemini-3-flash"}},
		{name: "auto follows the default", model: "auto", want: Decision{Side: Remote, Provider: "google", Model: "gemini-3-flash"}},
		{name: "a hard-coded IDE name follows the default", model: "gpt-4o", want: Decision{Side: Remote, Provider: "google", Model: "gemini-3-flash"}},
		{name: "empty model follows the default", model: "", want: Decision{Side: Remote, Provider: "google", Model: "gemini-3-flash"}},
		{name: "claude prefix matches the anthropic kind",
			table: &Table{Default: Remote, RemoteModel: "claude-sonnet-4-5", Providers: []Provider{{Name: "deepseek"}, {Name: "claude-work", Kind: "anthropic"}}},
			model: "auto", want: Decision{Side: Remote, Provider: "claude-work", Model: "claude-sonnet-4-5"}},
		{name: "gpt goes to the provider named openai, not the first openai-compatible one",
			table: &Table{Default: Remote, Providers: []Provider{{Name: "deepseek", Kind: "openai"}, {Name: "openai", Kind: "openai"}}},
			model: "gpt-4o-mini", want: Decision{Side: Remote, Provider: "openai", Model: "gpt-4o-mini"}},
		{name: "a suffixed name is its vendor",
			table: &Table{Default: Remote, Providers: []Provider{{Name: "openai", Kind: "openai"}, {Name: "deepseek-work", Kind: "openai"}}},
			model: "deepseek-chat", want: Decision{Side: Remote, Provider: "deepseek-work", Model: "deepseek-chat"}},
		{name: "no side model keeps the requested name",
			table: &Table{Default: Remote, Providers: []Provider{{Name: "deepseek"}, {Name: "openai"}}},
			model: "gpt-4o", want: Decision{Side: Remote, Provider: "openai", Model: "gpt-4o"}},
		{name: "no side model and auto is an error",
			table: &Table{Default: Remote, Providers: []Provider{{Name: "openai"}}}, model: "auto", wantErr: true},
		{name: "side model as provider/model",
			table: &Table{Default: Local, LocalModel: "lan/qwen-35b-awq", Providers: []Provider{{Name: "box", Local: true}, {Name: "lan", Local: true}}},
			model: "auto", want: Decision{Side: Local, Provider: "lan", Model: "qwen-35b-awq"}},
		{name: "no provider on the side",
			table: &Table{Default: Local, LocalModel: "qwen3", Providers: []Provider{{Name: "openai"}}}, model: "auto", wantErr: true},
		{name: "single remote provider serves any remote model",
			table: &Table{Default: Remote, RemoteModel: "some-model", Providers: []Provider{{Name: "openrouter"}}},
			model: "auto", want: Decision{Side: Remote, Provider: "openrouter", Model: "some-model"}},
		{name: "ambiguous remote model is an error",
			table: &Table{Default: Remote, RemoteModel: "some-model", Providers: []Provider{{Name: "openrouter"}, {Name: "together"}}},
			model: "auto", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := table
			if tt.table != nil {
				tb = *tt.table
			}
			e, err := NewEngine(tb)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Decide(&Request{Model: tt.model}, Live{})
			if tt.wantErr {
				var re *RouteError
				if !errors.As(err, &re) {
					t.Fatalf("Decide(%q) = %v, %v; want a *RouteError", tt.model, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide(%q): %v", tt.model, err)
			}
			if got.Side != tt.want.Side || got.Provider != tt.want.Provider || got.Model != tt.want.Model || got.Explicit != tt.explicit {
				t.Errorf("Decide(%q) = %s explicit=%v, want %s:%s/%s explicit=%v", tt.model, got, got.Explicit, tt.want.Side, tt.want.Provider, tt.want.Model, tt.explicit)
			}
			if got.Reason == "" {
				t.Error("decision has no reason")
			}
		})
	}
}

func TestNewEngineRejectsBadDefault(t *testing.T) {
	if _, err := NewEngine(Table{Default: "sideways"}); err == nil {
		t.Error("NewEngine accepted default side \"sideways\"")
	}
}

func BenchmarkDecide(b *testing.B) {
	e, _ := NewEngine(Table{Default: Remote, LocalModel: "qwen3", RemoteModel: "deepseek-chat", Providers: []Provider{
		{Name: "ollama", Local: true, Models: []string{"qwen3"}},
		{Name: "deepseek", Models: []string{"deepseek-chat"}},
		{Name: "google", Kind: "google"},
	}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(&Request{Model: "auto"}, Live{}); err != nil {
			b.Fatal(err)
		}
	}
}

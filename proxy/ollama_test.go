package proxy

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// /api/tags tells clients what each name can do: insert (FIM) only where
// the provider has a completions API, and a configured embedding model only
// embeds, so that Copilot does not offer it for chat.
func TestOllamaTagsCapabilities(t *testing.T) {
	cfg := strings.Replace(oneProvider, "    models: [deepseek-chat]\n", "    models: [deepseek-chat, text-embedding-3-small]\n", 1)
	cfg = strings.Replace(cfg, "  remote_model: deepseek-chat\n", "  remote_model: deepseek-chat\n  embedding_model: {remote: text-embedding-3-small}\n", 1)
	_, gw := gateway(t, cfg, "http://127.0.0.1:9/v1")
	resp, err := http.Get(gw.URL + "/api/tags")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tags struct {
		Models []struct {
			Name         string
			Capabilities []string
			Details      struct{ Family string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&tags); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range tags.Models {
		got[m.Name] = m.Capabilities
	}
	if c := got["deepseek/deepseek-chat"]; !slices.Equal(c, []string{"completion", "tools", "insert"}) {
		t.Errorf("deepseek/deepseek-chat capabilities %q; want completion, tools, insert (an OpenAI-compatible provider has completions)", c)
	}
	if c := got["deepseek/text-embedding-3-small"]; !slices.Equal(c, []string{"embedding"}) {
		t.Errorf("the embedding model's capabilities %q; want only embedding", c)
	}
	if _, ok := got["auto"]; !ok {
		t.Errorf("auto is not listed: %v", got)
	}
}

// In mock mode every name is answered, so an Ollama client's discovery
// (/api/tags, then /api/show for each name) works with no provider at all.
func TestOllamaShowInMockMode(t *testing.T) {
	_, gw := gateway(t, "routing:\n  default: remote\nmock:\n  token_delay: 0s\n", "")
	resp, err := http.Post(gw.URL+"/api/show", "application/json", strings.NewReader(`{"model":"auto"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var show struct {
		Capabilities []string
		ModelInfo    map[string]any `json:"model_info"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&show); err != nil || resp.StatusCode != http.StatusOK || len(show.Capabilities) == 0 {
		t.Errorf("/api/show auto in mock mode: status %d, %+v, %v; want 200 with capabilities", resp.StatusCode, show, err)
	}
}

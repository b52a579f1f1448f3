package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestSetupClaudeCodeReachesLocalRouter: after `localrouter setup
// claude-code`, the official Anthropic SDK configured only from the env of
// ~/.claude/settings.json, as Claude Code is, gets an answer from
// LocalRouter for each model tier; the haiku tier follows the config's
// alias for Claude's haiku names.
func TestSetupClaudeCodeReachesLocalRouter(t *testing.T) {
	path, port := writeConfig(t, "server:\n  port: PORT\n  api_key: "+setupKey+"\nrouting:\n  aliases:\n    'claude-*haiku*': local\n")
	srv := startAt(t, path, port, userEnv(t), "--mock")
	env := userEnv(t)
	if out, err := run(t, env, "setup", "claude-code", "--config", path); err != nil || strings.Contains(out, setupKey) {
		t.Fatalf("setup claude-code: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(homeOf(t, env), ".claude", "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Env map[string]string }
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] != "local" || s.Env["ANTHROPIC_DEFAULT_SONNET_MODEL"] != "auto" {
		t.Errorf("tiers: haiku %q, sonnet %q; want local (the alias) and auto", s.Env["ANTHROPIC_DEFAULT_HAIKU_MODEL"], s.Env["ANTHROPIC_DEFAULT_SONNET_MODEL"])
	}
	if s.Env["ANTHROPIC_API_KEY"] != "" {
		t.Errorf("ANTHROPIC_API_KEY = %q: Claude Code would send it instead of the token", s.Env["ANTHROPIC_API_KEY"])
	}
	c := anthropic.NewClient(aoption.WithoutEnvironmentDefaults(), aoption.WithBaseURL(s.Env["ANTHROPIC_BASE_URL"]),
		aoption.WithAuthToken(s.Env["ANTHROPIC_AUTH_TOKEN"]), aoption.WithMaxRetries(0))
	for _, tier := range []string{"OPUS", "SONNET", "HAIKU"} {
		m, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
			Model: anthropic.Model(s.Env["ANTHROPIC_DEFAULT_"+tier+"_MODEL"]), MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("say hi"))},
		})
		if err != nil {
			t.Fatalf("%s tier through %s: %v\n%s", tier, s.Env["ANTHROPIC_BASE_URL"], err, srv.Logs())
		}
		if len(m.Content) == 0 || m.Content[0].Text == "" {
			t.Errorf("%s tier: empty answer %+v", tier, m)
		}
	}
}

// TestSetupOpencodeReachesLocalRouter: after `localrouter setup opencode
// --model local`, an OpenAI-compatible client configured only from
// opencode.json's provider (baseURL, apiKey) and model gets an answer.
func TestSetupOpencodeReachesLocalRouter(t *testing.T) {
	path, port := writeConfig(t, "server:\n  port: PORT\n  api_key: "+setupKey+"\n")
	srv := startAt(t, path, port, userEnv(t), "--mock")
	env := userEnv(t)
	if out, err := run(t, env, "setup", "opencode", "--config", path, "--model", "local"); err != nil || strings.Contains(out, setupKey) {
		t.Fatalf("setup opencode: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(homeOf(t, env), ".config", "opencode", "opencode.json"))
	if err != nil {
		t.Fatal(err)
	}
	var oc struct {
		Model    string
		Provider map[string]struct {
			NPM     string
			Options struct{ BaseURL, APIKey string }
			Models  map[string]struct{ Limit struct{ Context int } }
		}
	}
	if err := json.Unmarshal(b, &oc); err != nil {
		t.Fatal(err)
	}
	provID, model, _ := strings.Cut(oc.Model, "/") // opencode's provider/model
	p := oc.Provider[provID]
	if p.NPM != "@ai-sdk/openai-compatible" || p.Models[model].Limit.Context <= 0 {
		t.Fatalf("model %q: provider %+v", oc.Model, p)
	}
	c := openai.NewClient(option.WithBaseURL(p.Options.BaseURL), option.WithAPIKey(p.Options.APIKey), option.WithMaxRetries(0))
	r, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("say hi")},
	})
	if err != nil {
		t.Fatalf("chat through %s: %v\n%s", p.Options.BaseURL, err, srv.Logs())
	}
	if len(r.Choices) == 0 || r.Choices[0].Message.Content == "" {
		t.Errorf("empty answer %+v", r)
	}
}

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// awsSecret is a prompt as a developer pastes it: a credentials file.
const awsSecret = "Why does this fail?\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"

// privateBackends are a local Chat Completions server and two remote
// vendors, DeepSeek's Chat Completions and Anthropic's Messages API.
type privateBackends struct {
	local, deepseek *fakeChat
	claude          *fakeMessages
}

func newPrivateBackends(t *testing.T) *privateBackends {
	return &privateBackends{local: newFakeChat(t), deepseek: newFakeChat(t), claude: newFakeAnthropicAPI(t)}
}

// config routes remote by default, with fallback on: what Local only must
// override. localURL "" is the local fake's.
func (b *privateBackends) config(localURL string) string {
	if localURL == "" {
		localURL = b.local.URL
	}
	return `server:
  port: PORT
routing:
  default: remote
  local_model: qwen3
  remote_model: deepseek-chat
  fallback: true
  aliases:
    gpt-4o: deepseek/deepseek-chat
  rules:
    - when: 'header("X-Project") == "acme"'
      use: private
privacy:
  patterns: ['ACME-[0-9]{6}']
providers:
  ollama:
    type: openai
    api_key: ` + upstreamKey + `
    base_url: ` + localURL + `/v1
    local: true
    models: [qwen3]
  deepseek:
    api_key: ` + upstreamKey + `
    base_url: ` + b.deepseek.URL + `/v1
    local: false
    models: [deepseek-chat]
  anthropic:
    api_key: "` + anthropicKey + `"
    base_url: ` + b.claude.URL + `
    local: false
    models: [claude-sonnet-4-5]
`
}

// remoteSawNothing fails unless neither remote fake got any request.
func (b *privateBackends) remoteSawNothing(t *testing.T) {
	t.Helper()
	if n := len(b.deepseek.requests()); n != 0 {
		t.Errorf("the remote DeepSeek fake got %d requests, want none", n)
	}
	if n := len(b.claude.requests()); n != 0 {
		t.Errorf("the remote Anthropic fake got %d requests, want none", n)
	}
}

// chatRoute sends prompt for model with openai-go and returns the route header.
func chatRoute(t *testing.T, p *proc, model, prompt string, opts ...option.RequestOption) string {
	t.Helper()
	var raw *http.Response
	_, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}, append(opts, option.WithResponseInto(&raw))...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", model, err, p.Logs())
	}
	return raw.Header.Get("X-LocalRouter-Route")
}

func TestPrivateSecretKeepsEveryRemoteNameLocal(t *testing.T) {
	b := newPrivateBackends(t)
	p := start(t, b.config(""))
	for _, model := range []string{"auto", "remote", "deepseek/deepseek-chat", "deepseek-chat", "anthropic/claude-sonnet-4-5", "gpt-4o"} {
		route := chatRoute(t, p, model, awsSecret)
		if !strings.HasPrefix(route, "local:ollama/qwen3 (") || !strings.Contains(route, "private: secret: AWS access key") {
			t.Errorf("%s: route %q, want local:ollama/qwen3 with reason private: secret: AWS access key", model, route)
		}
	}
	// The Messages door, with Anthropic's SDK, asking for Claude by name.
	rec := &sdkRecorder{}
	m, err := claudeSDK(t, p, rec).Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(awsSecret))},
	})
	if err != nil {
		t.Fatalf("messages: %v\n%s", err, p.Logs())
	}
	if route := rec.route(); !strings.HasPrefix(route, "local:ollama/qwen3") || !strings.Contains(route, "private") {
		t.Errorf("messages: route %q, want local and private", route)
	}
	if len(m.Content) == 0 {
		t.Errorf("messages: empty answer %s", m.RawJSON())
	}
	// count_tokens would send the prompt to Anthropic: it is estimated.
	if _, err := claudeSDK(t, p, rec).Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(awsSecret))},
	}); err != nil {
		t.Fatalf("count_tokens: %v", err)
	}
	b.remoteSawNothing(t)
	if n := len(b.local.requests()); n != 7 {
		t.Errorf("the local fake got %d requests, want 7", n)
	}
	for _, r := range b.local.requests() {
		if !strings.Contains(string(r.body), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("the local fake got a request without the prompt: %s", r.body)
		}
	}
	// Without the secret the same request goes remote: the scan, not the
	// config, kept the others local.
	if route := chatRoute(t, p, "auto", "Why does this fail?"); !strings.HasPrefix(route, "remote:deepseek/deepseek-chat") {
		t.Errorf("a prompt without a secret: route %q, want remote:deepseek/deepseek-chat", route)
	}
	if n := len(b.deepseek.requests()); n != 1 {
		t.Errorf("the remote fake got %d requests, want the one without a secret", n)
	}
	if strings.Contains(p.finalLogs(t), "wJalrXUtnFEMI") {
		t.Error("the secret reached the log")
	}
}

func TestPrivateHeaderRuleAndPattern(t *testing.T) {
	b := newPrivateBackends(t)
	p := start(t, b.config(""))
	for _, tc := range []struct {
		name, prompt string
		opts         []option.RequestOption
		reason       string
	}{
		{"header", "hello", []option.RequestOption{option.WithHeader("X-LocalRouter-Private", "1")}, "private: header X-LocalRouter-Private"},
		{"rule", "hello", []option.RequestOption{option.WithHeader("X-Project", "acme")}, "private: rule 1 (config"},
		{"pattern", "ticket ACME-123456 again", nil, "private: secret: pattern 1"},
		{"GitHub token", "push with ghp_16C7e42F292c6912E7710c838347Ae178B4a", nil, "private: secret: GitHub token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			route := chatRoute(t, p, "deepseek/deepseek-chat", tc.prompt, tc.opts...)
			if !strings.HasPrefix(route, "local:ollama/qwen3") || !strings.Contains(route, tc.reason) {
				t.Errorf("route %q, want local:ollama/qwen3 with %q", route, tc.reason)
			}
		})
	}
	b.remoteSawNothing(t)
	if route := chatRoute(t, p, "auto", "hello", option.WithHeader("X-Project", "other")); !strings.HasPrefix(route, "remote:") {
		t.Errorf("a rule that does not hold: route %q, want remote", route)
	}
}

// TestPrivateLocalDownIs503 points the local provider at a closed port:
// every door refuses a private request in its own error shape, and nothing
// falls back to the remote side although fallback is on.
func TestPrivateLocalDownIs503(t *testing.T) {
	b := newPrivateBackends(t)
	dead := newFakeChat(t)
	dead.Close()
	p := start(t, b.config(dead.URL))

	_, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "auto", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(awsSecret)},
	})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusServiceUnavailable || !strings.Contains(oe.Message, "private (secret: AWS access key)") ||
		!strings.Contains(oe.Message, "does not send it remote") {
		t.Errorf("chat: got %v, want a 503 saying the private request is not sent remote", err)
	}

	rec := &sdkRecorder{}
	_, err = claudeSDK(t, p, rec).Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(awsSecret))},
	})
	ae := wantAnthropicError(t, err, http.StatusServiceUnavailable, "overloaded_error")
	if !strings.Contains(ae.RawJSON(), "does not send it remote") {
		t.Errorf("messages: %s, want it to say why", ae.RawJSON())
	}

	_, err = sdk(p, nil).Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(awsSecret)},
	})
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusServiceUnavailable || !strings.Contains(oe.Message, "does not send it remote") {
		t.Errorf("responses: got %v, want a 503 saying why", err)
	}

	body, _ := json.Marshal(map[string]any{"model": "deepseek-chat", "stream": false,
		"messages": []map[string]string{{"role": "user", "content": awsSecret}}})
	resp, err := http.Post(p.url+"/api/chat", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var oerr struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(raw, &oerr) != nil || !strings.Contains(oerr.Error, "does not send it remote") {
		t.Errorf("ollama: %d %s, want 503 and Ollama's {\"error\": ...} saying why", resp.StatusCode, raw)
	}
	b.remoteSawNothing(t)
}

// status reads /health.
func status(t *testing.T, p *proc) map[string]any {
	t.Helper()
	resp, err := http.Get(p.url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func putPrivate(t *testing.T, p *proc, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.url+"/localrouter/private", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestLocalOnlyControlSurvivesRestart(t *testing.T) {
	b := newPrivateBackends(t)
	path, port := writeConfig(t, b.config(""))
	env := userEnv(t)
	p := startAt(t, path, port, env)
	if st := status(t, p); st["private"] != false {
		t.Fatalf("private at start: %v, want false", st["private"])
	}
	if code := putPrivate(t, p, `{"private":"yes"}`); code != http.StatusBadRequest {
		t.Errorf("a wrong body: %d, want 400", code)
	}
	if code := putPrivate(t, p, `{"private":true}`); code != http.StatusOK {
		t.Fatalf("PUT /localrouter/private: %d", code)
	}
	for _, path := range []string{"/health", "/localrouter/status"} {
		resp, err := http.Get(p.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st["private"] != true || st["side"] != "local" || !strings.HasPrefix(st["route"].(string), "local:ollama/qwen3") {
			t.Errorf("%s: private %v, side %v, route %v; want true, local, local", path, st["private"], st["side"], st["route"])
		}
	}
	if route := chatRoute(t, p, "remote", "hello"); !strings.HasPrefix(route, "local:ollama/qwen3") || !strings.Contains(route, "private: local only") {
		t.Errorf("Local only: route %q, want local with reason private: local only", route)
	}

	p.stop(t)
	p = startAt(t, path, port, env)
	if st := status(t, p); st["private"] != true {
		t.Errorf("after a restart: private %v, want true", st["private"])
	}
	if route := chatRoute(t, p, "anthropic/claude-sonnet-4-5", "hello"); !strings.Contains(route, "private: local only") {
		t.Errorf("after a restart: route %q, want private: local only", route)
	}
	b.remoteSawNothing(t)

	if code := putPrivate(t, p, `{"private":false}`); code != http.StatusOK {
		t.Fatalf("PUT /localrouter/private: %d", code)
	}
	if route := chatRoute(t, p, "auto", "hello"); !strings.HasPrefix(route, "remote:deepseek/deepseek-chat") {
		t.Errorf("Local only off: route %q, want remote", route)
	}
}

// TestPrivateLocalFailureIsNotFallenBack: the local server answers 500; a
// private request gets 503 saying so, although fallback is on and the
// remote side is up.
func TestPrivateLocalFailureIsNotFallenBack(t *testing.T) {
	b := newPrivateBackends(t)
	b.local.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
		// Ollama's answer when its runner crashed.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, openAIErrorJSON("model runner has unexpectedly stopped", "api_error", "", ""))
		return true
	})
	p := start(t, b.config(""))
	_, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "auto", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(awsSecret)},
	})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(oe.Message, "the local provider ollama failed") || !strings.Contains(oe.Message, "does not send it remote") {
		t.Errorf("got %v, want a 503 saying the local provider failed and nothing went remote", err)
	}
	if n := len(b.local.requests()); n != 1 {
		t.Errorf("the local fake got %d requests, want the one try", n)
	}
	b.remoteSawNothing(t)
}

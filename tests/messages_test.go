package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/google/go-cmp/cmp"
)

// The tests in this file drive the Anthropic Messages front door
// (/v1/messages, count_tokens, HEAD /, /v1/models) end to end, with the
// official Anthropic SDK and with a request shaped like Claude Code's,
// against every kind of backend: the Anthropic API and a local server that
// both speak Messages (pass-through), an OpenAI-compatible server and
// Gemini (translation).

// msgBackends are the four upstreams of the default Messages config.
type msgBackends struct {
	api    *fakeMessages // provider anthropic: type anthropic, native
	chat   *fakeChat     // provider deepseek: OpenAI-compatible, translated
	gemini *fakeGemini   // provider google: translated
	local  *fakeMessages // provider ollama: OpenAI type with protocols [anthropic], local, native
}

func newMsgBackends(t *testing.T) *msgBackends {
	return &msgBackends{api: newFakeAnthropicAPI(t), chat: newFakeChat(t), gemini: newFakeGemini(t), local: newFakeLocalMessages(t)}
}

// config is a gateway over the four backends: remote is Anthropic, local
// is the Messages-speaking local server; server and routing are appended
// to their sections.
func (b *msgBackends) config(server, routing string) string {
	return `server:
  port: PORT
` + server + `routing:
  default: remote
  local_model: qwen3-coder
  remote_model: claude-sonnet-4-5
  fallback: false
` + routing + `providers:
  anthropic:
    api_key: "` + anthropicKey + `"
    base_url: ` + b.api.URL + `
    local: false
    models: [claude-sonnet-4-5]
  deepseek:
    api_key: ` + upstreamKey + `
    base_url: ` + b.chat.URL + `/v1
    local: false
    models: [deepseek-chat]
  google:
    api_key: ` + geminiKey + `
    base_url: ` + b.gemini.URL + `
    local: false
    models: [gemini-3-flash]
  ollama:
    type: openai
    base_url: ` + b.local.URL + `/v1
    local: true
    protocols: [anthropic]
    models: [qwen3-coder]
`
}

// backend is one way a Messages request can be served, with what its
// fake answers.
type backend struct {
	name     string
	model    string // the client's
	upstream string // the model the upstream is asked for
	route    string // prefix of X-LocalRouter-Route
	native   bool   // the upstream speaks Messages: pass-through
	msgs     *fakeMessages
	hello    string // answer to a plain prompt
	calls    int    // tool calls when offered get_weather and get_time
	results  string // answer to the tool results
	image    string // answer to an image
	thinking string // the thinking block it answers with: "signed", "unsigned" or "" (none)
	body     func(t *testing.T) []byte
}

func (b *msgBackends) table() []backend {
	return []backend{
		{name: "anthropic", model: "anthropic/claude-sonnet-4-5", upstream: "claude-sonnet-4-5", route: "remote:anthropic/claude-sonnet-4-5",
			native: true, msgs: b.api, hello: "Hello from Claude.", calls: 2, results: "Got 2 tool results.", image: "I see an image/png image.",
			thinking: "signed", body: func(t *testing.T) []byte { return b.api.last(t).body }},
		{name: "openai-compatible", model: "deepseek/deepseek-chat", upstream: "deepseek-chat", route: "remote:deepseek/deepseek-chat",
			hello: "Hello from deepseek-chat.", calls: 2, results: "The tools answered.", image: "I see an image.",
			thinking: "unsigned", body: func(t *testing.T) []byte { return b.chat.last(t).body }},
		{name: "gemini", model: "google/gemini-3-flash", upstream: "gemini-3-flash", route: "remote:google/gemini-3-flash",
			hello: "Hello from Gemini.", calls: 1, results: "It is 18°C and sunny in Paris.", image: "Hello from Gemini.",
			body: func(t *testing.T) []byte { return b.gemini.lastBody(t) }},
		{name: "local-native", model: "ollama/qwen3-coder", upstream: "qwen3-coder", route: "local:ollama/qwen3-coder",
			native: true, msgs: b.local, hello: "Hello from qwen3-coder.", calls: 2, results: "Got 2 tool results.", image: "I see an image/png image.",
			thinking: "signed", body: func(t *testing.T) []byte { return b.local.last(t).body }},
	}
}

var weatherTools = []anthropic.ToolUnionParam{
	{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("Current weather for a city"),
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}, "unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}}},
			Required:   []string{"city"}}}},
	{OfTool: &anthropic.ToolParam{Name: "get_time", Description: anthropic.String("Local time in a city"),
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}},
}

// onePixelPNG is a 1×1 PNG, base64.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

func userText(s string) anthropic.MessageParam {
	return anthropic.NewUserMessage(anthropic.NewTextBlock(s))
}

// streamAll sends params as a stream and accumulates the answer as the
// SDK's users do; it returns the message and the event types in order.
func streamAll(t *testing.T, c *anthropic.Client, params anthropic.MessageNewParams, opts ...option.RequestOption) (anthropic.Message, []string) {
	t.Helper()
	stream := c.Messages.NewStreaming(context.Background(), params, opts...)
	defer stream.Close()
	var msg anthropic.Message
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.Type, err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(types) < 4 || types[0] != "message_start" || types[len(types)-1] != "message_stop" || !slices.Contains(types, "message_delta") {
		t.Errorf("stream events %v: want message_start … message_delta, message_stop", types)
	}
	return msg, types
}

// textOf joins the text blocks of msg.
func textOf(msg *anthropic.Message) string {
	var b strings.Builder
	for _, c := range msg.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// block0 is msg's first content block, or a zero block.
func block0(msg *anthropic.Message) anthropic.ContentBlockUnion {
	if len(msg.Content) == 0 {
		return anthropic.ContentBlockUnion{}
	}
	return msg.Content[0]
}

func toolUses(msg *anthropic.Message) []anthropic.ContentBlockUnion {
	var out []anthropic.ContentBlockUnion
	for _, c := range msg.Content {
		if c.Type == "tool_use" {
			out = append(out, c)
		}
	}
	return out
}

// toolResults is the user turn answering every tool call of msg.
func toolResults(msg *anthropic.Message) anthropic.MessageParam {
	var blocks []anthropic.ContentBlockParamUnion
	for _, u := range toolUses(msg) {
		blocks = append(blocks, anthropic.NewToolResultBlock(u.ID, u.Name+": 15 degrees, 14:05", false))
	}
	return anthropic.NewUserMessage(blocks...)
}

// TestMessagesBackends drives the SDK through each kind of backend: plain
// answers, streams, a streamed two-tool round trip, thinking, an image.
func TestMessagesBackends(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	ctx := context.Background()
	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			rec := &sdkRecorder{}
			c := claudeSDK(t, p, rec)
			hello := anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024,
				System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages: []anthropic.MessageParam{userText("Say hello")}}

			t.Run("non-stream", func(t *testing.T) {
				msg, err := c.Messages.New(ctx, hello)
				if err != nil {
					t.Fatalf("messages: %v\n%s", err, p.Logs())
				}
				if got := textOf(msg); got != be.hello || msg.StopReason != "end_turn" || msg.Role != "assistant" || msg.Type != "message" {
					t.Errorf("answer %q, stop %q, role %q, type %q; want %q, end_turn", got, msg.StopReason, msg.Role, msg.Type, be.hello)
				}
				if msg.Usage.OutputTokens <= 0 || !strings.HasPrefix(msg.ID, "msg_") {
					t.Errorf("id %q, usage %+v", msg.ID, msg.Usage)
				}
				// A pass-through shows the upstream's word; a translation the
				// name the client asked for.
				if want := map[bool]string{true: be.upstream, false: be.model}[be.native]; msg.Model != want {
					t.Errorf("model %q, want %q", msg.Model, want)
				}
				if r := rec.route(); !strings.HasPrefix(r, be.route) {
					t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
				}
				if body := be.body(t); !bytes.Contains(body, []byte("Be brief.")) {
					t.Errorf("the system prompt did not reach the upstream: %.500s", body)
				}
			})

			t.Run("stream", func(t *testing.T) {
				params := hello
				params.Messages = []anthropic.MessageParam{userText("Say hello, streamed")}
				msg, types := streamAll(t, c, params)
				if got := textOf(&msg); got != be.hello || msg.StopReason != "end_turn" {
					t.Errorf("accumulated %q, stop %q; want %q, end_turn (events %v)", got, msg.StopReason, be.hello, types)
				}
				if want := map[bool]string{true: be.upstream, false: be.model}[be.native]; msg.Model != want {
					t.Errorf("model %q, want %q", msg.Model, want)
				}
				if n := strings.Count(strings.Join(types, " "), "content_block_delta"); n < 2 {
					t.Errorf("%d text deltas: the answer was not streamed piece by piece (%v)", n, types)
				}
				if r := rec.route(); !strings.HasPrefix(r, be.route) {
					t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
				}
			})

			t.Run("two tools streamed", func(t *testing.T) {
				params := anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024, Tools: weatherTools,
					Messages: []anthropic.MessageParam{userText("Weather and time in Paris?")}}
				first, _ := streamAll(t, c, params)
				uses := toolUses(&first)
				if len(uses) != be.calls || first.StopReason != "tool_use" {
					t.Fatalf("turn 1: %d tool calls, stop %q; want %d, tool_use: %s", len(uses), first.StopReason, be.calls, first.RawJSON())
				}
				for _, u := range uses {
					var in map[string]string
					if err := json.Unmarshal(u.Input, &in); err != nil || in["city"] != "Paris" || u.ID == "" {
						t.Errorf("tool call %s %s: input %s (%v)", u.ID, u.Name, u.Input, err)
					}
				}
				params.Messages = append(params.Messages, first.ToParam(), toolResults(&first))
				second, _ := streamAll(t, c, params)
				if got := textOf(&second); got != be.results || second.StopReason != "end_turn" {
					t.Errorf("turn 2: %q, stop %q; want %q", got, second.StopReason, be.results)
				}
				// The upstream got each result tied to its call.
				body := string(be.body(t))
				for _, u := range uses {
					if !strings.Contains(body, u.ID) && be.name != "gemini" {
						t.Errorf("tool call id %s missing from the second upstream request: %.800s", u.ID, body)
					}
				}
				if be.name == "gemini" && !strings.Contains(body, `"functionResponse"`) {
					t.Errorf("Gemini got no functionResponse: %.800s", body)
				}
			})

			t.Run("thinking", func(t *testing.T) {
				for _, stream := range []bool{true, false} {
					params := anthropic.MessageNewParams{Model: be.model, MaxTokens: 4096, Thinking: anthropic.ThinkingConfigParamOfEnabled(2048),
						Messages: []anthropic.MessageParam{userText("Why is the sky blue?")}}
					var msg anthropic.Message
					if stream {
						msg, _ = streamAll(t, c, params)
					} else {
						m, err := c.Messages.New(ctx, params)
						if err != nil {
							t.Fatalf("messages: %v", err)
						}
						msg = *m
					}
					if textOf(&msg) != be.hello {
						t.Errorf("stream %v: text %q, want %q", stream, textOf(&msg), be.hello)
					}
					switch be.thinking {
					case "signed":
						// In a stream the signature arrives only as a
						// signature_delta: the pass-through relayed it.
						th := block0(&msg)
						if th.Type != "thinking" || th.Thinking == "" || th.Signature == "" || !be.msgs.signed(th.Signature) {
							t.Errorf("stream %v: first block %s, want thinking signed by the upstream", stream, th.RawJSON())
						}
					case "unsigned":
						th := block0(&msg)
						if th.Type != "thinking" || th.Thinking != "Thinking it over, locally." || th.Signature != "" ||
							!strings.Contains(th.RawJSON(), `"signature":""`) {
							t.Errorf("stream %v: first block %s, want the upstream's reasoning_content as unsigned thinking", stream, th.RawJSON())
						}
						if body := be.body(t); !bytes.Contains(body, []byte(`"reasoning_effort":"medium"`)) {
							t.Errorf("budget 2048 did not become reasoning_effort medium: %s", body)
						}
					default:
						if body := be.body(t); !bytes.Contains(body, []byte(`"thinkingConfig"`)) {
							t.Errorf("thinking did not reach Gemini as thinkingConfig: %s", body)
						}
					}
				}
			})

			t.Run("image", func(t *testing.T) {
				msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024,
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
						anthropic.NewImageBlockBase64("image/png", onePixelPNG), anthropic.NewTextBlock("What is in this image?"))}})
				if err != nil {
					t.Fatalf("messages: %v\n%s", err, p.Logs())
				}
				if got := textOf(msg); got != be.image {
					t.Errorf("answer %q, want %q", got, be.image)
				}
				want := map[string]string{
					"openai-compatible": `"url":"data:image/png;base64,` + onePixelPNG + `"`,
					"gemini":            `"inlineData":{"mimeType":"image/png","data":"` + onePixelPNG + `"}`,
				}[be.name]
				if want == "" {
					want = `"data":"` + onePixelPNG + `"`
				}
				if body := be.body(t); !bytes.Contains(body, []byte(want)) {
					t.Errorf("the image did not reach the upstream as %s: %.600s", want, body)
				}
			})
		})
	}
}

// TestMessagesNativePassThrough: a native upstream gets the SDK's bytes
// with only model replaced, the anthropic-* headers and query as sent, and
// never the client's own credential, whichever way the client sends it.
func TestMessagesNativePassThrough(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	const beta = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,future-beta-2099-01-01"
	for _, be := range b.table() {
		if !be.native {
			continue
		}
		for _, auth := range []string{"authorization", "x-api-key"} {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", be.name, auth, stream), func(t *testing.T) {
					rec := &sdkRecorder{}
					opts := []option.RequestOption{option.WithHeader("anthropic-beta", beta), option.WithQuery("beta", "true")}
					if auth == "x-api-key" {
						opts = append(opts, withXAPIKey(clientToken))
					}
					c := claudeSDK(t, p, rec, opts...)
					params := anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024, Tools: weatherTools,
						System:        []anthropic.TextBlockParam{{Text: "You are terse.", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
						Metadata:      anthropic.MetadataParam{UserID: anthropic.String("user-7f3a")},
						StopSequences: []string{"\n\nHuman:"},
						Messages: []anthropic.MessageParam{
							userText("Weather in Paris?"),
							{OfSystem: &anthropic.SystemMessageParam{Content: []anthropic.TextBlockParam{{Text: "Tools changed: get_time is new."}}}},
						}}
					future := option.WithJSONSet("x_future_option", map[string]any{"enabled": true, "level": 3})
					if stream {
						msg, _ := streamAll(t, c, params, future)
						if len(toolUses(&msg)) != 2 {
							t.Errorf("answer %s", msg.RawJSON())
						}
					} else if _, err := c.Messages.New(context.Background(), params, future); err != nil {
						t.Fatalf("messages: %v\n%s", err, p.Logs())
					}
					sentHeader, sent := rec.sent()
					up := be.msgs.last(t)

					var want, got map[string]any
					if err := json.Unmarshal(sent, &want); err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(up.body, &got); err != nil {
						t.Fatal(err)
					}
					if want["model"] != be.model || want["x_future_option"] == nil {
						t.Fatalf("test is broken: the SDK sent %s", sent)
					}
					want["model"] = be.upstream
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("upstream body differs from the SDK's beyond model (-sdk +upstream):\n%s", d)
					}
					wantBytes := bytes.Replace(sent, []byte(`"model":"`+be.model+`"`), []byte(`"model":"`+be.upstream+`"`), 1)
					if !bytes.Equal(up.body, wantBytes) {
						t.Errorf("upstream bytes differ from the SDK's with model replaced:\n got %s\nwant %s", up.body, wantBytes)
					}
					for _, h := range []string{"Anthropic-Beta", "Anthropic-Version"} {
						if g, w := up.header.Values(h), sentHeader.Values(h); !slices.Equal(g, w) || len(w) == 0 {
							t.Errorf("%s: upstream got %q, the SDK sent %q", h, g, w)
						}
					}
					if g := up.header.Get("Anthropic-Beta"); g != beta {
						t.Errorf("anthropic-beta = %q, want %q", g, beta)
					}
					if up.query != "beta=true" {
						t.Errorf("query = %q, want beta=true", up.query)
					}
					// The SDK did send its own credential; the upstream got the config's.
					if auth == "authorization" && sentHeader.Get("Authorization") != "Bearer "+clientToken ||
						auth == "x-api-key" && (sentHeader.Get("X-Api-Key") != clientToken || sentHeader.Get("Authorization") != "") {
						t.Fatalf("test is broken: the SDK sent Authorization %q, X-Api-Key %q", sentHeader.Get("Authorization"), sentHeader.Get("X-Api-Key"))
					}
					wantKey := map[string]string{"anthropic": anthropicKey, "local-native": ""}[be.name]
					if a, k := up.header.Get("Authorization"), up.header.Get("X-Api-Key"); a != "" || k != wantKey {
						t.Errorf("upstream got Authorization %q, X-Api-Key %q; want none and %q", a, k, wantKey)
					}
				})
			}
		}
	}
}

// claudeCodeHeaders are the headers of the capture claude-code/01 (Claude
// Code 2.1.328 against a gateway), without the hop-by-hop ones and with the
// credential replaced.
var claudeCodeHeaders = map[string]string{
	"accept":                                    "application/json",
	"authorization":                             "Bearer " + clientToken,
	"content-type":                              "application/json",
	"user-agent":                                "claude-cli/2.1.328 (external, sdk-cli)",
	"x-claude-code-session-id":                  "1fa9516e-e3c9-4260-b85c-1a1d785103d6",
	"x-stainless-arch":                          "x64",
	"x-stainless-lang":                          "js",
	"x-stainless-os":                            "Linux",
	"x-stainless-package-version":               "0.128.0",
	"x-stainless-retry-count":                   "0",
	"x-stainless-runtime":                       "node",
	"x-stainless-runtime-version":               "v26.12.1",
	"x-stainless-timeout":                       "600",
	"anthropic-beta":                            "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24",
	"anthropic-dangerous-direct-browser-access": "true",
	"anthropic-version":                         "2023-06-01",
	"x-app":                                     "cli",
}

// ccSignature is the signature on the capture's thinking block (capture
// 03), which the fake API treats as one it issued in an earlier session.
const ccSignature = "EqQBCgIYAhIMZ85NyEX7yCQ1CD4FQ2W82MjcGzII8C3eDxy0u5C8"

// claudeCodeBody is capture 01 grown into a later turn of the same
// session, ~150 KB: the capture's system blocks (with cache_control), its
// 12 tools plus 24 copies under new names (36 JSON schemas), its
// role:"system" message now mid-conversation, metadata, thinking,
// context_management and output_config, then a signed thinking block and a
// Bash call (as in capture 03) and a long tool result; plus a top-level
// field and a block field no API knows yet.
func claudeCodeBody(t *testing.T, model string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../providers/anthropic/testdata/inbound/claude-code-01-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	msgs := req["messages"].([]any)
	if len(msgs) != 2 || msgs[1].(map[string]any)["role"] != "system" {
		t.Fatalf("capture 01 changed: %d messages", len(msgs))
	}
	user, system := msgs[0].(map[string]any), msgs[1]
	user["content"].([]any)[0].(map[string]any)["x_block_note"] = "a block field from next month's client"
	tools := req["tools"].([]any)
	var more []any
	for copyN := 2; copyN <= 3; copyN++ {
		for _, tl := range tools {
			var c map[string]any
			b, _ := json.Marshal(tl)
			json.Unmarshal(b, &c)
			c["name"] = fmt.Sprintf("%s_%d", c["name"], copyN)
			more = append(more, c)
		}
	}
	req["tools"] = append(tools, more...)
	assistant := map[string]any{"role": "assistant", "content": []any{
		map[string]any{"signature": ccSignature, "thinking": "lorem ipsum dolor sit amet consectetur adipiscing ", "type": "thinking"},
		map[string]any{"id": "toolu_01qs2AetdVFtfYdulB7I9NCo", "input": map[string]any{"command": "echo MARKER_42", "description": "Print a marker"},
			"name": "Bash", "type": "tool_use"},
	}}
	result := map[string]any{"tool_use_id": "toolu_01qs2AetdVFtfYdulB7I9NCo", "type": "tool_result", "content": "MARKER_42\n", "is_error": false}
	req["messages"] = []any{user, system, assistant, map[string]any{"role": "user", "content": []any{result}}}
	req["model"] = model
	req["stream"] = true
	req["x_future_option"] = map[string]any{"mode": "unknown-to-every-gateway"}
	body, _ := json.Marshal(req)
	// Grow the tool result to bring the body to ~150 KB.
	line := "drwxr-xr-x  2 user user 4096 Jan  1 00:00 some-directory-with-a-long-name\n"
	result["content"] = "MARKER_42\n" + strings.Repeat(line, max(0, 150_000-len(body))/len(line))
	body, _ = json.Marshal(req)
	if len(body) < 140_000 || len(req["tools"].([]any)) < 30 {
		t.Fatalf("test is broken: body %d bytes, %d tools", len(body), len(req["tools"].([]any)))
	}
	return body
}

// TestMessagesClaudeCodeRequest sends what Claude Code sends — its headers,
// /v1/messages?beta=true, a 150 KB streamed request with everything a real
// session has — to every backend, after Claude Code's HEAD / probe, and
// checks the answer is a well-formed Messages stream.
func TestMessagesClaudeCodeRequest(t *testing.T) {
	b := newMsgBackends(t)
	b.api.accept(ccSignature)
	p := start(t, b.config("", ""))
	hc := &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second}
	defer hc.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodHead, p.url+"/", nil)
	req.Header.Set("User-Agent", claudeCodeHeaders["user-agent"])
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD / = %d, want 200", resp.StatusCode)
	}

	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			body := claudeCodeBody(t, be.model)
			req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/messages?beta=true", bytes.NewReader(body))
			for k, v := range claudeCodeHeaders {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer := readAll(t, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, content type %q: %.1000s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), answer, p.Logs())
			}
			if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, be.route) {
				t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
			}
			evs, err := parseSSE([]byte(answer))
			if err != nil {
				t.Fatal(err)
			}
			names, err := checkMessagesStream(evs)
			if err != nil {
				t.Fatalf("%v\nevents %v\n%s", err, names, answer)
			}
			if !strings.Contains(answer, `"text_delta"`) {
				t.Errorf("no text in the answer: %s", answer)
			}

			up := be.body(t)
			switch be.name {
			case "anthropic", "local-native":
				seen := be.msgs.last(t)
				want := bytes.Replace(body, []byte(`"model":"`+be.model+`"`), []byte(`"model":"`+be.upstream+`"`), 1)
				if !bytes.Equal(seen.body, want) {
					t.Errorf("the upstream did not get the client's bytes with only model replaced (%d vs %d bytes)", len(seen.body), len(want))
				}
				if seen.query != "beta=true" || seen.header.Get("Anthropic-Beta") != claudeCodeHeaders["anthropic-beta"] ||
					seen.header.Get("Anthropic-Version") != "2023-06-01" {
					t.Errorf("query %q, anthropic-beta %q, anthropic-version %q", seen.query, seen.header.Get("Anthropic-Beta"), seen.header.Get("Anthropic-Version"))
				}
			case "openai-compatible":
				var chat struct {
					Messages []struct {
						Role    string          `json:"role"`
						Content json.RawMessage `json:"content"`
					} `json:"messages"`
					Tools  []json.RawMessage `json:"tools"`
					Stream bool              `json:"stream"`
				}
				if err := json.Unmarshal(up, &chat); err != nil {
					t.Fatal(err)
				}
				var roles []string
				for _, m := range chat.Messages {
					roles = append(roles, m.Role)
				}
				if !slices.Equal(roles, []string{"system", "user", "assistant", "tool"}) || len(chat.Tools) != 36 || !chat.Stream {
					t.Errorf("Chat request: roles %v, %d tools, stream %v; want system, user, assistant, tool; 36; true", roles, len(chat.Tools), chat.Stream)
				}
				for _, anthropicOnly := range []string{"cache_control", "context_management", "output_config", "x_future_option",
					"x_block_note", `"signature"`, ccSignature, `"thinking"`, `"metadata"`, `"tool_use"`, `"tool_result"`, `"input_schema"`} {
					if bytes.Contains(up, []byte(anthropicOnly)) {
						t.Errorf("the Chat request carries %s", anthropicOnly)
					}
				}
			case "gemini":
				if n := bytes.Count(up, []byte(`"name":"`)); n < 36 || !bytes.Contains(up, []byte(`"systemInstruction"`)) ||
					!bytes.Contains(up, []byte(`"functionResponse"`)) {
					t.Errorf("Gemini request: %d names, systemInstruction %v: %.500s", n, bytes.Contains(up, []byte(`"systemInstruction"`)), up)
				}
			}
		})
	}
}

// TestMessagesSideSwitchKeepsThinkingValid switches sides mid-conversation
// as the override (or a strategy flip) does: Anthropic's signed thinking
// and tool calls go to a local OpenAI-compatible model, whose unsigned
// thinking then goes back to Anthropic, which refuses any thinking block it
// did not sign. No 400 may reach the client.
func TestMessagesSideSwitchKeepsThinkingValid(t *testing.T) {
	api, local := newFakeAnthropicAPI(t), newFakeChat(t)
	p := start(t, `server:
  port: PORT
  api_key: `+clientKey+`
routing:
  default: remote
  local_model: qwen3
  remote_model: claude-sonnet-4-5
  fallback: false
providers:
  anthropic:
    api_key: "`+anthropicKey+`"
    base_url: `+api.URL+`
    local: false
    models: [claude-sonnet-4-5]
  localchat:
    type: openai
    api_key: `+upstreamKey+`
    base_url: `+local.URL+`/v1
    local: true
    models: [qwen3]
`)
	g := newGateway(t, p)
	g.key = clientKey
	rec := &sdkRecorder{}
	c := claudeSDKAuth(t, p, rec, clientKey)
	params := anthropic.MessageNewParams{Model: "claude-sonnet-4-6", MaxTokens: 4096, Thinking: anthropic.ThinkingConfigParamOfEnabled(2048),
		Tools: weatherTools, Messages: []anthropic.MessageParam{userText("Weather and time in Paris?")}}
	side := func(s string) {
		if st := g.control(t, http.MethodPut, "/localrouter/override", `{"override":"`+s+`"}`); st.Override != s {
			t.Fatalf("override %s: %+v", s, st)
		}
	}
	turn := func(n int, route string, stream bool) anthropic.Message {
		t.Helper()
		var msg anthropic.Message
		if stream {
			msg, _ = streamAll(t, c, params)
		} else {
			m, err := c.Messages.New(context.Background(), params)
			if err != nil {
				t.Fatalf("turn %d: %v\n%s", n, err, p.Logs())
			}
			msg = *m
		}
		if status, _, _ := rec.got(); status != http.StatusOK {
			t.Fatalf("turn %d: status %d", n, status)
		}
		if r := rec.route(); !strings.HasPrefix(r, route) {
			t.Errorf("turn %d: X-LocalRouter-Route = %q, want %s…", n, r, route)
		}
		params.Messages = append(params.Messages, msg.ToParam())
		return msg
	}
	const remote, localRoute = "remote:anthropic/claude-sonnet-4-5", "local:localchat/qwen3"
	// What only Anthropic takes never reaches the local model: its
	// signatures, thinking blocks, cache_control, tool_use blocks.
	noAnthropicOnly := func(n int, sigs ...string) {
		t.Helper()
		body := local.last(t).body
		for _, s := range append(sigs, `"signature"`, `"thinking"`, "cache_control", `"tool_use"`) {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("turn %d: the local model got %s: %s", n, s, body)
			}
		}
	}
	onlySigned := func(n int) {
		t.Helper()
		var req msgReq
		json.Unmarshal(api.last(t).body, &req)
		for i := range req.Messages {
			bs, _ := req.blocks(i)
			for _, b := range bs {
				if b.Type == "thinking" && (b.Signature == nil || !api.signed(*b.Signature)) {
					t.Errorf("turn %d: Anthropic got a thinking block it did not sign: %+v", n, b)
				}
			}
		}
	}

	// 1. Anthropic thinks (signed) and calls both tools.
	a1 := turn(1, remote, true)
	sig1 := block0(&a1).Signature
	if block0(&a1).Type != "thinking" || !api.signed(sig1) || len(toolUses(&a1)) != 2 {
		t.Fatalf("turn 1: %s", a1.RawJSON())
	}
	var sentReq struct {
		Messages []struct {
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	params.Messages = append(params.Messages, toolResults(&a1))

	// 2. The local model gets the results and answers, thinking unsigned.
	side("local")
	a2 := turn(2, localRoute, true)
	if block0(&a2).Type != "thinking" || block0(&a2).Signature != "" || textOf(&a2) != "The tools answered." {
		t.Fatalf("turn 2: %s", a2.RawJSON())
	}
	noAnthropicOnly(2, sig1)
	_, sent := rec.sent()
	if err := json.Unmarshal(sent, &sentReq); err != nil {
		t.Fatal(err)
	}
	signedBlock := sentReq.Messages[1].Content[0] // turn 1's thinking, as the client sends it back
	if !bytes.Contains(signedBlock, []byte(sig1)) {
		t.Fatalf("test is broken: %s", signedBlock)
	}

	// 3. Back on Anthropic, the history holds the signed block and the
	// local turn's unsigned one.
	params.Messages = append(params.Messages, userText("And in Rome?"))
	side("remote")
	a3 := turn(3, remote, false)
	if block0(&a3).Type != "thinking" || len(toolUses(&a3)) != 2 {
		t.Fatalf("turn 3: %s", a3.RawJSON())
	}
	onlySigned(3)
	if up := api.last(t).body; !bytes.Contains(up, signedBlock) {
		t.Errorf("turn 3: the signed thinking block did not reach Anthropic byte for byte: %s not in %s", signedBlock, up)
	}

	// 4. Local again: it answers the results of Anthropic's calls and then
	// makes tool calls of its own, thinking unsigned.
	params.Messages = append(params.Messages, toolResults(&a3))
	side("local")
	turn(4, localRoute, false)
	noAnthropicOnly(4, sig1, block0(&a3).Signature)
	params.Messages = append(params.Messages, userText("Check Paris again."))
	a5 := turn(5, localRoute, true)
	if block0(&a5).Type != "thinking" || block0(&a5).Signature != "" || len(toolUses(&a5)) != 2 {
		t.Fatalf("turn 5: %s", a5.RawJSON())
	}

	// 6. Anthropic gets the results of the local model's calls: the turn
	// that opened this tool loop starts with unsigned thinking, which
	// Anthropic would refuse, and without it, with tool_use, which
	// Anthropic refuses while thinking is on.
	params.Messages = append(params.Messages, toolResults(&a5))
	side("remote")
	a6 := turn(6, remote, true)
	if textOf(&a6) != "Got 2 tool results." {
		t.Errorf("turn 6: %s", a6.RawJSON())
	}
	onlySigned(6)

	// 7. And a plain question after all that, thinking on.
	params.Messages = append(params.Messages, userText("Thanks. Summarise."))
	a7 := turn(7, remote, false)
	if block0(&a7).Type != "thinking" || !api.signed(block0(&a7).Signature) {
		t.Errorf("turn 7: %s", a7.RawJSON())
	}
	onlySigned(7)
}

// wantAnthropicError checks err is the SDK's *anthropic.Error with status
// and an Anthropic-shaped body of type typ, and returns it.
func wantAnthropicError(t *testing.T, err error, status int, typ string) *anthropic.Error {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want *anthropic.Error %d", err, status)
	}
	var body struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if ae.StatusCode != status {
		t.Errorf("status %d, want %d: %s", ae.StatusCode, status, ae.RawJSON())
	}
	if err := json.Unmarshal([]byte(ae.RawJSON()), &body); err != nil || body.Type != "error" || body.Error == nil ||
		body.Error.Type != typ || body.Error.Message == "" || string(ae.Type()) != typ {
		t.Errorf("body %s, want {\"type\":\"error\",\"error\":{\"type\":%q,\"message\":…}}", ae.RawJSON(), typ)
	}
	return ae
}

// TestMessagesBadInput: the gateway's own refusals come in Anthropic's
// shape with the status the API would use, read through the SDK, and
// nothing reaches an upstream.
func TestMessagesBadInput(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("  api_key: "+clientKey+"\n  max_body: 64KiB\n", ""))
	ok := anthropic.MessageNewParams{Model: "claude-sonnet-4-6", MaxTokens: 1024, Messages: []anthropic.MessageParam{userText("hi")}}
	big := ok
	big.Messages = []anthropic.MessageParam{userText(strings.Repeat("x", 70<<10))}
	noMessages := ok
	noMessages.Messages = nil
	unknown := ok
	unknown.Model = "nope/x"
	cases := []struct {
		name   string
		key    string
		params anthropic.MessageNewParams
		opts   []option.RequestOption
		status int
		typ    string
	}{
		{"invalid JSON", clientKey, ok, []option.RequestOption{option.WithRequestBody("application/json", []byte(`{"model":"claude-sonnet-4-6","max_tokens":10,`))}, 400, "invalid_request_error"},
		{"missing max_tokens", clientKey, ok, []option.RequestOption{option.WithJSONDel("max_tokens")}, 400, "invalid_request_error"},
		{"missing messages", clientKey, noMessages, nil, 400, "invalid_request_error"},
		{"unknown model", clientKey, unknown, nil, 404, "not_found_error"},
		{"body over max_body", clientKey, big, nil, 413, "request_too_large"},
		{"foreign Origin", clientKey, ok, []option.RequestOption{option.WithHeader("Origin", "https://evil.example")}, 403, "permission_error"},
		{"missing key", "", ok, nil, 401, "authentication_error"},
		{"wrong key", "wrong-key", ok, nil, 401, "authentication_error"},
		{"wrong x-api-key", clientKey, ok, []option.RequestOption{withXAPIKey("wrong-key")}, 401, "authentication_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &sdkRecorder{}
			c := claudeSDKAuth(t, p, rec, tc.key)
			_, err := c.Messages.New(context.Background(), tc.params, tc.opts...)
			ae := wantAnthropicError(t, err, tc.status, tc.typ)
			if _, _, body := rec.got(); ae != nil && ae.RawJSON() != string(body) {
				t.Errorf("the SDK's error body %q is not the answer %q", ae.RawJSON(), body)
			}
			if tc.name == "unknown model" && !strings.HasPrefix(rec.route(), "none") {
				t.Errorf("X-LocalRouter-Route = %q, want none (…)", rec.route())
			}
		})
	}

	t.Run("foreign Host", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
		req.Host = "evil.example:8080"
		req.Header.Set("Authorization", "Bearer "+clientKey)
		req.Header.Set("Anthropic-Version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		resp.Body.Close()
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 403 || e.Type != "error" ||
			e.Error.Type != "permission_error" || e.Error.Message == "" {
			t.Errorf("status %d, body %s; want 403 permission_error", resp.StatusCode, body)
		}
	})

	if n := len(b.api.requests()) + len(b.chat.requests()) + len(b.local.requests()); n > 0 {
		t.Errorf("refused requests reached an upstream %d times", n)
	}
}

// upstreamFailure is an error an upstream answers with before any event.
type upstreamFailure struct {
	status     int
	retryAfter string
	typ        string // the Anthropic error type for status
}

var upstreamFailures = []upstreamFailure{
	{429, "17", "rate_limit_error"},
	{529, "", "overloaded_error"},
	{500, "", "api_error"},
}

// TestMessagesUpstreamErrors: an upstream's error status reaches the
// client unchanged on a pass-through (its body byte for byte: clients
// match its words), and mapped to Anthropic's shape with the same status
// on a translation; Retry-After is passed on either way.
func TestMessagesUpstreamErrors(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	for _, be := range b.table() {
		if be.name == "gemini" {
			continue
		}
		for _, f := range upstreamFailures {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/stream=%v", be.name, f.status, stream), func(t *testing.T) {
					var sentBody string
					if be.native {
						sentBody = anthropicErrorJSON(f.typ, fmt.Sprintf("upstream says %d: try again later", f.status))
						be.msgs.setHook(func(w http.ResponseWriter, r *http.Request, _ *msgReq) bool {
							if f.retryAfter != "" {
								w.Header().Set("Retry-After", f.retryAfter)
							}
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(f.status)
							io.WriteString(w, sentBody)
							return true
						})
						defer be.msgs.setHook(nil)
					} else {
						sentBody = openAIErrorJSON(fmt.Sprintf("upstream says %d", f.status), "requests", "", "rate_limit_exceeded")
						b.chat.setHook(func(w http.ResponseWriter, r *http.Request, _ map[string]json.RawMessage) bool {
							if f.retryAfter != "" {
								w.Header().Set("Retry-After", f.retryAfter)
							}
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(f.status)
							io.WriteString(w, sentBody)
							return true
						})
						defer b.chat.setHook(nil)
					}
					rec := &sdkRecorder{}
					c := claudeSDK(t, p, rec)
					params := anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024, Messages: []anthropic.MessageParam{userText("hi")}}
					var err error
					if stream {
						s := c.Messages.NewStreaming(context.Background(), params)
						for s.Next() {
							t.Errorf("event %s from a failed request", s.Current().Type)
						}
						err = s.Err()
						s.Close()
					} else {
						_, err = c.Messages.New(context.Background(), params)
					}
					status, header, body := rec.got()
					if status != f.status {
						t.Errorf("status %d, want %d: %s", status, f.status, body)
					}
					if got := header.Get("Retry-After"); got != f.retryAfter {
						t.Errorf("Retry-After = %q, want %q", got, f.retryAfter)
					}
					if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, be.route) {
						t.Errorf("X-LocalRouter-Route = %q on an upstream error", r)
					}
					if be.native {
						if string(body) != sentBody {
							t.Errorf("body %s, want the upstream's own %s", body, sentBody)
						}
						var ae *anthropic.Error
						if !errors.As(err, &ae) || ae.StatusCode != f.status || string(ae.Type()) != f.typ {
							t.Errorf("SDK error %v", err)
						}
						return
					}
					wantAnthropicError(t, err, f.status, f.typ)
				})
			}
		}
	}
}

// rawStream posts a streamed Messages request with net/http and returns
// the answer's bytes as the client got them.
func rawStream(t *testing.T, p *proc, model string) (*http.Response, []byte) {
	t.Helper()
	body := `{"model":"` + model + `","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Tell me a story"}]}`
	req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the gateway cut the client's stream instead of ending it with an error event: %v (%s)", err, raw)
	}
	return resp, raw
}

// TestMessagesStreamFailures: an upstream stream that fails after it began
// — the connection dropped, or an error of the upstream's own in the
// stream — ends the client's stream with one error event in Anthropic's
// shape, never a clean message_stop, on both paths; the SDK reports an
// error, not a short answer.
func TestMessagesStreamFailures(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	story := func(model string) []string {
		return messagesEvents(model, []aBlock{{typ: "text", text: "Once upon a time there was"}}, "end_turn")[:5]
	}
	const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	cases := []struct {
		name, backend string
		native        func(w http.ResponseWriter, req *msgReq)
		chat          func(w http.ResponseWriter, model string)
		upstreamEvent string // the error event the upstream itself sent, relayed as is
	}{
		{name: "cut", backend: "anthropic", native: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, story(req.Model))
			panic(http.ErrAbortHandler) // the connection closes, the chunked body unfinished
		}},
		{name: "cut", backend: "local-native", native: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, story(req.Model))
			panic(http.ErrAbortHandler)
		}},
		{name: "cut", backend: "openai-compatible", chat: func(w http.ResponseWriter, model string) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, chunk(model, `{"role":"assistant","content":""}`, ""))
			io.WriteString(w, chunk(model, `{"content":"Once "}`, ""))
			io.WriteString(w, chunk(model, `{"content":"upon a time"}`, ""))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
		{name: "error event", backend: "anthropic", upstreamEvent: "event: error\ndata: " + overloaded + "\n\n",
			native: func(w http.ResponseWriter, req *msgReq) {
				writeEvents(w, append(story(req.Model), "event: error\ndata: "+overloaded))
			}},
		{name: "error event", backend: "openai-compatible", chat: func(w http.ResponseWriter, model string) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, chunk(model, `{"role":"assistant","content":""}`, ""))
			io.WriteString(w, chunk(model, `{"content":"Once "}`, ""))
			io.WriteString(w, `data: {"error":{"message":"The server is overloaded, try again","type":"server_error","param":null,"code":"overloaded"}}`+"\n\n")
			io.WriteString(w, "data: [DONE]\n\n")
		}},
	}
	backends := map[string]backend{}
	for _, be := range b.table() {
		backends[be.name] = be
	}
	for _, tc := range cases {
		be := backends[tc.backend]
		t.Run(tc.name+"/"+tc.backend, func(t *testing.T) {
			if tc.native != nil {
				be.msgs.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
					tc.native(w, req)
					return true
				})
				defer be.msgs.setHook(nil)
			} else {
				b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
					var model string
					json.Unmarshal(req["model"], &model)
					tc.chat(w, model)
					return true
				})
				defer b.chat.setHook(nil)
			}
			resp, raw := rawStream(t, p, be.model)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			if !bytes.HasPrefix(raw, []byte("event: message_start\n")) || !bytes.Contains(raw, []byte("Once ")) {
				t.Errorf("the events before the failure were not relayed: %s", raw)
			}
			if bytes.Contains(raw, []byte("message_stop")) || bytes.Count(raw, []byte("event: error\n")) != 1 {
				t.Errorf("a failed stream must end with one error event and no message_stop:\n%s", raw)
			}
			evs, err := parseSSE(raw)
			if err != nil || len(evs) == 0 || evs[len(evs)-1].name != "error" {
				t.Fatalf("last event is not error (%v): %s", err, raw)
			}
			var e struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(evs[len(evs)-1].data), &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
				t.Errorf("error event %q not in Anthropic's shape", evs[len(evs)-1].data)
			}
			if tc.upstreamEvent != "" && !bytes.HasSuffix(raw, []byte(tc.upstreamEvent)) {
				t.Errorf("the upstream's own error event was not relayed as sent:\n%s", raw)
			}

			c := claudeSDK(t, p, &sdkRecorder{})
			s := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024,
				Messages: []anthropic.MessageParam{userText("Tell me a story")}})
			var msg anthropic.Message
			for s.Next() {
				msg.Accumulate(s.Current())
			}
			if s.Err() == nil {
				t.Errorf("the SDK saw a complete stream: %s", msg.RawJSON())
			}
			s.Close()
		})
	}
}

// TestMessagesNativeAnswerRelayed: a pass-through relays the upstream's
// answer as it sent it, JSON and stream, byte for byte.
func TestMessagesNativeAnswerRelayed(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	for _, be := range b.table() {
		if !be.native {
			continue
		}
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", be.name, stream), func(t *testing.T) {
				blocks := []aBlock{{typ: "thinking", thinking: "Short.", signature: be.msgs.issue()}, {typ: "text", text: "Fine, «thanks» ☀ — and you?"}}
				sent := []byte(messageJSON(be.upstream, blocks, "end_turn") + "\n")
				if stream {
					sent = []byte(strings.Join(messagesEvents(be.upstream, blocks, "end_turn"), "\n\n") + "\n\n")
				}
				be.msgs.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
					w.Header().Set("Content-Type", map[bool]string{true: "text/event-stream", false: "application/json"}[stream])
					w.Write(sent)
					return true
				})
				defer be.msgs.setHook(nil)
				body := fmt.Sprintf(`{"model":%q,"max_tokens":1024,"stream":%v,"messages":[{"role":"user","content":"How are you?"}]}`, be.model, stream)
				req, _ := http.NewRequest(http.MethodPost, p.url+"/v1/messages", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Anthropic-Version", "2023-06-01")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got := []byte(readAll(t, resp.Body))
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(got, sent) {
					t.Errorf("status %d; the client got\n%s\nthe upstream sent\n%s", resp.StatusCode, got, sent)
				}
			})
		}
	}
}

// cancelWithin bounds how long the upstream may keep working for a client
// that went away.
const cancelWithin = time.Second

// TestMessagesClientAbort: a client that goes away cancels the upstream
// request at once, streamed or not, on both paths; a streamed answer's
// first event reached the client while the upstream was still at work
// (incremental streaming); and the gateway serves the next request as
// before.
func TestMessagesClientAbort(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	const holdOn = "Hold on"
	for _, be := range b.table() {
		if be.name == "gemini" {
			continue
		}
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%v", be.name, stream), func(t *testing.T) {
				started, canceled := make(chan struct{}), make(chan struct{})
				// The upstream sends its first event (in a stream), then waits
				// for the gateway to give up on it.
				hold := func(w http.ResponseWriter, r *http.Request, first string) {
					if stream {
						w.Header().Set("Content-Type", "text/event-stream")
						io.WriteString(w, first)
						w.(http.Flusher).Flush()
					}
					close(started)
					<-r.Context().Done()
					close(canceled)
				}
				if be.native {
					be.msgs.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
						if last := req.lastTurn(); len(last) == 0 || last[0].Text == nil || *last[0].Text != holdOn {
							return false
						}
						hold(w, r, messagesEvents(req.Model, []aBlock{{typ: "text", text: "Hi"}}, "end_turn")[0]+"\n\n")
						return true
					})
					defer be.msgs.setHook(nil)
				} else {
					b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
						if !bytes.Contains(req["messages"], []byte(holdOn)) {
							return false
						}
						hold(w, r, chunk("deepseek-chat", `{"role":"assistant","content":"Hel"}`, ""))
						return true
					})
					defer b.chat.setHook(nil)
				}
				c := claudeSDK(t, p, &sdkRecorder{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				params := anthropic.MessageNewParams{Model: be.model, MaxTokens: 1024, Messages: []anthropic.MessageParam{userText(holdOn)}}
				if stream {
					s := c.Messages.NewStreaming(ctx, params)
					if !s.Next() {
						t.Fatalf("no first event: %v", s.Err())
					}
					if typ := s.Current().Type; typ != "message_start" {
						t.Errorf("first event %q, want message_start", typ)
					}
					cancel()
					s.Close()
				} else {
					errc := make(chan error, 1)
					go func() {
						_, err := c.Messages.New(ctx, params)
						errc <- err
					}()
					<-started
					cancel()
					if err := <-errc; !errors.Is(err, context.Canceled) {
						t.Errorf("the canceled request returned %v", err)
					}
				}
				select {
				case <-canceled:
				case <-time.After(cancelWithin):
					t.Fatalf("the upstream request was still running %v after the client went away\n%s", cancelWithin, p.Logs())
				}

				params.Messages = []anthropic.MessageParam{userText("Say hello")}
				msg, err := c.Messages.New(context.Background(), params)
				if err != nil || textOf(msg) != be.hello {
					t.Fatalf("the request after the abort: %v %v", err, msg)
				}
			})
		}
	}
}

// TestMessagesCountTokens: the Anthropic API's own count on its route; the
// gateway's estimate on a translated route and from a local server that
// has no count_tokens.
func TestMessagesCountTokens(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", ""))
	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			rec := &sdkRecorder{}
			c := claudeSDK(t, p, rec, option.WithHeader("anthropic-beta", "token-counting-2024-11-01"))
			n, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{Model: be.model,
				System:   anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: []anthropic.TextBlockParam{{Text: "You are a helpful assistant who answers in detail."}}},
				Tools:    []anthropic.MessageCountTokensToolUnionParam{{OfTool: weatherTools[0].OfTool}},
				Messages: []anthropic.MessageParam{userText("How many tokens is this sentence, roughly speaking?")}})
			if err != nil {
				t.Fatalf("count_tokens: %v\n%s", err, p.Logs())
			}
			if r := rec.route(); !strings.HasPrefix(r, be.route) {
				t.Errorf("X-LocalRouter-Route = %q", r)
			}
			if be.name == "anthropic" {
				if n.InputTokens != 4242 {
					t.Errorf("input_tokens = %d, want the API's own 4242", n.InputTokens)
				}
				seen := b.api.lastCount(t)
				if !bytes.Contains(seen.body, []byte(`"model":"claude-sonnet-4-5"`)) || seen.header.Get("Anthropic-Beta") != "token-counting-2024-11-01" {
					t.Errorf("the API's count_tokens got %s with anthropic-beta %q", seen.body, seen.header.Get("Anthropic-Beta"))
				}
				return
			}
			if n.InputTokens <= 0 || n.InputTokens == 4242 {
				t.Errorf("input_tokens = %d, want the gateway's estimate", n.InputTokens)
			}
		})
	}
	// A model no provider serves is refused as /v1/messages refuses it,
	// not counted as if it would be served.
	t.Run("unknown model", func(t *testing.T) {
		rec := &sdkRecorder{}
		_, err := claudeSDK(t, p, rec).Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{Model: "nope/x",
			Messages: []anthropic.MessageParam{userText("hi")}})
		wantAnthropicError(t, err, http.StatusNotFound, "not_found_error")
	})
}

// msgAliases maps Claude Code's tier names: an exact name first, then globs
// in file order.
const msgAliases = `  aliases:
    claude-local: local
    "claude-*haiku*": local
    "claude-*": auto
`

// TestMessagesModelsList: GET /v1/models reads as a model list to both
// SDKs and names the routing names, the exact aliases and every
// provider/model.
func TestMessagesModelsList(t *testing.T) {
	b := newMsgBackends(t)
	p := start(t, b.config("", msgAliases))
	page, err := claudeSDK(t, p, &sdkRecorder{}).Models.List(context.Background(), anthropic.ModelListParams{})
	if err != nil {
		t.Fatalf("models: %v\n%s", err, p.Logs())
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if m.DisplayName == "" || m.Type != "model" || m.CreatedAt.IsZero() {
			t.Errorf("model %s: display name %q, type %q, created %v", m.ID, m.DisplayName, m.Type, m.CreatedAt)
		}
	}
	want := []string{"auto", "local", "remote", "claude-local", "anthropic/claude-sonnet-4-5", "deepseek/deepseek-chat",
		"google/gemini-3-flash", "ollama/qwen3-coder"}
	for _, id := range want {
		if !slices.Contains(ids, id) {
			t.Errorf("model list %v lacks %s", ids, id)
		}
	}
	for _, id := range ids {
		if strings.ContainsAny(id, "*?") {
			t.Errorf("a glob alias is listed as a model: %s", id)
		}
	}
	if page.HasMore || page.FirstID != ids[0] || page.LastID != ids[len(ids)-1] {
		t.Errorf("has_more %v, first %q, last %q", page.HasMore, page.FirstID, page.LastID)
	}
	// The same list, read by the OpenAI SDK.
	op, err := sdk(p, nil).Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var oids []string
	for _, m := range op.Data {
		oids = append(oids, m.ID)
		if m.Object != "model" || m.OwnedBy == "" {
			t.Errorf("OpenAI view of %s: object %q, owned_by %q", m.ID, m.Object, m.OwnedBy)
		}
	}
	if !slices.Equal(oids, ids) {
		t.Errorf("OpenAI SDK lists %v, Anthropic SDK %v", oids, ids)
	}
}

// TestMessagesAliases: Claude Code's hard-coded names route by alias: any
// haiku goes local whatever the strategy, any other claude-* follows it.
func TestMessagesAliases(t *testing.T) {
	b := newMsgBackends(t)
	strat := func(side string) string {
		return `{"strategy":"` + side + `","local_model":"qwen3-coder","remote_model":"claude-sonnet-4-5","updated_at":"2026-11-25T1` +
			map[string]string{"local": "0", "remote": "1"}[side] + `:00:00Z"}`
	}
	ss := newStratServer(t, strat("remote"))
	cfg := b.config("", msgAliases)
	cfg = strings.Replace(cfg, "routing:\n", "remote_strategy:\n  url: "+ss.URL+"\n  poll_interval: "+strategyPeriod+"\n  timeout: "+strategyTimeout+"\nrouting:\n", 1)
	g := newGateway(t, start(t, cfg))
	g.waitStrategy(t, "remote")
	rec := &sdkRecorder{}
	c := claudeSDK(t, g.p, rec)
	ask := func(model string) (string, string) {
		t.Helper()
		msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{Model: model, MaxTokens: 1024,
			Messages: []anthropic.MessageParam{userText("hi")}})
		if err != nil {
			t.Fatalf("%s: %v\n%s", model, err, g.p.Logs())
		}
		return rec.route(), textOf(msg)
	}
	const local, remote = "local:ollama/qwen3-coder", "remote:anthropic/claude-sonnet-4-5"
	for _, side := range []string{"remote", "local", "remote"} {
		ss.set(http.StatusOK, strat(side))
		g.waitStrategy(t, side)
		want := map[string]string{"local": local, "remote": remote}[side]
		for _, tc := range []struct{ model, route, answer string }{
			{"claude-haiku-4-5", local, "Hello from qwen3-coder."},
			{"claude-3-5-haiku-20241022", local, "Hello from qwen3-coder."},
			{"claude-local", local, "Hello from qwen3-coder."},
			{"claude-sonnet-4-6", want, map[string]string{local: "Hello from qwen3-coder.", remote: "Hello from Claude."}[want]},
			{"claude-opus-4-1", want, map[string]string{local: "Hello from qwen3-coder.", remote: "Hello from Claude."}[want]},
		} {
			route, answer := ask(tc.model)
			if !strings.HasPrefix(route, tc.route+" ") || answer != tc.answer {
				t.Errorf("strategy %s, model %s: route %q, answer %q; want %s…, %q", side, tc.model, route, answer, tc.route, tc.answer)
			}
		}
	}
	if m := b.local.last(t); !bytes.Contains(m.body, []byte(`"model":"qwen3-coder"`)) {
		t.Errorf("the local server got %s", m.body)
	}
}

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

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// The tests in this file drive the OpenAI Responses front door
// (/v1/responses, /responses) end to end, with the official OpenAI SDK and
// with a request shaped like Codex CLI's, against every kind of backend: an
// upstream that serves /v1/responses itself (pass-through), an
// OpenAI-compatible Chat server, Anthropic and Gemini (translation).

// respBackends are the four upstreams of the Responses config.
type respBackends struct {
	chat   *fakeChat      // provider vllm: OpenAI-compatible, local, translated
	api    *fakeMessages  // provider anthropic: translated through the Chat form
	gemini *fakeGemini    // provider google: translated
	native *fakeResponses // provider openai: protocols [responses], pass-through
}

func newRespBackends(t *testing.T) *respBackends {
	return &respBackends{chat: newFakeChat(t), api: newFakeAnthropicAPI(t), gemini: newFakeGemini(t), native: newFakeResponses(t)}
}

// config is a gateway over the four backends: local is the Chat server,
// remote the native Responses upstream; server and routing are appended to
// their sections.
func (b *respBackends) config(server, routing string) string {
	return `server:
  port: PORT
` + server + `routing:
  default: remote
  local_model: qwen3
  remote_model: gpt-5-codex
  fallback: false
` + routing + `providers:
  anthropic:
    api_key: "` + anthropicKey + `"
    base_url: ` + b.api.URL + `
    local: false
    models: [claude-sonnet-4-5]
  google:
    api_key: ` + geminiKey + `
    base_url: ` + b.gemini.URL + `
    local: false
    models: [gemini-3-flash]
  vllm:
    type: openai
    api_key: ` + upstreamKey + `
    base_url: ` + b.chat.URL + `/v1
    local: true
    models: [qwen3]
  openai:
    type: openai
    api_key: ` + responsesKey + `
    base_url: ` + b.native.URL + `/v1
    local: false
    protocols: [responses]
    models: [gpt-5-codex]
`
}

// respBackend is one way a Responses request can be served, with what its
// fake answers.
type respBackend struct {
	name     string
	model    string // the client's
	upstream string // the model the upstream is asked for
	route    string // prefix of X-LocalRouter-Route
	native   bool   // the upstream speaks Responses: pass-through
	hello    string // answer to a plain prompt
	results  string // answer to one tool output
	body     func(t *testing.T) []byte
}

func (b *respBackends) table() []respBackend {
	return []respBackend{
		{name: "openai-compatible", model: "vllm/qwen3", upstream: "qwen3", route: "local:vllm/qwen3",
			hello: "Hello from qwen3.", results: "The tools answered.", body: func(t *testing.T) []byte { return b.chat.last(t).body }},
		{name: "anthropic", model: "anthropic/claude-sonnet-4-5", upstream: "claude-sonnet-4-5", route: "remote:anthropic/claude-sonnet-4-5",
			hello: "Hello from Claude.", results: "Got 1 tool results.", body: func(t *testing.T) []byte { return b.api.last(t).body }},
		{name: "gemini", model: "google/gemini-3-flash", upstream: "gemini-3-flash", route: "remote:google/gemini-3-flash",
			hello: "Hello from Gemini.", results: "It is 18°C and sunny in Paris.", body: func(t *testing.T) []byte { return b.gemini.lastBody(t) }},
		{name: "native", model: "openai/gpt-5-codex", upstream: "gpt-5-codex", route: "remote:openai/gpt-5-codex", native: true,
			hello: "Hello from gpt-5-codex.", results: respAnswerText(1), body: func(t *testing.T) []byte { return b.native.last(t).body }},
	}
}

// reported is the model an answer of be must name: a pass-through relays
// the upstream's word, a translation names the model the client asked for.
func (be respBackend) reported() string {
	if be.native {
		return be.upstream
	}
	return be.model
}

var respWeatherTool = responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
	Name: "get_weather", Description: openai.String("Current weather for a city"), Strict: openai.Bool(true),
	Parameters: map[string]any{
		"type": "object",
		"properties": map[string]any{
			"city": map[string]any{"type": "string"},
			"unit": map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
		},
		"required":             []string{"city", "unit"},
		"additionalProperties": false,
	},
}}

// respApplyPatchTool is Codex's apply_patch: a custom (freeform) tool with
// a Lark grammar.
var respApplyPatchTool = responses.ToolUnionParam{OfCustom: &responses.CustomToolParam{
	Name:        "apply_patch",
	Description: openai.String("Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON."),
	Format:      shared.CustomToolInputFormatUnionParam{OfGrammar: &shared.CustomToolInputFormatGrammarParam{Syntax: "lark", Definition: applyPatchGrammar}},
}}

var respWeatherSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"city":          map[string]any{"type": "string"},
		"temperature_c": map[string]any{"type": "number"},
	},
	"required":             []string{"city", "temperature_c"},
	"additionalProperties": false,
}

// TestResponsesBackends drives the SDK's Responses client through each
// kind of backend: a plain answer, a stream, a function tool round trip, a
// custom tool round trip, previous_response_id chaining, a JSON schema.
func TestResponsesBackends(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			tap := &respTap{}
			c := responsesSDK(t, p, tap)
			hello := responses.ResponseNewParams{Model: be.model, Instructions: openai.String("Be brief."),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")}}

			t.Run("non-stream", func(t *testing.T) {
				o := respNew(t, c, hello)
				if got := o.outputText(); got != be.hello || o.Model != be.reported() {
					t.Errorf("answer %q from model %q; want %q from %q", got, o.Model, be.hello, be.reported())
				}
				if msgs := o.items("message"); len(msgs) != 1 || msgs[0].Role != "assistant" || msgs[0].Status != "completed" {
					t.Errorf("output %s: want one completed assistant message", o.RawOutput)
				}
				if r := tap.route(); !strings.HasPrefix(r, be.route) {
					t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
				}
				if body := be.body(t); !bytes.Contains(body, []byte("Be brief.")) || !bytes.Contains(body, []byte("Say hello")) {
					t.Errorf("the instructions or the input did not reach the upstream: %.600s", body)
				}
			})

			t.Run("stream", func(t *testing.T) {
				params := hello
				params.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello, streamed")}
				o, st := respStreamAll(t, c, tap, params)
				if got := o.outputText(); got != be.hello || o.Model != be.reported() || o.Status != "completed" {
					t.Errorf("completed %q from %q, status %q; want %q from %q (events %v)", got, o.Model, o.Status, be.hello, be.reported(), st.names)
				}
				if n := st.deltas["response.output_text.delta"]; n < 2 {
					t.Errorf("%d text deltas: the answer was not streamed piece by piece (%v)", n, st.names)
				}
				want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
					"response.output_text.delta"}
				if len(st.names) < len(want)+4 || !slices.Equal(st.names[:len(want)], want) ||
					!slices.Equal(st.names[len(st.names)-4:], []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}) {
					t.Errorf("events %v", st.names)
				}
				if r := tap.route(); !strings.HasPrefix(r, be.route) {
					t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
				}
			})

			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("function tool/stream=%v", stream), func(t *testing.T) {
					ask := respUserText("What is the weather in Paris?")
					params := responses.ResponseNewParams{Model: be.model, Tools: []responses.ToolUnionParam{respWeatherTool}, Input: respInput(ask)}
					first := respTurn(t, c, tap, params, stream)
					calls := first.items("function_call")
					if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].CallID == "" || len(first.items("message")) != 0 {
						t.Fatalf("turn 1: output %s; want one get_weather call", first.RawOutput)
					}
					var args map[string]string
					if err := json.Unmarshal([]byte(deref(calls[0].Arguments)), &args); err != nil || args["city"] != "Paris" || args["unit"] != "celsius" {
						t.Errorf("arguments %q (%v)", deref(calls[0].Arguments), err)
					}
					switch up := be.body(t); be.name {
					case "openai-compatible":
						if r := parseChatRequest(t, up); len(r.Tools) != 1 || r.Tools[0].Function.Strict == nil || !*r.Tools[0].Function.Strict {
							t.Errorf("the function tool reached Chat without strict: %s", up)
						}
					case "native":
						if !bytes.Contains(up, []byte(`"strict":true`)) {
							t.Errorf("strict did not reach the upstream: %s", up)
						}
					}

					params.Input = respInput(ask, respCallParam(calls[0]), respOutputParam(calls[0], `{"temp":18,"sky":"sunny"}`))
					second := respTurn(t, c, tap, params, stream)
					if got := second.outputText(); got != be.results {
						t.Errorf("turn 2: %q, want %q: %s", got, be.results, second.RawOutput)
					}
					up := be.body(t)
					switch be.name {
					case "gemini":
						if !bytes.Contains(up, []byte(`"functionResponse"`)) || !bytes.Contains(up, []byte(geminiSignature)) {
							t.Errorf("Gemini got no functionResponse, or the call without its signature: %.800s", up)
						}
					default:
						if !bytes.Contains(up, []byte(calls[0].CallID)) || !bytes.Contains(up, []byte(`sunny`)) {
							t.Errorf("the call %s or its output is missing from the second upstream request: %.800s", calls[0].CallID, up)
						}
					}
				})

				t.Run(fmt.Sprintf("custom tool/stream=%v", stream), func(t *testing.T) {
					ask := respUserText("Rename hello to héllo in src/main.go.")
					params := responses.ResponseNewParams{Model: be.model, Tools: []responses.ToolUnionParam{respApplyPatchTool}, Input: respInput(ask)}
					first := respTurn(t, c, tap, params, stream)
					calls := first.items("custom_tool_call")
					if len(calls) != 1 || calls[0].Name != "apply_patch" || calls[0].CallID == "" || len(first.items("function_call")) != 0 {
						t.Fatalf("turn 1: output %s; want one apply_patch custom_tool_call", first.RawOutput)
					}
					if got := deref(calls[0].Input); got != applyPatchInput {
						t.Errorf("the patch did not survive:\n got %q\nwant %q", got, applyPatchInput)
					}
					if be.name == "openai-compatible" {
						// Chat has no freeform tools: one function with one string.
						r := parseChatRequest(t, be.body(t))
						var schema struct {
							Type       string                       `json:"type"`
							Properties map[string]map[string]string `json:"properties"`
							Required   []string                     `json:"required"`
						}
						if len(r.Tools) != 1 || r.Tools[0].Function.Name != "apply_patch" || json.Unmarshal(r.Tools[0].Function.Parameters, &schema) != nil ||
							schema.Type != "object" || len(schema.Properties) != 1 || schema.Properties["input"]["type"] != "string" ||
							!slices.Equal(schema.Required, []string{"input"}) {
							t.Errorf("apply_patch reached Chat as %s", be.body(t))
						}
					}

					params.Input = respInput(ask, respCallParam(calls[0]), respOutputParam(calls[0], "Success. Updated the following files:\nM src/main.go\nA docs/ünïcode.md\n"))
					second := respTurn(t, c, tap, params, stream)
					if got := second.outputText(); got != be.results {
						t.Errorf("turn 2: %q, want %q: %s", got, be.results, second.RawOutput)
					}
					// The upstream got the patch back exactly as it wrote it.
					up := be.body(t)
					var back string
					switch be.name {
					case "openai-compatible":
						for _, m := range parseChatRequest(t, up).Messages {
							for _, tc := range m.ToolCalls {
								var a struct{ Input string }
								json.Unmarshal([]byte(tc.Function.Arguments), &a)
								back = a.Input
							}
						}
					case "anthropic":
						var req msgReq
						json.Unmarshal(up, &req)
						for i := range req.Messages {
							bs, _ := req.blocks(i)
							for _, bl := range bs {
								if bl.Type == "tool_use" {
									var a struct{ Input string }
									json.Unmarshal(bl.Input, &a)
									back = a.Input
								}
							}
						}
					case "gemini":
						var req geminiReq
						json.Unmarshal(up, &req)
						for _, ct := range req.Contents {
							for _, pt := range ct.Parts {
								if pt.FunctionCall != nil {
									back, _ = pt.FunctionCall.Args["input"].(string)
								}
							}
						}
					case "native":
						var req struct{ Input []respItem }
						json.Unmarshal(up, &req)
						for _, it := range req.Input {
							if it.Type == "custom_tool_call" {
								back = deref(it.Input)
							}
						}
					}
					if back != applyPatchInput {
						t.Errorf("the patch reached the upstream's history as\n%q\nwant\n%q", back, applyPatchInput)
					}
				})

				t.Run(fmt.Sprintf("previous_response_id/stream=%v", stream), func(t *testing.T) {
					params := responses.ResponseNewParams{Model: be.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("My name is Ada.")}}
					first := respTurn(t, c, tap, params, stream)
					params.PreviousResponseID = openai.String(first.ID)
					params.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("What is my name?")}
					second := respTurn(t, c, tap, params, stream)
					if got := second.outputText(); got != be.hello || second.ID == first.ID {
						t.Errorf("turn 2: %q (id %s after %s), want %q", got, second.ID, first.ID, be.hello)
					}
					up := be.body(t)
					if be.native {
						// Not an id the gateway issued: the upstream resolves it.
						var req struct {
							PreviousResponseID string `json:"previous_response_id"`
						}
						if json.Unmarshal(up, &req); req.PreviousResponseID != first.ID {
							t.Errorf("the upstream got previous_response_id %q, want %q", req.PreviousResponseID, first.ID)
						}
						return
					}
					if !inOrder(up, "My name is Ada.", be.hello, "What is my name?") {
						t.Errorf("turn 2 did not carry turn 1 as history: %.800s", up)
					}
					if bytes.Contains(up, []byte("previous_response_id")) {
						t.Errorf("previous_response_id reached a translated upstream: %.500s", up)
					}
				})

				t.Run(fmt.Sprintf("previous_response_id tool round trip/stream=%v", stream), func(t *testing.T) {
					params := responses.ResponseNewParams{Model: be.model, Tools: []responses.ToolUnionParam{respWeatherTool},
						Input: respInput(respUserText("What is the weather in Paris?"))}
					first := respTurn(t, c, tap, params, stream)
					calls := first.items("function_call")
					if len(calls) != 1 {
						t.Fatalf("turn 1: output %s; want one call", first.RawOutput)
					}
					params.PreviousResponseID = openai.String(first.ID)
					params.Input = respInput(respOutputParam(calls[0], "18°C and sunny"))
					second := respTurn(t, c, tap, params, stream)
					if got := second.outputText(); got != be.results {
						t.Errorf("turn 2: %q, want %q: %s", got, be.results, second.RawOutput)
					}
					if up := be.body(t); !be.native && !inOrder(up, "What is the weather in Paris?", "get_weather", "18°C and sunny") {
						t.Errorf("turn 2 lacks turn 1's call before its output: %.800s", up)
					}
				})

				t.Run(fmt.Sprintf("json_schema/stream=%v", stream), func(t *testing.T) {
					params := responses.ResponseNewParams{Model: be.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Paris as JSON")},
						Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
							OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "weather", Schema: respWeatherSchema, Strict: openai.Bool(true)}}}}
					o := respTurn(t, c, tap, params, stream)
					up := be.body(t)
					switch be.name {
					case "openai-compatible":
						var rf struct {
							Type       string `json:"type"`
							JSONSchema struct {
								Name   string         `json:"name"`
								Schema map[string]any `json:"schema"`
								Strict *bool          `json:"strict"`
							} `json:"json_schema"`
						}
						r := parseChatRequest(t, up)
						if err := json.Unmarshal(r.ResponseFormat, &rf); err != nil || rf.Type != "json_schema" || rf.JSONSchema.Name != "weather" ||
							rf.JSONSchema.Strict == nil || !*rf.JSONSchema.Strict || rf.JSONSchema.Schema["required"] == nil {
							t.Errorf("response_format %s", r.ResponseFormat)
						}
						fallthrough
					case "native":
						var got, want any
						json.Unmarshal([]byte(weatherJSON), &want)
						if err := json.Unmarshal([]byte(o.outputText()), &got); err != nil || !cmp.Equal(got, want) {
							t.Errorf("answer %q, want %s", o.outputText(), weatherJSON)
						}
					default:
						if o.outputText() != be.hello {
							t.Errorf("answer %q, want %q", o.outputText(), be.hello)
						}
					}
				})
			}
		})
	}
}

// TestResponsesTranslation sends one request with every kind of item and
// tool the door translates to the Chat server, and checks what the server
// got, which it validates as the API does, item by item.
func TestResponsesTranslation(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	const png = "data:image/png;base64," + onePixelPNG
	req := map[string]any{
		"model": "vllm/qwen3", "instructions": "You are terse.", "max_output_tokens": 300,
		"reasoning": map[string]any{"effort": "high", "summary": "auto"}, "text": map[string]any{"format": map[string]any{"type": "json_object"}},
		"temperature": 0.2, "top_p": 0.9, "user": "user-7f3a", "metadata": map[string]string{"ticket": "42"}, "store": true,
		"include": []string{"reasoning.encrypted_content"}, "prompt_cache_key": "cache-7", "service_tier": "auto",
		"parallel_tool_calls": true, "tool_choice": "auto",
		"tools": []any{
			map[string]any{"type": "function", "name": "get_time", "description": "Local time in a city", "strict": true,
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}},
					"required": []string{"city"}, "additionalProperties": false}},
			map[string]any{"type": "custom", "name": "apply_patch", "description": "Edit files.",
				"format": map[string]any{"type": "grammar", "syntax": "lark", "definition": applyPatchGrammar}},
			map[string]any{"type": "web_search", "external_web_access": true},
			map[string]any{"type": "local_shell"},
			map[string]any{"type": "namespace", "name": "multi_agent_v1", "description": "Agents.", "tools": []any{
				map[string]any{"type": "function", "name": "close_agent", "parameters": map[string]any{"type": "object", "properties": map[string]any{}}}}},
		},
		"input": []any{
			map[string]any{"type": "message", "role": "developer", "content": []any{map[string]any{"type": "input_text", "text": "Follow the repo's style."}}},
			map[string]any{"type": "message", "role": "system", "content": "Mind the sandbox."},
			map[string]any{"type": "message", "role": "user", "content": []any{
				map[string]any{"type": "input_text", "text": "Look at these."},
				map[string]any{"type": "input_image", "image_url": "https://example.com/cat.png"},
				map[string]any{"type": "input_image", "image_url": png, "detail": "low"},
			}},
			map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "Two cats.", "annotations": []any{}}}},
			map[string]any{"type": "message", "role": "user", "content": "What time is it there, and fix main.go?"},
			map[string]any{"type": "reasoning", "id": "rs_1", "summary": []any{map[string]any{"type": "summary_text", "text": "Need the time."}},
				"encrypted_content": "gAAAAB-encrypted-blob-no-one-else-can-read"},
			map[string]any{"type": "function_call", "id": "fc_1", "call_id": "call_t1", "name": "get_time", "arguments": `{"city":"Paris"}`},
			map[string]any{"type": "function_call_output", "call_id": "call_t1", "output": "14:05"},
			map[string]any{"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_p1", "name": "apply_patch", "input": applyPatchInput},
			map[string]any{"type": "custom_tool_call_output", "call_id": "call_p1", "output": "Done."},
			map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": "And once more."}}},
		},
	}
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			req["stream"] = stream
			body, _ := json.Marshal(req)
			status, header, answer := respPost(t, p, "/v1/responses", body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s\n%s", status, answer, p.Logs())
			}
			var o *respObject
			if stream {
				evs, err := parseSSE(answer)
				if err != nil {
					t.Fatal(err)
				}
				st, err := checkResponsesStream(evs)
				if err != nil {
					t.Fatalf("%v\n%s", err, answer)
				}
				if st.deltas["response.reasoning_summary_text.delta"] < 2 {
					t.Errorf("the reasoning was not streamed as summary deltas: %v", st.names)
				}
				o = st.final
			} else {
				var err error
				if o, err = parseRespObject(answer); err != nil {
					t.Fatal(err)
				}
				if err := checkUsage(o.Usage); err != nil {
					t.Error(err)
				}
			}
			if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "local:vllm/qwen3") {
				t.Errorf("X-LocalRouter-Route = %q", r)
			}
			// The answer: the Chat server's reasoning_content as a reasoning
			// summary, then its apply_patch call as a custom tool call.
			rs, calls := o.items("reasoning"), o.items("custom_tool_call")
			if len(o.Output) != 2 || len(rs) != 1 || len(rs[0].Summary) != 1 || rs[0].Summary[0].Text != "Thinking it over, locally." ||
				len(calls) != 1 || deref(calls[0].Input) != applyPatchInput || o.Output[0].Type != "reasoning" {
				t.Errorf("output %s; want the reasoning summary, then the apply_patch call with the patch as is", o.RawOutput)
			}

			up := b.chat.last(t).body
			r := parseChatRequest(t, up)
			if r.Stream != stream || r.ReasoningEffort != "high" || r.MaxTokens == nil || *r.MaxTokens != 300 ||
				!bytes.Equal(bytes.ReplaceAll(r.ResponseFormat, []byte(" "), nil), []byte(`{"type":"json_object"}`)) {
				t.Errorf("stream %v, reasoning_effort %q, max_tokens %s, response_format %s", r.Stream, r.ReasoningEffort, intp(r.MaxTokens), r.ResponseFormat)
			}
			// Chat cannot take these; they are dropped, never sent.
			for _, s := range []string{"gAAAAB-encrypted-blob", "encrypted_content", "web_search", "local_shell", "namespace", "multi_agent_v1",
				"close_agent", "prompt_cache_key", "cache-7", "service_tier", `"include"`, `"metadata"`, `"store"`, "input_text", "input_image"} {
				if bytes.Contains(up, []byte(s)) {
					t.Errorf("the Chat request carries %s", s)
				}
			}
			var names []string
			for _, tl := range r.Tools {
				names = append(names, tl.Function.Name)
			}
			if !slices.Equal(names, []string{"get_time", "apply_patch"}) || r.Tools[0].Function.Strict == nil || !*r.Tools[0].Function.Strict {
				t.Errorf("tools %s; want get_time (strict) and apply_patch", mustJSON(r.Tools))
			}

			ms := r.Messages
			if len(ms) == 0 || ms[0].Role != "system" || !inOrder([]byte(ms[0].text()), "You are terse.", "Follow the repo's style.", "Mind the sandbox.") {
				t.Fatalf("messages %s: want one leading system message with instructions, developer and system texts", up)
			}
			if len(ms) != 9 {
				t.Fatalf("%d messages, want 9 (system, user, assistant, user, call, output, call, output, user): %s", len(ms), up)
			}
			for _, m := range ms[1:] {
				if m.Role == "system" || m.Role == "developer" {
					t.Errorf("a second %s message: %s", m.Role, up)
				}
			}
			var parts []struct {
				Type     string `json:"type"`
				Text     string `json:"text"`
				ImageURL *struct {
					URL    string `json:"url"`
					Detail string `json:"detail"`
				} `json:"image_url"`
			}
			if ms[1].Role != "user" || json.Unmarshal(ms[1].Content, &parts) != nil || len(parts) != 3 || parts[0].Text != "Look at these." ||
				parts[1].ImageURL == nil || parts[1].ImageURL.URL != "https://example.com/cat.png" ||
				parts[2].ImageURL == nil || parts[2].ImageURL.URL != png || parts[2].ImageURL.Detail != "low" {
				t.Errorf("the user message with images became %s", ms[1].Content)
			}
			if ms[2].Role != "assistant" || ms[2].text() != "Two cats." || ms[3].Role != "user" || ms[3].text() != "What time is it there, and fix main.go?" {
				t.Errorf("messages 2, 3: %s %q, %s %q", ms[2].Role, ms[2].text(), ms[3].Role, ms[3].text())
			}
			// Each call sits on an assistant message, answered by the tool
			// message right after it; the reasoning summary comes with the first.
			call := func(id string) (int, string) {
				for i, m := range ms {
					for _, tc := range m.ToolCalls {
						if tc.ID == id && m.Role == "assistant" {
							return i, tc.Function.Arguments
						}
					}
				}
				return -1, ""
			}
			i, args := call("call_t1")
			if i < 0 || ms[i].ReasoningContent != "Need the time." || args != `{"city":"Paris"}` || i+1 >= len(ms) ||
				ms[i+1].Role != "tool" || ms[i+1].ToolCallID != "call_t1" || ms[i+1].text() != "14:05" {
				t.Errorf("get_time call and output: %s", up)
			}
			j, args := call("call_p1")
			var in struct{ Input *string }
			if j < 0 || json.Unmarshal([]byte(args), &in) != nil || in.Input == nil || *in.Input != applyPatchInput || j+1 >= len(ms) ||
				ms[j+1].Role != "tool" || ms[j+1].ToolCallID != "call_p1" || ms[j+1].text() != "Done." {
				t.Errorf("apply_patch call (arguments %q) and output: %s", args, up)
			}
			if last := ms[len(ms)-1]; last.Role != "user" || last.text() != "And once more." {
				t.Errorf("last message %s %q", last.Role, last.text())
			}
		})
	}
}

// TestResponsesPaths: the door answers at /responses as at /v1/responses,
// for SDKs configured with a base URL without /v1.
func TestResponsesPaths(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	tap := &respTap{}
	c := responsesSDK(t, p, tap, option.WithBaseURL(p.url+"/"))
	for _, be := range b.table() {
		o := respNew(t, c, responses.ResponseNewParams{Model: be.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")}})
		if o.outputText() != be.hello || !strings.HasPrefix(tap.route(), be.route) {
			t.Errorf("%s via /responses: %q, route %q", be.name, o.outputText(), tap.route())
		}
	}
	if n := len(b.native.requests()); n != 1 || b.native.last(t).path != "/v1/responses" {
		t.Errorf("the native upstream got %d requests, last at %q", n, b.native.last(t).path)
	}
}

// respCodexHeaders are the headers of the capture codex/02 (Codex CLI
// 0.169 against a gateway) without the hop-by-hop ones, with the client's
// own credential.
func respCodexHeaders(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("testdata/codex/02-request.meta.json")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Headers map[string]string }
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for k, v := range meta.Headers {
		switch k {
		case "host", "content-length":
		case "authorization":
			h[k] = "Bearer " + clientToken
		default:
			h[k] = v
		}
	}
	if h["session-id"] == "" || h["x-codex-turn-metadata"] == "" || h["originator"] == "" {
		t.Fatalf("capture 02 changed: %v", h)
	}
	return h
}

// respCodexEncrypted is the encrypted reasoning of an earlier turn in the
// Codex request, which only the native upstream can read.
const respCodexEncrypted = "gAAAAABpZ3Rlc3QtZW5jcnlwdGVkLXJlYXNvbmluZy1mcm9tLWFuLWVhcmxpZXItdHVybg=="

// respCodexBody is the capture codex/02 (developer messages, user turns,
// a function_call and its output, tools incl. namespace and web_search,
// store false, include reasoning.encrypted_content, prompt_cache_key,
// client_metadata) with model, Codex's apply_patch custom tool, ~10 KB of
// instructions (which 02 has none of) and, before the call, the reasoning
// item of that turn with its summary and encrypted_content.
func respCodexBody(t *testing.T, model string) (body []byte, tools int) {
	t.Helper()
	raw, err := os.ReadFile("testdata/codex/02-request.json")
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	req["model"] = model
	if _, ok := req["instructions"]; !ok {
		req["instructions"] = "You are Codex, a coding agent.\n" + strings.Repeat("Follow the user's instructions; prefer small, reviewed patches. ", 160)
	}
	ts := req["tools"].([]any)
	req["tools"] = append(ts, map[string]any{"type": "custom", "name": "apply_patch",
		"description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
		"format":      map[string]any{"type": "grammar", "syntax": "lark", "definition": applyPatchGrammar}})
	for _, tl := range req["tools"].([]any) {
		if typ := tl.(map[string]any)["type"]; typ == "function" || typ == "custom" {
			tools++
		}
	}
	in := req["input"].([]any)
	at := slices.IndexFunc(in, func(it any) bool { return it.(map[string]any)["type"] == "function_call" })
	if at < 0 || req["store"] != false || !slices.Contains(req["include"].([]any), any("reasoning.encrypted_content")) || req["stream"] != true {
		t.Fatalf("capture 02 changed: %.300s", raw)
	}
	rs := map[string]any{"type": "reasoning", "id": "rs_01a23bcd0001", "summary": []any{map[string]any{"type": "summary_text", "text": "**Listing the files** before editing."}},
		"content": nil, "encrypted_content": respCodexEncrypted}
	req["input"] = slices.Insert(in, at, any(rs))
	body, _ = json.Marshal(req)
	if len(body) < 40_000 {
		t.Fatalf("test is broken: body %d bytes", len(body))
	}
	return body, tools
}

// TestResponsesCodexRequest sends what Codex CLI sends — its headers and a
// 50 KB streamed request with everything a real session has — to every
// backend, and checks the answer is a stream Codex's parser accepts and
// each upstream got what it can take.
func TestResponsesCodexRequest(t *testing.T) {
	b := newRespBackends(t)
	b.native.accept(respCodexEncrypted)
	p := start(t, b.config("", ""))
	hdr := respCodexHeaders(t)
	for _, be := range b.table() {
		t.Run(be.name, func(t *testing.T) {
			body, tools := respCodexBody(t, be.model)
			// The capture's function_call has arguments that are not JSON
			// ("lorem ipsum …"); Chat servers refuse those (vLLM json.loads
			// them), so the translation carries them as {"arguments": …}.
			status, header, answer := respPost(t, p, "/v1/responses", body, hdr)
			if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, content type %q: %.1000s\n%s", status, header.Get("Content-Type"), answer, p.Logs())
			}
			if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, be.route) {
				t.Errorf("X-LocalRouter-Route = %q, want %s…", r, be.route)
			}
			evs, err := parseSSE(answer)
			if err != nil {
				t.Fatal(err)
			}
			st, err := checkResponsesStream(evs)
			if err != nil {
				t.Fatalf("%v\nevents %v\n%s", err, st.names, answer)
			}
			if st.terminal != "response.completed" || st.final.outputText() != be.results {
				t.Errorf("%s with text %q, want response.completed with %q", st.terminal, st.final.outputText(), be.results)
			}

			up := be.body(t)
			if be.native {
				seen := b.native.last(t)
				want := bytes.Replace(body, []byte(`"model":"`+be.model+`"`), []byte(`"model":"`+be.upstream+`"`), 1)
				if !bytes.Equal(seen.body, want) {
					t.Errorf("the upstream did not get the client's bytes with only model replaced (%d vs %d bytes)", len(seen.body), len(want))
				}
				for k, v := range hdr {
					if k == "authorization" || k == "content-type" || k == "accept" || k == "user-agent" {
						continue
					}
					if got := seen.header.Get(k); got != v {
						t.Errorf("header %s: the upstream got %q, Codex sent %q", k, got, v)
					}
				}
				// include reasoning.encrypted_content reached it: the reasoning
				// item comes back encrypted, for Codex's next turn.
				if rs := st.final.items("reasoning"); len(rs) != 1 || rs[0].EncryptedContent == nil || *rs[0].EncryptedContent == "" {
					t.Errorf("no encrypted reasoning in %s", st.final.RawOutput)
				}
				return
			}
			// Only the summary of the earlier reasoning can go to another model.
			for _, s := range []string{respCodexEncrypted, "encrypted_content", `"namespace"`, "web_search", "client_metadata", "prompt_cache_key"} {
				if bytes.Contains(up, []byte(s)) {
					t.Errorf("the %s request carries %s", be.name, s)
				}
			}
			switch be.name {
			case "openai-compatible":
				r := parseChatRequest(t, up)
				var roles []string
				for _, m := range r.Messages {
					roles = append(roles, m.Role)
				}
				if len(r.Tools) != tools || !r.Stream || len(roles) < 4 || roles[0] != "system" || roles[len(roles)-1] != "tool" ||
					roles[len(roles)-2] != "assistant" || slices.Contains(roles[1:], "system") {
					t.Errorf("Chat request: roles %v, %d tools, stream %v; want system … assistant, tool; %d; true", roles, len(r.Tools), r.Stream, tools)
				}
				if len(r.Messages) < 2 {
					t.Fatalf("Chat request %.600s", up)
				}
				if a := r.Messages[len(r.Messages)-2]; a.ReasoningContent != "**Listing the files** before editing." || len(a.ToolCalls) != 1 ||
					a.ToolCalls[0].ID != "call_AhRqqWZFVZpRBeaObG0iNRML" {
					t.Errorf("the assistant turn became %+v", a)
				}
			case "anthropic":
				var req msgReq
				json.Unmarshal(up, &req)
				if len(req.Tools) != tools || !bytes.Contains(up, []byte(`"tool_result"`)) || !bytes.Contains(up, []byte("call_AhRqqWZFVZpRBeaObG0iNRML")) {
					t.Errorf("Anthropic request: %d tools, want %d: %.600s", len(req.Tools), tools, up)
				}
			case "gemini":
				if n := bytes.Count(up, []byte(`"name":"`)); n < tools || !bytes.Contains(up, []byte(`"systemInstruction"`)) ||
					!bytes.Contains(up, []byte(`"functionResponse"`)) {
					t.Errorf("Gemini request: %d names, want %d: %.600s", n, tools, up)
				}
			}
			// store: false: the gateway kept nothing to chain to.
			next := fmt.Sprintf(`{"model":%q,"input":"and then?","previous_response_id":%q}`, be.model, st.final.ID)
			status, _, got := respPost(t, p, "/v1/responses", []byte(next), nil)
			wantOpenAIError(t, result{status: status, body: string(got)}, http.StatusBadRequest)
			if !bytes.Contains(got, []byte("previous_response_not_found")) {
				t.Errorf("chaining to a store:false response: %s", got)
			}
		})
	}
}

// TestResponsesNativePassThrough: the native upstream gets the SDK's bytes
// with only model replaced, Codex's and OpenAI's headers as sent, and the
// configured key, never the client's own.
func TestResponsesNativePassThrough(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	forwarded := map[string]string{
		"OpenAI-Beta":           "responses_websockets=2026-02-06",
		"X-Codex-Turn-Metadata": `{"turn_id":"01a23bcd-ea50","sandbox":"none"}`,
		"X-Codex-Window-Id":     "01a23bcd-ea3c:0",
		"Session_id":            "01a23bcd-ea3c-7b72-ac41-cc617af5650b",
		"Thread-Id":             "01a23bcd-ea3c-7b72-ac41-cc617af5650c",
		"Originator":            "codex_cli_rs",
		"X-Client-Request-Id":   "01a23bcd-ea3c-7b72-ac41-cc617af5650d",
	}
	for _, model := range []string{"openai/gpt-5-codex", "remote"} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", model, stream), func(t *testing.T) {
				tap := &respTap{}
				var opts []option.RequestOption
				for k, v := range forwarded {
					opts = append(opts, option.WithHeader(k, v))
				}
				c := responsesSDK(t, p, tap, opts...)
				params := responses.ResponseNewParams{Model: model, Instructions: openai.String("You are terse."),
					Input:           respInput(respUserText("Weather in «Paris»?")),
					Tools:           []responses.ToolUnionParam{respWeatherTool, respApplyPatchTool, {OfWebSearch: &responses.WebSearchToolParam{Type: responses.WebSearchToolTypeWebSearch}}},
					Include:         []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
					Reasoning:       shared.ReasoningParam{Effort: shared.ReasoningEffortMedium, Summary: shared.ReasoningSummaryAuto},
					Store:           openai.Bool(false),
					PromptCacheKey:  openai.String("01a23bcd-ea3c-7b72-ac41-cc617af5650b"),
					MaxOutputTokens: openai.Int(2048),
					Metadata:        shared.Metadata{"ticket": "42"},
					ServiceTier:     responses.ResponseNewParamsServiceTierAuto}
				o := respTurn(t, c, tap, params, stream)
				if calls := o.items("custom_tool_call"); len(calls) != 1 || deref(calls[0].Input) != applyPatchInput || len(o.items("reasoning")) != 1 {
					t.Errorf("output %s", o.RawOutput)
				}
				if r := tap.route(); !strings.HasPrefix(r, "remote:openai/gpt-5-codex") {
					t.Errorf("X-LocalRouter-Route = %q", r)
				}
				sentHeader, sent := tap.sent()
				up := b.native.last(t)
				var want, got map[string]any
				if err := json.Unmarshal(sent, &want); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(up.body, &got); err != nil {
					t.Fatal(err)
				}
				if want["model"] != model || got["model"] != "gpt-5-codex" {
					t.Errorf("the SDK sent model %v, the upstream got %v", want["model"], got["model"])
				}
				delete(want, "model")
				delete(got, "model")
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("the upstream body differs from the SDK's beyond model (-sdk +upstream):\n%s", d)
				}
				wantBytes := bytes.Replace(sent, []byte(`"model":"`+model+`"`), []byte(`"model":"gpt-5-codex"`), 1)
				if !bytes.Equal(up.body, wantBytes) {
					t.Errorf("the upstream's bytes differ from the SDK's with model replaced:\n got %s\nwant %s", up.body, wantBytes)
				}
				for k, v := range forwarded {
					if sentHeader.Get(k) != v {
						t.Fatalf("test is broken: the SDK sent %s %q", k, sentHeader.Get(k))
					}
					if g := up.header.Values(k); !slices.Equal(g, []string{v}) {
						t.Errorf("%s: the upstream got %q, the SDK sent %q", k, g, v)
					}
				}
				if sentHeader.Get("Authorization") != "Bearer "+clientToken {
					t.Fatalf("test is broken: the SDK sent no credential of its own")
				}
				if up.header.Get("Authorization") != "Bearer "+responsesKey {
					t.Errorf("the upstream did not get the configured key (the client's: %v)", strings.Contains(up.header.Get("Authorization"), clientToken))
				}
			})
		}
	}
}

// TestResponsesNativeAnswerRelayed: a pass-through relays the upstream's
// answer as it sent it, JSON and stream, byte for byte — events the
// gateway does not know included.
func TestResponsesNativeAnswerRelayed(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	const text = "Fine, «thanks» ☀ — and you?"
	item := `{"id":"msg_0a1b","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":` + js(text) + `}],"role":"assistant"}`
	resp := func(status, output string) string {
		return `{"id":"resp_0a1b2c","object":"response","created_at":1764000000,"status":"` + status + `","error":null,"incomplete_details":null,"model":"gpt-5-codex-2025-09-15",` +
			`"output":[` + output + `],"usage":` + map[bool]string{true: `{"input_tokens":9,"input_tokens_details":{"cached_tokens":0},"output_tokens":8,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":17}`, false: "null"}[status == "completed"] + `,"x_vendor_field":{"kept":true}}`
	}
	events := strings.Join([]string{
		`event: response.created` + "\n" + `data: {"type":"response.created","sequence_number":0,"response":` + resp("in_progress", "") + `}`,
		`event: response.in_progress` + "\n" + `data: {"type":"response.in_progress","sequence_number":1,"response":` + resp("in_progress", "") + `}`,
		`event: response.output_item.added` + "\n" + `data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_0a1b","type":"message","status":"in_progress","content":[],"role":"assistant"}}`,
		`event: response.content_part.added` + "\n" + `data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_0a1b","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}`,
		`event: response.output_text.delta` + "\n" + `data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_0a1b","output_index":0,"content_index":0,"delta":"Fine, «thanks» ☀","logprobs":[],"obfuscation":"q1"}`,
		`event: response.output_text.annotation.added` + "\n" + `data: {"type":"response.output_text.annotation.added","sequence_number":5,"item_id":"msg_0a1b","output_index":0,"content_index":0,"annotation_index":0,"annotation":{"type":"url_citation","url":"https://example.com"}}`,
		`event: response.output_text.delta` + "\n" + `data: {"type":"response.output_text.delta","sequence_number":6,"item_id":"msg_0a1b","output_index":0,"content_index":0,"delta":" — and you?","logprobs":[],"obfuscation":"Zx9"}`,
		`event: response.output_text.done` + "\n" + `data: {"type":"response.output_text.done","sequence_number":7,"item_id":"msg_0a1b","output_index":0,"content_index":0,"text":` + js(text) + `,"logprobs":[]}`,
		`event: response.content_part.done` + "\n" + `data: {"type":"response.content_part.done","sequence_number":8,"item_id":"msg_0a1b","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":` + js(text) + `}}`,
		`event: response.output_item.done` + "\n" + `data: {"type":"response.output_item.done","sequence_number":9,"output_index":0,"item":` + item + `}`,
		`event: response.completed` + "\n" + `data: {"type":"response.completed","sequence_number":10,"response":` + resp("completed", item) + `}`,
	}, "\n\n") + "\n\n"
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			sent := []byte(resp("completed", item) + "\n")
			if stream {
				sent = []byte(events)
			}
			b.native.setHook(func(w http.ResponseWriter, r *http.Request, req *respReq) bool {
				w.Header().Set("Content-Type", map[bool]string{true: "text/event-stream", false: "application/json"}[stream])
				w.Write(sent)
				return true
			})
			defer b.native.setHook(nil)
			body := fmt.Sprintf(`{"model":"openai/gpt-5-codex","stream":%v,"input":"How are you?"}`, stream)
			status, _, got := respPost(t, p, "/v1/responses", []byte(body), nil)
			if status != http.StatusOK || !bytes.Equal(got, sent) {
				t.Errorf("status %d; the client got\n%s\nthe upstream sent\n%s", status, got, sent)
			}
		})
	}
}

// respAliases route Codex's model names: an exact name, then globs.
const respAliases = `  aliases:
    codex-local: local
    "gpt-5*": remote
  rules:
    - {when: 'has_images', use: local}
    - {when: 'header("x-route") == "claude"', use: anthropic/claude-sonnet-4-5}
`

// TestResponsesRouting: the model names, aliases and rules choose the
// backend for a Responses request as for the other doors, with facts read
// from the Responses body, and X-LocalRouter-Route names it.
func TestResponsesRouting(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", respAliases))
	const local, remote = "local:vllm/qwen3", "remote:openai/gpt-5-codex"
	image := respInput(responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
		responses.ResponseInputContentParamOfInputText("What is in this image?"),
		{OfInputImage: &responses.ResponseInputImageParam{ImageURL: openai.String("data:image/png;base64," + onePixelPNG), Detail: responses.ResponseInputImageDetailLow}},
	}, responses.EasyInputMessageRoleUser))
	hi := responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}
	for _, tc := range []struct {
		name, model string
		input       responses.ResponseNewParamsInputUnion
		header      string
		route       string
		answer      string
	}{
		{"auto", "auto", hi, "", remote, "Hello from gpt-5-codex."},
		{"local", "local", hi, "", local, "Hello from qwen3."},
		{"remote", "remote", hi, "", remote, "Hello from gpt-5-codex."},
		{"exact alias", "codex-local", hi, "", local, "Hello from qwen3."},
		{"glob alias", "gpt-5.1-codex-max", hi, "", remote, "Hello from gpt-5-codex."},
		{"provider/model", "google/gemini-3-flash", hi, "", "remote:google/gemini-3-flash", "Hello from Gemini."},
		{"rule: images", "auto", image, "", local + " (rule 1", "I see an image."},
		{"rule: header", "auto", hi, "claude", "remote:anthropic/claude-sonnet-4-5 (rule 2", "Hello from Claude."},
	} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				tap := &respTap{}
				var opts []option.RequestOption
				if tc.header != "" {
					opts = append(opts, option.WithHeader("X-Route", tc.header))
				}
				c := responsesSDK(t, p, tap, opts...)
				o := respTurn(t, c, tap, responses.ResponseNewParams{Model: tc.model, Input: tc.input}, stream)
				if r := tap.route(); !strings.HasPrefix(r, tc.route) || o.outputText() != tc.answer {
					t.Errorf("route %q, answer %q; want %s…, %q", r, o.outputText(), tc.route, tc.answer)
				}
			})
		}
	}
	if up := b.native.last(t); !bytes.Contains(up.body, []byte(`"model":"gpt-5-codex"`)) {
		t.Errorf("the native upstream got %s", up.body)
	}
}

// TestResponsesBadInput: the gateway's own refusals come in OpenAI's shape
// with the status the API would use, and nothing reaches an upstream.
func TestResponsesBadInput(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("  api_key: "+clientKey+"\n  max_body: 64KiB\n", ""))
	g := newGateway(t, p)
	g.key = clientKey
	big := `{"model":"auto","input":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name, body  string
		noAuth      bool
		key         string
		status      int
		param, code string
	}{
		{name: "invalid JSON", body: `{"model":"auto","input":`, status: 400},
		{name: "missing input", body: `{"model":"auto","instructions":"hi"}`, status: 400, param: "input"},
		{name: "missing model", body: `{"input":"hi"}`, status: 400, param: "model"},
		{name: "unknown model", body: `{"model":"nope/x","input":"hi"}`, status: 404, param: "model", code: "model_not_found"},
		{name: "body over max_body", body: big, status: 413},
		{name: "unknown previous_response_id", body: `{"model":"local","input":"hi","previous_response_id":"resp_never_issued_0001"}`, status: 400,
			param: "previous_response_id", code: "previous_response_not_found"},
		{name: "unknown previous_response_id, streamed", body: `{"model":"vllm/qwen3","stream":true,"input":"hi","previous_response_id":"resp_never_issued_0002"}`,
			status: 400, param: "previous_response_id", code: "previous_response_not_found"},
		{name: "missing key", body: `{"model":"auto","input":"hi"}`, noAuth: true, status: 401},
		{name: "wrong key", body: `{"model":"auto","input":"hi"}`, key: "wrong-key", status: 401},
	}
	for _, tc := range cases {
		for _, path := range []string{"/v1/responses", "/responses"} {
			t.Run(tc.name+path, func(t *testing.T) {
				hdr := map[string]string{}
				if tc.key != "" {
					hdr["Authorization"] = "Bearer " + tc.key
				}
				r, err := g.request(http.MethodPost, path, tc.body, hdr, tc.noAuth)
				if err != nil {
					t.Fatal(err)
				}
				wantOpenAIError(t, r, tc.status)
				var e struct {
					Error struct {
						Param *string `json:"param"`
						Code  *string `json:"code"`
					} `json:"error"`
				}
				json.Unmarshal([]byte(r.body), &e)
				if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
					t.Errorf("param %v, want %q: %s", e.Error.Param, tc.param, r.body)
				}
				if tc.code != "" && (e.Error.Code == nil || *e.Error.Code != tc.code) {
					t.Errorf("code %v, want %q: %s", e.Error.Code, tc.code, r.body)
				}
				if tc.name == "unknown model" && !strings.HasPrefix(r.route, "none") {
					t.Errorf("X-LocalRouter-Route = %q, want none (…)", r.route)
				}
			})
		}
	}
	if n := len(b.chat.requests()) + len(b.api.requests()) + len(b.native.requests()); n > 0 {
		t.Errorf("refused requests reached an upstream %d times", n)
	}

	// The SDK reads the refusal as an *openai.Error with param and code.
	t.Run("SDK", func(t *testing.T) {
		c := responsesSDK(t, p, &respTap{}, option.WithAPIKey(clientKey))
		_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "local", PreviousResponseID: openai.String("resp_never_issued_0003"),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "previous_response_id" || ae.Code != "previous_response_not_found" {
			t.Errorf("got %v, want a 400 *openai.Error on previous_response_id", err)
		}
	})

	// store: false keeps nothing: chaining to it is refused, as to any id
	// the gateway does not know, streamed or not.
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain to store false/stream=%v", stream), func(t *testing.T) {
			tap := &respTap{}
			c := responsesSDK(t, p, tap, option.WithAPIKey(clientKey))
			first := respTurn(t, c, tap, responses.ResponseNewParams{Model: "local", Store: openai.Bool(false),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Forget this.")}}, stream)
			_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "local", PreviousResponseID: openai.String(first.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("What did I say?")}})
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != "previous_response_not_found" {
				t.Errorf("chaining to store:false %s: %v", first.ID, err)
			}
			// And a stored one chains, so the refusal above was for store: false.
			kept := respTurn(t, c, tap, responses.ResponseNewParams{Model: "local", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Keep this.")}}, stream)
			respNew(t, c, responses.ResponseNewParams{Model: "local", PreviousResponseID: openai.String(kept.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("What did I say?")}})
			if up := b.chat.last(t).body; !inOrder(up, "Keep this.", "What did I say?") {
				t.Errorf("the stored turn was not the history: %s", up)
			}
		})
	}
}

// TestResponsesUpstreamErrors: an upstream's 429 or 500 before the first
// byte reaches the client with that status in OpenAI's shape, Retry-After
// kept, streamed or not, on every path.
func TestResponsesUpstreamErrors(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	for _, be := range b.table() {
		if be.name == "gemini" {
			continue
		}
		for _, f := range []struct {
			status     int
			retryAfter string
			anthropic  string
		}{{429, "17", "rate_limit_error"}, {500, "", "api_error"}} {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/stream=%v", be.name, f.status, stream), func(t *testing.T) {
					head := func(w http.ResponseWriter) {
						if f.retryAfter != "" {
							w.Header().Set("Retry-After", f.retryAfter)
						}
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(f.status)
					}
					openAIBody := openAIErrorJSON(fmt.Sprintf("upstream says %d", f.status), map[int]string{429: "requests", 500: "server_error"}[f.status], "", "")
					switch be.name {
					case "openai-compatible":
						b.chat.setHook(func(w http.ResponseWriter, r *http.Request, _ map[string]json.RawMessage) bool {
							head(w)
							io.WriteString(w, openAIBody)
							return true
						})
						defer b.chat.setHook(nil)
					case "anthropic":
						b.api.setHook(func(w http.ResponseWriter, r *http.Request, _ *msgReq) bool {
							head(w)
							io.WriteString(w, anthropicErrorJSON(f.anthropic, fmt.Sprintf("upstream says %d", f.status)))
							return true
						})
						defer b.api.setHook(nil)
					case "native":
						b.native.setHook(func(w http.ResponseWriter, r *http.Request, _ *respReq) bool {
							head(w)
							io.WriteString(w, openAIBody)
							return true
						})
						defer b.native.setHook(nil)
					}
					tap := &respTap{}
					c := responsesSDK(t, p, tap)
					params := responses.ResponseNewParams{Model: be.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}
					var err error
					if stream {
						s := c.Responses.NewStreaming(context.Background(), params)
						for s.Next() {
							t.Errorf("event %s from a failed request", s.Current().Type)
						}
						err = s.Err()
						s.Close()
					} else {
						_, err = c.Responses.New(context.Background(), params)
					}
					status, header, body := tap.got()
					wantOpenAIError(t, result{status: status, body: string(body)}, f.status)
					if got := header.Get("Retry-After"); got != f.retryAfter {
						t.Errorf("Retry-After = %q, want %q", got, f.retryAfter)
					}
					if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, be.route) {
						t.Errorf("X-LocalRouter-Route = %q on an upstream error", r)
					}
					var ae *openai.Error
					if !errors.As(err, &ae) || ae.StatusCode != f.status {
						t.Errorf("SDK error %v, want *openai.Error %d", err, f.status)
					}
				})
			}
		}
	}
}

// TestResponsesFallback: with fallback on, a 5xx from the side the strategy
// chose before the first byte sends the request to the other side, which
// answers in its own protocol (here native → translated); a model named
// explicitly never falls back.
func TestResponsesFallback(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, strings.Replace(b.config("", ""), "fallback: false", "fallback: true", 1))
	b.native.setHook(func(w http.ResponseWriter, r *http.Request, _ *respReq) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, openAIErrorJSON("The server is overloaded", "server_error", "", ""))
		return true
	})
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			tap := &respTap{}
			c := responsesSDK(t, p, tap)
			before := len(b.native.requests())
			o := respTurn(t, c, tap, responses.ResponseNewParams{Model: "auto", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}, stream)
			if r := tap.route(); o.outputText() != "Hello from qwen3." || !strings.HasPrefix(r, "local:vllm/qwen3") || !strings.Contains(r, "fallback") {
				t.Errorf("answer %q, route %q; want the local side's by fallback", o.outputText(), r)
			}
			if n := len(b.native.requests()) - before; n != 1 {
				t.Errorf("the native upstream got %d requests, want 1: the first try", n)
			}
			_, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "openai/gpt-5-codex", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("explicit openai/gpt-5-codex: %v, want its 503", err)
			}
		})
	}
}

// TestResponsesStreamFailures: an upstream stream that fails after it
// began — the connection dropped, or an error of the upstream's own in the
// stream — ends the client's stream with response.failed carrying a code
// Codex acts on, never response.completed, on every path.
func TestResponsesStreamFailures(t *testing.T) {
	b := newRespBackends(t)
	p := start(t, b.config("", ""))
	story := func(model string) []string {
		return messagesEvents(model, []aBlock{{typ: "text", text: "Once upon a time there was"}}, "end_turn")[:5]
	}
	chatStart := func(w http.ResponseWriter, model string) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunk(model, `{"role":"assistant","content":""}`, ""))
		io.WriteString(w, chunk(model, `{"content":"Once "}`, ""))
		io.WriteString(w, chunk(model, `{"content":"upon a time"}`, ""))
		w.(http.Flusher).Flush()
	}
	// nativeStart is the upstream's own stream up to two text deltas.
	nativeStart := func(w http.ResponseWriter, model string) {
		ev := func(n int, typ, fields string) string {
			return fmt.Sprintf("event: %s\ndata: {\"type\":%q,\"sequence_number\":%d,%s}", typ, typ, n, fields)
		}
		resp := `{"id":"resp_cut01","object":"response","created_at":1764000000,"status":"in_progress","error":null,"model":` + js(model) + `,"output":[],"usage":null}`
		ref := `"item_id":"msg_cut01","output_index":0,"content_index":0`
		writeEvents(w, []string{
			ev(0, "response.created", `"response":`+resp),
			ev(1, "response.in_progress", `"response":`+resp),
			ev(2, "response.output_item.added", `"output_index":0,"item":{"id":"msg_cut01","type":"message","status":"in_progress","content":[],"role":"assistant"}`),
			ev(3, "response.content_part.added", ref+`,"part":{"type":"output_text","annotations":[],"text":""}`),
			ev(4, "response.output_text.delta", ref+`,"delta":"Once ","logprobs":[]`),
			ev(5, "response.output_text.delta", ref+`,"delta":"upon a time","logprobs":[]`),
		})
	}
	const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	cases := []struct {
		name, backend string
		chat          func(w http.ResponseWriter, model string)
		api           func(w http.ResponseWriter, req *msgReq)
		native        func(w http.ResponseWriter, req *respReq)
		code          string // the error.code of response.failed; "" for any Codex acts on
		message       string // in error.message
	}{
		{name: "cut", backend: "openai-compatible", code: "server_error", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			panic(http.ErrAbortHandler) // the connection closes, the chunked body unfinished
		}},
		{name: "rate limit", backend: "openai-compatible", code: "rate_limit_exceeded", message: "try again in 20s", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			io.WriteString(w, `data: {"error":{"message":"Rate limit reached for requests. Please try again in 20s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`+"\n\n")
		}},
		{name: "context length", backend: "openai-compatible", code: "context_length_exceeded", chat: func(w http.ResponseWriter, model string) {
			chatStart(w, model)
			io.WriteString(w, `data: {"error":{"message":"This model's maximum context length is 32768 tokens. However, your messages resulted in 40123 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`+"\n\n")
		}},
		{name: "cut", backend: "anthropic", code: "server_error", api: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, story(req.Model))
			panic(http.ErrAbortHandler)
		}},
		{name: "error event", backend: "anthropic", api: func(w http.ResponseWriter, req *msgReq) {
			writeEvents(w, append(story(req.Model), "event: error\ndata: "+overloaded))
		}},
		{name: "cut", backend: "native", code: "server_error", native: func(w http.ResponseWriter, req *respReq) {
			nativeStart(w, req.Model)
			panic(http.ErrAbortHandler)
		}},
		{name: "ends without completed", backend: "native", code: "server_error", native: func(w http.ResponseWriter, req *respReq) {
			nativeStart(w, req.Model)
		}},
		{name: "its own failed", backend: "native", code: "rate_limit_exceeded", message: "Please try again in 1.5s", native: func(w http.ResponseWriter, req *respReq) {
			nativeStart(w, req.Model)
			writeEvents(w, []string{`event: response.failed` + "\n" + `data: {"type":"response.failed","sequence_number":6,"response":{"id":"resp_cut01","object":"response","created_at":1764000000,"status":"failed",` +
				`"error":{"code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 1.5s."},"model":` + js(req.Model) + `,"output":[],"usage":null}}`})
		}},
	}
	backends := map[string]respBackend{}
	for _, be := range b.table() {
		backends[be.name] = be
	}
	for _, tc := range cases {
		be := backends[tc.backend]
		t.Run(tc.name+"/"+tc.backend, func(t *testing.T) {
			switch {
			case tc.chat != nil:
				b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
					var model string
					json.Unmarshal(req["model"], &model)
					tc.chat(w, model)
					return true
				})
				defer b.chat.setHook(nil)
			case tc.api != nil:
				b.api.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
					tc.api(w, req)
					return true
				})
				defer b.api.setHook(nil)
			default:
				b.native.setHook(func(w http.ResponseWriter, r *http.Request, req *respReq) bool {
					tc.native(w, req)
					return true
				})
				defer b.native.setHook(nil)
			}
			body := fmt.Sprintf(`{"model":%q,"stream":true,"input":"Tell me a story"}`, be.model)
			status, _, raw := respPost(t, p, "/v1/responses", []byte(body), nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if !bytes.Contains(raw, []byte(`"delta":"Once "`)) {
				t.Errorf("the events before the failure were not relayed: %s", raw)
			}
			if bytes.Contains(raw, []byte(`"type":"response.completed"`)) || bytes.Count(raw, []byte("event: response.failed\n")) != 1 {
				t.Errorf("a failed stream must end with one response.failed and no response.completed:\n%s", raw)
			}
			evs, err := parseSSE(raw)
			if err != nil {
				t.Fatal(err)
			}
			st, err := checkResponsesStream(evs)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			if st.terminal != "response.failed" {
				t.Fatalf("the stream ended with %s", st.terminal)
			}
			code := st.final.Error.Code
			if !slices.Contains([]string{"server_error", "rate_limit_exceeded", "context_length_exceeded"}, code) || tc.code != "" && code != tc.code {
				t.Errorf("error.code %q, want %s", code, map[bool]string{true: tc.code, false: "one Codex acts on"}[tc.code != ""])
			}
			if !strings.Contains(st.final.Error.Message, tc.message) {
				t.Errorf("error.message %q lacks %q", st.final.Error.Message, tc.message)
			}

			// Read by the SDK: a stream that ends with response.failed.
			tap := &respTap{}
			s := responsesSDK(t, p, tap).Responses.NewStreaming(context.Background(), responses.ResponseNewParams{Model: be.model,
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Tell me a story")}})
			var types []string
			for s.Next() {
				types = append(types, s.Current().Type)
			}
			s.Close()
			if len(types) == 0 || types[len(types)-1] != "response.failed" || slices.Contains(types, "response.completed") {
				t.Errorf("the SDK saw %v (err %v), want a stream ending with response.failed", types, s.Err())
			}
		})
	}
}

// TestResponsesClientAbort: a client that goes away cancels the upstream
// request at once, streamed or not, on every path that can be held; a
// streamed answer's first event reached the client while the upstream was
// still at work; and the gateway serves the next request as before.
func TestResponsesClientAbort(t *testing.T) {
	b := newRespBackends(t)
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
				switch be.name {
				case "openai-compatible":
					b.chat.setHook(func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool {
						if !bytes.Contains(req["messages"], []byte(holdOn)) {
							return false
						}
						hold(w, r, chunk("qwen3", `{"role":"assistant","content":"Hel"}`, ""))
						return true
					})
					defer b.chat.setHook(nil)
				case "anthropic":
					b.api.setHook(func(w http.ResponseWriter, r *http.Request, req *msgReq) bool {
						if last := req.lastTurn(); len(last) == 0 || last[0].Text == nil || *last[0].Text != holdOn {
							return false
						}
						// Up to the first text delta: a translation has something to send.
						hold(w, r, strings.Join(messagesEvents(req.Model, []aBlock{{typ: "text", text: "Hi"}}, "end_turn")[:4], "\n\n")+"\n\n")
						return true
					})
					defer b.api.setHook(nil)
				case "native":
					b.native.setHook(func(w http.ResponseWriter, r *http.Request, req *respReq) bool {
						if !bytes.Contains(req.input[len(req.input)-1], []byte(holdOn)) {
							return false
						}
						hold(w, r, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":"+
							`{"id":"resp_hold01","object":"response","created_at":1764000000,"status":"in_progress","error":null,"model":"gpt-5-codex","output":[],"usage":null}}`+"\n\n")
						return true
					})
					defer b.native.setHook(nil)
				}
				tap := &respTap{}
				c := responsesSDK(t, p, tap)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				params := responses.ResponseNewParams{Model: be.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(holdOn)}}
				if stream {
					s := c.Responses.NewStreaming(ctx, params)
					if !s.Next() {
						t.Fatalf("no first event: %v", s.Err())
					}
					if typ := s.Current().Type; typ != "response.created" {
						t.Errorf("first event %q, want response.created", typ)
					}
					cancel()
					s.Close()
				} else {
					errc := make(chan error, 1)
					go func() {
						_, err := c.Responses.New(ctx, params)
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

				params.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")}
				if o := respNew(t, c, params); o.outputText() != be.hello {
					t.Fatalf("the request after the abort: %q", o.outputText())
				}
			})
		}
	}
}

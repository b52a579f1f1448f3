package ollama

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localrouter/localrouter/providers"
)

// est is providers.Facts' EstTokens formula, written out again so that the
// tests do not trust the code they check.
func est(chars, messages int) int {
	return (chars+3)/4 + 3*messages + 3
}

func TestScanChat(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want ChatInfo
	}{
		{
			name: "stream is the default",
			body: `{"model":"tiny","messages":[{"role":"user","content":"Hello! What is the weather in Paris?"}]}`,
			want: ChatInfo{Model: "tiny", Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 36, EstTokens: est(36, 1)}},
		},
		{
			name: "stream null is the default",
			body: `{"model":"tiny","stream":null,"messages":[{"role":"user","content":"hi"}]}`,
			want: ChatInfo{Model: "tiny", Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 2, EstTokens: est(2, 1)}},
		},
		{
			name: "stream false",
			body: `{"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}]}`,
			want: ChatInfo{Model: "tiny", Facts: providers.Facts{Messages: 1, PromptChars: 2, EstTokens: est(2, 1)}},
		},
		{
			name: "no messages is a load",
			body: `{"model":"tiny","keep_alive":"5m"}`,
			want: ChatInfo{Model: "tiny", Stream: true, Load: true},
		},
		{
			name: "escapes count as the character they stand for",
			// a, newline, b, é, 😀 (a surrogate pair), a lone surrogate (U+FFFD), ü (raw UTF-8)
			body: `{"messages":[{"role":"user","content":"a\nb\u00e9\ud83d\ude00\ud800ü"}]}`,
			want: ChatInfo{Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 7, EstTokens: est(7, 1)}},
		},
		{
			name: "images, thinking, tool calls and results",
			body: `{"model":"llava","messages":[
				{"role":"user","content":"what is this?","images":["iVBORw0KGgo=",""]},
				{"role":"assistant","content":"","thinking":"hmm","tool_calls":[{"function":{"name":"look","arguments":{"x":1}}}]},
				{"role":"Tool","tool_name":"look","content":"a cat"}]}`,
			want: ChatInfo{Model: "llava", Stream: true, Facts: providers.Facts{Messages: 3,
				PromptChars: len("what is this?") + len("hmm") + len(`{"x":1}`) + len("a cat"),
				EstTokens:   est(13+3+7+5, 3), HasImages: true, HasTools: true}},
		},
		{
			name: "empty and null images are none",
			body: `{"messages":[{"role":"user","content":"x","images":["",null]},{"role":"user","images":null}]}`,
			want: ChatInfo{Stream: true, Facts: providers.Facts{Messages: 2, PromptChars: 1, EstTokens: est(1, 2)}},
		},
		{
			name: "arguments in the OpenAI form count as text",
			body: `{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]}]}`,
			want: ChatInfo{Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 7, EstTokens: est(7, 1), HasTools: true}},
		},
		{
			name: "tool definitions",
			body: `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the weather","parameters":{"type":"object"}}}]}`,
			want: ChatInfo{Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 1,
				ToolChars: len("get_weather") + len("Get the weather") + len(`{"type":"object"}`),
				EstTokens: est(1+11+15+17, 1), HasTools: true}},
		},
		{
			name: "unknown fields and options are only validated",
			body: `{"model":"m","options":{"num_ctx":8192,"whatever":[1,{"a":null}]},"keep_alive":-1,"format":{"type":"object"},"think":"high","messages":[{"role":"user","content":"x","extra":{}}]}`,
			want: ChatInfo{Model: "m", Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 1, EstTokens: est(1, 1)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanChat([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			// The session's facts have their own test (TestChatSession).
			if diff := cmp.Diff(tc.want, *got, cmpopts.IgnoreFields(providers.Facts{}, "Prefix", "ToolTurn", "Turns", "Opening")); diff != "" {
				t.Errorf("ScanChat (-want +got):\n%s", diff)
			}
		})
	}
}

// checkRequestError checks that err is a *providers.RequestError whose
// message names what it must.
func checkRequestError(t *testing.T, err error, wantIn string) {
	t.Helper()
	var re *providers.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("got error %T %v, want a *providers.RequestError", err, err)
	}
	if !strings.Contains(re.Msg, wantIn) {
		t.Errorf("got message %q, want it to say %q", re.Msg, wantIn)
	}
}

func TestScanErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not JSON", `{"model":`, "not valid JSON"},
		{"trailing garbage", `{"model":"m"} x`, "not valid JSON"},
		{"not an object", `[{"model":"m"}]`, "must be a JSON object"},
		{"model a number", `{"model":1}`, "model must not be a JSON number"},
		{"stream a string", `{"stream":"yes"}`, "stream must not be a JSON string"},
		{"messages an object", `{"messages":{"role":"user"}}`, "messages must not be a JSON object"},
		{"content an array", `{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`, "messages.content must not be a JSON array"},
		{"thinking a number", `{"messages":[{"role":"assistant","thinking":1}]}`, "messages.thinking must not be a JSON number"},
		{"images a string", `{"messages":[{"role":"user","images":"iVBO"}]}`, "messages.images must not be a JSON string"},
		{"an image a number", `{"messages":[{"role":"user","images":["iVBO",7]}]}`, "messages.images must not be a JSON number"},
		{"tools an object", `{"tools":{}}`, "tools must not be a JSON object"},
		{"tool name a bool", `{"tools":[{"function":{"name":true}}]}`, "tools.function.name must not be a JSON bool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScanChat([]byte(tc.body))
			checkRequestError(t, err, tc.want)
		})
	}
}

func TestScanGenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want GenerateInfo
	}{
		{
			name: "one-turn chat",
			body: `{"model":"tiny","prompt":"Why is the sky blue?","system":"Be brief."}`,
			want: GenerateInfo{Model: "tiny", Stream: true, Facts: providers.Facts{Messages: 2, PromptChars: 20 + 9, EstTokens: est(29, 2)}},
		},
		{
			name: "suffix is FIM",
			body: `{"model":"qwen2.5-coder","prompt":"def add(a, b):\n","suffix":"\n\nprint(add(1, 2))","stream":false}`,
			want: GenerateInfo{Model: "qwen2.5-coder", FIM: true, Facts: providers.Facts{Messages: 1, PromptChars: 15 + 18, EstTokens: est(33, 1)}},
		},
		{
			name: "raw is FIM, as Zed's edit prediction sends it",
			body: `{"model":"zeta","prompt":"<|fim_prefix|>x<|fim_suffix|><|fim_middle|>","raw":true,"stream":false,"options":{"num_predict":256,"temperature":0}}`,
			want: GenerateInfo{Model: "zeta", FIM: true, Facts: providers.Facts{Messages: 1, PromptChars: 43, EstTokens: est(43, 1)}},
		},
		{
			name: "an empty suffix and raw false are not FIM",
			body: `{"prompt":"x","suffix":"","raw":false}`,
			want: GenerateInfo{Stream: true, Facts: providers.Facts{Messages: 1, PromptChars: 1, EstTokens: est(1, 1)}},
		},
		{
			name: "no prompt is a load",
			body: `{"model":"tiny","images":["iVBORw0KGgo="]}`,
			want: GenerateInfo{Model: "tiny", Stream: true, Load: true, Facts: providers.Facts{HasImages: true}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanGenerate([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("ScanGenerate (-want +got):\n%s", diff)
			}
		})
	}
	for _, tc := range []struct{ name, body, want string }{
		{"prompt a number", `{"prompt":1}`, "prompt must not be a JSON number"},
		{"raw a string", `{"prompt":"x","raw":"true"}`, "raw must not be a JSON string"},
		{"not an object", `"x"`, "must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScanGenerate([]byte(tc.body))
			checkRequestError(t, err, tc.want)
		})
	}
}

func TestScanEmbed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		legacy bool
		want   EmbedInfo
	}{
		{
			name: "a string",
			body: `{"model":"nomic-embed-text","input":"Why is the sky blue?"}`,
			want: EmbedInfo{Model: "nomic-embed-text", Inputs: 1, Facts: providers.Facts{Messages: 1, PromptChars: 20, EstTokens: 5}},
		},
		{
			name: "an array, as Continue sends its chunks",
			body: `{"model":"e","input":["a","bcdef",""],"truncate":true,"dimensions":256,"keep_alive":"5m"}`,
			want: EmbedInfo{Model: "e", Inputs: 3, Facts: providers.Facts{Messages: 3, PromptChars: 6, EstTokens: 2}},
		},
		{
			name: "an empty string is nothing to embed, as Ollama counts it",
			body: `{"model":"e","input":""}`,
			want: EmbedInfo{Model: "e"},
		},
		{
			name: "no input",
			body: `{"model":"e","input":null}`,
			want: EmbedInfo{Model: "e"},
		},
		{
			name:   "legacy prompt",
			body:   `{"model":"e","prompt":"hello","input":"ignored"}`,
			legacy: true,
			want:   EmbedInfo{Model: "e", Inputs: 1, Legacy: true, Facts: providers.Facts{Messages: 1, PromptChars: 5, EstTokens: 2}},
		},
		{
			name:   "legacy without prompt",
			body:   `{"model":"e"}`,
			legacy: true,
			want:   EmbedInfo{Model: "e", Legacy: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScanEmbed([]byte(tc.body), tc.legacy)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("ScanEmbed (-want +got):\n%s", diff)
			}
		})
	}
	for _, tc := range []struct{ name, body, want string }{
		{"input a number", `{"input":3}`, "input must not be a JSON number"},
		{"token arrays", `{"input":[[1,2,3]]}`, "input must not be a JSON array"},
		{"an input an object", `{"input":["a",{}]}`, "input must not be a JSON object"},
		{"prompt an array", `{"prompt":["a"]}`, "prompt must not be a JSON array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ScanEmbed([]byte(tc.body), false)
			checkRequestError(t, err, tc.want)
		})
	}
}

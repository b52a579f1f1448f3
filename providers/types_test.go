package providers

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *ChatCompletionRequest
	}{
		{
			name: "string content",
			body: `{"model":"auto","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`,
			want: &ChatCompletionRequest{Model: "auto", Messages: []Message{
				{Role: "system", Content: Content{Text: "be brief"}},
				{Role: "user", Content: Content{Text: "hi"}},
			}},
		},
		{
			name: "parts with text and images",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":[` +
				`{"type":"text","text":"what is this?"},` +
				`{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}},` +
				`{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}`,
			want: &ChatCompletionRequest{Model: "gpt-4o", Messages: []Message{{Role: "user", Content: Content{IsParts: true, Parts: []ContentPart{
				{Type: "text", Text: "what is this?"},
				{Type: "image_url", ImageURL: &ImageURL{URL: "data:image/png;base64,iVBORw0KGgo=", Detail: "low"}},
				{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/cat.jpg"}},
			}}}}},
		},
		{
			name: "empty parts array",
			body: `{"model":"m","messages":[{"role":"user","content":[]}]}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{{Role: "user", Content: Content{IsParts: true, Parts: []ContentPart{}}}}},
		},
		{
			name: "null and missing content",
			body: `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]},{"role":"assistant"}]}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{}}, {Role: "assistant"}}},
		},
		{
			name: "stop as string",
			body: `{"model":"m","messages":[],"stop":"\n\n"}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{}, Stop: Stop{"\n\n"}},
		},
		{
			name: "stop as array",
			body: `{"model":"m","messages":[],"stop":["END","###"]}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{}, Stop: Stop{"END", "###"}},
		},
		{
			name: "stop null",
			body: `{"model":"m","messages":[],"stop":null}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{}},
		},
		{
			name: "tools, tool calls and tool results",
			body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":256,"temperature":0.2,` +
				`"tool_choice":"auto","response_format":{"type":"json_object"},"reasoning_effort":"low",` +
				`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",` +
				`"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],` +
				`"messages":[{"role":"user","content":"weather in Paris?"},` +
				`{"role":"assistant","content":null,"reasoning_content":"need tool","tool_calls":[{"id":"call_1","type":"function",` +
				`"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
				`{"role":"tool","tool_call_id":"call_1","content":"18C"}]}`,
			want: &ChatCompletionRequest{
				Model: "m", Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true},
				MaxTokens: ptr(256), Temperature: ptr(0.2),
				ToolChoice:      json.RawMessage(`"auto"`),
				ResponseFormat:  json.RawMessage(`{"type":"json_object"}`),
				ReasoningEffort: "low",
				Tools: []Tool{{Type: "function", Function: Function{
					Name: "get_weather", Description: "Weather",
					Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
					Strict:     ptr(true),
				}}},
				Messages: []Message{
					{Role: "user", Content: Content{Text: "weather in Paris?"}},
					{Role: "assistant", ReasoningContent: "need tool", ToolCalls: []ToolCall{{
						ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`},
					}}},
					{Role: "tool", ToolCallID: "call_1", Content: Content{Text: "18C"}},
				},
			},
		},
		{
			name: "unknown fields ignored",
			body: `{"model":"m","messages":[],"top_k":5,"x":{"y":[1]}}`,
			want: &ChatCompletionRequest{Model: "m", Messages: []Message{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			got, err := ParseRequest(body)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if string(got.Raw) != tc.body {
				t.Errorf("got Raw %s, want the body unchanged", got.Raw)
			}
			if got.Model != tc.want.Model || got.Stream != tc.want.Stream {
				t.Errorf("before Decode: got model %q stream %v, want %q %v", got.Model, got.Stream, tc.want.Model, tc.want.Stream)
			}
			if err := got.Decode(); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got.Raw = nil
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(ChatCompletionRequest{})); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
			if got.IncludeUsage() != (tc.want.StreamOptions != nil && tc.want.StreamOptions.IncludeUsage) {
				t.Errorf("got IncludeUsage() %v, want %v", got.IncludeUsage(), !got.IncludeUsage())
			}
		})
	}
}

func TestParseRequestInvalid(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"not json", `model=auto`},
		{"truncated", `{"model":"auto","messages":[`},
		{"empty", ``},
		{"array", `[]`},
		{"messages not array", `{"messages":"hi"}`},
		{"content a number", `{"messages":[{"role":"user","content":42}]}`},
		{"content an object", `{"messages":[{"role":"user","content":{"text":"hi"}}]}`},
		{"stop a number", `{"stop":1}`},
		{"stop array of numbers", `{"stop":[1]}`},
		{"trailing garbage", `{"model":"m"} x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fields routing does not read are checked when a provider decodes.
			got, err := ParseRequest([]byte(tc.body))
			if err == nil {
				err = got.Decode()
			}
			if err == nil {
				t.Errorf("got %+v and no error, want an error", got)
			}
		})
	}
}

// TestContentMarshal checks content is written back in the form it came in,
// which matters for requests rebuilt in code for other protocols.
func TestContentMarshal(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"string", `"hi"`, `"hi"`},
		{"parts", `[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"http://x/y.png"}}]`,
			`[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"http://x/y.png"}}]`},
		{"empty parts", `[]`, `[]`},
		{"empty string", `""`, `""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Content
			if err := json.Unmarshal([]byte(tc.in), &c); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestStreamResponseAppendJSON(t *testing.T) {
	content := "hi"
	tests := []struct {
		name  string
		chunk *ChatCompletionStreamResponse
		want  string
	}{
		{
			name:  "raw wins",
			chunk: &ChatCompletionStreamResponse{ID: "ignored", Raw: []byte(`{"id":"x","vendor_field":1}`)},
			want:  `prefix{"id":"x","vendor_field":1}`,
		},
		{
			name: "encoded",
			chunk: &ChatCompletionStreamResponse{ID: "c", Object: "chat.completion.chunk", Model: "m",
				Choices: []StreamChoice{{Delta: Delta{Content: &content}}}},
			want: `prefix{"id":"c","object":"chat.completion.chunk","created":0,"model":"m",` +
				`"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.chunk.AppendJSON([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestResponseBody(t *testing.T) {
	raw := []byte(`{"id":"x","choices":[],"vendor":true}`)
	got, err := (&ChatCompletionResponse{ID: "ignored", Raw: raw}).Body()
	if err != nil || string(got) != string(raw) {
		t.Errorf("got %s, %v, want %s, nil", got, err, raw)
	}
	got, err = (&ChatCompletionResponse{ID: "a", Object: "chat.completion", Choices: []Choice{}}).Body()
	if want := `{"id":"a","object":"chat.completion","created":0,"model":"","choices":[]}`; err != nil || string(got) != want {
		t.Errorf("got %s, %v, want %s, nil", got, err, want)
	}
}

func TestFindUsage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *Usage
	}{
		{"openai usage chunk", `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":3,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":4}}}`,
			&Usage{PromptTokens: 19, CompletionTokens: 3, TotalTokens: 22, PromptTokensDetails: &PromptTokensDetails{CachedTokens: 4}}},
		{"usage null", `{"id":"c","choices":[{"delta":{"content":"x"}}],"usage":null}`, nil},
		{"no usage", `{"id":"c","choices":[{"delta":{"content":"x"}}]}`, nil},
		{"usage not last", "{\"usage\" : {\"total_tokens\":3} ,\n\"service_tier\":\"default\",\"system_fingerprint\":\"fp\"}", &Usage{TotalTokens: 3}},
		{"usage mentioned in content", `{"usage":{"total_tokens":3},"choices":[{"delta":{"content":"see \"usage\": {\"total_tokens\":9}"}}]}`, &Usage{TotalTokens: 3}},
		{"later string value usage", `{"usage":{"total_tokens":3},"object":"usage"}`, &Usage{TotalTokens: 3}},
		{"groq x_groq usage only is not top-level", `{"choices":[{"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}}`, nil},
		{"top-level usage before x_groq", `{"choices":[],"usage":{"total_tokens":7},"x_groq":{"id":"req_1","usage":{"total_tokens":99}}}`, &Usage{TotalTokens: 7}},
		{"top-level usage after x_groq", `{"choices":[],"x_groq":{"id":"req_1","usage":{"total_tokens":99}},"usage":{"total_tokens":7}}`, &Usage{TotalTokens: 7}},
		{"duplicate usage keys, last wins", `{"usage":{"total_tokens":1},"usage":{"total_tokens":2}}`, &Usage{TotalTokens: 2}},
		{"usage not an object", `{"usage":"none"}`, nil},
		{"usage malformed", `{"usage":{"total_tokens":"many"}}`, nil},
		{"not an object", `[{"usage":{"total_tokens":1}}]`, nil},
		{"not json", `data: {"usage":`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, FindUsage([]byte(tc.body))); diff != "" {
				t.Errorf("FindUsage(%s) mismatch (-want +got):\n%s", tc.body, diff)
			}
		})
	}
}

// FuzzFindUsage checks FindUsage agrees with a full encoding/json decode of
// the top-level usage, for inputs where the two can be compared.
func FuzzFindUsage(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`))
	f.Add([]byte(`{"x":{"usage":{"total_tokens":1}},"usage":null}`))
	f.Add([]byte(`{"usage":{"total_tokens":3},"object":"usage"}`))
	f.Add([]byte(`{"choices":[],"x_groq":{"id":"r","usage":{"total_tokens":7}}}`))
	f.Add([]byte(`{"a":["usage",{"usage":{}}],"usage" : {"prompt_tokens_details":{"cached_tokens":2}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := FindUsage(in) // never panics
		var full struct {
			Usage *Usage `json:"usage"`
		}
		if !json.Valid(in) || in[len(in)-1] != '}' || json.Unmarshal(in, &full) != nil {
			return
		}
		// encoding/json also matches "Usage" and escaped keys, and merges
		// duplicates: compare only where there is one plain "usage" key or none.
		if bytes.Contains(in, []byte(`\`)) || bytes.Count(bytes.ToLower(in), []byte("usage")) != bytes.Count(in, []byte(`"usage"`)) ||
			bytes.Count(in, []byte(`"usage"`)) > 1 {
			return
		}
		if diff := cmp.Diff(full.Usage, got); diff != "" {
			t.Errorf("FindUsage(%s) differs from encoding/json (-json +FindUsage):\n%s", in, diff)
		}
	})
}

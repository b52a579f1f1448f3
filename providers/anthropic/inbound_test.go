package anthropic

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
)

// checkChatRequest checks what every translated request must be: JSON that
// providers.ParseRequest accepts and that decodes into the typed request.
func checkChatRequest(t testing.TB, body []byte) *providers.ChatCompletionRequest {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("not valid JSON: %s", body)
	}
	req, err := providers.ParseRequest(body)
	if err != nil {
		t.Fatalf("ParseRequest: %v\n%s", err, body)
	}
	if err := req.Decode(); err != nil {
		t.Fatalf("Decode: %v\n%s", err, body)
	}
	return req
}

func TestToChatRequestGolden(t *testing.T) {
	for path, name := range goldenCases(t, "inbound/request") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			body, err := ToChatRequest([]byte(input), "qwen3-coder-30b")
			if err != nil {
				checkGolden(t, path, "error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, indent(body))
			req := checkChatRequest(t, body)
			if req.Model != "qwen3-coder-30b" {
				t.Errorf("model %q", req.Model)
			}
			checkToolSequence(t, req)
		})
	}
}

// checkToolSequence checks OpenAI's rule for tool messages: the tool
// messages after an assistant message with tool calls answer each of its
// calls once, and no other tool message exists.
func checkToolSequence(t *testing.T, req *providers.ChatCompletionRequest) {
	t.Helper()
	var want []string // ids still to answer
	after := false    // the previous message is the assistant's calls or a tool message
	for i, m := range req.Messages {
		if m.Role == "tool" {
			j := slices.Index(want, m.ToolCallID)
			if !after || j < 0 {
				t.Errorf("messages[%d]: tool message for %q answers no open call", i, m.ToolCallID)
				continue
			}
			want = slices.Delete(want, j, j+1)
			continue
		}
		if len(want) > 0 {
			t.Errorf("messages[%d]: calls %q left without a result", i, want)
		}
		want, after = nil, false
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			for _, tc := range m.ToolCalls {
				want = append(want, tc.ID)
			}
			after = true
		}
	}
}

// TestToChatRequestClaudeCode translates a real Claude Code request (its
// first of a session, 12 tools, thinking adaptive, effort high, a system
// message inside messages).
func TestToChatRequestClaudeCode(t *testing.T) {
	in, err := os.ReadFile("testdata/inbound/claude-code-01-request.json")
	if err != nil {
		t.Fatal(err)
	}
	body, err := ToChatRequest(in, "qwen3-coder-30b")
	if err != nil {
		t.Fatal(err)
	}
	req := checkChatRequest(t, body)

	var src struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
		Messages []struct {
			Role string `json:"role"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(in, &src); err != nil {
		t.Fatal(err)
	}
	if len(req.Tools) != len(src.Tools) {
		t.Errorf("got %d tools, want all %d", len(req.Tools), len(src.Tools))
	}
	for i, st := range src.Tools {
		if i >= len(req.Tools) {
			break
		}
		got := req.Tools[i]
		if got.Type != "function" || got.Function.Name != st.Name {
			t.Errorf("tools[%d] = %s %q, want function %q", i, got.Type, got.Function.Name, st.Name)
		}
		var a, b any
		json.Unmarshal(st.InputSchema, &a)
		json.Unmarshal(got.Function.Parameters, &b)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("tool %s: parameters differ from input_schema:\n%s", st.Name, diff)
		}
	}
	if req.Messages[0].Role != "system" || slices.ContainsFunc(req.Messages[1:], func(m providers.Message) bool { return m.Role == "system" }) {
		t.Errorf("want exactly one system message, first")
	}
	if req.ReasoningEffort != "high" || req.MaxTokens == nil || *req.MaxTokens != 32000 || !req.Stream || !req.IncludeUsage() {
		t.Errorf("reasoning_effort %q, max_tokens %v, stream %v, include_usage %v", req.ReasoningEffort, req.MaxTokens, req.Stream, req.IncludeUsage())
	}
	if req.User == "" {
		t.Error("metadata.user_id was not mapped to user")
	}

	// Only fields the OpenAI API takes, at the top and in messages.
	var top map[string]json.RawMessage
	json.Unmarshal(body, &top)
	openAI := []string{"model", "messages", "max_tokens", "temperature", "top_p", "stop", "stream", "stream_options",
		"tools", "tool_choice", "parallel_tool_calls", "reasoning_effort", "user"}
	for k := range top {
		if !slices.Contains(openAI, k) {
			t.Errorf("top-level field %q is not an OpenAI one", k)
		}
	}
	var msgs []map[string]json.RawMessage
	json.Unmarshal(top["messages"], &msgs)
	for i, m := range msgs {
		for k := range m {
			if !slices.Contains([]string{"role", "content", "tool_calls", "tool_call_id"}, k) {
				t.Errorf("messages[%d] has field %q", i, k)
			}
		}
	}
	if s := string(body); strings.Contains(s, "cache_control") || strings.Contains(s, "defer_loading") || strings.Contains(s, "context_management") {
		t.Error("an Anthropic-only field reached the Chat request")
	}
}

func TestToChatRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"not JSON", `{"messages":[`, ""},
		{"not an object", `[1,2]`, ""},
		{"no messages", `{"model":"m","max_tokens":1}`, "messages"},
		{"messages not an array", `{"messages":{"role":"user"}}`, "messages"},
		{"message not an object", `{"messages":["hi"]}`, "messages[0]"},
		{"role not a string", `{"messages":[{"role":1,"content":"x"}]}`, "messages[0].role"},
		{"unknown role", `{"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role"},
		{"content a number", `{"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{"block not an object", `{"messages":[{"role":"user","content":["x"]}]}`, "messages[0].content[0]"},
		{"text not a string", `{"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`, "messages[0].content[0].text"},
		{"image without source", `{"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages[0].content[0].source"},
		{"image without data", `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]}`, "messages[0].content[0].source"},
		{"tool_use without id", `{"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`, "messages[0].content[0]"},
		{"tool_result content a number", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":3}]}]}`, "messages[0].content[0].content"},
		{"nothing left", `{"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x"}]}]}`, "messages"},
		{"empty messages", `{"system":"s","messages":[]}`, "messages"},
		{"system a number", `{"system":1,"messages":[{"role":"user","content":"x"}]}`, "system"},
		{"tools not an array", `{"tools":{},"messages":[{"role":"user","content":"x"}]}`, "tools"},
		{"tool without name", `{"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"x"}]}`, "tools[0].name"},
		{"tool_choice tool without name", `{"tools":[{"name":"f"}],"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"x"}]}`, "tool_choice.name"},
		{"max_tokens a string", `{"max_tokens":"10","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{"stream a string", `{"stream":"yes","messages":[{"role":"user","content":"x"}]}`, "stream"},
		{"stop_sequences a string", `{"stop_sequences":"END","messages":[{"role":"user","content":"x"}]}`, "stop_sequences"},
		{"thinking a string", `{"thinking":"on","messages":[{"role":"user","content":"x"}]}`, "thinking"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := ToChatRequest([]byte(tt.body), "m")
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v (%s), want a *providers.RequestError", err, body)
			}
			if re.Param != tt.param {
				t.Errorf("got param %q, want %q (%v)", re.Param, tt.param, err)
			}
			if !strings.HasPrefix(re.Msg, "anthropic: ") {
				t.Errorf("message %q", re.Msg)
			}
		})
	}
}

// TestToChatRequestLenient: what the target cannot take, and shapes a
// newer client may send, are dropped, not refused.
func TestToChatRequestLenient(t *testing.T) {
	for _, body := range []string{
		`{"messages":[{"role":"user","content":"x"}],"thinking":{"type":"interleaved-v9","budget_tokens":"lots"}}`,
		`{"messages":[{"role":"user","content":[{"type":"future","text":{"rich":true},"source":[1]},{"type":"text","text":"x"}]}]}`,
		`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_fetch_20250910","name":{"odd":1}}]}`,
		`{"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"auto"},"output_config":{"effort":"ludicrous","format":{}}}`,
		`{"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":null,"trace":{}}}`,
	} {
		out, err := ToChatRequest([]byte(body), "m")
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		checkChatRequest(t, out)
	}
}

func TestFromChatResponseGolden(t *testing.T) {
	for path, name := range goldenCases(t, "inbound/response") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			raw := &providers.ChatCompletionResponse{Raw: []byte(input)}
			got, err := fromChatResponse(raw, "claude-sonnet-4-5", "msg_test")
			if err != nil {
				checkGolden(t, path, "error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, indent(got))
			checkMessagesResponse(t, got)
			if rawOnly.MatchString(input) {
				return
			}
			var typed providers.ChatCompletionResponse
			if err := json.Unmarshal([]byte(input), &typed); err != nil {
				t.Fatal(err)
			}
			fromTyped, err := fromChatResponse(&typed, "claude-sonnet-4-5", "msg_test")
			if err != nil {
				t.Fatal(err)
			}
			if string(fromTyped) != string(got) {
				t.Errorf("typed answer differs:\nraw   %s\ntyped %s", got, fromTyped)
			}
		})
	}
}

// checkMessagesResponse checks the answer's shape as the Anthropic SDKs read it.
func checkMessagesResponse(t *testing.T, body []byte) {
	t.Helper()
	var m struct {
		ID         string           `json:"id"`
		Type       string           `json:"type"`
		Role       string           `json:"role"`
		Content    []map[string]any `json:"content"`
		StopReason string           `json:"stop_reason"`
		Usage      map[string]int   `json:"usage"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.ID, "msg_") || m.Type != "message" || m.Role != "assistant" || m.Content == nil {
		t.Errorf("not a Messages answer: %s", body)
	}
	tools, ids := 0, map[any]bool{}
	for _, b := range m.Content {
		if b["type"] == "tool_use" {
			tools++
			if _, ok := b["input"].(map[string]any); !ok || b["id"] == "" {
				t.Errorf("tool_use without id or object input: %v", b)
			}
			if ids[b["id"]] {
				t.Errorf("tool_use id %v used twice: the client could not answer both", b["id"])
			}
			ids[b["id"]] = true
		}
	}
	if (m.StopReason == "tool_use") != (tools > 0) && m.StopReason != "max_tokens" {
		t.Errorf("stop_reason %s with %d tool_use blocks", m.StopReason, tools)
	}
}

func TestFromChatResponseErrors(t *testing.T) {
	for _, resp := range []*providers.ChatCompletionResponse{
		nil,
		{Raw: []byte(`{"choices":[]}`)},
		{Raw: []byte(`{"choices":[`)},
		{},
	} {
		if _, err := FromChatResponse(resp, "m"); err == nil {
			t.Errorf("no error for %+v", resp)
		}
	}
	a, _ := FromChatResponse(&providers.ChatCompletionResponse{Raw: []byte(`{"choices":[{"message":{"content":"x"}}]}`)}, "m")
	b, _ := FromChatResponse(&providers.ChatCompletionResponse{Raw: []byte(`{"choices":[{"message":{"content":"x"}}]}`)}, "m")
	if string(a) == string(b) {
		t.Error("two answers got the same id")
	}
}

func TestErrorType(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error", 0: "api_error",
	} {
		if got := ErrorType(status); got != want {
			t.Errorf("ErrorType(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	got := ErrorBody("rate_limit_error", "slow down: \"10/min\" <limit>")
	want := `{"type":"error","error":{"type":"rate_limit_error","message":"slow down: \"10/min\" <limit>"}}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var e errorResponse
	if err := json.Unmarshal(got, &e); err != nil || e.Type != "error" || e.Error == nil || e.Error.Type != "rate_limit_error" {
		t.Errorf("the package's own error parser reads %+v, %v", e, err)
	}
}

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

const anthropicKey = "sk-ant-test"

// fakeAnthropic is the Messages API as far as these tests need it: it
// validates requests the way the real API does (a 400 invalid_request_error
// otherwise) and answers with JSON and SSE shaped as in Anthropic's docs.
type fakeAnthropic struct {
	*httptest.Server
	mu       sync.Mutex // guards requests and problems
	requests []anthropicRequest
	problems []string
}

type anthropicRequest struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Stream    bool            `json:"stream"`
	Tools     []struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	Messages []struct {
		Role    string `json:"role"`
		Content []struct {
			Type      string          `json:"type"`
			Text      string          `json:"text"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
		} `json:"content"`
	} `json:"messages"`
}

func newFakeAnthropic(t *testing.T) *fakeAnthropic {
	f := &fakeAnthropic{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Anthropic API rejected a request: %s", p)
		}
	})
	return f
}

func (f *fakeAnthropic) reject(w http.ResponseWriter, status int, typ, msg string) {
	f.mu.Lock()
	f.problems = append(f.problems, msg)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q},"request_id":"req_fake"}`, typ, msg)
}

// validate applies the Messages API's documented rules.
func validateAnthropic(r *http.Request, req *anthropicRequest) string {
	switch {
	case r.URL.Path != "/v1/messages":
		return "path " + r.URL.Path
	case r.Header.Get("anthropic-version") == "":
		return "anthropic-version header missing"
	case req.MaxTokens == nil || *req.MaxTokens <= 0:
		return "max_tokens: Field required"
	case len(req.Messages) == 0:
		return "messages: at least one message is required"
	}
	var prevToolUses map[string]bool
	for i, m := range req.Messages {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return fmt.Sprintf("messages.%d.role: roles must alternate between \"user\" and \"assistant\", starting with user (got %q)", i, m.Role)
		}
		if len(m.Content) == 0 {
			return fmt.Sprintf("messages.%d: content must be non-empty", i)
		}
		results, others := 0, 0
		uses := map[string]bool{}
		for j, b := range m.Content {
			switch b.Type {
			case "text":
				if b.Text == "" {
					return fmt.Sprintf("messages.%d.content.%d.text: text content blocks must be non-empty", i, j)
				}
				others++
			case "tool_use":
				if m.Role != "assistant" {
					return fmt.Sprintf("messages.%d.content.%d: tool_use only in assistant turns", i, j)
				}
				uses[b.ID] = true
			case "tool_result":
				if m.Role != "user" || !prevToolUses[b.ToolUseID] {
					return fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, b.ToolUseID)
				}
				if others > 0 {
					return fmt.Sprintf("messages.%d: tool_result blocks must come first", i)
				}
				results++
				delete(prevToolUses, b.ToolUseID)
			default:
				others++
			}
		}
		if m.Role == "user" && len(prevToolUses) > 0 {
			return fmt.Sprintf("messages.%d: tool_use ids were found without tool_result blocks immediately after", i)
		}
		prevToolUses = uses
	}
	return ""
}

func (f *fakeAnthropic) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("x-api-key") != anthropicKey {
		f.reject(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", "body: "+err.Error())
		return
	}
	if bad := strings.Contains(string(body), `"role":"system"`); bad {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", `messages: Unexpected role "system". The Messages API accepts a top-level system parameter`)
		return
	}
	if msg := validateAnthropic(r, &req); msg != "" {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()

	last := req.Messages[len(req.Messages)-1]
	switch {
	case last.Content[0].Type == "tool_result":
		f.answerText(w, req.Stream, "It is 15 degrees in Paris.")
	case len(req.Tools) > 0:
		f.answerToolUse(w, req.Stream)
	default:
		f.answerText(w, req.Stream, "Hello from Claude.")
	}
}

func (f *fakeAnthropic) last(t *testing.T) anthropicRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("the fake Anthropic API got no valid request")
	}
	return f.requests[len(f.requests)-1]
}

func (f *fakeAnthropic) answerText(w http.ResponseWriter, stream bool, text string) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":0,"output_tokens":7}}`, text)
		return
	}
	words := strings.SplitAfter(text, " ")
	events := []string{
		`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"cache_read_input_tokens":100,"cache_creation_input_tokens":0,"output_tokens":1}}}`,
		`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`event: ping` + "\n" + `data: {"type": "ping"}`,
	}
	for _, w := range words {
		events = append(events, fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":%q}}", w))
	}
	events = append(events,
		`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
		`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}`,
		`event: message_stop`+"\n"+`data: {"type":"message_stop"}`)
	writeEvents(w, events)
}

func (f *fakeAnthropic) answerToolUse(w http.ResponseWriter, stream bool) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"I'll check the weather."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"city":"Paris","unit":"celsius"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":91}}`)
		return
	}
	writeEvents(w, []string{
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, checking.\"}}",
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"Par\"}}",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"is\\\", \\\"unit\\\": \\\"celsius\\\"}\"}}",
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}",
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}",
		"event: message_stop\ndata: {\"type\":\"message_stop\"}",
	})
}

func writeEvents(w http.ResponseWriter, events []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	for _, ev := range events {
		io.WriteString(w, ev+"\n\n")
		w.(http.Flusher).Flush()
	}
}

func anthropicConfig(url string) string {
	return `
routing:
  default: remote
  remote_model: claude-sonnet-4-5
providers:
  anthropic:
    api_key: "` + anthropicKey + `"
    base_url: ` + url + `
    local: false
    models: [claude-sonnet-4-5]
`
}

var anthropicWeatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather for a city"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]string{"type": "string"}, "unit": map[string]string{"type": "string"}},
		"required":   []string{"city"},
	},
})

func TestAnthropicSDKNonStream(t *testing.T) {
	up := newFakeAnthropic(t)
	p := start(t, anthropicConfig(up.URL))
	var raw *http.Response
	c, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("Say hello"),
		},
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, p.Logs())
	}
	if got := c.Choices[0].Message.Content; got != "Hello from Claude." {
		t.Errorf("content = %q", got)
	}
	if c.ID != "msg_013Zva2CMHLNnXjNJJKqJ2EF" || c.Object != "chat.completion" || c.Choices[0].FinishReason != "stop" {
		t.Errorf("id %q, object %q, finish %q", c.ID, c.Object, c.Choices[0].FinishReason)
	}
	// input 20 + cache read 100: OpenAI's prompt_tokens includes cached tokens.
	if c.Usage.PromptTokens != 120 || c.Usage.PromptTokensDetails.CachedTokens != 100 || c.Usage.TotalTokens != 127 {
		t.Errorf("usage = %+v", c.Usage)
	}
	if r := raw.Header.Get("X-LocalRouter-Route"); !strings.Contains(r, "anthropic/claude-sonnet-4-5") {
		t.Errorf("X-LocalRouter-Route = %q", r)
	}
	got := up.last(t)
	if got.Model != "claude-sonnet-4-5" || !strings.Contains(string(got.System), "Be brief.") {
		t.Errorf("upstream got model %q, system %s", got.Model, got.System)
	}
}

func TestAnthropicSDKStream(t *testing.T) {
	up := newFakeAnthropic(t)
	p := start(t, anthropicConfig(up.URL))
	stream := sdk(p, nil).Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "auto",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	n := 0
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator rejected chunk %d", n)
		}
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v\n%s", err, p.Logs())
	}
	if got := acc.Choices[0].Message.Content; got != "Hello from Claude." {
		t.Errorf("content = %q after %d chunks", got, n)
	}
	if n < 5 {
		t.Errorf("got %d chunks; the answer was not streamed word by word", n)
	}
	if fr := acc.Choices[0].FinishReason; fr != "stop" {
		t.Errorf("finish_reason = %q", fr)
	}
	if acc.Usage.PromptTokens != 120 || acc.Usage.CompletionTokens != 7 {
		t.Errorf("usage = %+v", acc.Usage)
	}
	if !up.last(t).Stream {
		t.Error("the upstream request was not a stream")
	}
}

// TestAnthropicSDKToolLoop runs a whole tool loop, streamed and not: the
// SDK accumulates the call, sends the result back, and the fake (which
// checks tool_result placement like the real API) accepts the second turn.
func TestAnthropicSDKToolLoop(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", streamed), func(t *testing.T) {
			up := newFakeAnthropic(t)
			p := start(t, anthropicConfig(up.URL))
			client := sdk(p, nil)
			params := openai.ChatCompletionNewParams{
				Model:    "auto",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{anthropicWeatherTool},
			}
			var msg openai.ChatCompletionMessage
			var call struct{ ID, Name, Arguments string }
			if streamed {
				stream := client.Chat.Completions.NewStreaming(context.Background(), params)
				var acc openai.ChatCompletionAccumulator
				finished := 0
				for stream.Next() {
					acc.AddChunk(stream.Current())
					if tc, ok := acc.JustFinishedToolCall(); ok {
						finished++
						call.ID, call.Name, call.Arguments = tc.ID, tc.Name, tc.Arguments
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatalf("stream: %v\n%s", err, p.Logs())
				}
				if finished != 1 {
					t.Fatalf("finished tool calls = %d, want 1", finished)
				}
				if fr := acc.Choices[0].FinishReason; fr != "tool_calls" {
					t.Errorf("finish_reason = %q", fr)
				}
				msg = acc.Choices[0].Message
			} else {
				c, err := client.Chat.Completions.New(context.Background(), params)
				if err != nil {
					t.Fatalf("chat: %v\n%s", err, p.Logs())
				}
				if fr := c.Choices[0].FinishReason; fr != "tool_calls" {
					t.Errorf("finish_reason = %q", fr)
				}
				msg = c.Choices[0].Message
				tc := msg.ToolCalls[0]
				call.ID, call.Name, call.Arguments = tc.ID, tc.Function.Name, tc.Function.Arguments
			}
			var args map[string]string
			if err := json.Unmarshal([]byte(call.Arguments), &args); err != nil {
				t.Fatalf("arguments %q are not JSON: %v", call.Arguments, err)
			}
			if !strings.HasPrefix(call.ID, "toolu_") || call.Name != "get_weather" || args["city"] != "Paris" || args["unit"] != "celsius" {
				t.Errorf("tool call = %+v (args %v)", call, args)
			}

			// Second turn: the assistant message as the SDK kept it, then the result.
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("15 degrees", call.ID))
			c, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatalf("second turn: %v\n%s", err, p.Logs())
			}
			if got := c.Choices[0].Message.Content; got != "It is 15 degrees in Paris." {
				t.Errorf("second turn content = %q", got)
			}
			got := up.last(t)
			if n := len(got.Messages); n != 3 || got.Messages[2].Content[0].ToolUseID != call.ID {
				t.Errorf("second turn sent %d turns: %+v", n, got.Messages)
			}
		})
	}
}

// TestAnthropicUpstreamErrorStatus: the API's own error status and type
// reach the SDK (here an invalid request that the fake refuses).
func TestAnthropicUpstreamErrorStatus(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(529)
		io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`)
	}))
	defer up.Close()
	p := start(t, anthropicConfig(up.URL))
	_, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want an API error", err)
	}
	if apiErr.StatusCode != 529 || apiErr.Code != "overloaded_error" || !strings.Contains(apiErr.Message, "Overloaded") {
		t.Errorf("got status %d, code %q, message %q", apiErr.StatusCode, apiErr.Code, apiErr.Message)
	}
	if strings.Contains(p.finalLogs(t), anthropicKey) {
		t.Error("the API key appears in the logs")
	}
}

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// recordingTransport keeps the last request body the SDK sent.
type recordingTransport struct{ body []byte }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		rt.body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(rt.body))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func sdk(p *proc, rt http.RoundTripper) *openai.Client {
	opts := []option.RequestOption{
		option.WithBaseURL(p.url + "/v1"),
		option.WithAPIKey("client-side-key-never-forwarded"),
		option.WithMaxRetries(0),
	}
	if rt != nil {
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: rt}))
	}
	c := openai.NewClient(opts...)
	return &c
}

func TestSDKNonStream(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	var raw *http.Response
	c, err := sdk(p, nil).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, p.Logs())
	}
	if got := c.Choices[0].Message.Content; got != "Hello from deepseek-chat." {
		t.Errorf("content = %q", got)
	}
	// system_fingerprint stands for any vendor field: it must arrive as sent.
	if c.Usage.TotalTokens != 16 || !strings.Contains(c.RawJSON(), `"system_fingerprint":"fp_e2e"`) {
		t.Errorf("usage/fingerprint not passed through: %+v %s", c.Usage, c.RawJSON())
	}
	if r := raw.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "remote:deepseek/deepseek-chat") {
		t.Errorf("X-LocalRouter-Route = %q", r)
	}
	got := up.last(t)
	if a := got.header.Get("Authorization"); a != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization = %q, want the configured key", a)
	}
}

func TestSDKStreamWithUsage(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	stream := sdk(p, nil).Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "auto",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about foxes")},
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
	if got := acc.Choices[0].Message.Content; got != "The quick brown fox." {
		t.Errorf("content = %q", got)
	}
	if acc.Usage.PromptTokens != 12 || acc.Usage.CompletionTokens != 5 {
		t.Errorf("usage = %+v, want 12 prompt / 5 completion", acc.Usage)
	}
	if n != 8 { // role, 5 pieces, finish, usage
		t.Errorf("got %d chunks, want 8", n)
	}
	p.waitLog(t, "completion_tokens=5")
}

func TestSDKStreamedToolCall(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	stream := sdk(p, nil).Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Current weather for a city"),
			Parameters: shared.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"city": map[string]string{"type": "string"}, "unit": map[string]string{"type": "string"}},
				"required":   []string{"city"},
			},
		})},
	})
	var acc openai.ChatCompletionAccumulator
	var finished []openai.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(finished) != 1 {
		t.Fatalf("finished tool calls = %d, want 1", len(finished))
	}
	tc := finished[0]
	var args map[string]string
	if err := json.Unmarshal([]byte(tc.Arguments), &args); err != nil {
		t.Fatalf("arguments %q are not JSON: %v", tc.Arguments, err)
	}
	if tc.ID != "call_abc123" || tc.Name != "get_weather" || args["city"] != "Paris" || args["unit"] != "celsius" {
		t.Errorf("tool call = %+v (args %v)", tc, args)
	}
	if fr := acc.Choices[0].FinishReason; fr != "tool_calls" {
		t.Errorf("finish_reason = %q", fr)
	}
	// The tool definition reached the upstream exactly as the SDK wrote it.
	if !bytes.Contains(up.last(t).body, []byte(`"name":"get_weather"`)) {
		t.Errorf("tools not forwarded: %s", up.last(t).body)
	}
}

// TestSDKImagePartForwardedByteForByte also proves the general rule: the
// upstream gets the SDK's exact body with only model replaced.
func TestSDKImagePartForwardedByteForByte(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	rt := &recordingTransport{}
	const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	_, err := sdk(p, rt).Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("What is in this image?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: png, Detail: "low"}),
		})},
		Temperature: openai.Float(0.2),
		Seed:        openai.Int(7),
	})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	want := strings.Replace(string(rt.body), `"model":"auto"`, `"model":"deepseek-chat"`, 1)
	if got := string(up.last(t).body); got != want {
		t.Errorf("upstream body differs from the SDK's beyond model:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(want, png) {
		t.Fatalf("test is broken: the SDK body lacks the image: %s", want)
	}
}

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

const geminiKey = "AIza-test"

// geminiSignature is the thought signature the fake Gemini puts on its
// function calls; the next turn must bring it back on the same call.
const geminiSignature = "Q2lRQmNzamFmTjFuQ1pwUjJlN2FRPT0="

// fakeGemini is an httptest Gemini API that validates requests as the real
// one does and answers in the documented shapes.
type fakeGemini struct {
	*httptest.Server
	mu     sync.Mutex // guards bodies
	bodies [][]byte
}

type geminiPart struct {
	Text         string `json:"text"`
	FunctionCall *struct {
		Name string         `json:"name"`
		Args map[string]any `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		Name     string         `json:"name"`
		Response map[string]any `json:"response"`
	} `json:"functionResponse"`
	ThoughtSignature string `json:"thoughtSignature"`
}

type geminiReq struct {
	Contents []struct {
		Role  string       `json:"role"`
		Parts []geminiPart `json:"parts"`
	} `json:"contents"`
	Tools []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
}

func newFakeGemini(t *testing.T) *fakeGemini {
	f := &fakeGemini{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func geminiError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
}

func (f *fakeGemini) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	if r.URL.Query().Has("key") || r.Header.Get("x-goog-api-key") != geminiKey {
		geminiError(w, 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
		return
	}
	model, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1beta/models/"), ":")
	if ok && r.Method == http.MethodPost && method == "batchEmbedContents" {
		// Embeddings, which the embeddings doors translate to (ollama_fakes_test.go).
		batchEmbed(w, model, body)
		return
	}
	if !ok || r.Method != http.MethodPost || model != "gemini-3-flash" {
		geminiError(w, 404, "NOT_FOUND", "models/"+model+" is not found for API version v1beta")
		return
	}
	stream := method == "streamGenerateContent"
	if !stream && method != "generateContent" || stream && r.URL.Query().Get("alt") != "sse" {
		geminiError(w, 404, "NOT_FOUND", "unknown method "+method)
		return
	}
	var req geminiReq
	if err := json.Unmarshal(body, &req); err != nil {
		geminiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	if msg := validateGemini(&req); msg != "" {
		geminiError(w, 400, "INVALID_ARGUMENT", msg)
		return
	}

	last := req.Contents[len(req.Contents)-1]
	var parts string
	switch {
	case last.Parts[0].FunctionResponse != nil:
		parts = `{"text":"It is 18°C and sunny in Paris."}`
	case req.declares("apply_patch"):
		parts = `{"functionCall":{"name":"apply_patch","args":{"input":` + js(applyPatchInput) + `}},"thoughtSignature":"` + geminiSignature + `"}`
	case len(req.Tools) > 0:
		parts = `{"functionCall":{"name":"get_weather","args":{"city":"Paris","unit":"celsius"}},"thoughtSignature":"` + geminiSignature + `"}`
	default:
		parts = `{"text":"Hello from Gemini."}`
	}
	usage := `"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":6,"thoughtsTokenCount":20,"totalTokenCount":38}`
	if !stream {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		fmt.Fprintf(w, `{"candidates":[{"content":{"parts":[%s],"role":"model"},"finishReason":"STOP","index":0}],%s,"modelVersion":"gemini-3-flash","responseId":"e2e"}`, parts, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	if strings.Contains(parts, `"text"`) {
		// Text arrives in pieces; the last event carries finishReason and usage.
		var text struct {
			Text string `json:"text"`
		}
		json.Unmarshal([]byte(parts), &text)
		half := len(text.Text) / 2
		for half > 0 && !isRuneStart(text.Text[half]) {
			half--
		}
		a, _ := json.Marshal(text.Text[:half])
		b, _ := json.Marshal(text.Text[half:])
		fmt.Fprintf(w, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": %s}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n", a)
		w.(http.Flusher).Flush()
		fmt.Fprintf(w, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": %s}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],%s}\r\n\r\n", b, usage)
		return
	}
	fmt.Fprintf(w, "data: {\"candidates\": [{\"content\": {\"parts\": [%s],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],%s}\r\n\r\n", parts, usage)
}

// declares reports whether the request declares a function named name.
func (r *geminiReq) declares(name string) bool {
	for _, t := range r.Tools {
		for _, d := range t.FunctionDeclarations {
			if d.Name == name {
				return true
			}
		}
	}
	return false
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// validateGemini checks what the real API refuses with 400 INVALID_ARGUMENT.
func validateGemini(req *geminiReq) string {
	if len(req.Contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified"
	}
	for i, c := range req.Contents {
		if c.Role != "user" && c.Role != "model" {
			return fmt.Sprintf("Please use a valid role: user, model. (contents[%d].role = %q)", i, c.Role)
		}
		if len(c.Parts) == 0 {
			return fmt.Sprintf("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.", i)
		}
		firstCall := true
		for _, p := range c.Parts {
			if p.FunctionCall != nil && c.Role == "model" && firstCall {
				firstCall = false
				if p.ThoughtSignature != geminiSignature && p.ThoughtSignature != "skip_thought_signature_validator" {
					return fmt.Sprintf("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:%s` , position %d.", p.FunctionCall.Name, i+1)
				}
			}
			if p.FunctionResponse != nil {
				if i == 0 || req.Contents[i-1].Role != "model" {
					return "Please ensure that function response turn comes immediately after a function call turn."
				}
				found := false
				for _, q := range req.Contents[i-1].Parts {
					if q.FunctionCall != nil && q.FunctionCall.Name == p.FunctionResponse.Name {
						found = true
					}
				}
				if !found {
					return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
				}
				if p.FunctionResponse.Response == nil {
					return "* GenerateContentRequest.contents[].parts[].function_response.response: must be an object"
				}
			}
		}
	}
	return ""
}

func (f *fakeGemini) lastBody(t *testing.T) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		t.Fatal("fake Gemini got no request")
	}
	return f.bodies[len(f.bodies)-1]
}

func geminiConfig(url string) string {
	return `
routing:
  default: remote
  remote_model: gemini-3-flash
providers:
  google:
    api_key: ` + geminiKey + `
    base_url: ` + url + `
    local: false
    models: [gemini-3-flash]
`
}

var geminiWeatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather for a city"),
	Parameters: shared.FunctionParameters{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"city": map[string]string{"type": "string"},
			"unit": map[string]any{"type": []string{"string", "null"}, "enum": []string{"celsius", "fahrenheit"}},
		},
		"required": []string{"city"},
	},
})

func TestGeminiSDKText(t *testing.T) {
	up := newFakeGemini(t)
	p := start(t, geminiConfig(up.URL))
	c := sdk(p, nil)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."), openai.UserMessage("Say hello"),
		},
	}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, p.Logs())
	}
	if got := resp.Choices[0].Message.Content; got != "Hello from Gemini." {
		t.Errorf("content = %q", got)
	}
	if resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens != 26 || resp.Usage.PromptTokens != 12 ||
		resp.Usage.CompletionTokensDetails.ReasoningTokens != 20 {
		t.Errorf("finish/usage = %q %+v", resp.Choices[0].FinishReason, resp.Usage)
	}
	if !strings.Contains(string(up.lastBody(t)), `"systemInstruction":{"parts":[{"text":"Be brief."}]}`) {
		t.Errorf("system prompt not in systemInstruction: %s", up.lastBody(t))
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
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
	if got := acc.Choices[0].Message.Content; got != "Hello from Gemini." || n < 3 {
		t.Errorf("streamed content = %q in %d chunks", got, n)
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Usage.TotalTokens != 38 {
		t.Errorf("streamed finish/usage = %q %+v", acc.Choices[0].FinishReason, acc.Usage)
	}
}

// TestGeminiSDKToolLoop runs a whole tool loop, streaming and not: the tool
// call arrives accumulated correctly, and the second turn, which the client
// sends without the thought signature, is accepted by the fake because the
// gateway restored it.
func TestGeminiSDKToolLoop(t *testing.T) {
	up := newFakeGemini(t)
	p := start(t, geminiConfig(up.URL))
	c := sdk(p, nil)
	ctx := context.Background()
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", streamed), func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    "auto",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{geminiWeatherTool},
			}
			var msg openai.ChatCompletionMessage
			var finish string
			if streamed {
				stream := c.Chat.Completions.NewStreaming(ctx, params)
				var acc openai.ChatCompletionAccumulator
				var finished []openai.FinishedChatCompletionToolCall
				for stream.Next() {
					acc.AddChunk(stream.Current())
					if tc, ok := acc.JustFinishedToolCall(); ok {
						finished = append(finished, tc)
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatalf("stream: %v\n%s", err, p.Logs())
				}
				if len(finished) != 1 {
					t.Fatalf("finished tool calls = %d, want 1", len(finished))
				}
				msg, finish = acc.Choices[0].Message, acc.Choices[0].FinishReason
			} else {
				resp, err := c.Chat.Completions.New(ctx, params)
				if err != nil {
					t.Fatalf("chat: %v\n%s", err, p.Logs())
				}
				msg, finish = resp.Choices[0].Message, resp.Choices[0].FinishReason
			}
			if finish != "tool_calls" || len(msg.ToolCalls) != 1 {
				t.Fatalf("finish = %q, tool calls = %+v", finish, msg.ToolCalls)
			}
			tc := msg.ToolCalls[0]
			var args map[string]string
			if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
				t.Fatalf("arguments %q: %v", tc.Function.Arguments, err)
			}
			if !strings.HasPrefix(tc.ID, "call_") || tc.Function.Name != "get_weather" || args["city"] != "Paris" || args["unit"] != "celsius" {
				t.Errorf("tool call = %+v", tc)
			}
			// The schema reached Gemini reduced to what it accepts.
			if b := string(up.lastBody(t)); strings.Contains(b, "$schema") || strings.Contains(b, "additionalProperties") {
				t.Errorf("schema not reduced: %s", b)
			}

			// Turn two: the client echoes the call (without any signature)
			// and the tool's result.
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(`{"temp":18,"sky":"sunny"}`, tc.ID))
			resp, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("second turn: %v\n%s", err, p.Logs())
			}
			if got := resp.Choices[0].Message.Content; got != "It is 18°C and sunny in Paris." {
				t.Errorf("second turn content = %q", got)
			}
			if b := string(up.lastBody(t)); !strings.Contains(b, `"thoughtSignature":"`+geminiSignature+`"`) {
				t.Errorf("signature not restored: %s", b)
			}
		})
	}
}

// TestGeminiSDKForeignToolTurn: a tool turn another provider produced (an
// id the gateway never issued) is sent with the documented dummy signature.
func TestGeminiSDKForeignToolTurn(t *testing.T) {
	up := newFakeGemini(t)
	p := start(t, geminiConfig(up.URL))
	params := openai.ChatCompletionNewParams{
		Model: "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("Weather in Paris?"),
			{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "toolu_01A09q90qw90lq917835lq9",
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			}}}},
			openai.ToolMessage("sunny", "toolu_01A09q90qw90lq917835lq9"),
		},
		Tools: []openai.ChatCompletionToolUnionParam{geminiWeatherTool},
	}
	resp, err := sdk(p, nil).Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, p.Logs())
	}
	if got := resp.Choices[0].Message.Content; got != "It is 18°C and sunny in Paris." {
		t.Errorf("content = %q", got)
	}
	if b := string(up.lastBody(t)); !strings.Contains(b, `"thoughtSignature":"skip_thought_signature_validator"`) {
		t.Errorf("no dummy signature: %s", b)
	}
}

// TestGeminiUpstreamErrorStatus: Gemini's errors reach the client in
// OpenAI's shape with the right status.
func TestGeminiUpstreamErrorStatus(t *testing.T) {
	up := newFakeGemini(t)
	p := start(t, strings.Replace(geminiConfig(up.URL), "models: [gemini-3-flash]", "models: [gemini-3-flash, gemini-9-ultra]", 1))
	body := `{"model":"google/gemini-9-ultra","messages":[{"role":"user","content":"hi"}]}`
	resp, err := http.Post(p.url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := readAll(t, resp.Body)
	var eb struct {
		Error struct {
			Message, Type string
			Code          *string
		}
	}
	if err := json.Unmarshal([]byte(got), &eb); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if resp.StatusCode != 404 || eb.Error.Type != "invalid_request_error" || eb.Error.Code == nil || *eb.Error.Code != "model_not_found" {
		t.Errorf("status %d, body %s", resp.StatusCode, got)
	}
	if strings.Contains(got, geminiKey) || strings.Contains(p.finalLogs(t), geminiKey) {
		t.Error("the API key leaked into the answer or the logs")
	}
}

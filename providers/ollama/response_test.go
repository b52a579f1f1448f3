package ollama

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// fixedNow sets the clock of whole answers to testEpoch for one test.
func fixedNow(t testing.TB) {
	old := now
	now = func() time.Time { return testEpoch }
	t.Cleanup(func() { now = old })
}

// checkAnswer checks that out is one JSON object with done true, as
// Ollama's clients decode it.
func checkAnswer(t *testing.T, out []byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, out)
	}
	if m["done"] != true {
		t.Errorf("done is %v: %s", m["done"], out)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["created_at"].(string)); err != nil {
		t.Error(err)
	}
}

func TestFromChatResponseGolden(t *testing.T) {
	fixedNow(t)
	for _, dir := range []string{"chat", "generate"} {
		for path, name := range goldenCases(t, "response/"+dir) {
			t.Run(dir+"/"+name, func(t *testing.T) {
				input, _ := readGolden(t, path)
				resp := &providers.ChatCompletionResponse{Raw: []byte(strings.TrimSpace(input))}
				out, err := fromChatResponse(resp, "llama3.2", dir == "generate", testIDs())
				if err != nil {
					checkGolden(t, path, "error: "+err.Error()+"\n")
					return
				}
				checkGolden(t, path, string(out)+"\n")
				checkAnswer(t, out)
			})
		}
	}
}

// testIDs counts call ids up, as newTestStream does.
func testIDs() func() string {
	n := 0
	return func() string {
		n++
		return "call_test" + string(rune('0'+n))
	}
}

func TestFromCompletionsGolden(t *testing.T) {
	fixedNow(t)
	for path, name := range goldenCases(t, "response/completions") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			out, err := FromCompletions([]byte(strings.TrimSpace(input)), "qwen2.5-coder:7b")
			if err != nil {
				checkGolden(t, path, "error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, string(out)+"\n")
			checkAnswer(t, out)
		})
	}
}

func TestEmbeddingsToEmbedGolden(t *testing.T) {
	for path, name := range goldenCases(t, "response/embed") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			out, err := EmbeddingsToEmbed([]byte(strings.TrimSpace(input)), "nomic-embed-text", strings.HasPrefix(name, "legacy_"))
			if err != nil {
				checkGolden(t, path, "error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, string(out)+"\n")
			// Ollama's clients decode vectors into float32s (/api/embed)
			// and float64s (/api/embeddings).
			var v struct {
				Embeddings [][]float32 `json:"embeddings"`
				Embedding  []float64   `json:"embedding"`
			}
			if err := json.Unmarshal(out, &v); err != nil {
				t.Errorf("Ollama's types refuse it: %v", err)
			}
		})
	}
}

// TestFromChatResponseTyped checks a typed answer (the Anthropic and
// Gemini clients') gives what the same answer as Raw gives.
func TestFromChatResponseTyped(t *testing.T) {
	fixedNow(t)
	content, raw := "Paris: 12°C", `{"choices":[{"index":0,"message":{"role":"assistant","content":"Paris: 12°C","reasoning_content":"look it up","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`
	typed := &providers.ChatCompletionResponse{Choices: []providers.Choice{{Message: providers.ResponseMessage{
		Role: "assistant", Content: &content, ReasoningContent: "look it up",
		ToolCalls: []providers.ToolCall{{ID: "c1", Type: "function", Function: providers.FunctionCall{Name: "f", Arguments: `{"a":1}`}}}},
		FinishReason: "tool_calls"}}, Usage: &providers.Usage{PromptTokens: 3, CompletionTokens: 4}}
	for _, generate := range []bool{false, true} {
		a, err := FromChatResponse(&providers.ChatCompletionResponse{Raw: []byte(raw)}, "m", generate)
		if err != nil {
			t.Fatal(err)
		}
		b, err := FromChatResponse(typed, "m", generate)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("generate %v: typed\n%s\nwant as raw\n%s", generate, b, a)
		}
	}
	if _, err := FromChatResponse(nil, "m", false); err == nil {
		t.Error("no error for a nil answer")
	}
}

// TestAnswersMatchCapture checks that whole answers have the shape of a
// real Ollama server's: text, a tool call, an error body.
func TestAnswersMatchCapture(t *testing.T) {
	text, err := FromChatResponse(&providers.ChatCompletionResponse{Raw: []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"length"}],"usage":{"prompt_tokens":26,"completion_tokens":16}}`)}, "tiny", false)
	if err != nil {
		t.Fatal(err)
	}
	call, err := FromChatResponse(&providers.ChatCompletionResponse{Raw: []byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":370,"completion_tokens":106}}`)}, "tiny-json", false)
	if err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2][]byte{
		{readLines(t, "testdata/captures/31-api-chat.body")[0], text},
		{readLines(t, "testdata/captures/32-api-chat-tools-forced.body")[0], call},
		{[]byte(`{"error":"model 'no-such-model' not found"}`), ErrorBody("model 'x' not found")},
	} {
		if want, got := lineShape(t, pair[0]), lineShape(t, pair[1]); want != got {
			t.Errorf("answer %d: shape\n%s\nwant Ollama's\n%s", i, got, want)
		}
	}
}

func TestLoadAnswer(t *testing.T) {
	fixedNow(t)
	for generate, want := range map[bool]string{
		false: `{"model":"tiny","created_at":"2026-12-03T11:40:44.124101766Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"load"}`,
		true:  `{"model":"tiny","created_at":"2026-12-03T11:40:44.124101766Z","response":"","done":true,"done_reason":"load"}`,
	} {
		if got := string(LoadAnswer("tiny", generate)); got != want {
			t.Errorf("LoadAnswer(generate %v) =\n%s\nwant\n%s", generate, got, want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	got := string(ErrorBody("model \"x\" <not> found\n"))
	if want := `{"error":"model \"x\" <not> found\n"}`; got != want {
		t.Errorf("ErrorBody = %s, want %s", got, want)
	}
}

// TestAppendFloat32 checks the vectors decoded from base64 are written as
// encoding/json writes float32s.
func TestAppendFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float32{0, -0, 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789, math.SmallestNonzeroFloat32, math.MaxFloat32}
	for range 10000 {
		values = append(values, math.Float32frombits(r.Uint32()))
	}
	for _, f := range values {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		want, _ := json.Marshal(f)
		if got := appendFloat32(nil, f); string(got) != string(want) {
			t.Fatalf("appendFloat32(%v) = %s, want %s", f, got, want)
		}
	}
}

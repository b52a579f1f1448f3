package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localrouter/localrouter/providers"
)

// goldenInputs returns the input halves of the golden files of
// testdata/dir, as seeds.
func goldenInputs(dir string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	var out [][]byte
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		out = append(out, []byte(in))
	}
	return out
}

// isRequestError reports whether err is a *providers.RequestError, the
// only error a request may get.
func isRequestError(err error) bool {
	var re *providers.RequestError
	return errors.As(err, &re)
}

// refChatFacts computes ScanChat's answer the plain way: decode everything
// with encoding/json, then count the decoded strings.
func refChatFacts(body []byte) (*ChatInfo, error) {
	var in struct {
		Model    string `json:"model"`
		Stream   *bool  `json:"stream"`
		Messages []struct {
			Role      string    `json:"role"`
			Content   *string   `json:"content"`
			Thinking  *string   `json:"thinking"`
			Images    []*string `json:"images"`
			ToolCalls []struct {
				Function struct {
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name        *string         `json:"name"`
				Description *string         `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	count := func(p *string) int {
		if p == nil {
			return 0
		}
		return utf8.RuneCountInString(*p)
	}
	info := &ChatInfo{Model: in.Model, Stream: in.Stream == nil || *in.Stream, Load: len(in.Messages) == 0}
	f := &info.Facts
	f.Messages, f.Turns = len(in.Messages), len(in.Messages)
	answered := false
	defer func() { f.Opening = !answered }()
	for _, m := range in.Messages {
		f.ToolTurn = strings.EqualFold(m.Role, "tool")
		if m.Role == "assistant" || m.Role == "tool" {
			answered = true
		}
		f.PromptChars += count(m.Content) + count(m.Thinking)
		for _, img := range m.Images {
			if img != nil && *img != "" {
				f.HasImages = true
			}
		}
		for _, tc := range m.ToolCalls {
			switch a := tc.Function.Arguments; {
			case len(a) == 0 || string(a) == "null":
			case a[0] == '"':
				var s string
				json.Unmarshal(a, &s)
				f.PromptChars += utf8.RuneCountInString(s)
			default:
				f.PromptChars += len(a)
			}
		}
		if len(m.ToolCalls) > 0 || strings.EqualFold(m.Role, "tool") {
			f.HasTools = true
		}
	}
	for _, t := range in.Tools {
		f.ToolChars += count(t.Function.Name) + count(t.Function.Description)
		if p := t.Function.Parameters; len(p) > 0 && string(p) != "null" {
			f.ToolChars += len(p)
		}
	}
	f.HasTools = f.HasTools || len(in.Tools) > 0
	if f.Messages > 0 {
		f.EstTokens = (f.PromptChars+f.ToolChars+3)/4 + 3*f.Messages + 3
	}
	return info, nil
}

// FuzzScanChat: ScanChat, which counts without decoding, agrees with a
// plain encoding/json decode on every body: both refuse it (ScanChat with
// a *providers.RequestError), or both read the same ChatInfo.
func FuzzScanChat(f *testing.F) {
	for _, in := range goldenInputs("request/chat") {
		f.Add(in)
	}
	f.Add([]byte(`{"messages":[{"content":"\ud800\u0041\ud83d\ude00\\\"\u00e9","images":[null,"",  "x" ]}],"tools":[{"function":{"name":"\u00e9","parameters":null}}]}`))
	f.Add([]byte("{\"messages\":[{\"role\":\"TOOL\",\"content\":\"\xff\xfe a\"}]}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ScanChat(body)
		want, werr := refChatFacts(body)
		if (err != nil) != (werr != nil) {
			t.Fatalf("ScanChat error %v, encoding/json error %v", err, werr)
		}
		if err != nil {
			if !isRequestError(err) {
				t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
			}
			return
		}
		// The session prefix is a hash: prefix_test.go checks it.
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(providers.Facts{}, "Prefix")); diff != "" {
			t.Fatalf("ScanChat differs from encoding/json (-want +got):\n%s", diff)
		}
	})
}

// FuzzChatToChat: any /api/chat body translates or fails with a
// *providers.RequestError, and a translation is a request
// providers.ParseRequest accepts, whose tool messages answer the calls
// just before them, as OpenAI wants.
func FuzzChatToChat(f *testing.F) {
	for _, in := range goldenInputs("request/chat") {
		f.Add(in)
	}
	f.Add([]byte(`{"messages":[{"role":"tool","content":"x","images":["AAAA"]},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f"}},{"id":"a","function":{"name":"f","arguments":[1]}}]},{"role":"tool","tool_call_id":"a"},{"role":"tool","tool_name":"f","images":["AAAA"]}],"options":{"num_predict":1e300,"top_k":1e300,"seed":1e300,"stop":"s"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ChatToChat(body, "m")
		if err != nil {
			if !isRequestError(err) {
				t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
			}
			return
		}
		req := checkChatRequest(t, out)
		if req.Model != "m" || len(req.Stop) > maxStop {
			t.Fatalf("model %q, %d stop strings", req.Model, len(req.Stop))
		}
	})
}

// FuzzGenerate: ScanGenerate, and the translation it picks, refuse a body
// only with a *providers.RequestError; a chat translation passes
// checkChatRequest and a completions one is JSON with the model.
func FuzzGenerate(f *testing.F) {
	for _, in := range goldenInputs("request/generate") {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := ScanGenerate(body)
		if err != nil {
			if !isRequestError(err) {
				t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
			}
			if _, err := GenerateToCompletions(body, "m"); err == nil {
				t.Fatal("GenerateToCompletions takes a body ScanGenerate refuses")
			}
			return
		}
		if info.FIM {
			out, err := GenerateToCompletions(body, "m")
			if err != nil {
				if !isRequestError(err) {
					t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
				}
				return
			}
			var c completionsOut
			if err := json.Unmarshal(out, &c); err != nil || c.Model != "m" {
				t.Fatalf("completions body %s: %v", out, err)
			}
			return
		}
		out, err := GenerateToChat(body, "m")
		if err != nil {
			if !isRequestError(err) {
				t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
			}
			return
		}
		if info.Load {
			t.Fatal("a load translated")
		}
		checkChatRequest(t, out)
	})
}

// opChunk builds a chunk from a line "!<op><arg><flags><text>", so that the
// fuzzer explores orders of text, reasoning, tool call fragments, finish
// reasons and usage rather than JSON syntax, which the other lines cover.
func opChunk(line []byte) []byte {
	for len(line) < 4 {
		line = append(line, 0)
	}
	op, arg, flags, text := line[1], int(line[2]%4), line[3], string(line[4:])
	delta := map[string]any{}
	choice := map[string]any{"index": 0, "delta": delta}
	chunk := map[string]any{"choices": []any{choice}}
	switch op % 7 {
	case 0:
		delta["content"] = text
	case 1:
		delta["reasoning_content"] = text
	case 2:
		tc := map[string]any{"function": map[string]any{"arguments": text}}
		if flags&1 != 0 {
			tc["index"] = arg
		}
		if flags&2 != 0 {
			tc["id"] = fmt.Sprint("call_", flags>>4)
		}
		if flags&4 != 0 {
			tc["function"].(map[string]any)["name"] = "f"
		}
		delta["tool_calls"] = []any{tc}
	case 3:
		choice["finish_reason"] = []string{"stop", "length", "tool_calls", "content_filter"}[arg]
	case 4:
		chunk["choices"] = []any{}
		chunk["usage"] = map[string]any{"prompt_tokens": int(flags), "completion_tokens": arg}
	case 5:
		delta["content"], delta["tool_calls"] = text, []any{}
	case 6:
		delta["reasoning"] = text
	}
	b, _ := json.Marshal(chunk)
	return b
}

// FuzzNDJSONStream feeds sequences of chunks, one per line, to the state
// machine: arbitrary JSON, or one built by opChunk for a line that starts
// with "!"; a line "DONE" ends the stream. It runs them as Raw chunks with
// and without the fast path and, where they decode, as typed chunks, for
// /api/chat and /api/generate: every line is one JSON object, the last is
// the one done:true line or the one error line, and the fast path gives
// the lines encoding/json gives.
func FuzzNDJSONStream(f *testing.F) {
	for _, in := range goldenInputs("stream/chat") {
		var lines []string
		for _, l := range strings.Split(string(in), "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				lines = append(lines, strings.ReplaceAll(d, "[DONE]", "DONE"))
			}
		}
		f.Add([]byte(strings.Join(lines, "\n")), false)
	}
	// Text, a call with its fragments, a second call, text again, finish.
	f.Add([]byte("!\x00\x00\x00Hi\n!\x02\x00\x07{\"a\"\n!\x02\x00\x01:1}\n!\x02\x01\x17{}\n!\x00\x00\x00more\n!\x03\x02\x00\n!\x04\x01\x10\nDONE"), true)
	// A nameless call, reasoning, the name late, empty tool_calls.
	f.Add([]byte("!\x02\x01\x03{\n!\x01\x00\x00hm\n!\x02\x01\x05}\n!\x05\x00\x00x\n!\x06\x00\x00r"), false)
	f.Fuzz(func(t *testing.T, data []byte, generate bool) {
		lines := bytes.Split(data, []byte("\n"))
		for i, l := range lines {
			if len(l) > 0 && l[0] == '!' {
				lines[i] = opChunk(l)
			}
		}
		run := func(mode chunkMode) []byte {
			s := newTestStream(generate, mode)
			var out []byte
			for _, l := range lines {
				if string(l) == "DONE" {
					return s.End(out)
				}
				c := &providers.ChatCompletionStreamResponse{Raw: l}
				if mode == modeTyped {
					c = &providers.ChatCompletionStreamResponse{}
					if json.Unmarshal(l, c) != nil {
						continue
					}
				}
				var err error
				if out, err = s.Chunk(out, c); err != nil {
					return s.Fail(out, err.Error())
				}
			}
			return s.Fail(out, errCut.Error())
		}
		fastOut := run(modeRaw)
		fast, err := checkNDJSON(fastOut)
		if err != nil {
			t.Fatalf("malformed stream: %v\n%s", err, fastOut)
		}
		slow, err := checkNDJSON(run(modeSlow))
		if err != nil {
			t.Fatalf("malformed stream without the fast path: %v", err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path and encoding/json differ (-slow +fast):\n%s", cmp.Diff(slow, fast))
		}
		if _, err := checkNDJSON(run(modeTyped)); err != nil {
			t.Fatalf("malformed stream from typed chunks: %v", err)
		}
		for _, l := range fast {
			checkToolCalls(t, l)
		}
	})
}

// checkToolCalls checks a line's tool calls as Ollama's clients read them:
// each with an id, a name and an object of arguments.
func checkToolCalls(t *testing.T, l ndjsonLine) {
	t.Helper()
	calls := l["tool_calls"]
	if msg, ok := l["message"].(map[string]any); ok {
		calls = msg["tool_calls"]
	}
	if calls == nil {
		return
	}
	list, ok := calls.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("tool_calls %v", calls)
	}
	for _, c := range list {
		c, _ := c.(map[string]any)
		fn, _ := c["function"].(map[string]any)
		_, isObject := fn["arguments"].(map[string]any)
		if id, _ := c["id"].(string); id == "" || fn["name"] == "" || !isObject {
			t.Fatalf("tool call %v: want an id, a name and an object of arguments", c)
		}
	}
}

// FuzzCompletionStream: any sequence of completions events (one per line;
// "[DONE]" ends it) gives a well-formed /api/generate stream, the same
// with the fast path as with encoding/json.
func FuzzCompletionStream(f *testing.F) {
	for _, in := range goldenInputs("stream/completions") {
		var lines []string
		for _, l := range strings.Split(string(in), "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				lines = append(lines, d)
			}
		}
		f.Add([]byte(strings.Join(lines, "\n")))
	}
	f.Add([]byte(`{"choices":[{"index":0,"text":"a\u00e9\ud800","finish_reason":null}],"usage":null}` + "\n" + `{ "choices" : [ { "text" : "b" } ] , "id" : null }` + "\n[DONE]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		run := func(mode chunkMode) []byte {
			s := newTestStream(true, mode)
			var out []byte
			for _, l := range bytes.Split(data, []byte("\n")) {
				var done bool
				var err error
				if out, done, err = CompletionEvent(out, s, l); err != nil {
					return s.Fail(out, err.Error())
				}
				if done {
					return out
				}
			}
			return s.Fail(out, errCut.Error())
		}
		fastOut := run(modeRaw)
		fast, err := checkNDJSON(fastOut)
		if err != nil {
			t.Fatalf("malformed stream: %v\n%s", err, fastOut)
		}
		slow, err := checkNDJSON(run(modeSlow))
		if err != nil {
			t.Fatalf("malformed stream without the fast path: %v", err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path and encoding/json differ (-slow +fast):\n%s", cmp.Diff(slow, fast))
		}
	})
}

// FuzzEmbed: an embed request is refused only with a
// *providers.RequestError or translates to an embeddings body with the
// model and an input; an embeddings answer is refused or gives one JSON
// object with a vector of numbers per data item.
func FuzzEmbed(f *testing.F) {
	resps := goldenInputs("response/embed")
	for i, in := range goldenInputs("request/embed") {
		f.Add(in, resps[i%len(resps)], i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, body, resp []byte, legacy bool) {
		info, err := ScanEmbed(body, legacy)
		out, terr := EmbedToEmbeddings(body, "m", legacy)
		switch {
		case err != nil && !isRequestError(err):
			t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
		case terr != nil && !isRequestError(terr):
			t.Fatalf("error %T %v, want a *providers.RequestError", terr, terr)
		case err == nil && (terr == nil) != (info.Inputs > 0):
			t.Fatalf("%d inputs, yet EmbedToEmbeddings says %v", info.Inputs, terr)
		case terr == nil:
			var e struct {
				Model string          `json:"model"`
				Input json.RawMessage `json:"input"`
			}
			if err := json.Unmarshal(out, &e); err != nil || e.Model != "m" || len(e.Input) == 0 {
				t.Fatalf("embeddings body %s: %v", out, err)
			}
		}

		ans, err := EmbeddingsToEmbed(resp, "m", legacy)
		if err != nil {
			return
		}
		var a embeddingsAnswer
		if err := json.Unmarshal(resp, &a); err != nil {
			t.Fatalf("translated an answer encoding/json refuses: %v", err)
		}
		// float64: the vectors are copied as the upstream wrote them, and
		// only a float64 takes any JSON number.
		var v struct {
			Model      string      `json:"model"`
			Embeddings [][]float64 `json:"embeddings"`
			Embedding  []float64   `json:"embedding"`
		}
		d := json.NewDecoder(bytes.NewReader(ans))
		if err := d.Decode(&v); err != nil || d.More() {
			t.Fatalf("answer %s: %v", ans, err)
		}
		if legacy && v.Embedding == nil || !legacy && (v.Model != "m" || len(v.Embeddings) != len(a.Data)) {
			t.Fatalf("answer %s for %d vectors", ans, len(a.Data))
		}
	})
}

// FuzzAnswers: any upstream answer, Chat or completions, is refused or
// gives the one JSON object Ollama answers with, done:true.
func FuzzAnswers(f *testing.F) {
	for _, in := range goldenInputs("response/chat") {
		f.Add(in, false)
	}
	for _, in := range goldenInputs("response/completions") {
		f.Add(in, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, completions bool) {
		var outs [][]byte
		if completions {
			out, err := FromCompletions(body, "m")
			if err != nil {
				return
			}
			outs = append(outs, out)
		} else {
			for _, generate := range []bool{false, true} {
				out, err := FromChatResponse(&providers.ChatCompletionResponse{Raw: body}, "m", generate)
				if err != nil {
					return
				}
				outs = append(outs, out)
			}
		}
		for _, out := range outs {
			lines, err := checkNDJSON(append(out, '\n'))
			if err != nil || len(lines) != 1 {
				t.Fatalf("answer %s: %v", out, err)
			}
			checkToolCalls(t, lines[0])
		}
	})
}

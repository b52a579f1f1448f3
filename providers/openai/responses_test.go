package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

var updateResponses = flag.Bool("update-responses", false, "rewrite the golden files in testdata/responses")

// golden compares got with testdata/responses/name, or writes it with
// -update-responses.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "responses", name)
	if *updateResponses {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-responses to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return append(out.Bytes(), '\n')
}

var randomID = regexp.MustCompile(`\b(resp|msg|rs|fc|ctc|call)_[A-Z2-7]{26}\b`)

// stable replaces the random ids with their prefix.
func stable(b []byte) []byte { return randomID.ReplaceAll(b, []byte("${1}_ID")) }

func TestResponsesToChatGolden(t *testing.T) {
	for _, name := range []string{"codex-01", "apply-patch"} {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "responses", name+".request.json"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := ResponsesToChat(body, "local-model", nil)
			if err != nil {
				t.Fatal(err)
			}
			req, err := providers.ParseRequest(out)
			if err != nil {
				t.Fatalf("ParseRequest: %v\n%s", err, out)
			}
			if req.Model != "local-model" {
				t.Errorf("model %q", req.Model)
			}
			golden(t, name+".chat.json", indent(t, out))
		})
	}
}

func TestResponsesToChatApplyPatch(t *testing.T) {
	body, _ := os.ReadFile("testdata/responses/apply-patch.request.json")
	out, err := ResponsesToChat(body, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Messages []struct {
			Role             string
			Content          json.RawMessage
			ReasoningContent string `json:"reasoning_content"`
			ToolCalls        []struct {
				ID       string
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
			ToolCallID string `json:"tool_call_id"`
		}
		Tools []struct {
			Type     string
			Function struct {
				Name       string
				Parameters json.RawMessage
			}
		}
		ToolChoice      string          `json:"tool_choice"`
		ParallelTools   *bool           `json:"parallel_tool_calls"`
		ReasoningEffort string          `json:"reasoning_effort"`
		ResponseFormat  json.RawMessage `json:"response_format"`
		MaxTokens       int             `json:"max_tokens"`
		StreamOptions   struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range got.Tools {
		names = append(names, tl.Type+":"+tl.Function.Name)
	}
	if strings.Join(names, ",") != "function:exec_command,function:apply_patch" {
		t.Errorf("tools %v", names)
	}
	if !strings.Contains(string(got.Tools[1].Function.Parameters), `"input"`) {
		t.Errorf("apply_patch parameters %s", got.Tools[1].Function.Parameters)
	}
	var roles []string
	for _, m := range got.Messages {
		roles = append(roles, m.Role)
	}
	if r := strings.Join(roles, ","); r != "system,user,assistant,tool,assistant,tool,user,user" {
		t.Errorf("roles %s", r)
	}
	if m := got.Messages[2]; m.ReasoningContent != "Read the file first." || len(m.ToolCalls) != 1 || m.ToolCalls[0].ID != "call_1" {
		t.Errorf("first assistant turn %+v", m)
	}
	if m := got.Messages[4]; len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Name != "apply_patch" ||
		customInput(m.ToolCalls[0].Function.Arguments) != "*** Begin Patch\n*** Update File: README.md\n-Helo world\n+Hello world\n*** End Patch\n" {
		t.Errorf("apply_patch turn %+v", m)
	}
	if got.ToolChoice != "auto" || got.ParallelTools == nil || *got.ParallelTools || got.ReasoningEffort != "high" ||
		got.MaxTokens != 4096 || !got.StreamOptions.IncludeUsage || !strings.Contains(string(got.ResponseFormat), `"json_schema"`) {
		t.Errorf("options %s", out)
	}
}

func TestResponsesToChatShapes(t *testing.T) {
	ok := []struct{ body, prev, want string }{
		{`{"input":"hi"}`, "", `"messages":[{"role":"user","content":"hi"}]`},
		{`{"input":"hi","instructions":"be brief"}`, "", `{"role":"system","content":"be brief"}`},
		{`{"input":"again"}`, `[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"first"}]}]`, `{"role":"assistant","content":"first"},{"role":"user","content":"again"}`},
		{`{"input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]}`, "", `"image_url":{"url":"https://x/y.png"}`},
		{`{"input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"f"}}`, "", `"tool_choice":{"type":"function","function":{"name":"f"}}`},
		{`{"input":"x","text":{"format":{"type":"json_object"}}}`, "", `"response_format":{"type":"json_object"}`},
		{`{"input":"x","tool_choice":"required"}`, "", `{"model":"m","messages":[{"role":"user","content":"x"}]}`},
		{`{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"role":"user","content":"go on"}]}`, "", `"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"No result: the call was not run.","tool_call_id":"c"}`},
		{`{"input":"x","reasoning":{"effort":"none"},"future_field":{"a":1}}`, "", `{"model":"m","messages":[{"role":"user","content":"x"}]}`},
		// Arguments a model once cut: a Chat server would refuse them.
		{`{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{\"cmd\": \"ls"},{"type":"function_call_output","call_id":"c","output":"x"}]}`, "", `"arguments":"{\"arguments\":\"{\\\"cmd\\\": \\\"ls\"}"`},
	}
	for _, c := range ok {
		var prev []byte
		if c.prev != "" {
			prev = []byte(c.prev)
		}
		out, err := ResponsesToChat([]byte(c.body), "m", prev)
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s:\n got %s\nwant it to hold %s", c.body, out, c.want)
		}
		if _, err := providers.ParseRequest(out); err != nil {
			t.Errorf("%s: ParseRequest: %v", c.body, err)
		}
	}
	bad := []string{`{`, `[]`, `{"input":5}`, `{"input":[{"type":"message","role":"user","content":7}]}`, `{"input":"x","tools":{}}`, `{"input":[]}`, `{"instructions":3,"input":"x"}`}
	for _, b := range bad {
		_, err := ResponsesToChat([]byte(b), "m", nil)
		var re *providers.RequestError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v, want a *providers.RequestError", b, err)
		}
	}
}

// sseEvent is one parsed event of a Responses stream.
type sseEvent struct {
	name string
	data map[string]any
	raw  string
}

func parseSSE(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	var evs []sseEvent
	for _, block := range strings.Split(string(b), "\n\n") {
		if block == "" {
			continue
		}
		lines := strings.Split(block, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("malformed event %q", block)
		}
		e := sseEvent{name: lines[0][7:], raw: lines[1][6:]}
		if err := json.Unmarshal([]byte(e.raw), &e.data); err != nil {
			t.Fatalf("event data not JSON: %v: %s", err, e.raw)
		}
		evs = append(evs, e)
	}
	if !strings.HasSuffix(string(b), "\n\n") {
		t.Fatalf("stream does not end with a blank line")
	}
	return evs
}

// checkStream asserts the order the Responses API documents: created,
// in_progress, items added then done with events only for open items, and
// exactly one final completed or failed, sequence numbers 0, 1, 2, ….
func checkStream(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	evs := parseSSE(t, b)
	if len(evs) < 3 {
		t.Fatalf("only %d events", len(evs))
	}
	open := map[float64]string{} // output_index → item type
	done := map[float64]bool{}
	calls := map[any]bool{} // call_ids given out
	for i, e := range evs {
		if e.data["type"] != e.name {
			t.Fatalf("event %d: event %q but type %v", i, e.name, e.data["type"])
		}
		if n, _ := e.data["sequence_number"].(float64); int(n) != i {
			t.Fatalf("event %d (%s): sequence_number %v", i, e.name, e.data["sequence_number"])
		}
		last := i == len(evs)-1
		switch {
		case i == 0:
			if e.name != "response.created" {
				t.Fatalf("first event %s", e.name)
			}
		case i == 1:
			if e.name != "response.in_progress" {
				t.Fatalf("second event %s", e.name)
			}
		case e.name == "response.completed" || e.name == "response.failed":
			if !last {
				t.Fatalf("%s at %d of %d", e.name, i, len(evs))
			}
			resp, _ := e.data["response"].(map[string]any)
			if e.name == "response.completed" {
				if len(open) > 0 {
					t.Fatalf("completed with items still open: %v", open)
				}
				u, _ := resp["usage"].(map[string]any)
				for _, k := range []string{"input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details"} {
					if _, ok := u[k]; !ok {
						t.Fatalf("usage lacks %s: %s", k, e.raw)
					}
				}
			} else if er, _ := resp["error"].(map[string]any); er["code"] == nil {
				t.Fatalf("failed without error.code: %s", e.raw)
			}
		case e.name == "response.output_item.added":
			idx := e.data["output_index"].(float64)
			if _, ok := open[idx]; ok || done[idx] {
				t.Fatalf("item %v added twice", idx)
			}
			if int(idx) != len(open)+len(done) {
				t.Fatalf("item index %v out of order", idx)
			}
			item := e.data["item"].(map[string]any)
			open[idx] = item["type"].(string)
			if id, ok := item["call_id"]; ok {
				if calls[id] {
					t.Fatalf("call_id %v given twice: the client could not answer both", id)
				}
				calls[id] = true
			}
		case e.name == "response.output_item.done":
			idx := e.data["output_index"].(float64)
			if _, ok := open[idx]; !ok {
				t.Fatalf("item %v done but not open", idx)
			}
			item := e.data["item"].(map[string]any)
			switch item["type"] {
			case "function_call":
				if !json.Valid([]byte(item["arguments"].(string))) || item["name"] == "" || item["call_id"] == "" {
					t.Fatalf("incomplete function_call %s", e.raw)
				}
			case "custom_tool_call":
				if _, ok := item["input"].(string); !ok {
					t.Fatalf("custom_tool_call without input %s", e.raw)
				}
			}
			delete(open, idx)
			done[idx] = true
		default:
			idx, ok := e.data["output_index"].(float64)
			if _, isOpen := open[idx]; !ok || !isOpen {
				t.Fatalf("event %s for item %v that is not open", e.name, e.data["output_index"])
			}
		}
		if last && e.name != "response.completed" && e.name != "response.failed" {
			t.Fatalf("stream ends with %s", e.name)
		}
	}
	return evs
}

func readChunks(t *testing.T, name string) []*providers.ChatCompletionStreamResponse {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*providers.ChatCompletionStreamResponse
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, &providers.ChatCompletionStreamResponse{Raw: append([]byte(nil), line...)})
		}
	}
	return out
}

func TestChatToResponsesStreamGolden(t *testing.T) {
	for _, name := range []string{"tools", "text"} {
		t.Run(name, func(t *testing.T) {
			s := NewChatToResponsesStream("gpt-5-codex", map[string]bool{"apply_patch": true})
			s.created = 0
			var dst []byte
			for _, c := range readChunks(t, name+".chunks.jsonl") {
				var err error
				if dst, err = s.Chunk(dst, c); err != nil {
					t.Fatal(err)
				}
			}
			dst = s.End(dst)
			checkStream(t, dst)
			golden(t, name+".stream.sse", stable(dst))
			golden(t, name+".output.json", indent(t, stable(s.Output())))
		})
	}
}

// TestChatToResponsesStreamRepeatedCallID: some servers give every call
// the same id; Codex answers each by its call_id, so each needs its own.
func TestChatToResponsesStreamRepeatedCallID(t *testing.T) {
	s := NewChatToResponsesStream("m", nil)
	dst := s.Start(nil)
	for _, raw := range []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"read","arguments":"{\"path\":\"a\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_0","type":"function","function":{"name":"read","arguments":"{\"path\":"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"b\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	} {
		var err error
		if dst, err = s.Chunk(dst, &providers.ChatCompletionStreamResponse{Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
	}
	checkStream(t, s.End(dst))
	var out []map[string]any
	if err := json.Unmarshal(s.Output(), &out); err != nil || len(out) != 2 {
		t.Fatalf("output %s: %v", s.Output(), err)
	}
	if out[0]["call_id"] != "call_0" || out[0]["arguments"] != `{"path":"a"}` || out[1]["arguments"] != `{"path":"b"}` {
		t.Errorf("calls %v", out)
	}
	if out[1]["call_id"] == "call_0" || out[1]["call_id"] == "" {
		t.Errorf("second call_id %v", out[1]["call_id"])
	}
}

func TestChatToResponsesStreamTools(t *testing.T) {
	s := NewChatToResponsesStream("m", map[string]bool{"apply_patch": true})
	var dst []byte
	for _, c := range readChunks(t, "tools.chunks.jsonl") {
		dst, _ = s.Chunk(dst, c)
	}
	evs := checkStream(t, s.End(dst))
	var names []string
	for _, e := range evs {
		names = append(names, strings.TrimPrefix(e.name, "response."))
	}
	want := "created in_progress output_item.added reasoning_summary_part.added reasoning_summary_text.delta reasoning_summary_text.delta " +
		"reasoning_summary_text.done reasoning_summary_part.done output_item.done output_item.added content_part.added output_text.delta " +
		"output_text.done content_part.done output_item.done output_item.added function_call_arguments.delta function_call_arguments.delta " +
		"output_item.added function_call_arguments.done output_item.done custom_tool_call_input.delta custom_tool_call_input.done output_item.done completed"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	var out []map[string]any
	if err := json.Unmarshal(s.Output(), &out); err != nil || len(out) != 4 {
		t.Fatalf("output %s: %v", s.Output(), err)
	}
	if out[3]["type"] != "custom_tool_call" || out[3]["input"] != "*** Begin Patch\n*** End Patch\n" || out[3]["call_id"] != "call_b" {
		t.Errorf("custom call %v", out[3])
	}
	if out[2]["arguments"] != `{"cmd":"ls"}` {
		t.Errorf("function call %v", out[2])
	}
	u := evs[len(evs)-1].data["response"].(map[string]any)["usage"].(map[string]any)
	if u["input_tokens"] != 100.0 || u["output_tokens"] != 20.0 || u["total_tokens"] != 120.0 ||
		u["input_tokens_details"].(map[string]any)["cached_tokens"] != 64.0 || u["output_tokens_details"].(map[string]any)["reasoning_tokens"] != 5.0 {
		t.Errorf("usage %v", u)
	}
	// The output replays as history.
	chat, err := ResponsesToChat([]byte(`{"input":[{"type":"function_call_output","call_id":"call_a","output":"a"},{"type":"custom_tool_call_output","call_id":"call_b","output":"ok"}]}`), "m", s.Output())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(chat), `"reasoning_content":"Think hard."`) || strings.Contains(string(chat), "No result") {
		t.Errorf("replayed history %s", chat)
	}
}

func TestChatToResponsesStreamTyped(t *testing.T) {
	s := NewChatToResponsesStream("m", nil)
	text, reason, stop := "hi", "hmm", "stop"
	idx := 0
	dst, _ := s.Chunk(nil, &providers.ChatCompletionStreamResponse{Choices: []providers.StreamChoice{{Delta: providers.Delta{ReasoningContent: &reason}}}})
	dst, _ = s.Chunk(dst, &providers.ChatCompletionStreamResponse{Choices: []providers.StreamChoice{{Delta: providers.Delta{Content: &text}}}})
	dst, _ = s.Chunk(dst, &providers.ChatCompletionStreamResponse{Choices: []providers.StreamChoice{{Delta: providers.Delta{ToolCalls: []providers.ToolCall{{Index: &idx, ID: "c", Function: providers.FunctionCall{Name: "f"}}}}, FinishReason: &stop}}})
	dst = s.End(dst)
	evs := checkStream(t, dst)
	if n := len(evs); evs[n-2].data["item"].(map[string]any)["arguments"] != "{}" {
		t.Errorf("a call without arguments: %s", evs[n-2].raw)
	}
}

func TestChatToResponsesStreamFail(t *testing.T) {
	for _, code := range []string{"rate_limit_exceeded", "context_length_exceeded", "server_error"} {
		s := NewChatToResponsesStream("m", nil)
		text := "partial"
		dst, _ := s.Chunk(nil, &providers.ChatCompletionStreamResponse{Choices: []providers.StreamChoice{{Delta: providers.Delta{Content: &text}}}})
		dst = s.Fail(dst, code, "upstream said no")
		evs := checkStream(t, dst)
		last := evs[len(evs)-1]
		if last.name != "response.failed" || last.data["response"].(map[string]any)["error"].(map[string]any)["code"] != code {
			t.Errorf("%s: last event %s", code, last.raw)
		}
		if more := s.End(nil); len(more) != 0 {
			t.Errorf("End after Fail appended %s", more)
		}
	}
	// A stream that failed before any chunk still starts properly.
	checkStream(t, NewChatToResponsesStream("m", nil).Fail(nil, "", "boom"))
	// A chunk that is not JSON is an error.
	s := NewChatToResponsesStream("m", nil)
	if _, err := s.Chunk(nil, &providers.ChatCompletionStreamResponse{Raw: []byte("{")}); err == nil {
		t.Error("no error for a broken chunk")
	}
}

func TestChatToResponse(t *testing.T) {
	raw, err := os.ReadFile("testdata/responses/tools.answer.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ChatToResponse(&providers.ChatCompletionResponse{Raw: raw}, "gpt-5-codex", map[string]bool{"apply_patch": true})
	if err != nil {
		t.Fatal(err)
	}
	out = regexp.MustCompile(`"created_at":\d+`).ReplaceAll(out, []byte(`"created_at":0`))
	golden(t, "tools.response.json", indent(t, stable(out)))

	content := "typed"
	typed, err := ChatToResponse(&providers.ChatCompletionResponse{Choices: []providers.Choice{{Message: providers.ResponseMessage{Content: &content}}},
		Usage: &providers.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}}, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ID, Object, Status string
		Output             []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		Usage struct {
			InputTokens int `json:"input_tokens"`
		}
	}
	if err := json.Unmarshal(typed, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.Status != "completed" || len(r.Output) != 1 ||
		r.Output[0].Content[0].Text != "typed" || r.Usage.InputTokens != 3 {
		t.Errorf("typed answer %s", typed)
	}
	if _, err := ChatToResponse(&providers.ChatCompletionResponse{Raw: []byte("nope")}, "m", nil); err == nil {
		t.Error("no error for a broken answer")
	}
}

func ExampleResponsesToChat() {
	out, _ := ResponsesToChat([]byte(`{"instructions":"Be brief.","input":"hi","max_output_tokens":64}`), "qwen3", nil)
	fmt.Println(string(out))
	// Output: {"model":"qwen3","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":64}
}

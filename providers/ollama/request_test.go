package ollama

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// checkChatRequest checks what every translated chat request must be: JSON
// that providers.ParseRequest accepts, that decodes into the typed request,
// and whose tool messages answer the calls just before them.
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
	if len(req.Messages) == 0 {
		t.Fatalf("no messages: %s", body)
	}
	checkToolSequence(t, req)
	return req
}

// checkToolSequence checks OpenAI's rule for tool messages: the tool
// messages after an assistant message with tool calls answer each of its
// calls once, and no other tool message exists.
func checkToolSequence(t testing.TB, req *providers.ChatCompletionRequest) {
	t.Helper()
	var want []string // ids still to answer
	after := false    // the previous message is the assistant's calls or a tool message
	for i, m := range req.Messages {
		if m.Role == "tool" {
			j := slices.Index(want, m.ToolCallID)
			if !after || j < 0 {
				t.Fatalf("messages[%d]: tool message for %q answers no open call", i, m.ToolCallID)
			}
			want = slices.Delete(want, j, j+1)
			continue
		}
		if len(want) > 0 {
			t.Fatalf("messages[%d]: calls %q left without a result", i, want)
		}
		want, after = nil, false
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			for _, tc := range m.ToolCalls {
				if tc.ID == "" || !json.Valid([]byte(tc.Function.Arguments)) {
					t.Fatalf("messages[%d]: call %+v has no id or arguments that are not JSON", i, tc)
				}
				want = append(want, tc.ID)
			}
			after = true
		}
	}
	if len(want) > 0 {
		t.Fatalf("calls %q left without a result at the end", want)
	}
}

// infoLine is the first line of a golden's expected half: what the scan
// read.
func infoLine(v any, err error) string {
	if err != nil {
		return "scan error: " + err.Error() + "\n"
	}
	b, _ := json.Marshal(v)
	return "info: " + string(b) + "\n"
}

func TestChatToChatGolden(t *testing.T) {
	for path, name := range goldenCases(t, "request/chat") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			got := infoLine(ScanChat([]byte(input)))
			body, err := ChatToChat([]byte(input), "qwen3-coder-30b")
			if err != nil {
				checkRequestError(t, err, "ollama: ")
				checkGolden(t, path, got+"error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, got+indent(body))
			if req := checkChatRequest(t, body); req.Model != "qwen3-coder-30b" {
				t.Errorf("model %q", req.Model)
			}
		})
	}
}

func TestGenerateGolden(t *testing.T) {
	for path, name := range goldenCases(t, "request/generate") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			info, err := ScanGenerate([]byte(input))
			got := infoLine(info, err)
			if err != nil {
				checkGolden(t, path, got)
				return
			}
			var body []byte
			if info.FIM {
				body, err = GenerateToCompletions([]byte(input), "qwen2.5-coder-7b")
			} else {
				body, err = GenerateToChat([]byte(input), "qwen2.5-coder-7b")
			}
			if err != nil {
				checkRequestError(t, err, "ollama: ")
				checkGolden(t, path, got+"error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, got+indent(body))
			if !info.FIM {
				checkChatRequest(t, body)
				return
			}
			var c completionsOut
			if err := json.Unmarshal(body, &c); err != nil || c.Model != "qwen2.5-coder-7b" {
				t.Errorf("completions body %s: %v", body, err)
			}
		})
	}
}

func TestEmbedGolden(t *testing.T) {
	for path, name := range goldenCases(t, "request/embed") {
		t.Run(name, func(t *testing.T) {
			legacy := strings.HasPrefix(name, "legacy_")
			input, _ := readGolden(t, path)
			got := infoLine(ScanEmbed([]byte(input), legacy))
			body, err := EmbedToEmbeddings([]byte(input), "text-embedding-3-small", legacy)
			if err != nil {
				checkRequestError(t, err, "ollama: ")
				checkGolden(t, path, got+"error: "+err.Error()+"\n")
				return
			}
			checkGolden(t, path, got+indent(body))
		})
	}
}

// TestChatToChatToolIDs checks the ids the translation gives calls: the
// client's when it sent one, call_<n> otherwise, never one twice.
func TestChatToChatToolIDs(t *testing.T) {
	body := `{"messages":[{"role":"user","content":"x"},
		{"role":"assistant","tool_calls":[{"id":"call_1","function":{"name":"a"}},{"function":{"name":"b"}},{"function":{"name":"c"}}]},
		{"role":"tool","tool_name":"c","content":"C"},{"role":"tool","tool_call_id":"call_1","content":"A"},{"role":"tool","content":"B"},
		{"role":"assistant","tool_calls":[{"id":"call_1","function":{"name":"a"}}]},{"role":"tool","tool_call_id":"call_1","content":"A2"}]}`
	out, err := ChatToChat([]byte(body), "m")
	if err != nil {
		t.Fatal(err)
	}
	req := checkChatRequest(t, out)
	type pair struct{ role, id, content string }
	var got []pair
	for _, m := range req.Messages {
		for _, tc := range m.ToolCalls {
			got = append(got, pair{"call " + tc.Function.Name, tc.ID, tc.Function.Arguments})
		}
		if m.Role == "tool" {
			got = append(got, pair{"tool", m.ToolCallID, m.Content.Text})
		}
	}
	want := []pair{
		{"call a", "call_1", "{}"}, {"call b", "call_2", "{}"}, {"call c", "call_3", "{}"}, // call_1 is taken: call_<n> skips it
		{"tool", "call_3", "C"}, {"tool", "call_1", "A"}, {"tool", "call_2", "B"},
		{"call a", "call_4", "{}"}, // the client's call_1 again: a new id, and its result follows it
		{"tool", "call_4", "A2"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got calls and results\n%v\nwant\n%v", got, want)
	}
}

func TestLastWins(t *testing.T) {
	many := func(n int, extra string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		return b.String() + extra + "}"
	}
	for _, tc := range []struct{ in, want string }{
		{`{"type":"object"}`, `{"type":"object"}`},
		{` { "a" : 1 , "b" : [ 1 , 2 ] } `, `{"a":1,"b":[1,2]}`},
		{`{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{`{"\u0061":1,"a":2}`, `{"\u0061":2}`},
		{"{\"\xff\":1,\"\xfe\":2}", "{\"\xff\":2}"}, // both read as U+FFFD
		{`{"p":{"x":1,"x":{"y":1,"y":2}},"q":[{"z":1,"z":2},"\":\"",{}]}`, `{"p":{"x":{"y":2}},"q":[{"z":2},"\":\"",{}]}`},
		{`{"d":"\"a\":1","d":"b"}`, `{"d":"b"}`},
		{`[]`, `[]`},
		{many(20, `"k3":"again","k19":null`), strings.Replace(strings.Replace(many(20, ""), `"k3":3`, `"k3":"again"`, 1), `"k19":19,}`, `"k19":null}`, 1)},
	} {
		if got := string(lastWins([]byte(tc.in))); got != tc.want {
			t.Errorf("lastWins(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

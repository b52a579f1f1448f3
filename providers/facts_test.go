package providers

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFacts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Facts
	}{
		{
			name: "empty",
			body: `{"model":"auto","messages":[]}`,
			want: Facts{},
		},
		{
			name: "string content",
			body: `{"model":"auto","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`,
			// 10 chars → 3 tokens, + 3*2 per message + 3 for the reply.
			want: Facts{Messages: 2, PromptChars: 10, EstTokens: 3 + 6 + 3},
		},
		{
			name: "characters are runes, not bytes",
			body: `{"model":"auto","messages":[{"role":"user","content":"héllo wörld ☃"}]}`,
			want: Facts{Messages: 1, PromptChars: 13, EstTokens: 4 + 3 + 3},
		},
		{
			name: "escaped content counts decoded runes",
			body: `{"model":"auto","messages":[{"role":"user","content":"a\nb\u00e9"}]}`,
			want: Facts{Messages: 1, PromptChars: 4, EstTokens: 1 + 3 + 3},
		},
		{
			name: "null content",
			body: `{"model":"auto","messages":[{"role":"user","content":null}]}`,
			want: Facts{Messages: 1, EstTokens: 3 + 3},
		},
		{
			name: "parts with text and image",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":[` +
				`{"type":"text","text":"what is this?"},` +
				`{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},` +
				`{"type":"text","text":"and this"}]}]}`,
			want: Facts{Messages: 1, PromptChars: 13 + 8, EstTokens: 6 + 3 + 3, HasImages: true},
		},
		{
			name: "parts with text only",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"abcd"}]}]}`,
			want: Facts{Messages: 1, PromptChars: 4, EstTokens: 1 + 3 + 3},
		},
		{
			name: "tool definitions only",
			body: `{"model":"auto","messages":[{"role":"user","content":"hi"}],` +
				`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`,
			// ToolChars: the name "f" (1) and the 17-byte schema.
			want: Facts{Messages: 1, PromptChars: 2, ToolChars: 18, EstTokens: (2+18+3)/4 + 3 + 3, HasTools: true},
		},
		{
			name: "tool calls and tool results",
			body: `{"model":"auto","messages":[` +
				`{"role":"user","content":"weather?"},` +
				`{"role":"assistant","content":null,"tool_calls":[` +
				`{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},` +
				`{"id":"c2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},` +
				`{"role":"tool","tool_call_id":"c1","content":"18°C"},` +
				`{"role":"tool","tool_call_id":"c2","content":"12:00"}]}`,
			// "weather?" 8 + `{"city":"Paris"}` 16 + `{}` 2 + "18°C" 4 + "12:00" 5 = 35.
			want: Facts{Messages: 4, PromptChars: 35, EstTokens: 9 + 12 + 3, HasTools: true},
		},
		{
			name: "a tool result alone has tools",
			body: `{"model":"auto","messages":[{"role":"tool","tool_call_id":"c1","content":"ok"}]}`,
			want: Facts{Messages: 1, PromptChars: 2, EstTokens: 1 + 3 + 3, HasTools: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			// The session's facts have their own tests (prefix_test.go).
			if diff := cmp.Diff(tt.want, r.Facts(), cmpopts.IgnoreFields(Facts{}, "Prefix", "ToolTurn", "Turns", "Opening")); diff != "" {
				t.Errorf("Facts() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzFactsRuneCount(f *testing.F) {
	for _, s := range []string{"", "a", "abcdefgh", "héllo wörld ☃", "😀😀😀😀abc", "日本語のテキストです"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		if got, want := runeCount(s), utf8.RuneCountInString(s); got != want {
			t.Errorf("runeCount(%q): got %d, want %d", s, got, want)
		}
	})
}

func TestFactsAllocs(t *testing.T) {
	r := agentRequest(40)
	if n := testing.AllocsPerRun(100, func() { _ = r.Facts() }); n != 0 {
		t.Errorf("got %v allocs per Facts, want 0", n)
	}
}

// agentRequest builds a request shaped like a coding agent's: a long system
// prompt, tools, then turns of user text, tool calls and tool results, with
// an image on one turn.
func agentRequest(n int) *ChatCompletionRequest {
	r := &ChatCompletionRequest{
		Model: "auto",
		Tools: []Tool{{Type: "function", Function: Function{Name: "read_file"}}},
	}
	r.Messages = append(r.Messages, Message{Role: "system", Content: Content{Text: strings.Repeat("You are a careful coding assistant. ", 200)}})
	for i := 1; len(r.Messages) < n; i++ {
		switch i % 4 {
		case 1:
			r.Messages = append(r.Messages, Message{Role: "user", Content: Content{IsParts: true, Parts: []ContentPart{
				{Type: "text", Text: fmt.Sprintf("Step %d: fix the failing test in pkg/%d — see the trace below.\n%s", i, i, strings.Repeat("at main.go:42 ", 40))},
			}}})
		case 2:
			r.Messages = append(r.Messages, Message{Role: "assistant", ToolCalls: []ToolCall{
				{ID: "call", Type: "function", Function: FunctionCall{Name: "read_file", Arguments: `{"path":"pkg/file.go","start":1,"end":200}`}},
			}})
		case 3:
			r.Messages = append(r.Messages, Message{Role: "tool", ToolCallID: "call", Content: Content{Text: strings.Repeat("func f() { return nil } // ünïcode\n", 60)}})
		default:
			r.Messages = append(r.Messages, Message{Role: "assistant", Content: Content{Text: strings.Repeat("I changed the guard clause. ", 20)}})
		}
	}
	r.Messages[5].Content.Parts = append(r.Messages[5].Content.Parts, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/screenshot.png"}})
	return r
}

func BenchmarkFacts(b *testing.B) {
	r := agentRequest(40)
	b.ReportAllocs()
	var f Facts
	for b.Loop() {
		f = r.Facts()
	}
	b.ReportMetric(float64(f.PromptChars), "chars")
}

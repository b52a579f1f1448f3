package providers

import (
	"encoding/json"
	"testing"
)

// sessionFacts is what each door's scan gives sessions of body.
func sessionFacts(t *testing.T, door, body string) Facts {
	t.Helper()
	var f Facts
	switch door {
	case "chat":
		r, err := ParseRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v\n%s", door, err, body)
		}
		f = r.Facts()
	case "messages":
		info, err := ScanMessages([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v\n%s", door, err, body)
		}
		f = info.Facts
	case "responses":
		info, err := ScanResponses([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v\n%s", door, err, body)
		}
		f = info.Facts
	}
	return f
}

// TestSessionPrefix: the prefix of a conversation is the same on every
// turn, though the history grows and the client moves its cache_control
// markers to the newest message; another opening, system prompt or tool
// set is another conversation. ToolTurn, Turns and Opening follow the
// history.
func TestSessionPrefix(t *testing.T) {
	tests := []struct {
		door                        string
		turn1, turn3, other, system string
		tools                       string // turn 1 with another tool set
		turns1, turns3              int
	}{
		{
			door:   "chat",
			turn1:  `{"model":"auto","tools":[{"type":"function","function":{"name":"read"}}],"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"fix the bug","cache_control":{"type":"ephemeral"}}]}]}`,
			turn3:  `{"model":"auto","tools":[{"type":"function","function":{"name":"read"}}],"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"fix the bug"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"read","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"main.go","cache_control":{"type":"ephemeral"}}]}]}`,
			other:  `{"model":"auto","tools":[{"type":"function","function":{"name":"read"}}],"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"write the docs"}]}`,
			system: `{"model":"auto","tools":[{"type":"function","function":{"name":"read"}}],"messages":[{"role":"system","content":"Be thorough."},{"role":"user","content":"fix the bug"}]}`,
			tools:  `{"model":"auto","tools":[{"type":"function","function":{"name":"write"}}],"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"fix the bug"}]}`,
			turns1: 2, turns3: 4,
		},
		{
			door:   "messages",
			turn1:  `{"model":"claude-sonnet-4-5","max_tokens":9,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"Read","input_schema":{}}],"messages":[{"role":"user","content":[{"type":"text","text":"fix the bug","cache_control":{"type":"ephemeral"}}]}]}`,
			turn3:  `{"model":"claude-sonnet-4-5","max_tokens":9,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"Read","input_schema":{}}],"messages":[{"role":"user","content":[{"type":"text","text":"fix the bug"}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"t1","name":"Read","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"main.go","cache_control":{"type":"ephemeral"}}]}]}`,
			other:  `{"model":"claude-sonnet-4-5","max_tokens":9,"system":"Be brief.","tools":[{"name":"Read","input_schema":{}}],"messages":[{"role":"user","content":"write the docs"}]}`,
			system: `{"model":"claude-sonnet-4-5","max_tokens":9,"system":"Be thorough.","tools":[{"name":"Read","input_schema":{}}],"messages":[{"role":"user","content":"fix the bug"}]}`,
			tools:  `{"model":"claude-sonnet-4-5","max_tokens":9,"system":"Be brief.","tools":[{"name":"Write","input_schema":{}}],"messages":[{"role":"user","content":"fix the bug"}]}`,
			turns1: 1, turns3: 3,
		},
		{
			door:   "responses",
			turn1:  `{"model":"gpt-5","instructions":"Be brief.","tools":[{"type":"function","name":"shell"}],"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"fix the bug"}]}]}`,
			turn3:  `{"model":"gpt-5","instructions":"Be brief.","tools":[{"type":"function","name":"shell"}],"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"fix the bug"}]},{"type":"reasoning","summary":[],"encrypted_content":"x"},{"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}]}`,
			other:  `{"model":"gpt-5","instructions":"Be brief.","tools":[{"type":"function","name":"shell"}],"input":"write the docs"}`,
			system: `{"model":"gpt-5","instructions":"Be thorough.","tools":[{"type":"function","name":"shell"}],"input":"fix the bug"}`,
			tools:  `{"model":"gpt-5","instructions":"Be brief.","tools":[{"type":"function","name":"apply_patch"}],"input":"fix the bug"}`,
			turns1: 1, turns3: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.door, func(t *testing.T) {
			f1, f3 := sessionFacts(t, tt.door, tt.turn1), sessionFacts(t, tt.door, tt.turn3)
			if f1.Prefix == 0 || f1.Prefix != f3.Prefix {
				t.Errorf("turn 1 prefix %x, turn 3 %x: want one non-zero prefix for the conversation", f1.Prefix, f3.Prefix)
			}
			for name, body := range map[string]string{"another opening": tt.other, "another system prompt": tt.system, "another tool set": tt.tools} {
				if p := sessionFacts(t, tt.door, body).Prefix; p == f1.Prefix || p == 0 {
					t.Errorf("%s: prefix %x, want another non-zero one than the conversation's %x", name, p, f1.Prefix)
				}
			}
			if f1.ToolTurn || !f3.ToolTurn {
				t.Errorf("ToolTurn %v on turn 1 and %v on turn 3 (a tool result), want false, true", f1.ToolTurn, f3.ToolTurn)
			}
			if !f1.Opening || f3.Opening {
				t.Errorf("Opening %v on turn 1 and %v on turn 3, want true, false", f1.Opening, f3.Opening)
			}
			if f1.Turns != tt.turns1 || f3.Turns != tt.turns3 {
				t.Errorf("Turns %d and %d, want %d and %d", f1.Turns, f3.Turns, tt.turns1, tt.turns3)
			}
		})
	}
}

func TestSessionPrefixNeedsAUserMessage(t *testing.T) {
	if f := sessionFacts(t, "chat", `{"messages":[{"role":"system","content":"x"},{"role":"assistant","content":"y"}]}`); f.Prefix != 0 {
		t.Errorf("prefix %x without a user message, want 0: nothing to key a conversation by", f.Prefix)
	}
}

// BenchmarkSessionFacts: the privacy scan of a 150 KB agent request, and
// what the session prefix adds to the one scan of it (sub-benchmarks
// "scan" with the prefix as built, "secrets" the privacy scan); neither
// copies the body. The session lookup itself is strategy's
// BenchmarkSessionLookup.
func BenchmarkSessionFacts(b *testing.B) {
	var body []byte
	for n := 40; len(body) < 150<<10; n += 10 {
		body, _ = json.Marshal(agentRequest(n))
	}
	sc, err := NewSecretScanner(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := ParseRequest(body)
			if err != nil || r.Facts().Prefix == 0 {
				b.Fatal("no prefix", err)
			}
		}
	})
	b.Run("secrets", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if kind := sc.Find(body); kind != "" {
				b.Fatal(kind)
			}
		}
	})
}

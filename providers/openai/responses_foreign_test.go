package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDropForeignReasoning: a Codex session that moved between two
// servers of the Responses API keeps its messages, tool calls and outputs,
// and its own reasoning; only the reasoning items the other server wrote
// (sealed for it, their ids unknown here) are dropped.
func TestDropForeignReasoning(t *testing.T) {
	body := []byte(`{"model":"gpt-5","store":false,"include":["reasoning.encrypted_content"],"input":[` +
		`{"type":"message","role":"user","content":[{"type":"input_text","text":"fix it"}]},` +
		`{"type":"reasoning","id":"rs_other","summary":[],"encrypted_content":"gAAAA-other"},` +
		`{"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},` +
		`{"type":"function_call_output","call_id":"c1","output":"ok"},` +
		`{"type":"reasoning","id":"rs_mine","summary":[],"encrypted_content":"gAAAA-mine"},` +
		`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"done"}]}],"x_future":1}`)
	out, err := dropForeignReasoning(body, func(i int) bool { return i < 4 })
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Input []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"input"`
		Future int `json:"x_future"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var types []string
	for _, it := range got.Input {
		types = append(types, it.Type+":"+it.ID)
	}
	want := "[message: function_call: function_call_output: reasoning:rs_mine message:]"
	if s := "[" + strings.Join(types, " ") + "]"; s != want || got.Future != 1 {
		t.Errorf("input %s (x_future %d), want %s and the unknown field kept", s, got.Future, want)
	}
	same, err := dropForeignReasoning(body, func(int) bool { return false })
	if err != nil || string(same) != string(body) {
		t.Errorf("nothing foreign: the body changed: %s %v", same, err)
	}
}

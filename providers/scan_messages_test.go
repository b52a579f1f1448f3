package providers

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScanMessages(t *testing.T) {
	body := []byte(`{"model":"claude-sonnet-4-6","max_tokens":1024,"stream":true,
	"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
	"thinking":{"type":"enabled","budget_tokens":2048},
	"tools":[{"name":"Bash","description":"Run it","input_schema":{"type":"object"}}],
	"messages":[
	 {"role":"user","content":"héllo"},
	 {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":""},{"type":"tool_use","id":"t1","name":"Bash","input":{"c":"ls"}}]},
	 {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a.go"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}
	],"future_field":{"x":[1,2]}}`)
	info, err := ScanMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	f := info.Facts
	want := MessagesInfo{Model: "claude-sonnet-4-6", Stream: true, MaxTokens: 1024, HasMaxTokens: true, HasMessages: true,
		Thinking: true, UnsignedThinking: true, LastIsToolResult: true}
	got := *info
	got.Facts = Facts{}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// "Be brief." 9 + "héllo" 5 + "hm" 2 + {"c":"ls"} 10 + "a.go" 4 = 30.
	if f.Messages != 4 || f.PromptChars != 30 || !f.HasTools || !f.HasImages {
		t.Errorf("facts %+v: want 4 messages (system counts), 30 prompt chars, tools and images", f)
	}
	if want := len("Bash") + len("Run it") + len(`{"type":"object"}`); f.ToolChars != want {
		t.Errorf("tool chars %d, want %d", f.ToolChars, want)
	}
	if f.EstTokens != estTokens(f) || f.EstTokens == 0 {
		t.Errorf("est tokens %d", f.EstTokens)
	}
}

func TestScanMessagesErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"model":1}`, `{"messages":{}}`, `{"stream":"yes"}`, `{"max_tokens":"x"}`, `{"max_tokens":1.5}`,
		`{"model":"a","model":"b"}`, `{"messages":[{"content":"a","content":"b"}]}`, `{"system":5}`,
		`{"messages":[{"content":5}]}`, `{"messages":[]} x`, `{"tools":{}}`,
	} {
		if _, err := ScanMessages([]byte(body)); err == nil {
			t.Errorf("ScanMessages(%s) accepted it", body)
		}
	}
}

// The real Claude Code requests in the captures scan without error, with
// every tool counted.
func TestScanMessagesClaudeCodeCaptures(t *testing.T) {
	// The copy in the repository, and the others when shared/ is beside it.
	files, _ := filepath.Glob("../../shared/captures/claude-code/*-request.json")
	files = append(files, "anthropic/testdata/inbound/claude-code-01-request.json")
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		info, err := ScanMessages(body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !info.HasMaxTokens || !info.HasMessages || !info.Facts.HasTools || info.Facts.ToolChars < 10000 || info.Model == "" {
			t.Errorf("%s: %+v", f, info)
		}
	}
}

func BenchmarkScanMessagesClaudeCode(b *testing.B) {
	body, err := os.ReadFile("anthropic/testdata/inbound/claude-code-01-request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ScanMessages(body); err != nil {
			b.Fatal(err)
		}
	}
}

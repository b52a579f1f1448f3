package providers

import (
	"bytes"
	"encoding/json"
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

func TestHasDuplicateKeyOracle(t *testing.T) {
	if !hasDuplicateKey(t, []byte(`{"a":{"b":1,"c":[2],"b":2}}`)) || hasDuplicateKey(t, []byte(`{"a":[{"b":1},{"b":2}],"b":{"a":"a"}}`)) {
		t.Fatal("the fuzz oracle's duplicate-key walk is wrong")
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

// FuzzScanMessages checks the Messages scan against encoding/json: what it
// accepts is valid JSON whose model and stream it read as a case-sensitive
// decoder does, and a body with a key twice in one object is refused.
func FuzzScanMessages(f *testing.F) {
	f.Add([]byte(`{"model":"claude-sonnet-4-6","max_tokens":10,"stream":true,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"image","source":{}},{"type":"tool_result","content":[{"type":"text","text":"x"}]}]}],"tools":[{"name":"a","input_schema":{}}],"thinking":{"type":"enabled"}}`))
	f.Add([]byte(`{"model":"a","model":"b"}`))
	f.Add([]byte(`{"messages":[{"content":"x"}],"max_tokens":1e3}`))
	body, err := os.ReadFile("anthropic/testdata/inbound/claude-code-01-request.json")
	if err == nil {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := ScanMessages(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if hasDuplicateKey(t, body) {
			t.Fatalf("accepted a duplicate key: %q", body)
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		if s, _ := m["model"].(string); s != info.Model {
			t.Fatalf("model %q, encoding/json reads %q", info.Model, s)
		}
		if s, _ := m["stream"].(bool); s != info.Stream {
			t.Fatalf("stream %v, encoding/json reads %v", info.Stream, s)
		}
		if info.Facts.EstTokens < 0 || info.Facts.PromptChars < 0 {
			t.Fatalf("negative facts %+v", info.Facts)
		}
	})
}

// hasDuplicateKey walks body's tokens and reports whether any object has a
// key twice.
func hasDuplicateKey(t *testing.T, body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		keys  map[string]bool
		isObj bool
		key   bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.isObj {
					top.key = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: true, key: true})
				continue
			case '[':
				if top != nil && top.isObj {
					top.key = true
				}
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.isObj && top.key {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.isObj {
			top.key = true
		}
	}
}

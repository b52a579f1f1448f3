package providers

import (
	"encoding/json"
	"testing"
)

func TestScanInputs(t *testing.T) {
	info, err := ScanCompletions([]byte(`{"model":"qwen2.5-coder","prompt":"def f(","suffix":"\n    return x\n","stream":true,"max_tokens":64,"stop":["\n\n"]}`))
	if err != nil {
		t.Fatal(err)
	}
	// "def f(" 6 + "\n    return x\n" 14: two messages.
	if info.Model != "qwen2.5-coder" || !info.Stream || !info.HasInput || info.Facts.Messages != 2 || info.Facts.PromptChars != 20 ||
		info.Facts.EstTokens != estTokens(info.Facts) {
		t.Errorf("completions: %+v", info)
	}
	info, err = ScanEmbeddings([]byte(`{"model":"nomic-embed-text","input":["héllo","world",[1,2,3]],"encoding_format":"float"}`))
	if err != nil {
		t.Fatal(err)
	}
	if info.Model != "nomic-embed-text" || info.Stream || !info.HasInput || info.Facts.Messages != 3 || info.Facts.PromptChars != 10 ||
		info.Facts.EstTokens != 3 {
		t.Errorf("embeddings: %+v", info)
	}
	if info, err := ScanEmbeddings([]byte(`{"model":"e"}`)); err != nil || info.HasInput {
		t.Errorf("no input: %+v %v", info, err)
	}
	for _, body := range []string{``, `[]`, `{"model":1}`, `{"input":5}`, `{"input":{}}`, `{"model":"a","model":"b"}`,
		`{"input":["a"],"input":"b"}`, `{"input":"x"} x`, `{"input":["x",]}`} {
		if _, err := ScanEmbeddings([]byte(body)); err == nil {
			t.Errorf("ScanEmbeddings(%s) accepted it", body)
		}
	}
	if _, err := ScanCompletions([]byte(`{"stream":"yes"}`)); err == nil {
		t.Error("ScanCompletions accepted a string stream")
	}
}

// FuzzScanInputs checks both scans against encoding/json: what they accept
// is JSON, an object without a key twice, and the model and stream they read
// are encoding/json's.
func FuzzScanInputs(f *testing.F) {
	f.Add([]byte(`{"model":"m","prompt":["a",[1,2]],"suffix":"s","stream":true}`))
	f.Add([]byte(`{"model":"m\u0064","input":"x","dimensions":8}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, scan := range []func([]byte) (*InputInfo, error){ScanCompletions, ScanEmbeddings} {
			info, err := scan(body)
			if err != nil {
				continue
			}
			if !json.Valid(body) || hasDuplicateKey(t, body) {
				t.Fatalf("accepted %q", body)
			}
			var m map[string]any
			if json.Unmarshal(body, &m) != nil {
				t.Fatalf("accepted a body that is not an object: %q", body)
			}
			if s, _ := m["model"].(string); s != info.Model {
				t.Fatalf("model %q, encoding/json reads %q", info.Model, s)
			}
			if info.Facts.PromptChars < 0 || info.Facts.EstTokens < 0 {
				t.Fatalf("negative facts %+v", info.Facts)
			}
		}
		if info, err := ScanCompletions(body); err == nil {
			var m map[string]any
			json.Unmarshal(body, &m)
			if s, _ := m["stream"].(bool); s != info.Stream {
				t.Fatalf("stream %v, encoding/json reads %v", info.Stream, s)
			}
		}
	})
}

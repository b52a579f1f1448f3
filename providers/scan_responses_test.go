package providers

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
)

func TestScanResponses(t *testing.T) {
	body := []byte(`{"model":"gpt-5-codex","stream":true,"store":false,"previous_response_id":"resp_1",
	"prompt_cache_key":"k1","instructions":"Be brief.",
	"input":[
	 {"type":"message","role":"user","content":[{"type":"input_text","text":"héllo"},{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]},
	 {"type":"reasoning","summary":[{"type":"summary_text","text":"hm"}],"encrypted_content":"gAAAAB"},
	 {"type":"function_call","call_id":"c1","name":"shell","arguments":"{\"c\":1}"},
	 {"type":"function_call_output","call_id":"c1","output":"a.go"}
	],
	"tools":[{"type":"function","name":"shell","description":"Run it","parameters":{"type":"object"}},
	 {"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"grammar"}},{"type":"web_search"}],
	"future_field":{"x":[1,2]}}`)
	info, err := ScanResponses(body)
	if err != nil {
		t.Fatal(err)
	}
	f := info.Facts
	got := *info
	got.Facts, got.CustomTools = Facts{}, nil
	want := ResponsesInfo{Model: "gpt-5-codex", Stream: true, HasInput: true, NoStore: true, PreviousResponseID: "resp_1",
		PromptCacheKey: "k1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(info.CustomTools, []string{"apply_patch"}) {
		t.Errorf("custom tools %q, want [apply_patch]", info.CustomTools)
	}
	// "Be brief." 9 + "héllo" 5 + "hm" 2 + {"c":1} 7 + "a.go" 4 = 27;
	// instructions, the message and the two tool items are 4 messages.
	if f.Messages != 4 || f.PromptChars != 27 || !f.HasTools || !f.HasImages {
		t.Errorf("facts %+v: want 4 messages, 27 prompt chars, tools and images", f)
	}
	wantTools := len("shell") + len("Run it") + len(`{"type":"object"}`) + len("apply_patch") + len("Patch") + len(`{"type":"grammar"}`)
	if f.ToolChars != wantTools {
		t.Errorf("tool chars %d, want %d", f.ToolChars, wantTools)
	}
	if f.EstTokens != estTokens(f) || f.EstTokens == 0 {
		t.Errorf("est tokens %d", f.EstTokens)
	}

	info, err = ScanResponses([]byte(`{"model":"m","input":"hi"}`))
	if err != nil || !info.HasInput || info.Facts.Messages != 1 || info.Facts.PromptChars != 2 || info.NoStore {
		t.Errorf("string input: %+v, %v", info, err)
	}
	for _, body := range []string{`{"model":"m"}`, `{"model":"m","input":""}`, `{"model":"m","input":[]}`, `{"model":"m","input":null}`} {
		if info, err := ScanResponses([]byte(body)); err != nil || info.HasInput {
			t.Errorf("%s: HasInput %v, err %v; want no input, no error (the door refuses it in the API's words)", body, info != nil && info.HasInput, err)
		}
	}
}

func TestScanResponsesErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"model":1}`, `{"input":{}}`, `{"input":5}`, `{"input":[5]}`, `{"stream":"yes"}`, `{"store":1}`,
		`{"model":"a","model":"b"}`, `{"input":[{"content":"a","content":"b"}]}`, `{"previous_response_id":7}`,
		`{"input":"x"} x`, `{"tools":{}}`, `{"tools":[{"name":"a","name":"b"}]}`,
	} {
		if _, err := ScanResponses([]byte(body)); err == nil {
			t.Errorf("ScanResponses(%s) accepted it", body)
		}
	}
}

func TestScanResponsesCodexCapture(t *testing.T) {
	body, err := os.ReadFile("openai/testdata/responses/codex-01.request.json")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ScanResponses(body)
	if err != nil {
		t.Fatal(err)
	}
	if info.Model == "" || !info.Stream || !info.HasInput || !info.Facts.HasTools || info.Facts.Messages < 2 ||
		info.Facts.EstTokens < len(body)/8 {
		t.Errorf("Codex's request read as %+v", info)
	}
}

func FuzzScanResponses(f *testing.F) {
	f.Add([]byte(`{"model":"m","stream":true,"store":false,"instructions":"s","input":[{"type":"message","role":"user","content":[{"type":"input_image","image_url":"x"}]},{"type":"function_call_output","output":[{"type":"input_text","text":"x"}]}],"tools":[{"type":"custom","name":"a","format":{}}]}`))
	f.Add([]byte(`{"model":"a","input":"b","previous_response_id":"r","prompt_cache_key":"k"}`))
	f.Add([]byte(`{"input":[{"type":"reasoning","summary":[{"text":"x"}]}],"model":"m\u0064"}`))
	if body, err := os.ReadFile("openai/testdata/responses/codex-01.request.json"); err == nil {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := ScanResponses(body)
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
		for key, got := range map[string]string{"model": info.Model, "previous_response_id": info.PreviousResponseID, "prompt_cache_key": info.PromptCacheKey} {
			if s, _ := m[key].(string); s != got {
				t.Fatalf("%s %q, encoding/json reads %q", key, got, s)
			}
		}
		if s, _ := m["stream"].(bool); s != info.Stream {
			t.Fatalf("stream %v, encoding/json reads %v", info.Stream, s)
		}
		if s, ok := m["store"].(bool); (ok && !s) != info.NoStore {
			t.Fatalf("NoStore %v, encoding/json reads store %v", info.NoStore, m["store"])
		}
		hasInput := false
		switch v := m["input"].(type) {
		case string:
			hasInput = v != ""
		case []any:
			hasInput = len(v) > 0
		}
		if hasInput != info.HasInput {
			t.Fatalf("HasInput %v, encoding/json reads input %v", info.HasInput, m["input"])
		}
		if info.Facts.EstTokens < 0 || info.Facts.PromptChars < 0 || info.Facts.ToolChars < 0 {
			t.Fatalf("negative facts %+v", info.Facts)
		}
	})
}

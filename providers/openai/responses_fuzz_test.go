package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// FuzzResponsesToChat: any body either is refused with a
// *providers.RequestError or gives JSON that providers.ParseRequest takes.
func FuzzResponsesToChat(f *testing.F) {
	for _, name := range []string{"codex-01", "apply-patch"} {
		if b, err := os.ReadFile("testdata/responses/" + name + ".request.json"); err == nil {
			f.Add(b, []byte(nil))
		}
	}
	f.Add([]byte(`{"input":"hi","instructions":"x","text":{"format":{"type":"json_schema","schema":{}}}}`), []byte(`[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]`))
	f.Add([]byte(`{"input":[{"type":"custom_tool_call_output","call_id":"c","output":[{"type":"input_text","text":"t"}]}],"tools":[{"type":"custom","name":"p"}],"tool_choice":{"type":"custom","name":"p"}}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, body, prev []byte) {
		out, err := ResponsesToChat(body, "m", prev)
		if err != nil {
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v, want a *providers.RequestError", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("not JSON: %s", out)
		}
		if _, err := providers.ParseRequest(out); err != nil {
			t.Fatalf("ParseRequest: %v\n%s", err, out)
		}
	})
}

// FuzzChatToResponsesStream: any sequence of chunks (one per line) gives a
// well-formed stream that ends with response.completed, or with
// response.failed after a chunk the machine refused; and the fast path
// gives the very events encoding/json gives.
func FuzzChatToResponsesStream(f *testing.F) {
	for _, name := range []string{"tools.chunks.jsonl", "text.chunks.jsonl"} {
		if b, err := os.ReadFile("testdata/responses/" + name); err == nil {
			f.Add(b, "apply_patch")
		}
	}
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{\"in"}},{"index":0,"id":"x","function":{"name":"p"}}]}}]}`), "p")
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"p","arguments":""}}]}}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"input\":\"a\\n\u00e9"}}]}}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"}"}}]}}]}
{"choices":[{"index":0,"delta":{"reasoning":"r","content":"c"}}]}`), "p")
	f.Fuzz(func(t *testing.T, chunks []byte, custom string) {
		run := func(noFast bool) ([]byte, *ChatToResponsesStream) {
			s := NewChatToResponsesStream("m", map[string]bool{custom: true})
			s.created, s.noFastPath = 1, noFast
			var dst []byte
			for _, line := range bytes.Split(chunks, []byte("\n")) {
				var err error
				dst, err = s.Chunk(dst, &providers.ChatCompletionStreamResponse{Raw: line})
				if err != nil {
					return s.Fail(dst, "server_error", err.Error()), s
				}
			}
			return s.End(dst), s
		}
		dst, s := run(false)
		checkStream(t, dst)
		if !json.Valid(s.Output()) {
			t.Fatalf("Output not JSON: %s", s.Output())
		}
		// The fast path copies the upstream's quoted strings as they are
		// ("\u00e9" stays escaped), so the events are compared as decoded.
		slow, _ := run(true)
		a, b := parseSSE(t, stable(dst)), parseSSE(t, stable(slow))
		if len(a) != len(b) {
			t.Fatalf("the fast path gives %d events, encoding/json %d:\nfast: %s\nslow: %s", len(a), len(b), dst, slow)
		}
		for i := range a {
			if a[i].name != b[i].name || !reflect.DeepEqual(a[i].data, b[i].data) {
				t.Fatalf("event %d differs:\nfast: %s %s\nslow: %s %s", i, a[i].name, a[i].raw, b[i].name, b[i].raw)
			}
		}
	})
}

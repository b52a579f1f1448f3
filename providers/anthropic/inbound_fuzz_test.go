package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// FuzzToChatRequest: any body translates or fails with a
// *providers.RequestError, never a panic, and a translation is JSON that
// providers.ParseRequest accepts and that decodes into the typed request.
func FuzzToChatRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/inbound/request/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		f.Add([]byte(in))
	}
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}]}`))
	f.Add([]byte(`{"max_tokens":1e300,"top_k":-1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"i","name":"n","input":[1]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ToChatRequest(body, "m")
		if err != nil {
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a *providers.RequestError", err, err)
			}
			return
		}
		req, err := providers.ParseRequest(out)
		if err != nil {
			t.Fatalf("ParseRequest: %v\n%s", err, out)
		}
		if err := req.Decode(); err != nil {
			t.Fatalf("Decode: %v\n%s", err, out)
		}
		if len(req.Messages) == 0 || req.Model != "m" {
			t.Fatalf("%d messages, model %q", len(req.Messages), req.Model)
		}
		for i, m := range req.Messages {
			if m.Role == "system" && i > 0 {
				t.Fatalf("a system message at %d", i)
			}
		}
		if len(req.Stop) > maxStop {
			t.Fatalf("%d stop sequences", len(req.Stop))
		}
	})
}

// FuzzChatToMessagesStream feeds sequences of arbitrary chunk JSON (one per
// line) to the state machine, as Raw chunks with and without the fast path
// and, where they decode, as typed chunks: it never panics, the output is
// always a well-formed Messages event stream, and the fast path gives the
// events encoding/json gives.
func FuzzChatToMessagesStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/inbound/stream/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		var lines []string
		for _, l := range strings.Split(in, "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok && d != "[DONE]" {
				lines = append(lines, d)
			}
		}
		f.Add([]byte(strings.Join(lines, "\n")))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Split(data, []byte("\n"))
		run := func(mode chunkMode) []byte {
			s := NewChatToMessagesStream("m", 3)
			s.id = "msg_fuzz"
			s.noFastPath = mode == modeSlow
			out := s.Start(nil)
			for _, l := range lines {
				c := &providers.ChatCompletionStreamResponse{Raw: l}
				if mode == modeTyped {
					c = &providers.ChatCompletionStreamResponse{}
					if json.Unmarshal(l, c) != nil {
						continue
					}
				}
				var err error
				if out, err = s.Chunk(out, c); err != nil {
					return s.Fail(out, "api_error", err.Error())
				}
			}
			return s.End(out)
		}
		fast := run(modeRaw)
		if _, err := checkMessagesStream(fast); err != nil {
			t.Fatalf("malformed stream: %v\n%s", err, fast)
		}
		if d := sameEvents(fast, run(modeSlow)); d != "" {
			t.Fatalf("fast path and encoding/json differ (-fast +slow):\n%s", d)
		}
		typed := run(modeTyped)
		if _, err := checkMessagesStream(typed); err != nil {
			t.Fatalf("malformed stream from typed chunks: %v\n%s", err, typed)
		}
	})
}

package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// FuzzToChatRequest: any body translates or fails with a
// *providers.RequestError, never a panic, and a translation is JSON that
// providers.ParseRequest accepts, that decodes into the typed request, and
// whose tool messages answer the calls just before them, as OpenAI wants.
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
		checkToolSequence(t, req)
	})
}

// opChunk builds a chunk from a line "!<op><arg><flags><text>", so that the
// fuzzer explores orders of text, reasoning, tool call fragments, finish
// reasons and usage rather than JSON syntax, which the other lines cover.
func opChunk(line []byte) []byte {
	for len(line) < 4 {
		line = append(line, 0)
	}
	op, arg, flags, text := line[1], int(line[2]%4), line[3], string(line[4:])
	delta := map[string]any{}
	choice := map[string]any{"index": 0, "delta": delta}
	chunk := map[string]any{"choices": []any{choice}}
	switch op % 7 {
	case 0:
		delta["content"] = text
	case 1:
		delta["reasoning_content"] = text
	case 2:
		tc := map[string]any{"function": map[string]any{"arguments": text}}
		if flags&1 != 0 {
			tc["index"] = arg
		}
		if flags&2 != 0 {
			tc["id"] = fmt.Sprint("call_", flags>>4)
		}
		if flags&4 != 0 {
			tc["function"].(map[string]any)["name"] = "f"
		}
		delta["tool_calls"] = []any{tc}
	case 3:
		choice["finish_reason"] = []string{"stop", "length", "tool_calls", "content_filter", ""}[arg]
	case 4:
		chunk["choices"] = []any{}
		chunk["usage"] = map[string]any{"prompt_tokens": int(flags), "completion_tokens": arg,
			"prompt_tokens_details": map[string]any{"cached_tokens": int(flags) / 2}}
	case 5:
		delta["content"], delta["tool_calls"] = text, []any{}
	case 6:
		delta["reasoning"] = text
	}
	b, _ := json.Marshal(chunk)
	return b
}

// FuzzChatToMessagesStream feeds sequences of chunks, one per line, to the
// state machine: arbitrary JSON, or one built by opChunk for a line that
// starts with "!". It runs them as Raw chunks with and without the fast
// path and, where they decode, as typed chunks: it never panics, the output
// is always a well-formed Messages event stream, and the fast path gives
// the events encoding/json gives.
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
	// Text, a call with its fragments, a second call, text again, finish.
	f.Add([]byte("!\x00\x00\x00Hi\n!\x02\x00\x07{\"a\"\n!\x02\x00\x01:1}\n!\x02\x01\x17{}\n!\x00\x00\x00more\n!\x03\x02\x00\n!\x04\x01\x10"))
	// A nameless call, reasoning, the name late, empty tool_calls.
	f.Add([]byte("!\x02\x01\x03{\n!\x01\x00\x00hm\n!\x02\x01\x05}\n!\x05\x00\x00x\n!\x06\x00\x00r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Split(data, []byte("\n"))
		for i, l := range lines {
			if len(l) > 0 && l[0] == '!' {
				lines[i] = opChunk(l)
			}
		}
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

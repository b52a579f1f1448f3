package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// FuzzStream feeds arbitrary bytes to the SSE reader and the stream state
// machine: they may fail, but never panic, and every chunk encodes.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		f.Add([]byte(in))
	}
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":4095,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"x\"}}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, includeUsage := range []bool{false, true} {
			out := translate(bytes.NewReader(data), includeUsage)
			if !strings.Contains(out, "end: ") {
				t.Fatalf("stream did not end: %s", out)
			}
		}
	})
}

// FuzzConvertRequest: any request the gateway accepts translates or fails
// with an error, never a panic, and the result encodes.
func FuzzConvertRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/request/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		f.Add([]byte(in))
	}
	cache := testCache()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := providers.ParseRequest(body)
		if err != nil {
			return
		}
		if req.Decode() != nil {
			return
		}
		mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: 8192, thinkingFor: cache.get})
		if err != nil {
			return
		}
		if mr.MaxTokens <= 0 || len(mr.Messages) == 0 {
			t.Fatalf("max_tokens %d, %d messages", mr.MaxTokens, len(mr.Messages))
		}
		if mr.Thinking != nil && mr.Thinking.BudgetTokens >= mr.MaxTokens {
			t.Fatalf("budget %d ≥ max_tokens %d", mr.Thinking.BudgetTokens, mr.MaxTokens)
		}
		b, err := encodeRequest(mr)
		if err != nil || !json.Valid(b) {
			t.Fatalf("encode: %v\n%s", err, b)
		}
	})
}

package google

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// seeds returns the input halves of the golden files matching pattern.
func seeds(f *testing.F, pattern string) []string {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	var out []string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		in, _, _ := strings.Cut(string(b), separator)
		out = append(out, in)
	}
	return out
}

// FuzzStream feeds the state machine arbitrary event data: it must never
// panic, and every chunk it makes must encode.
func FuzzStream(f *testing.F) {
	for _, s := range seeds(f, "stream/*.txt") {
		for _, line := range strings.Split(s, "\n") {
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "data: "); ok {
				f.Add([]byte(data), []byte(`{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP","index":1}]}`))
			}
		}
	}
	for _, ev := range []string{
		`{"candidates":[{"content":{"parts":[{"text":"a\n\"b\u00e9\ud83e\udd8a\/"},{"text":""}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"toolUsePromptTokenCount":2,"cachedContentTokenCount":1,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}]}}`,
		`{"candidates":[{"content":{"parts":[{"text":"\ud83e"}]},"index":0}]}`,
		`{"candidates":[{"content":{"parts":[{"text":"x"}],"parts":[{"text":"y"}]}}],"usageMetadata":{"totalTokenCount":1},"usageMetadata":{"promptTokenCount":2}}`,
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\xff\"}]}}]}",
	} {
		f.Add([]byte(ev), []byte(`{"candidates":[{"finishReason":"STOP"}]}`))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		// The fast path for text events must agree with the general decoder.
		fast := newStreamState("chatcmpl-f", "gemini-3-flash", 1, true, newSigCache(4))
		slow := newStreamState("chatcmpl-f", "gemini-3-flash", 1, true, newSigCache(4))
		slow.noFast = true
		for _, ev := range [][]byte{a, b} {
			got, gerr := fast.event(ev, nil)
			want, werr := slow.event(ev, nil)
			if (gerr == nil) != (werr == nil) {
				t.Fatalf("event %q: fast error %v, general error %v", ev, gerr, werr)
			}
			if g, w := encodeAll(t, got), encodeAll(t, want); g != w {
				t.Fatalf("event %q:\nfast:    %s\ngeneral: %s", ev, g, w)
			}
			if gerr != nil {
				return
			}
		}
		got, _ := fast.end(nil)
		want, _ := slow.end(nil)
		if g, w := encodeAll(t, got), encodeAll(t, want); g != w {
			t.Fatalf("end:\nfast:    %s\ngeneral: %s", g, w)
		}
	})
}

func encodeAll(t *testing.T, chunks []*providers.ChatCompletionStreamResponse) string {
	var b []byte
	for _, c := range chunks {
		var err error
		if b, err = c.AppendJSON(b); err != nil {
			t.Fatalf("chunk does not encode: %v", err)
		}
		b = append(b, '\n')
	}
	return string(b)
}

// FuzzConvertRequest translates arbitrary request bodies: never a panic,
// and the Gemini request always encodes.
func FuzzConvertRequest(f *testing.F) {
	for _, s := range seeds(f, "request/*.txt") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := providers.ParseRequest(body)
		if err != nil {
			return
		}
		if req.Decode() != nil {
			return
		}
		g, err := toGenerateRequest(req, testSigs())
		if err != nil {
			return
		}
		if _, err := json.Marshal(g); err != nil {
			t.Fatalf("request does not encode: %v", err)
		}
	})
}

// FuzzResponse translates arbitrary generateContent answers.
func FuzzResponse(f *testing.F) {
	for _, s := range seeds(f, "response/*.txt") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var g generateResponse
		if json.Unmarshal(body, &g) != nil {
			return
		}
		r := fromGenerateResponse(&g, "id", "m", 1, newSigCache(4))
		if _, err := r.Body(); err != nil {
			t.Fatalf("response does not encode: %v", err)
		}
	})
}

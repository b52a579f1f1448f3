package google

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

var update = flag.Bool("update", false, "rewrite the expected half of the golden files in testdata")

// separator splits a golden file into its input and its expected output.
const separator = "\n----\n"

// golden runs f on the input half of every file matching pattern and
// compares the result with the expected half (or rewrites it with -update).
func golden(t *testing.T, pattern string, f func(t *testing.T, in []byte) string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files match %s", pattern)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(b), separator)
			if !ok {
				t.Fatalf("%s has no %q line", file, strings.TrimSpace(separator))
			}
			got := f(t, []byte(in))
			if *update {
				if err := os.WriteFile(file, []byte(in+separator+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: output differs from the golden file (-want +got), run with -update if intended:\n%s", file, diff)
			}
		})
	}
}

func indent(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "marshal: " + err.Error() + "\n"
	}
	return string(b) + "\n"
}

// testSigs is the signature cache the request goldens run with: the ids a
// previous Gemini answer would have produced.
func testSigs() *sigCache {
	c := newSigCache(16)
	c.put("call_sig_weather", "c2lnbmF0dXJlLXdlYXRoZXI=")
	c.put("call_sig_time", "c2lnbmF0dXJlLXRpbWU=")
	return c
}

func TestRequestGolden(t *testing.T) {
	golden(t, "request/*.txt", func(t *testing.T, in []byte) string {
		req, err := providers.ParseRequest(in)
		if err != nil {
			t.Fatalf("ParseRequest: %v", err)
		}
		if err := req.Decode(); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		g, err := toGenerateRequest(req, testSigs())
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		return indent(g)
	})
}

func TestResponseGolden(t *testing.T) {
	golden(t, "response/*.txt", func(t *testing.T, in []byte) string {
		var g generateResponse
		if err := json.Unmarshal(in, &g); err != nil {
			t.Fatalf("upstream JSON: %v", err)
		}
		sigs := newSigCache(16)
		out := fromGenerateResponse(&g, "chatcmpl-test", "gemini-3-flash", 1736000000, sigs)
		s := indent(out)
		// The signatures the next request will restore, by tool call id.
		for _, tc := range allCalls(out) {
			if sig := sigs.get(tc); sig != "" {
				s += "signature " + tc + " " + sig + "\n"
			}
		}
		return s
	})
}

func allCalls(r *providers.ChatCompletionResponse) []string {
	var ids []string
	for _, c := range r.Choices {
		for _, tc := range c.Message.ToolCalls {
			ids = append(ids, tc.ID)
		}
	}
	return ids
}

// runStream feeds an SSE body through the sse reader and the state machine,
// as the client does, and renders each chunk as a line of JSON and a
// failure as a final "error:" line.
func runStream(r io.Reader, includeUsage bool, sigs *sigCache) string {
	st := newStreamState("chatcmpl-test", "gemini-3-flash", 1736000000, includeUsage, sigs)
	rd := sse.NewReader(r)
	var b strings.Builder
	var chunks []*providers.ChatCompletionStreamResponse
	write := func() {
		for _, c := range chunks {
			j, err := c.AppendJSON(nil)
			if err != nil {
				fmt.Fprintf(&b, "marshal: %v\n", err)
				continue
			}
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	for {
		ev, err := rd.Next()
		if err != nil {
			if err == io.EOF {
				chunks, err = st.end(chunks[:0])
				write()
				if err != nil {
					fmt.Fprintf(&b, "error: %v\n", err)
				}
				return b.String()
			}
			fmt.Fprintf(&b, "error: %v\n", err)
			return b.String()
		}
		if len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		chunks, err = st.event(ev.Data, chunks[:0])
		write()
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
			return b.String()
		}
	}
}

func TestStreamGolden(t *testing.T) {
	golden(t, "stream/*.txt", func(t *testing.T, in []byte) string {
		usage := bytes.Contains(in, []byte(": include_usage\n"))
		want := runStream(bytes.NewReader(in), usage, nil)
		// However the upstream's bytes are split, the chunks are the same.
		for i := 0; i <= len(in); i++ {
			r := io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:]))
			if got := runStream(r, usage, nil); got != want {
				t.Fatalf("split at byte %d:\n%s\nwant:\n%s", i, got, want)
			}
		}
		if got := runStream(iotest.OneByteReader(bytes.NewReader(in)), usage, nil); got != want {
			t.Fatalf("one byte at a time:\n%s\nwant:\n%s", got, want)
		}
		return want
	})
}

func TestErrorGolden(t *testing.T) {
	golden(t, "error/*.txt", func(t *testing.T, in []byte) string {
		var status int
		head, body, _ := strings.Cut(string(in), "\n")
		if _, err := fmt.Sscanf(head, "HTTP %d", &status); err != nil {
			t.Fatalf("first line %q: want HTTP <status>", head)
		}
		c := &Client{up: providers.NewUpstream(providers.UpstreamOptions{Name: "google", AuthHeader: "X-Goog-Api-Key", APIKey: "AIza-secret"})}
		e := c.statusError(status, []byte(body))
		return indent(openAIError(e))
	})
}

// openAIError is what the gateway sends for e (proxy/errors.go upstreamError
// with a status): the status and OpenAI's error body.
func openAIError(e *providers.Error) any {
	var code *string
	if e.Code != "" {
		code = &e.Code
	}
	return struct {
		Status  int                 `json:"status"`
		Timeout bool                `json:"timeout,omitempty"`
		Body    providers.ErrorBody `json:"body"`
	}{e.Status, e.Timeout, providers.ErrorBody{Error: providers.ErrorDetail{
		Message: e.Provider + ": " + e.Message, Type: e.Type, Code: code,
	}}}
}

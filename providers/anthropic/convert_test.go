package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
)

var update = flag.Bool("update", false, "rewrite the expected halves of testdata/ golden files")

const sep = "\n----\n"

// goldenCases returns the named cases of testdata/dir: each file holds an
// input, a "----" line, and the expected output.
func goldenCases(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/%s: %v", dir, err)
	}
	cases := map[string]string{}
	for _, f := range files {
		cases[f] = strings.TrimSuffix(filepath.Base(f), ".txt")
	}
	return cases
}

// checkGolden compares got with the file's expected half, or rewrites it.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	input, want := readGolden(t, path)
	if *update {
		if err := os.WriteFile(path, []byte(input+sep+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: output differs from golden (-want +got; go test -update rewrites):\n%s", path, diff)
	}
}

func readGolden(t testing.TB, path string) (input, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	input, want, ok := strings.Cut(string(b), sep)
	if !ok {
		t.Fatalf("%s: no %q separator", path, strings.TrimSpace(sep))
	}
	return input, want
}

func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return "invalid JSON: " + err.Error() + "\n" + string(b)
	}
	return out.String() + "\n"
}

// Blocks of an earlier Anthropic turn, as its response carried them.
var (
	cachedThinking = json.RawMessage(`{"type":"thinking","thinking":"Paris: call get_weather.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgx+/="}`)
	cachedRedacted = json.RawMessage(`{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw=="}`)
)

func testCache() *signatureCache {
	c := newSignatureCache(16)
	c.put([]string{"toolu_think"}, []json.RawMessage{cachedThinking, cachedRedacted})
	return c
}

func parse(t testing.TB, body string) *providers.ChatCompletionRequest {
	t.Helper()
	req, err := providers.ParseRequest([]byte(body))
	if err != nil {
		t.Fatalf("ParseRequest: %v", err)
	}
	if err := req.Decode(); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return req
}

func TestRequestGolden(t *testing.T) {
	for path, name := range goldenCases(t, "request") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			req := parse(t, input)
			mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: 8192, thinkingFor: testCache().get})
			if err != nil {
				checkGolden(t, path, "error: "+err.Error()+"\n")
				return
			}
			body, err := encodeRequest(mr)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, path, indent(body))
			if strings.Contains(name, "round_trip") && strings.Contains(name, "thinking") {
				// Byte-exact: the blocks are in the body as the upstream sent them.
				want := append(append(append([]byte(`[`), cachedThinking...), ','), cachedRedacted...)
				if !bytes.Contains(body, want) {
					t.Errorf("restored thinking blocks are not byte-exact in\n%s", body)
				}
			}
		})
	}
}

func TestResponseGolden(t *testing.T) {
	for path, name := range goldenCases(t, "response") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			resp, thinking, ids, err := fromMessagesResponse([]byte(input), 1700000000)
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got := indent(body)
			if len(ids) > 0 && len(thinking) > 0 {
				got += fmt.Sprintf("signature cache: %q ->\n", ids)
				for _, b := range thinking {
					got += string(b) + "\n"
				}
			}
			checkGolden(t, path, got)
		})
	}
}

func TestErrorGolden(t *testing.T) {
	// A secret header value must be redacted from error messages like the key.
	c := newTestClient(t, Options{Name: "anthropic", BaseURL: "http://127.0.0.1:1", APIKey: "sk-ant-test",
		Headers: map[string]string{"X-Secret": "sk-ant-secret-key"}})
	for path, name := range goldenCases(t, "errors") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			first, body, _ := strings.Cut(input, "\n")
			var status int
			if _, err := fmt.Sscanf(first, "status: %d", &status); err != nil {
				t.Fatalf("first line %q: %v", first, err)
			}
			checkGolden(t, path, describeError(c.upstreamError(providers.StageStatus, status, []byte(body), nil)))
		})
	}
}

// describeError renders an error as the client would get it: status and
// OpenAI's error body.
func describeError(e *providers.Error) string {
	var code *string
	if e.Code != "" {
		code = &e.Code
	}
	body, _ := json.Marshal(providers.ErrorBody{Error: providers.ErrorDetail{Message: e.Message, Type: e.Type, Code: code}})
	return fmt.Sprintf("stage: %s\nstatus: %d\n%s", e.Stage, e.Status, indent(body))
}

func TestRequestErrors(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"n above one", `{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}`, "n"},
		{"unknown role", `{"model":"m","messages":[{"role":"function","content":"x"}]}`, "messages[0].role"},
		{"only system", `{"model":"m","messages":[{"role":"system","content":"x"}]}`, "messages"},
		{"audio part", `{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "messages[0].content[0].type"},
		{"bad data URL", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]}`, "messages[0].content[0].image_url"},
		{"ftp image", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url"},
		{"tool call without id", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[0].tool_calls[0]"},
		{"bad tool_choice", `{"model":"m","tool_choice":"sometimes","messages":[{"role":"user","content":"x"}]}`, "tool_choice"},
		{"bad effort", `{"model":"m","reasoning_effort":"extreme","messages":[{"role":"user","content":"x"}]}`, "reasoning_effort"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := toMessagesRequest(parse(t, tt.body), convertOptions{defaultMaxTokens: 8192})
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *providers.RequestError", err)
			}
			if re.Param != tt.param {
				t.Errorf("got param %q, want %q", re.Param, tt.param)
			}
		})
	}
}

func TestFinishReason(t *testing.T) {
	tests := []struct {
		stop  string
		tools bool
		want  string
	}{
		{"end_turn", false, "stop"},
		{"stop_sequence", false, "stop"},
		{"pause_turn", false, "stop"},
		{"max_tokens", false, "length"},
		{"max_tokens", true, "length"},
		{"model_context_window_exceeded", false, "length"},
		{"tool_use", true, "tool_calls"},
		{"tool_use", false, "stop"}, // no call was sent: do not promise one
		{"refusal", false, "content_filter"},
		{"compaction", false, "stop"},
		{"", false, "stop"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/tools=%v", tt.stop, tt.tools), func(t *testing.T) {
			if got := finishReason(tt.stop, tt.tools); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	got := openAIUsage(usage{InputTokens: 21, OutputTokens: 393, CacheCreationInputTokens: 188086, CacheReadInputTokens: 1000})
	want := &providers.Usage{PromptTokens: 21 + 188086 + 1000, CompletionTokens: 393, TotalTokens: 21 + 188086 + 1000 + 393,
		PromptTokensDetails: &providers.PromptTokensDetails{CachedTokens: 1000}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestSignatureCacheBounded(t *testing.T) {
	c := newSignatureCache(3)
	blocks := []json.RawMessage{cachedThinking}
	for i := range 5 {
		c.put([]string{fmt.Sprint("id", i)}, blocks)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if got := c.get(fmt.Sprint("id", i)) != nil; got != want {
			t.Errorf("id%d cached = %v, want %v", i, got, want)
		}
	}
	if len(c.byID) != 3 {
		t.Errorf("got %d entries, want 3", len(c.byID))
	}
}

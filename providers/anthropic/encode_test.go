package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// checkEncode fails unless encodeRequest writes exactly what marshal, the
// encoding/json way it replaced, writes.
func checkEncode(t *testing.T, mr *messagesRequest) {
	t.Helper()
	want, err := marshal(mr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeRequest(mr)
	if err != nil {
		t.Fatalf("encodeRequest: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encodeRequest differs from marshal:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeRequestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/request/*.txt")
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			input, _ := readGolden(t, p)
			mr, err := toMessagesRequest(parse(t, input), convertOptions{defaultMaxTokens: 8192, thinkingFor: testCache().get})
			if err != nil {
				t.Skip(err)
			}
			checkEncode(t, mr)
		})
	}
}

// TestEncodeEveryField sets every field of the request and its blocks, so
// that a field added to a wire struct cannot be left out by the hand-written
// encoder without this test failing.
func TestEncodeEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		keys []string
	}{
		{message{}, []string{"role", "content"}},
		{block{}, []string{"type", "text", "source", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking", "signature", "data"}},
		{imageSource{}, []string{"type", "media_type", "data", "url"}},
	} {
		var got []string
		typ := reflect.TypeOf(c.v)
		for i := range typ.NumField() {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, c.keys) {
			t.Errorf("%s has JSON fields %q; writeBlock and writeMessages know %q", typ, got, c.keys)
		}
	}
	s := func(v string) *string { return &v }
	one := 0.5
	full := block{Type: "x<&>", Text: s("t\u2028"), Source: &imageSource{Type: "base64", MediaType: "image/png", Data: "AAAA", URL: "https://e"},
		ID: "i", Name: "n", Input: json.RawMessage(`{ "a" : 1 }`), ToolUseID: "u", Content: encodeString("c"),
		IsError: true, Thinking: s("th"), Signature: s("sig"), Data: "d"}
	mr := &messagesRequest{
		Model: "m", MaxTokens: 10, System: json.RawMessage(`[{"type":"text","text":"sys"}]`),
		Messages: []message{
			{Role: "user", Content: []block{full, {Type: "text"}, {Type: "image", Source: &imageSource{Type: "url"}}}},
			{Role: "assistant", Content: []block{{raw: json.RawMessage(`{"type": "thinking", "thinking": "x"}`)}}},
			{Role: "user"},
		},
		Tools:      []tool{{Name: "f", InputSchema: json.RawMessage(`{"type":"object"}`)}},
		ToolChoice: &toolChoice{Type: "auto", DisableParallelToolUse: true}, Temperature: &one, TopP: &one,
		StopSequences: []string{"END"}, Thinking: &thinking{Type: "enabled", BudgetTokens: 1024},
		Metadata: &metadata{UserID: "u"}, Stream: true,
	}
	checkEncode(t, mr)
	checkEncode(t, &messagesRequest{Model: `"messages":null`})
}

func TestEncodeRequestInvalidRaw(t *testing.T) {
	mr := &messagesRequest{Model: "m", Messages: []message{{Role: "user", Content: []block{{Type: "tool_use", Input: json.RawMessage(`{"a":`)}}}}}
	if _, err := encodeRequest(mr); err == nil {
		t.Error("encodeRequest accepted an invalid input object")
	}
}

// FuzzEncodeRequest: for any request that translates, encodeRequest writes
// what marshal writes.
func FuzzEncodeRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/request/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), sep)
		f.Add([]byte(in))
	}
	f.Add(agentSession(64 << 10))
	cache := testCache()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := providers.ParseRequest(body)
		if err != nil || req.Decode() != nil {
			return
		}
		mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: 8192, thinkingFor: cache.get})
		if err != nil {
			return
		}
		checkEncode(t, mr)
	})
}

// TestClientForgetsDecoded: once the body is encoded the client drops the
// decoded request (issue 9), and the same request sent again, as after a
// failover, decodes again and sends the same body.
func TestClientForgetsDecoded(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`)
	})
	c := testClient(t, f.URL)
	req, err := providers.ParseRequest([]byte(`{"model":"m","max_tokens":7,"messages":[{"role":"user","content":"line\none"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for range 2 {
		if _, err := c.ChatCompletion(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if req.Messages != nil {
			t.Error("the client kept the decoded messages after sending")
		}
		b, _ := f.last()
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"max_tokens":7`) {
		t.Errorf("second send differs or lost a field:\n%s\n%s", bodies[0], bodies[1])
	}
}

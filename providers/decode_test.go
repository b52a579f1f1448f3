package providers

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// contentBefore decodes a content value the way Content did before issue 9,
// with encoding/json's own string and struct decoding.
func contentBefore(b []byte) (Content, error) {
	var c Content
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 {
			c.Text = string(s)
			break
		}
		return c, json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		c.IsParts = true
		return c, json.Unmarshal(b, &c.Parts)
	}
	return c, nil
}

// decodeBefore is Decode as it was: json.Unmarshal into the request, with
// contentBefore for every message's content.
func decodeBefore(body []byte) (*ChatCompletionRequest, error) {
	r := &ChatCompletionRequest{}
	if err := json.Unmarshal(body, r); err != nil {
		return nil, err
	}
	var raw struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	for i, m := range raw.Messages {
		c, err := contentBefore(m.Content)
		if err != nil {
			return nil, err
		}
		r.Messages[i].Content = c
	}
	return r, nil
}

var decodeSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"line\none \"q\" caf\u00e9 \ud83d\ude00 \ud83d"}]}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"a\tb"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA\/+","detail":"high"}},{"type":"image_url","image_url":null},{"TEXT":"upper"}]}]}`,
	`{"messages":[{"role":"assistant","content":null,"reasoning_content":"think\n","tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"function":{"arguments":null}}]},{"role":"tool","tool_call_id":"c1","name":"f","content":"42"}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"max_completion_tokens":6,"temperature":0.5,"top_p":1,"n":1,"stop":"x","tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}}],"tool_choice":"auto","response_format":{"type":"json_object"},"reasoning_effort":"low","user":"u","messages":[]}`,
	`{"messages":null,"stop":["a","b"],"tool_choice":null}`,
	`{"messages":[{"role":"user","content":[]},{"role":"user"},{"content":"\u0000\u001f\/"}]}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`,
	`{"max_tokens":"5","messages":[{"role":"user","content":[{"type":5,"text":"x"}]}]}`,
	`{"messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":{"a":1}}}]}]}`,
	`{"messages":[{"role":"assistant","reasoning_content":7}]}`,
	`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":1}}]}]}`,
	`{"messages":[{"role":"user","content":{"text":"object"}}]}`,
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"bad \xff utf-8\"}],\"reasoning_content\":\"\xc3\"}]}",
}

// FuzzDecode: Decode fills in exactly what encoding/json did before issue 9
// replaced it, and fails exactly when and how it failed.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("*/testdata/request/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		in, _, _ := strings.Cut(string(b), "\n----\n")
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			return
		}
		err = req.Decode()
		want, wantErr := decodeBefore(body)
		if (err == nil) != (wantErr == nil) || err != nil && !strings.HasSuffix(err.Error(), wantErr.Error()) {
			t.Fatalf("Decode error %v, want %v", err, wantErr)
		}
		if err != nil {
			return
		}
		want.Model = req.Model // Decode keeps the model the scan found
		if diff := cmp.Diff(want, req, cmpopts.IgnoreUnexported(ChatCompletionRequest{}), cmpopts.IgnoreFields(ChatCompletionRequest{}, "Raw")); diff != "" {
			t.Errorf("Decode differs from encoding/json (-want +got):\n%s", diff)
		}
	})
}

// TestWireTypesInStep: requestWire and the other wire types must have the
// fields, in order and with the tags, of the types they decode, or Decode
// would silently drop a field added to the public type.
func TestWireTypesInStep(t *testing.T) {
	for _, c := range []struct{ wire, public any }{
		{requestWire{}, ChatCompletionRequest{}},
		{messageWire{}, Message{}},
		{toolCallWire{}, ToolCall{}},
		{functionCallWire{}, FunctionCall{}},
		{partWire{}, ContentPart{}},
		{imageURLWire{}, ImageURL{}},
	} {
		wt, pt := reflect.TypeOf(c.wire), reflect.TypeOf(c.public)
		var want []string
		for i := range pt.NumField() {
			if f := pt.Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
				want = append(want, f.Name+" "+string(f.Tag))
			}
		}
		var got []string
		for i := range wt.NumField() {
			f := wt.Field(i)
			got = append(got, f.Name+" "+string(f.Tag))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s is not in step with %s (-want +got):\n%s", wt, pt, diff)
		}
	}
}

// TestDecodeAllocs: each escaped string costs one allocation, not two.
func TestDecodeAllocs(t *testing.T) {
	text := strings.Repeat(`line \"quoted\"\n`, 4096)
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"` + text + `"},{"role":"user","content":[{"type":"text","text":"` + text +
		`"}]},{"role":"assistant","reasoning_content":"` + text + `","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"` + text + `"}}]}]}`)
	req, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := req.Decode(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Four strings of at most len(text) bytes: one allocation each, rounded
	// up to whole pages, is about 4×; encoding/json's two made it over 8×.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(5*len(text)); got > limit {
		t.Errorf("Decode allocated %d bytes for four strings of at most %d; want ≤ %d", got, len(text), limit)
	}
}

func TestForget(t *testing.T) {
	body := []byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"messages":[{"role":"user","content":"hi\n"}]}`)
	req, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	req.Model = "routed" // as the proxy sets it
	if err := req.Decode(); err != nil {
		t.Fatal(err)
	}
	decoded := *req
	req.Forget()
	if req.Messages != nil || req.MaxTokens != nil {
		t.Errorf("after Forget: messages %v, max_tokens %v; want none", req.Messages, req.MaxTokens)
	}
	if req.Model != "routed" || !req.Stream || !req.IncludeUsage() || !bytes.Equal(req.Raw, body) || req.Facts().Messages != 1 {
		t.Errorf("Forget dropped what ParseRequest found: %+v", req)
	}
	if err := req.Decode(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decoded, *req, cmpopts.IgnoreUnexported(ChatCompletionRequest{})); diff != "" {
		t.Errorf("Decode after Forget differs (-first +again):\n%s", diff)
	}

	// A request built in code keeps its fields: nothing could refill them.
	built := &ChatCompletionRequest{Model: "m", Messages: []Message{{Role: "user", Content: Content{Text: "hi"}}}, Raw: body}
	built.Forget()
	if len(built.Messages) != 1 {
		t.Error("Forget dropped the messages of a request built in code")
	}
}

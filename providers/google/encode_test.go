package google

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// checkEncode fails unless encodeRequest writes exactly what encoding/json
// writes for g (without HTML escaping).
func checkEncode(t *testing.T, g *generateRequest) {
	t.Helper()
	want, err := marshalNoHTML(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeRequest(g)
	if err != nil {
		t.Fatalf("encodeRequest: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encodeRequest differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeRequestGolden(t *testing.T) {
	golden(t, "request/*.txt", func(t *testing.T, in []byte) string {
		req, err := providers.ParseRequest(in)
		if err != nil || req.Decode() != nil {
			t.Fatal("request does not parse")
		}
		g, err := toGenerateRequest(req, testSigs())
		if err != nil {
			return "error: " + err.Error() + "\n"
		}
		checkEncode(t, g)
		return indent(g) // the golden file checks the translation itself
	})
}

// TestEncodeEveryField sets every field the hand-written encoder writes, so
// that a field added to a wire struct cannot be left out without this test
// failing.
func TestEncodeEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		keys []string
	}{
		{generateRequest{}, []string{"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}},
		{content{}, []string{"role", "parts"}},
		{part{}, []string{"text", "thought", "thoughtSignature", "inlineData", "fileData", "functionCall", "functionResponse"}},
		{blob{}, []string{"mimeType", "data"}},
		{fileData{}, []string{"mimeType", "fileUri"}},
		{functionCall{}, []string{"id", "name", "args"}},
		{functionResponse{}, []string{"name", "response"}},
	} {
		var got []string
		typ := reflect.TypeOf(c.v)
		for i := range typ.NumField() {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, c.keys) {
			t.Errorf("%s has JSON fields %q; encode.go knows %q", typ, got, c.keys)
		}
	}
	one := 1
	g := &generateRequest{
		Contents: []content{
			{Role: "user", Parts: []part{
				{Text: "t<&>\u2028", Thought: true, ThoughtSignature: "sig",
					InlineData: &blob{MimeType: "image/png", Data: "AAAA"}, FileData: &fileData{MimeType: "a/b", FileURI: "gs://x"},
					FunctionCall:     &functionCall{ID: "id", Name: "f", Args: argsObject(`{ "a" : 1 }`)},
					FunctionResponse: &functionResponse{Name: "f", Response: responseObject(` {"r": 2} `)}},
				{}, {FileData: &fileData{}}, {FunctionCall: &functionCall{}}, {FunctionResponse: &functionResponse{}},
			}},
			{Role: "model"}, {},
		},
		SystemInstruction: &content{Parts: []part{{Text: "sys"}}},
		Tools:             []tool{{FunctionDeclarations: []functionDeclaration{{Name: "f"}}}},
		ToolConfig:        &toolConfig{functionCallingConfig{Mode: "ANY"}},
		GenerationConfig:  &generationConfig{CandidateCount: &one},
	}
	checkEncode(t, g)
	checkEncode(t, &generateRequest{})
	checkEncode(t, &generateRequest{SystemInstruction: &content{Role: "user"}})
}

// FuzzEncodeRequest: for any request that translates, encodeRequest writes
// what encoding/json writes.
func FuzzEncodeRequest(f *testing.F) {
	for _, s := range seeds(f, "request/*.txt") {
		f.Add([]byte(s))
	}
	f.Add(agentSession(64 << 10))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := providers.ParseRequest(body)
		if err != nil || req.Decode() != nil {
			return
		}
		g, err := toGenerateRequest(req, testSigs())
		if err != nil {
			return
		}
		checkEncode(t, g)
	})
}

// TestClientForgetsDecoded: once the body is encoded the client drops the
// decoded request (issue 9), and the same request sent again, as after a
// failover, decodes again and sends the same body.
func TestClientForgetsDecoded(t *testing.T) {
	up := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}]}`)
	})
	c := newTestClient(t, up.URL+"/v1beta")
	req := parse(t, `{"model":"gemini-3-flash","max_tokens":7,"messages":[{"role":"user","content":"line\none"}]}`)
	var bodies []string
	for range 2 {
		if _, err := c.ChatCompletion(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if req.Messages != nil {
			t.Error("the client kept the decoded messages after sending")
		}
		_, b := up.last(t)
		bodies = append(bodies, string(b))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"maxOutputTokens":7`) {
		t.Errorf("second send differs or lost a field:\n%s\n%s", bodies[0], bodies[1])
	}
}

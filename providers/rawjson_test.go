package providers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// withModelCases seed FuzzWithModel too.
var withModelCases = []struct {
	name  string
	in    string
	model string
	want  string
}{
	{
		name:  "only model changes",
		in:    `{"model":"auto","messages":[{"role":"user","content":"hi"}],"stream":true}`,
		model: "deepseek-chat",
		want:  `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"stream":true}`,
	},
	{
		name: "unknown fields, key order and whitespace kept",
		in: "{\n  \"zeta\" : 1.50,\n\t\"model\" :  \"auto\" ,\r\n  \"x_vendor\": {\"keep\": [1, 2 ,3]},\n" +
			"  \"alpha\": null, \"top_k\": 40, \"logit_bias\": {\"50256\": -100}\n}\n",
		model: "qwen",
		want: "{\n  \"zeta\" : 1.50,\n\t\"model\" :  \"qwen\" ,\r\n  \"x_vendor\": {\"keep\": [1, 2 ,3]},\n" +
			"  \"alpha\": null, \"top_k\": 40, \"logit_bias\": {\"50256\": -100}\n}\n",
	},
	{
		name:  "unicode escapes elsewhere kept",
		in:    `{"messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/"}],"model":"auto"}`,
		model: "m",
		want:  `{"messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/"}],"model":"m"}`,
	},
	{
		name: "nested model keys untouched",
		in: `{"messages":[{"role":"user","content":"{\"model\":\"x\"}","model":"inner"}],` +
			`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}],` +
			`"metadata":{"model":"meta"},"model":"auto"}`,
		model: "gpt-4o",
		want: `{"messages":[{"role":"user","content":"{\"model\":\"x\"}","model":"inner"}],` +
			`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}],` +
			`"metadata":{"model":"meta"},"model":"gpt-4o"}`,
	},
	{
		name:  "string values containing brackets and quotes before model",
		in:    `{"a":"}]{[\"","b":["]","}"],"model":"auto"}`,
		model: "m",
		want:  `{"a":"}]{[\"","b":["]","}"],"model":"m"}`,
	},
	{
		name:  "model absent is inserted first",
		in:    `{"messages":[],"stream":false}`,
		model: "m",
		want:  `{"model":"m","messages":[],"stream":false}`,
	},
	{
		name:  "model absent with leading whitespace",
		in:    " \n{ \"messages\": [] }",
		model: "m",
		want:  " \n{\"model\":\"m\", \"messages\": [] }",
	},
	{
		name:  "empty object",
		in:    `{}`,
		model: "m",
		want:  `{"model":"m"}`,
	},
	{
		name:  "empty object with whitespace",
		in:    "{ \n }",
		model: "m",
		want:  "{\"model\":\"m\" \n }",
	},
	{
		name:  "escaped key",
		in:    `{"mod\u0065l":"auto","n":1}`,
		model: "m",
		want:  `{"mod\u0065l":"m","n":1}`,
	},
	{
		name:  "key that only looks like model",
		in:    `{"models":"a","Model":"b","model ":"c","mode":"d"}`,
		model: "m",
		want:  `{"model":"m","models":"a","Model":"b","model ":"c","mode":"d"}`,
	},
	{
		name:  "duplicate model keys all replaced",
		in:    `{"model":"a","x":1,"model":"b"}`,
		model: "m",
		want:  `{"model":"m","x":1,"model":"m"}`,
	},
	{name: "model null", in: `{"model":null,"x":1}`, model: "m", want: `{"model":"m","x":1}`},
	{name: "model true", in: `{"model":true}`, model: "m", want: `{"model":"m"}`},
	{name: "model false", in: `{"model": false }`, model: "m", want: `{"model": "m" }`},
	{name: "model number", in: `{"model":-1.5e+10,"x":1}`, model: "m", want: `{"model":"m","x":1}`},
	{name: "model object", in: `{"model":{"name":"a","model":"b"},"x":1}`, model: "m", want: `{"model":"m","x":1}`},
	{name: "model array", in: `{"model":["a",{"b":[]}],"x":1}`, model: "m", want: `{"model":"m","x":1}`},
	{name: "model empty string", in: `{"model":""}`, model: "m", want: `{"model":"m"}`},
	{name: "model string with escapes", in: `{"model":"a\"b\\","x":1}`, model: "m", want: `{"model":"m","x":1}`},
	{
		name:  "new model needs escaping",
		in:    `{"model":"auto"}`,
		model: `we"ird\name` + "\n\t",
		want:  `{"model":"we\"ird\\name\n\t"}`,
	},
	{
		name:  "new model with unicode",
		in:    `{"model":"auto"}`,
		model: "通义千问-👋",
		want:  `{"model":"通义千问-👋"}`,
	},
	{
		name:  "new model empty",
		in:    `{"model":"auto"}`,
		model: "",
		want:  `{"model":""}`,
	},
}

func TestWithModel(t *testing.T) {
	for _, tc := range withModelCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			orig := bytes.Clone(in)
			got, err := WithModel(in, tc.model)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !bytes.Equal(in, orig) {
				t.Errorf("input modified: got %s, want %s", in, orig)
			}
			checkDecoded(t, in, got, tc.model)
		})
	}
}

func TestWithModelNotObject(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"array", `[{"model":"a"}]`},
		{"string", `"model"`},
		{"number", `1`},
		{"null", `null`},
		{"empty", ``},
		{"blank", " \n"},
		{"truncated", `{"model":"a"`},
		{"truncated value", `{"model":"a`},
		{"truncated nested", `{"x":{"model":"a"`},
		{"missing colon", `{"model" "a"}`},
		{"bare key", `{model:"a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WithModel([]byte(tc.in), "m")
			if err == nil {
				t.Errorf("got %q and no error, want an error", got)
			}
		})
	}
}

// TestWithModelParsed checks the path the gateway takes: ParseRequest, then
// WithModel on Raw, and the result parses to the same request with the new
// model.
func TestWithModelParsed(t *testing.T) {
	body := []byte(`{"model":"auto","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],` +
		`"stream":true,"stream_options":{"include_usage":true},"x_unknown":{"deep":[1,2]}}`)
	req, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := WithModel(req.Raw, "deepseek-chat")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRequest(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "deepseek-chat" {
		t.Errorf("got model %q, want %q", got.Model, "deepseek-chat")
	}
	if req.Facts() != got.Facts() {
		t.Errorf("facts changed: got %+v, want %+v", got.Facts(), req.Facts())
	}
	req.Model = "deepseek-chat"
	if err := req.Decode(); err != nil {
		t.Fatal(err)
	}
	if err := got.Decode(); err != nil {
		t.Fatal(err)
	}
	req.Raw, got.Raw = nil, nil
	if diff := cmp.Diff(req, got, cmpopts.IgnoreUnexported(ChatCompletionRequest{})); diff != "" {
		t.Errorf("request changed (-want +got):\n%s", diff)
	}
	if !bytes.Contains(out, []byte(`"x_unknown":{"deep":[1,2]}`)) {
		t.Errorf("got %s, want x_unknown kept", out)
	}
}

// checkDecoded asserts out is valid JSON that decodes to the same object as
// in, except that "model" is model.
func checkDecoded(t *testing.T, in, out []byte, model string) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	var want, got map[string]any
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatalf("decode input: %v", err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode output: %v", err)
	}
	want["model"] = model
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded output mismatch (-want +got):\n%s", diff)
	}
}

func FuzzWithModel(f *testing.F) {
	for _, tc := range withModelCases {
		f.Add([]byte(tc.in), tc.model)
	}
	f.Add([]byte(`{"a":{"b":[{"c":"\u006dodel"}]},"\u006d\u006f\u0064\u0065\u006c":1}`), "x")
	f.Add([]byte(`{"model":"a","model":{"model":"b"}}`), "<&>")
	f.Add([]byte(`null`), "m")
	f.Add([]byte(` [1] `), "m")
	f.Fuzz(func(t *testing.T, in []byte, model string) {
		if !utf8.ValidString(model) {
			// json.Marshal replaces invalid bytes, so the value cannot round-trip.
			model = strings.ToValidUTF8(model, "?")
		}
		out, err := WithModel(in, model) // must not panic, whatever in is
		var obj map[string]any
		if !json.Valid(in) || json.Unmarshal(in, &obj) != nil || obj == nil {
			return // not an object: any answer but a panic will do
		}
		if err != nil {
			t.Fatalf("WithModel(%q): got error %v, want none", in, err)
		}
		checkDecoded(t, in, out, model)
	})
}

// A body routed to the model it names goes out as it came: an agent's
// 150 KB request is not copied for a model that did not change.
func TestBodyUnchangedModelIsNotCopied(t *testing.T) {
	raw := []byte(`{"model":"qwen3:8b","messages":[{"role":"user","content":"hi"}],"x_unknown":1}`)
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

	req, err := ParseRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := req.Body()
	if err != nil {
		t.Fatal(err)
	}
	if !same(got, raw) || string(got) != string(raw) {
		t.Errorf("Body() for the same model = %s (copied: %v), want the client's bytes", got, !same(got, raw))
	}
	req.Model = "llama3.2"
	got, err = req.Body()
	if err != nil {
		t.Fatal(err)
	}
	if same(got, raw) || !bytes.Contains(got, []byte(`"model":"llama3.2"`)) || !bytes.Contains(raw, []byte(`"model":"qwen3:8b"`)) {
		t.Errorf("Body() for another model = %s, client's bytes now %s: want a new body with the new model", got, raw)
	}

	got, err = WithModel(raw, "qwen3:8b")
	if err != nil || !same(got, raw) {
		t.Errorf("WithModel(same model) = %s, %v (copied: %v), want the body itself", got, err, !same(got, raw))
	}
	// The same bytes with an escape in them are another string: "a\b"
	// holds a backspace, not the backslash of the model a\b.
	esc := []byte(`{"model":"a\b"}`)
	if got, err := WithModel(esc, `a\b`); err != nil || same(got, esc) || string(got) != `{"model":"a\\b"}` {
		t.Errorf("WithModel(escaped) = %s, %v, want the model re-encoded", got, err)
	}
	// Two model keys: each is replaced, so the body is rewritten.
	twice := []byte(`{"model":"a","model":"a"}`)
	if got, err := WithModel(twice, "a"); err != nil || same(got, twice) || string(got) != string(twice) {
		t.Errorf("WithModel(two keys) = %s, %v", got, err)
	}
}

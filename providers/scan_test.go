package providers

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var scanSeeds = []string{
	`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m\u0065","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"caf\u00e9 \"q\""},{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`,
	`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
	`{"temp":-1.5e+10,"x":[true,false,null,{"a":[]}],"messages":[{"content":"日本語"}]}`,
	`{"model":"a","model":"b","messages":[]}`,
	`{"messages":[{"role":"user","content":"Hi","role":"tool"}]}`,
	`{"Model":"A","STREAM":true,"messages":[{"Role":"user","content":[{"type":"text","text":"What is This?"},{"type":"image\u005furl","image_url":null}]}]}`,
	`{"messages":[{"role":"User","content":[{"type":"Image","image_url":null}]}]}`,
	`{"messages":[{"role":"user","content":[{"type":"image\u005furl","text":"Hi"}]}]}`,
	`{"model":"\u00c9","stream":null,"stream_options":"x","messages":null,"tools":[{"function":{"name":"F","parameters":null}}]}`,
	`{"messages":"hi"}`, `{"messages":[1]}`, `{"stream":"yes"}`, `{"model":5}`,
	`{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":1}}`, `[1]`, ``, `{`,
}

// FuzzParseRequest checks the scanner against encoding/json: it refuses
// every body with a key twice in one object, accepts exactly the other valid
// JSON objects whose routing fields have the right types, and gathers what
// referenceScan works out from encoding/json's decoding.
func FuzzParseRequest(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		var qe *RequestError
		if err != nil && !errors.As(err, &qe) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		want, isObject := referenceScan(body)
		if !isObject {
			if err == nil {
				t.Fatalf("accepted invalid JSON or a non-object: %q", body)
			}
			return
		}
		if key, dup := duplicateKey(body); dup {
			// The value of either copy may have the wrong type, and the scan
			// stops at whichever problem comes first.
			if err == nil || qe.Param == "" && !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("got error %v for a body with the key %q twice in one object, want a duplicate key error\n%s", err, key, body)
			}
			return
		}
		if err != nil {
			if !slices.Contains(want.badParams, qe.Param) {
				t.Fatalf("refused a valid object: %v (param %q; the wrong types are in %q)\n%s", err, qe.Param, want.badParams, body)
			}
			return
		}
		if len(want.badParams) > 0 {
			t.Fatalf("accepted a body whose %q have the wrong type\n%s", want.badParams, body)
		}
		if req.Model != want.model || req.Stream != want.stream || req.IncludeUsage() != want.includeUsage {
			t.Fatalf("got model %q stream %v usage %v, want %q %v %v\n%s", req.Model, req.Stream, req.IncludeUsage(), want.model, want.stream, want.includeUsage, body)
		}
		got := req.Facts()
		if !utf8.Valid(body) {
			// encoding/json reads each invalid byte as U+FFFD; the scan counts
			// runes in the raw bytes, by design.
			got.PromptChars, got.ToolChars, got.EstTokens = 0, 0, 0
			want.facts.PromptChars, want.facts.ToolChars, want.facts.EstTokens = 0, 0, 0
		}
		// The prefix is a hash of the scan's own (prefix_test.go).
		got.Prefix = 0
		if got != want.facts {
			t.Fatalf("facts %+v, want %+v\n%s", got, want.facts, body)
		}
		out, err := req.Body()
		if err != nil {
			t.Fatal(err)
		}
		// The model as decoded: a body that names the model already goes
		// out as written, "&" unescaped where json.Marshal would escape it.
		var model string
		if back, _ := refObject(out); !json.Valid(out) || json.Unmarshal(back["model"], &model) != nil || model != req.Model {
			t.Fatalf("Body() = %s, want the body with model %q", out, req.Model)
		}
		// Facts of a request built in code must agree too. Struct decoding
		// matches keys case-insensitively ("streAm" sets Stream), so this
		// needs keys that cannot fold onto a field name.
		var typed ChatCompletionRequest
		if utf8.Valid(body) && !hasFoldableKey(body) && json.Unmarshal(body, &typed) == nil {
			if got, want := withoutPrefix(req.Facts()), typed.Facts(); got != want {
				t.Fatalf("facts %+v, a decoded request's %+v\n%s", got, want, body)
			}
		}
	})
}

// scanResult is what ParseRequest must make of a body.
type scanResult struct {
	model        string
	stream       bool
	includeUsage bool
	facts        Facts
	badParams    []string // the RequestError params of the fields with a wrong type
}

// referenceScan works out what ParseRequest must gather from body, by the
// rules documented on Facts, from encoding/json's decoding into maps, which
// is case-sensitive like upstreams (decoding into structs is not). It
// reports false when body is not a valid JSON object. Of a repeated key it
// sees the last value.
func referenceScan(body []byte) (r scanResult, isObject bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || top == nil {
		return r, false
	}
	bad := func(param string) { r.badParams = append(r.badParams, param) }
	if v, ok := top["model"]; ok && !refIsNull(v) {
		if s, ok := refString(v); ok {
			r.model = s
		} else {
			bad("model")
		}
	}
	boolField := func(v json.RawMessage, param string) bool {
		if v != nil && !refIsNull(v) && string(v) != "true" && string(v) != "false" {
			bad(param)
		}
		return string(v) == "true"
	}
	r.stream = boolField(top["stream"], "stream")
	if so, ok := refObject(top["stream_options"]); ok {
		r.includeUsage = boolField(so["include_usage"], "stream_options.include_usage")
	}
	f := &r.facts
	count := func(n *int, v json.RawMessage) {
		if s, ok := refString(v); ok {
			*n += utf8.RuneCountInString(s)
		}
	}
	msgs, ok := refArray(top["messages"])
	if !ok {
		bad("messages")
	}
	f.Messages, f.Turns = len(msgs), len(msgs)
	answered := false
	defer func() { f.Opening = !answered }()
	for _, m := range msgs {
		msg, ok := refObject(m)
		if !ok {
			bad("messages")
			continue
		}
		c := msg["content"]
		if _, isString := refString(c); isString {
			count(&f.PromptChars, c)
		} else if parts, ok := refArray(c); ok {
			for _, p := range parts {
				part, _ := refObject(p)
				count(&f.PromptChars, part["text"])
				if typ, _ := refString(part["type"]); typ == "image_url" || part["image_url"] != nil && !refIsNull(part["image_url"]) {
					f.HasImages = true
				}
			}
		} else {
			bad("messages")
		}
		role, _ := refString(msg["role"])
		if role == "tool" {
			f.HasTools = true
		}
		f.ToolTurn = role == "tool"
		if role == "assistant" || role == "model" || role == "tool" {
			answered = true
		}
		calls, ok := refArray(msg["tool_calls"])
		if !ok {
			bad("messages")
		}
		for _, c := range calls {
			call, _ := refObject(c)
			fn, _ := refObject(call["function"])
			count(&f.PromptChars, fn["arguments"])
		}
		f.HasTools = f.HasTools || len(calls) > 0
	}
	tools, ok := refArray(top["tools"])
	if !ok {
		bad("tools")
	}
	f.HasTools = f.HasTools || len(tools) > 0
	for _, d := range tools {
		def, _ := refObject(d)
		fn, _ := refObject(def["function"])
		count(&f.ToolChars, fn["name"])
		count(&f.ToolChars, fn["description"])
		f.ToolChars += len(fn["parameters"]) // the schema's bytes as sent
	}
	if f.Messages > 0 {
		f.EstTokens = (f.PromptChars+f.ToolChars+3)/4 + 3*f.Messages + 3
	}
	return r, true
}

// refObject decodes v if it is an object.
func refObject(v json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if t := bytes.TrimLeft(v, " \t\r\n"); len(t) == 0 || t[0] != '{' || json.Unmarshal(v, &m) != nil {
		return nil, false
	}
	return m, true
}

// refArray decodes v if it is an array; a missing or null value is an
// empty one.
func refArray(v json.RawMessage) ([]json.RawMessage, bool) {
	if v == nil || refIsNull(v) {
		return nil, true
	}
	var a []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &a) != nil {
		return nil, false
	}
	return a, true
}

// refString decodes v if it is a string.
func refString(v json.RawMessage) (string, bool) {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

func refIsNull(v json.RawMessage) bool { return string(v) == "null" }

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// duplicateKey returns a key that some object in the valid JSON body has
// twice, comparing keys as json.Decoder decodes them.
func duplicateKey(body []byte) (key string, found bool) {
	walkKeys(body, func(obj []string, k string) {
		if !found && slices.Contains(obj, k) {
			key, found = k, true
		}
	})
	return key, found
}

// hasFoldableKey reports whether some key in the valid JSON body has a
// character that encoding/json's case folding could match to another: an
// upper-case letter, or any non-ASCII one (K, the Kelvin sign, folds to k).
func hasFoldableKey(body []byte) (found bool) {
	walkKeys(body, func(_ []string, k string) {
		found = found || strings.IndexFunc(k, func(r rune) bool { return 'A' <= r && r <= 'Z' || r >= utf8.RuneSelf }) >= 0
	})
	return found
}

// walkKeys calls key for each key of each object in the valid JSON body, in
// order, with the keys its object had before it.
func walkKeys(body []byte, key func(before []string, k string)) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // 1e400 is valid JSON but no float64
	type frame struct {
		keys    []string
		object  bool
		wantKey bool
	}
	stack := []*frame{{}}
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF, or the end of what the decoder can read
			return
		}
		top := stack[len(stack)-1]
		if s, ok := tok.(string); ok && top.object && top.wantKey {
			key(top.keys, s)
			top.keys = append(top.keys, s)
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			top = stack[len(stack)-1]
		}
		// A whole value has ended: the object it belongs to expects a key.
		top.wantKey = top.object
	}
}

func TestParseRequestFacts(t *testing.T) {
	for i, s := range scanSeeds[:4] {
		req, err := ParseRequest([]byte(s))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		var typed ChatCompletionRequest
		if err := json.Unmarshal([]byte(s), &typed); err != nil {
			t.Fatal(err)
		}
		if got, want := withoutPrefix(req.Facts()), typed.Facts(); got != want {
			t.Errorf("seed %d: facts %+v, want %+v", i, got, want)
		}
	}
}

// TestParseRequestDecodedValues checks that the scan reads values as a
// decoder does, as the request built from the same body would.
func TestParseRequestDecodedValues(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		model      string
		want       Facts
	}{
		{
			name: "escaped image_url type",
			body: `{"messages":[{"role":"user","content":[{"type":"image\u005furl"}]}]}`,
			want: Facts{Messages: 1, EstTokens: 3 + 3, HasImages: true},
		},
		{
			name: "image_url null is no image",
			body: `{"messages":[{"role":"user","content":[{"type":"text","text":"Hi","image_url":null}]}]}`,
			want: Facts{Messages: 1, PromptChars: 2, EstTokens: 1 + 3 + 3},
		},
		{
			name: "escaped tool role",
			body: `{"messages":[{"role":"to\u006fl","content":"42"}]}`,
			want: Facts{Messages: 1, PromptChars: 2, EstTokens: 1 + 3 + 3, HasTools: true},
		},
		{
			name:  "each invalid byte of the model is one U+FFFD",
			body:  "{\"model\":\"a\xff\xfeb\"}",
			model: "a\uFFFD\uFFFDb",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := withoutSession(req.Facts()); got != tc.want {
				t.Errorf("got facts %+v, want %+v", got, tc.want)
			}
			if req.Model != tc.model {
				t.Errorf("got model %q, want %q", req.Model, tc.model)
			}
			var typed ChatCompletionRequest
			if err := json.Unmarshal([]byte(tc.body), &typed); err != nil {
				t.Fatal(err)
			}
			if got, want := withoutSession(typed.Facts()), tc.want; got != want || typed.Model != tc.model {
				t.Errorf("the decoded request has model %q and facts %+v, want %q and %+v", typed.Model, got, tc.model, want)
			}
		})
	}
}

// BenchmarkParseRequestAgent is a coding agent's request: many tools, each
// with a parameter schema, and a tool loop; every object's keys are checked
// for repeats, and a schema with more properties than keySet holds inline
// takes the map.
func BenchmarkParseRequestAgent(b *testing.B) { benchmarkParseRequest(b, agentBody()) }

func BenchmarkParseRequest(b *testing.B) { benchmarkParseRequest(b, chatBody()) }

func benchmarkParseRequest(b *testing.B, body []byte) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func chatBody() []byte {
	return []byte(`{"model":"auto","messages":[{"role":"system","content":"You are a helpful coding assistant."},` +
		`{"role":"user","content":"` + strings.Repeat("Explain this Go code. ", 80) + `"}],"temperature":0.2,"max_tokens":512}`)
}

func agentBody() []byte {
	var sb strings.Builder
	sb.WriteString(`{"model":"auto","stream":true,"stream_options":{"include_usage":true},"tools":[`)
	for i := range 30 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"function","function":{"name":"tool_%d","description":"Does thing %d to the workspace.",`+
			`"parameters":{"type":"object","properties":{`, i, i)
		for j := range 4 + i%20 {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"arg_%d":{"type":"string","description":"Argument %d."}`, j, j)
		}
		sb.WriteString(`},"required":["arg_0"]}}}`)
	}
	sb.WriteString(`],"messages":[{"role":"system","content":"You are a coding agent."}`)
	for i := range 20 {
		fmt.Fprintf(&sb, `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_%d","type":"function",`+
			`"function":{"name":"tool_%d","arguments":"{\"arg_0\":\"x\"}"}}]},{"role":"tool","tool_call_id":"call_%d","content":"%s"}`,
			i, i, i, strings.Repeat("output line ", 20))
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// withoutPrefix is f without the session prefix, which only the scan
// computes (prefix_test.go checks it).
func withoutPrefix(f Facts) Facts {
	f.Prefix = 0
	return f
}

// withoutSession is f without the facts sessions use.
func withoutSession(f Facts) Facts {
	f.Prefix, f.ToolTurn, f.Turns, f.Opening = 0, false, 0, false
	return f
}

// TestSpecial8: the eight-byte test finds every control character, quote
// and backslash in every position, and no byte else, so the fast loop of
// str never steps over a byte it must look at nor stops needlessly on
// plain text.
func TestSpecial8(t *testing.T) {
	plain := []byte("abcdefgh")
	for pos := range 8 {
		for v := range 256 {
			w := bytes.Clone(plain)
			w[pos] = byte(v)
			want := v < 0x20 || v == '"' || v == '\\'
			if got := special8(binary.LittleEndian.Uint64(w)); got != want {
				t.Fatalf("byte %#x at %d: special8 %v, want %v", v, pos, got, want)
			}
		}
	}
	// Plain words of every byte that needs no look, high bytes (UTF-8) too.
	for v := 0x20; v < 256; v++ {
		if v == '"' || v == '\\' {
			continue
		}
		w := bytes.Repeat([]byte{byte(v)}, 8)
		w[3] = 'x'
		if special8(binary.LittleEndian.Uint64(w)) {
			t.Fatalf("plain word %q: special8 true", w)
		}
	}
}

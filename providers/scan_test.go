package providers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var scanSeeds = []string{
	`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m\u0065","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"caf\u00e9 \"q\""},{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`,
	`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
	`{"model":"a","model":"b","messages":[]}`,
	`{"temp":-1.5e+10,"x":[true,false,null,{"a":[]}],"messages":[{"content":"日本語"}]}`,
	`{"messages":"hi"}`, `{"messages":[1]}`, `{"stream":"yes"}`, `{"model":5}`,
	`{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":1}}`, `[1]`, ``, `{`,
}

// FuzzParseRequest checks the scanner against encoding/json: it accepts
// exactly the valid JSON objects whose routing fields have the right types,
// and gathers the same model, stream flags and facts a full decode gives.
func FuzzParseRequest(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		var obj map[string]json.RawMessage
		isObject := json.Unmarshal(body, &obj) == nil && obj != nil
		if err != nil {
			if _, ok := err.(*RequestError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if isObject && !strings.Contains(err.Error(), "must be") {
				t.Fatalf("refused a valid object: %v\n%s", err, body)
			}
			return
		}
		if !json.Valid(body) || !isObject {
			t.Fatalf("accepted invalid JSON or a non-object: %q", body)
		}
		var typed ChatCompletionRequest
		if json.Unmarshal(body, &typed) != nil {
			return // a field routing ignores has the wrong type: Decode reports it
		}
		if !utf8.Valid(body) {
			return // encoding/json replaces bad bytes; counts may differ by design
		}
		if bytes.ContainsFunc(body, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
			// encoding/json matches keys case-insensitively ("streAm" sets
			// Stream); upstreams, and so the scanner, do not.
			return
		}
		if req.Model != typed.Model || req.Stream != typed.Stream || req.IncludeUsage() != typed.IncludeUsage() {
			t.Fatalf("got model %q stream %v usage %v, decode gives %q %v %v", req.Model, req.Stream, req.IncludeUsage(), typed.Model, typed.Stream, typed.IncludeUsage())
		}
		if got, want := req.Facts(), typed.Facts(); got != want {
			t.Fatalf("facts %+v, decode gives %+v\n%s", got, want, body)
		}
		out, err := req.Body()
		if err != nil {
			t.Fatal(err)
		}
		var back ChatCompletionRequest
		if err := json.Unmarshal(out, &back); err != nil || back.Model != req.Model {
			t.Fatalf("Body() = %s (%v)", out, err)
		}
	})
}

func TestParseRequestFacts(t *testing.T) {
	for i, s := range scanSeeds[:5] {
		req, err := ParseRequest([]byte(s))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		var typed ChatCompletionRequest
		if err := json.Unmarshal([]byte(s), &typed); err != nil {
			t.Fatal(err)
		}
		if got, want := req.Facts(), typed.Facts(); got != want {
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
			if got := req.Facts(); got != tc.want {
				t.Errorf("got facts %+v, want %+v", got, tc.want)
			}
			if req.Model != tc.model {
				t.Errorf("got model %q, want %q", req.Model, tc.model)
			}
			var typed ChatCompletionRequest
			if err := json.Unmarshal([]byte(tc.body), &typed); err != nil {
				t.Fatal(err)
			}
			if got, want := typed.Facts(), tc.want; got != want || typed.Model != tc.model {
				t.Errorf("the decoded request has model %q and facts %+v, want %q and %+v", typed.Model, got, tc.model, want)
			}
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	body := []byte(`{"model":"auto","messages":[{"role":"system","content":"You are a helpful coding assistant."},` +
		`{"role":"user","content":"` + strings.Repeat("Explain this Go code. ", 80) + `"}],"temperature":0.2,"max_tokens":512}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// nested returns inner inside depth objects {"a":…}.
func nested(depth int, inner string) string {
	return strings.Repeat(`{"a":`, depth) + inner + strings.Repeat("}", depth)
}

// manyKeys returns an object with n distinct keys k0…k(n-1) and then extra.
func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString(`{"messages":[]`)
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	return b.String() + extra + "}"
}

func TestParseRequestDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ name, body, key string }{
		{"model", `{"model":"local","messages":[],"model":"remote"}`, "model"},
		{"model escaped", `{"model":"local","mo\u0064el":"remote"}`, "model"},
		{"model escaped twice", `{"\u006dodel":"local","mode\u006c":"remote"}`, "model"},
		{"stream", `{"stream":false,"stream":true}`, "stream"},
		{"messages", `{"messages":[],"messages":[{"role":"user","content":"hi"}]}`, "messages"},
		{"stream_options", `{"stream_options":{},"stream_options":{"include_usage":true}}`, "stream_options"},
		{"include_usage", `{"stream_options":{"include_usage":false,"include_usage":true}}`, "include_usage"},
		{"tools", `{"tools":[],"tools":[{"type":"function","function":{"name":"f"}}]}`, "tools"},
		{"unknown top-level field", `{"temperature":0,"messages":[],"temperature":2}`, "temperature"},
		{"message content", `{"messages":[{"content":"00","content":""}]}`, "content"},
		{"message role", `{"messages":[{"role":"user","content":"42","role":"tool"}]}`, "role"},
		{"message tool_calls", `{"messages":[{"role":"assistant","tool_calls":[],` +
			`"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "tool_calls"},
		{"unknown message field", `{"messages":[{"role":"tool","tool_call_id":"a","tool_call_id":"b","content":""}]}`, "tool_call_id"},
		{"second message", `{"messages":[{"role":"user","content":"a"},{"role":"user","role":"system","content":"b"}]}`, "role"},
		{"content part text", `{"messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}`, "text"},
		{"content part type", `{"messages":[{"role":"user","content":[{"type":"text","type":"image_url","image_url":{"url":"u"}}]}]}`, "type"},
		{"image url", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"a","url":"b"}}]}]}`, "url"},
		{"tool call function", `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",` +
			`"function":{"name":"f","arguments":"{}","arguments":"{\"a\":1}"}}]}]}`, "arguments"},
		{"tool call id", `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","id":"b"}]}]}`, "id"},
		{"tool definition function", `{"tools":[{"type":"function","function":{"name":"f"},"function":{"name":"g"}}]}`, "function"},
		{"tool name", `{"tools":[{"type":"function","function":{"name":"f","name":"g"}}]}`, "name"},
		{"tool parameter schema", `{"tools":[{"type":"function","function":{"name":"f",` +
			`"parameters":{"type":"object","properties":{"a":{},"a":{}}}}}]}`, "a"},
		{"nested unknown field", `{"metadata":{"x":[{"y":{"z":1,"z":2}}]}}`, "z"},
		{"after many keys", manyKeys(100, `,"k3":0`), "k3"},
		{"last of many keys", manyKeys(100, `,"k99":0`), "k99"},
		{"first key past the inline spans", manyKeys(31, `,"k0":0`), "k0"},
		{"escaped, after many keys", manyKeys(100, `,"\u006b3":0`), "k3"},
		{"escaped first, plain after many keys", `{"\u006bx":0,` + manyKeys(100, `,"kx":0`)[1:], "kx"},
		{"deep inside", nested(100, `{"x":1,"x":2}`), "x"},
		{"parent, after a deep child", `{"x":` + nested(100, "{}") + `,"x":1}`, "x"},
		{"parent, after a big child", `{"a":1,"b":` + manyKeys(100, "") + `,"a":2}`, "a"},
		{"parent, after a child with escapes", `{"\u0061":1,"b":{"\u0063":1,"d":2},"a":2}`, "a"},
		{"invalid bytes read as U+FFFD", "{\"\xff\":1,\"\xfe\":2}", "\uFFFD"},
		{"invalid byte and escaped U+FFFD", "{\"a\xff\":1,\"a\\ufffd\":2}", "a\uFFFD"},
		{"lone surrogates", `{"\ud800":1,"\udbff":2}`, "\uFFFD"},
		{"empty key", `{"":1,"":2}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDuplicateKeyError(t, []byte(tc.body), tc.key)
		})
	}
}

// checkDuplicateKeyError checks that ParseRequest refuses body with a 400
// invalid_json (a RequestError without Param) naming key.
func checkDuplicateKeyError(t *testing.T, body []byte, key string) {
	t.Helper()
	req, err := ParseRequest(body)
	if err == nil {
		t.Fatalf("got model %q and facts %+v and no error, want a duplicate key error\n%s", req.Model, req.Facts(), body)
	}
	var qe *RequestError
	if !errors.As(err, &qe) {
		t.Fatalf("got error %T %v, want a *RequestError", err, err)
	}
	if qe.Param != "" {
		t.Errorf("got param %q, want none (the gateway answers a RequestError without one as invalid_json)", qe.Param)
	}
	if want := fmt.Sprintf("duplicate key %.100q", key); !strings.Contains(qe.Msg, want) {
		t.Errorf("got error %q, want it to contain %s", qe.Msg, want)
	}
}

// TestParseRequestDistinctKeys checks what the duplicate key check must not
// refuse.
func TestParseRequestDistinctKeys(t *testing.T) {
	// A key with the same bit in keySet.mask as "a", so that the parent
	// really compares it with the keys it holds, not its child's.
	twin := ""
	for i := 0; twin == ""; i++ {
		if k := fmt.Sprint("k", i); keyBit([]byte(k)) == keyBit([]byte("a")) {
			twin = k
		}
	}
	for _, tc := range []struct{ name, body, model string }{
		{"child's key in the parent", `{"a":{"` + twin + `":1},"` + twin + `":2}`, ""},
		{"case differs", `{"model":"a","Model":"b","MODEL":"c"}`, "a"},
		{"same key in sibling objects", `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, ""},
		{"same key in parent and child", `{"model":"a","metadata":{"model":"b","x":{"model":"c"}}}`, "a"},
		{"keys that share a prefix", `{"mode":1,"model":"a","models":2,"model ":3,"mod":4}`, "a"},
		{"escaped key that differs", `{"model":"a","mo\u0064els":"b"}`, "a"},
		{"key equal to a value", `{"model":"model","messages":[{"role":"role","content":"content"}]}`, "model"},
		{"many keys", manyKeys(100, `,"model":"m"`), "m"},
		{"nested objects with many keys", `{"a":` + manyKeys(50, "") + `,"b":` + manyKeys(50, "") + `}`, ""},
		{"the same key at every level", nested(100, `{"a":1}`), ""},
		{"child keys again in the parent", `{"a":{"b":1,"c":2},"b":{"c":{"\u0064":1}},"c":1,"d":2}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			req, err := ParseRequest(body)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if req.Model != tc.model {
				t.Errorf("got model %q, want %q", req.Model, tc.model)
			}
			req.Model = "routed"
			out, err := req.Body()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ParseRequest(out); err != nil || got.Model != "routed" {
				t.Errorf("Body() = %s: parses to %v, %v; want model routed", out, got, err)
			}
		})
	}
}

// FuzzDuplicateKeys repeats a key in one object, chosen by pick, of a body
// ParseRequest accepts, and checks that the copy is refused. The copy goes
// first in the object with the value null, which every field the scan
// reads allows, so the refusal can only be for the repeated key.
func FuzzDuplicateKeys(f *testing.F) {
	for i, s := range scanSeeds {
		f.Add([]byte(s), uint16(i), "model", i%2 == 0)
	}
	f.Add([]byte(manyKeys(30, "")), uint16(0), "k29", false)
	f.Add([]byte(`{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]}`), uint16(5), "a", true)
	f.Add([]byte("{\"a\xff\":{}}"), uint16(1), "\xfe", true)
	f.Fuzz(func(t *testing.T, body []byte, pick uint16, newKey string, escape bool) {
		if _, err := ParseRequest(body); err != nil {
			return
		}
		// Where each object's members start, and its keys.
		type object struct {
			at   int
			keys []string
		}
		var objects []*object
		var open []*object
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		wantKey := []bool{false}
		for {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			top := len(wantKey) - 1
			if s, ok := tok.(string); ok && wantKey[top] {
				open[len(open)-1].keys = append(open[len(open)-1].keys, s)
				wantKey[top] = false
				continue
			}
			switch tok {
			case json.Delim('{'):
				o := &object{at: int(dec.InputOffset())}
				objects, open = append(objects, o), append(open, o)
				wantKey = append(wantKey, true)
				continue
			case json.Delim('['):
				open = append(open, nil)
				wantKey = append(wantKey, false)
				continue
			case json.Delim('}'), json.Delim(']'):
				open, wantKey = open[:len(open)-1], wantKey[:top]
				top--
			}
			wantKey[top] = len(open) > 0 && open[len(open)-1] != nil
		}
		o := objects[int(pick)%len(objects)]
		key := newKey
		if len(o.keys) > 0 {
			key = o.keys[int(pick/uint16(len(objects)))%len(o.keys)]
		}
		// As a decoder reads it: each invalid byte becomes U+FFFD.
		json.Unmarshal(mustMarshal(t, key), &key)
		member := quoteKey(key, escape) + ":null,"
		if len(o.keys) == 0 {
			member += member
		}
		dup := make([]byte, 0, len(body)+2*len(member))
		dup = append(append(append(dup, body[:o.at]...), member...), body[o.at:]...)
		if len(o.keys) == 0 {
			// The object was empty: drop the comma before its }.
			i := bytes.LastIndexByte(dup[:o.at+len(member)], ',')
			dup = append(dup[:i], dup[i+1:]...)
		}
		if got, ok := duplicateKey(dup); !ok || !json.Valid(dup) {
			t.Fatalf("the test built %s: valid %v, duplicate %q %v; want a valid body with %q twice", dup, json.Valid(dup), got, ok, key)
		}
		checkDuplicateKeyError(t, dup, key)
	})
}

// quoteKey writes key as a JSON string; escape spells its first character
// as a \u escape.
func quoteKey(key string, escape bool) string {
	q, _ := json.Marshal(key)
	if !escape || key == "" {
		return string(q)
	}
	r, n := utf8.DecodeRuneInString(key)
	var esc string
	if r > 0xFFFF {
		r -= 0x10000
		esc = fmt.Sprintf(`\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
	} else {
		esc = fmt.Sprintf(`\u%04x`, r)
	}
	rest, _ := json.Marshal(key[n:])
	return `"` + esc + string(rest[1:])
}

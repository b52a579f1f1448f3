package providers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonStringSeeds = []string{
	"",
	"plain ascii, long enough to take the eight-byte steps",
	"quote \" backslash \\ slash / tab \t newline \n return \r bell \a nul \x00 \x1f del \x7f",
	"<html> & </html>",
	"caf\u00e9 \u65e5\u672c \U0001F600 \u2028 \u2029 \u2027 \u202a",
	"bad utf-8 \xff \xc3 \xe2\x80 end\xed\xa0\x80",
	strings.Repeat("abcdefg\"", 9),
	strings.Repeat("x", 7) + "\n" + strings.Repeat("y", 17) + "é",
}

// marshalNoHTML is the reference AppendJSONString must match.
func marshalNoHTML(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString([]byte("prefix"), s)
		want := append([]byte("prefix"), marshalNoHTML(t, s)...)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendJSONString(%q)\n got %s\nwant %s", s, got, want)
		}
		if n := jsonStringLen(s); n != len(want)-len("prefix") {
			t.Errorf("jsonStringLen(%q) = %d, want %d", s, n, len(want)-len("prefix"))
		}
	})
}

func TestEncodeJSON(t *testing.T) {
	got, err := EncodeJSON(func(w *JSONWriter) {
		w.Raw(`{"a":`)
		w.String("x\n\"y\"\u2028\xff")
		w.Raw(`,"b":`)
		w.Compact([]byte(`{ "k" : [1, 2] }`))
		w.RawBytes([]byte(`}`))
	})
	if want := `{"a":"x\n\"y\"\u2028\ufffd","b":{"k":[1,2]}}`; err != nil || string(got) != want {
		t.Errorf("EncodeJSON = %s, %v; want %s", got, err, want)
	}
	// The buffer is allocated once, at the counted size.
	got, _ = EncodeJSON(func(w *JSONWriter) { w.String("caf\u00e9\t") })
	if len(got) != cap(got) {
		t.Errorf("EncodeJSON: len %d, cap %d; want them equal", len(got), cap(got))
	}
	if _, err := EncodeJSON(func(w *JSONWriter) { w.Compact([]byte(`{"unterminated":`)) }); err == nil {
		t.Error("EncodeJSON accepted invalid raw JSON")
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range jsonStringSeeds {
		q, _ := json.Marshal(s)
		f.Add(q)
	}
	for _, q := range []string{`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\u00E9\/\b\f"`, `"\'"`, `"\x"`, `"\u12"`, "\"raw\xffbyte\"", `"\"`, `"`} {
		f.Add([]byte(q))
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		var want string
		if err := json.Unmarshal(q, &want); err != nil || len(q) == 0 || q[0] != '"' {
			return // unquote is only given literals the decoder accepted
		}
		q = bytes.Trim(q, " \t\r\n")
		if n := unquotedRuneCount(q); n != utf8.RuneCountInString(want) {
			t.Errorf("unquotedRuneCount(%s) = %d, want %d", q, n, utf8.RuneCountInString(want))
		}
		got, ok := unquote(q)
		if !ok || got != want {
			t.Errorf("unquote(%s) = %q, %v; want %q", q, got, ok, want)
		}
	})
}

// TestUnquoteAllocs: the point of unquote is one allocation per string.
func TestUnquoteAllocs(t *testing.T) {
	q, _ := json.Marshal(strings.Repeat("line \"quoted\"\n\tcafé ", 1000))
	if n := testing.AllocsPerRun(10, func() { unquote(q) }); n != 1 {
		t.Errorf("unquote allocates %v times; want 1", n)
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"base64", strings.Repeat("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", 1000)},
		{"code", strings.Repeat("\tif err != nil {\n\t\treturn fmt.Errorf(\"read %s: %w\", name, err)\n\t}\n", 1000)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			buf := make([]byte, 0, 2*len(c.s))
			for b.Loop() {
				buf = AppendJSONString(buf[:0], c.s)
			}
		})
	}
}

func BenchmarkMarshalStringRef(b *testing.B) {
	s := strings.Repeat("\tif err != nil {\n\t\treturn fmt.Errorf(\"read %s: %w\", name, err)\n\t}\n", 1000)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		json.Marshal(s)
	}
}

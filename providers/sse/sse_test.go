package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ev is an Event whose Data is copied out of the Reader, so a list of them
// can be compared after reading the whole stream.
type ev struct {
	Name string
	Data string
}

var bigLine = strings.Repeat("x", 1<<20) // 1 MiB: 16 times bufio.Scanner's default limit

// readerCases are full streams and the events they must produce. They also
// seed FuzzReader.
var readerCases = []struct {
	name    string
	in      string
	want    []ev
	wantErr error // the error after the last event; io.EOF for a clean end
}{
	{
		name:    "openai chunks then done",
		in:      "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n",
		want:    []ev{{Data: `{"a":1}`}, {Data: `{"b":2}`}, {Data: "[DONE]"}},
		wantErr: io.EOF,
	},
	{
		name:    "multi-line data joined with newline",
		in:      "data: line one\ndata: line two\ndata:\ndata: four\n\n",
		want:    []ev{{Data: "line one\nline two\n\nfour"}},
		wantErr: io.EOF,
	},
	{
		name:    "crlf line endings",
		in:      "event: message\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
		want:    []ev{{Name: "message", Data: "a\nb"}, {Data: "c"}},
		wantErr: io.EOF,
	},
	{
		name:    "comment lines skipped",
		in:      ": OPENROUTER PROCESSING\n\n:keep-alive\ndata: x\n: inside an event\ndata: y\n\n",
		want:    []ev{{Data: "x\ny"}},
		wantErr: io.EOF,
	},
	{
		name: "event names",
		in: "event: message_start\ndata: {\"type\":\"message_start\"}\n\n" +
			"event: ping\ndata: {}\n\n" +
			"data: unnamed\n\n" +
			"event: error\ndata: {\"error\":{}}\n\n",
		want: []ev{
			{Name: "message_start", Data: `{"type":"message_start"}`},
			{Name: "ping", Data: "{}"},
			{Data: "unnamed"},
			{Name: "error", Data: `{"error":{}}`},
		},
		wantErr: io.EOF,
	},
	{
		name:    "event name without data is dropped at the blank line",
		in:      "event: ghost\n\ndata: real\n\n",
		want:    []ev{{Data: "real"}},
		wantErr: io.EOF,
	},
	{
		name:    "no space after colon and other fields ignored",
		in:      "id: 7\nretry: 100\ndata:tight\nfoo: bar\n\n",
		want:    []ev{{Data: "tight"}},
		wantErr: io.EOF,
	},
	{
		name:    "only the first space is stripped",
		in:      "data:  two spaces\n\n",
		want:    []ev{{Data: " two spaces"}},
		wantErr: io.EOF,
	},
	{
		name:    "data field without colon is an empty data line",
		in:      "data\n\n",
		want:    []ev{{Data: ""}},
		wantErr: io.EOF,
	},
	{
		name:    "1 MiB data line",
		in:      "data: " + bigLine + "\n\ndata: after\n\n",
		want:    []ev{{Data: bigLine}, {Data: "after"}},
		wantErr: io.EOF,
	},
	{
		name:    "last event without trailing blank line",
		in:      "data: first\n\ndata: last\n",
		want:    []ev{{Data: "first"}, {Data: "last"}},
		wantErr: io.EOF,
	},
	{
		name:    "last multi-line event without trailing blank line, crlf",
		in:      "event: done\r\ndata: a\r\ndata: b\r\n",
		want:    []ev{{Name: "done", Data: "a\nb"}},
		wantErr: io.EOF,
	},
	{
		name:    "cut mid-line",
		in:      "data: {\"a\":1}\n\ndata: {\"b\":",
		want:    []ev{{Data: `{"a":1}`}},
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		name:    "cut mid-line after a complete line of the same event",
		in:      "data: a\ndata: b",
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		name:    "cut inside a 1 MiB line",
		in:      "data: " + bigLine,
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		// The spec ends a line at a lone CR too.
		name:    "lone carriage return ends the last line",
		in:      "data: a\r",
		want:    []ev{{Data: "a"}},
		wantErr: io.EOF,
	},
	{
		name:    "lone carriage return line endings",
		in:      "event: x\rdata: a\rdata: b\r\rdata: c\r\r",
		want:    []ev{{Name: "x", Data: "a\nb"}, {Data: "c"}},
		wantErr: io.EOF,
	},
	{
		name:    "mixed line endings",
		in:      "data: a\r\ndata: b\ndata: c\r\r\ndata: d\n\r\n",
		want:    []ev{{Data: "a\nb\nc"}, {Data: "d"}},
		wantErr: io.EOF,
	},
	{
		name:    "cr and lf are two line breaks",
		in:      "data: a\n\rdata: b\n\n",
		want:    []ev{{Data: "a"}, {Data: "b"}},
		wantErr: io.EOF,
	},
	{
		name:    "byte order mark at the start is dropped",
		in:      "\uFEFFdata: a\n\ndata: \uFEFFb\n\n",
		want:    []ev{{Data: "a"}, {Data: "\uFEFFb"}},
		wantErr: io.EOF,
	},
	{
		name:    "multi-byte utf-8",
		in:      "data: {\"content\":\"你好, мир 👋🏽\"}\n\n",
		want:    []ev{{Data: `{"content":"你好, мир 👋🏽"}`}},
		wantErr: io.EOF,
	},
	{
		name:    "empty stream",
		in:      "",
		wantErr: io.EOF,
	},
	{
		name:    "only blank lines and comments",
		in:      "\n\n: hi\n\r\n",
		wantErr: io.EOF,
	},
}

// readAll reads every event from r until an error and returns both.
func readAll(r io.Reader) ([]ev, error) {
	rd := NewReader(r)
	var got []ev
	for {
		e, err := rd.Next()
		if err != nil {
			return got, err
		}
		got = append(got, ev{Name: e.Name, Data: string(e.Data)})
	}
}

// randomChunks returns reads of 1..max bytes, chosen by a seeded source so a
// failure can be replayed.
type randomChunks struct {
	r   io.Reader
	rnd *rand.Rand
	max int
}

func (c *randomChunks) Read(p []byte) (int, error) {
	n := 1 + c.rnd.IntN(c.max)
	if n > len(p) {
		n = len(p)
	}
	return c.r.Read(p[:n])
}

func TestReader(t *testing.T) {
	readers := []struct {
		name string
		wrap func(string) io.Reader
	}{
		{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
		{"one byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		{"random chunks", func(s string) io.Reader {
			return &randomChunks{r: strings.NewReader(s), rnd: rand.New(rand.NewPCG(1, 2)), max: 37}
		}},
		{"half reads", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		{"data with eof", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
	}
	for _, tc := range readerCases {
		for _, rc := range readers {
			t.Run(tc.name+"/"+rc.name, func(t *testing.T) {
				got, err := readAll(rc.wrap(tc.in))
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("got error %v, want %v", err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("events mismatch (-want +got):\n%s", truncDiff(diff))
				}
			})
		}
	}
}

// TestReaderEveryBoundary feeds a stream as two reads, split at every byte
// offset in turn, so every field, separator and multi-byte character is
// split somewhere.
func TestReaderEveryBoundary(t *testing.T) {
	streams := []struct {
		name string
		in   string
		want []ev
	}{
		{
			name: "openai stream",
			in: ": comment\n" +
				"data: {\"choices\":[{\"delta\":{\"content\":\"héllo 世界 🎉\"}}]}\n\n" +
				"event: error\r\ndata: a\r\ndata: b\r\n\r\n" +
				"data: [DONE]\n\n",
			want: []ev{
				{Data: `{"choices":[{"delta":{"content":"héllo 世界 🎉"}}]}`},
				{Name: "error", Data: "a\nb"},
				{Data: "[DONE]"},
			},
		},
		{
			// Splits between a CR and its LF, and after a lone CR.
			name: "cr line endings",
			in:   "data: a\r\ndata: b\rdata: c\r\r\ndata: d\r\r",
			want: []ev{{Data: "a\nb\nc"}, {Data: "d"}},
		},
		{
			// A read that ends with a whole CRLF: the LF after it is a
			// blank line (found by FuzzReaderMultiline).
			name: "crlf then lf",
			in:   "data: a\r\n\ndata: b\r\n\n",
			want: []ev{{Data: "a"}, {Data: "b"}},
		},
	}
	for _, s := range streams {
		for i := 0; i <= len(s.in); i++ {
			t.Run(fmt.Sprintf("%s/split at %d", s.name, i), func(t *testing.T) {
				r := io.MultiReader(strings.NewReader(s.in[:i]), strings.NewReader(s.in[i:]))
				got, err := readAll(r)
				if err != io.EOF {
					t.Errorf("split at %d: got error %v, want io.EOF", i, err)
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("split at %d: events mismatch (-want +got):\n%s", i, diff)
				}
			})
		}
	}
}

// TestReaderUTF8Split checks that a character whose bytes arrive in separate
// reads, on either side of the bufio buffer boundary, comes out intact.
func TestReaderUTF8Split(t *testing.T) {
	const char = "👋" // 4 bytes
	for _, pad := range []int{0, 1, 16<<10 - 8, 16<<10 - 7, 16<<10 - 6, 16<<10 - 5, 16<<10 - 4, 40000} {
		content := strings.Repeat("a", pad) + char + "z"
		in := "data: " + content + "\n\n"
		t.Run(fmt.Sprintf("pad %d", pad), func(t *testing.T) {
			got, err := readAll(iotest.OneByteReader(strings.NewReader(in)))
			if err != io.EOF {
				t.Fatalf("pad %d: got error %v, want io.EOF", pad, err)
			}
			if len(got) != 1 {
				t.Fatalf("pad %d: got %d events, want 1", pad, len(got))
			}
			if got[0].Data != content || !utf8.ValidString(got[0].Data) {
				t.Errorf("pad %d: got data %q…, want %q…", pad, tail(got[0].Data), tail(content))
			}
		})
	}
}

// TestReaderReturnsAfterEachEvent checks Next returns an event as soon as its
// blank line has arrived, without waiting for more input: a live LLM stream
// pauses between events.
func TestReaderReturnsAfterEachEvent(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	rd := NewReader(pr)
	events := []string{"data: one\n\n", "data: two\r\n\r\n", "event: x\ndata: three\n\n"}
	want := []ev{{Data: "one"}, {Data: "two"}, {Name: "x", Data: "three"}}
	go func() {
		for _, e := range events {
			// Each write blocks until Next has read it; the next write waits
			// for the test to have seen the event.
			if _, err := pw.Write([]byte(e)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	for i, w := range want {
		e, err := rd.Next()
		if err != nil {
			t.Fatalf("event %d: got error %v, want none", i, err)
		}
		if got := (ev{Name: e.Name, Data: string(e.Data)}); got != w {
			t.Errorf("event %d: got %+v, want %+v", i, got, w)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("after the last event: got %v, want io.EOF", err)
	}
}

// TestReaderError checks a read error other than EOF is returned as is.
func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: ok\n\ndata: par"), iotest.ErrReader(boom))
	got, err := readAll(r)
	if !errors.Is(err, boom) {
		t.Errorf("got error %v, want %v", err, boom)
	}
	if want := []ev{{Data: "ok"}}; !cmp.Equal(got, want) {
		t.Errorf("got events %+v, want %+v", got, want)
	}
}

func FuzzReader(f *testing.F) {
	for _, tc := range readerCases {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in), uint8(7))
		}
	}
	f.Add([]byte("data: a\n\ndata: b\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		// Never panics, whatever the bytes and however they are split.
		max := int(chunk%64) + 1
		r := &randomChunks{r: bytes.NewReader(in), rnd: rand.New(rand.NewPCG(uint64(len(in)), uint64(chunk))), max: max}
		if _, err := readAll(r); err == nil {
			t.Fatal("readAll returned a nil error")
		}

		// Build a well-formed stream from the input's lines: each becomes
		// one event's data and must come back unchanged.
		var xs []string
		for _, x := range strings.Split(string(in), "\n") {
			x = strings.ReplaceAll(x, "\r", "")
			xs = append(xs, x)
		}
		var b strings.Builder
		for _, x := range xs {
			b.WriteString("data: ")
			b.WriteString(x)
			b.WriteString("\n\n")
		}
		r = &randomChunks{r: strings.NewReader(b.String()), rnd: rand.New(rand.NewPCG(uint64(chunk), 3)), max: max}
		got, err := readAll(r)
		if err != io.EOF {
			t.Fatalf("got error %v, want io.EOF", err)
		}
		if len(got) != len(xs) {
			t.Fatalf("got %d events, want %d", len(got), len(xs))
		}
		for i, x := range xs {
			if got[i].Data != x || got[i].Name != "" {
				t.Errorf("event %d: got %+v, want data %q", i, got[i], x)
			}
		}
	})
}

func tail(s string) string {
	if len(s) > 16 {
		return s[len(s)-16:]
	}
	return s
}

func truncDiff(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

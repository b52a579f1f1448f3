package sse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// refParse is the spec's event stream interpretation
// (html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
// written as plainly as possible over the whole stream, with the Reader's
// documented differences: a last event whose lines are all complete is
// dispatched at EOF, a stream cut inside a line ends with
// io.ErrUnexpectedEOF, and a line or event data longer than maxLine or
// maxEvent (when > 0) ends it with a *LimitError.
func refParse(in []byte, maxLine, maxEvent int) ([]ev, error) {
	s := string(in)
	var out []ev
	var data, name string
	hasData, first := false, true
	for {
		i := strings.IndexAny(s, "\r\n")
		line := s
		if i >= 0 {
			line = s[:i]
		}
		if maxLine > 0 && len(line) > maxLine {
			return out, &LimitError{What: "event line", Limit: maxLine}
		}
		if i < 0 {
			if len(s) > 0 {
				return out, io.ErrUnexpectedEOF
			}
			if hasData {
				out = append(out, ev{Name: name, Data: data})
			}
			return out, io.EOF
		}
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
		if first {
			line = strings.TrimPrefix(line, "\uFEFF")
			first = false
		}
		if line == "" {
			if hasData {
				out = append(out, ev{Name: name, Data: data})
			}
			data, name, hasData = "", "", false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "data":
			if hasData {
				data += "\n"
			}
			data += value
			hasData = true
			if maxEvent > 0 && len(data) > maxEvent {
				return out, &LimitError{What: "event data", Limit: maxEvent}
			}
		case "event":
			name = value
		}
	}
}

// TestReferenceAgrees checks the reference parser against the table, so the
// fuzz targets compare the Reader with something known to be right.
func TestReferenceAgrees(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := refParse([]byte(tc.in), 0, 0)
			if err != tc.wantErr {
				t.Errorf("got error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", truncDiff(diff))
			}
		})
	}
}

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"one line", `{"a":1}`, "data: {\"a\":1}\n\n"},
		{"empty", "", "data: \n\n"},
		{"lines", "{\"a\":\n1}", "data: {\"a\":\ndata: 1}\n\n"},
		{"empty lines kept", "a\n\n\nb\n", "data: a\ndata: \ndata: \ndata: b\ndata: \n\n"},
		{"leading space kept", " a\n  b", "data:  a\ndata:   b\n\n"},
		{"cr and crlf become line breaks", "a\rb\r\nc", "data: a\ndata: b\ndata: c\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendEvent([]byte("x"), []byte(tt.data))
			if string(got) != "x"+tt.want {
				t.Errorf("got %q, want %q", got, "x"+tt.want)
			}
		})
	}
}

// compareStreams reads in with a Reader (the buffer, caps and chunking
// given) and with refParse, and fails on any difference.
func compareStreams(t *testing.T, in []byte, size, maxLine, maxEvent int, rnd *rand.Rand, chunk int) []ev {
	t.Helper()
	want, wantErr := refParse(in, maxLine, maxEvent)
	rd := newReader(&randomChunks{r: bytes.NewReader(in), rnd: rnd, max: chunk}, size, maxLine, maxEvent)
	var got []ev
	var err error
	for {
		var e Event
		if e, err = rd.Next(); err != nil {
			break
		}
		got = append(got, ev{Name: e.Name, Data: string(e.Data)})
	}
	if !sameError(err, wantErr) {
		t.Fatalf("got error %v, want %v, for %q", err, wantErr, in)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("events mismatch with the spec (-want +got) for %q:\n%s", in, truncDiff(diff))
	}
	return got
}

// multiLineSeeds are streams with multi-line events for both fuzz targets.
var multiLineSeeds = []string{
	"data: {\"choices\":\ndata: [{\"delta\":{}}]}\n\n",
	"id: 1\r\nevent: message\r\ndata: {\"a\":\r\ndata:\r\ndata:  1}\r\n\r\n",
	"data: a\rdata: b\r\rdata: c\r\n\r\n",
	"\uFEFFdata: a\n: comment\ndata: b\n\ndata: [DONE]\n\n",
	"data: a\n\r\ndata: b",
	"data: " + strings.Repeat("x", 100) + "\n" + "data: " + strings.Repeat("y", 70) + "\n\n",
}

// FuzzReaderMultiline checks the Reader against the spec's algorithm, on the
// raw input and on a stream built from it with events of several data
// lines, mixed line endings, comments and other fields; and that every event
// it reads, written back with AppendEvent, reads the same (what the gateway
// relays).
func FuzzReaderMultiline(f *testing.F) {
	for _, tc := range readerCases {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in), uint64(7))
		}
	}
	for i, s := range multiLineSeeds {
		f.Add([]byte(s), uint64(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, shape uint64) {
		rnd := rand.New(rand.NewPCG(shape, uint64(len(in))))
		size := 16 << 10
		if shape&1 == 0 {
			size = 16 // lines longer than the buffer, assembled from pieces
		}
		chunk := 1 + int(shape>>8%64)
		got := compareStreams(t, in, size, MaxLine, MaxEvent, rnd, chunk)

		// Events whose data spans lines, built from the input's bytes.
		var b bytes.Buffer
		var want []ev
		eol := []string{"\n", "\r\n", "\r"}
		last := ""
		line := func(text string) {
			e := eol[rnd.IntN(3)]
			if text == "" && e == "\n" && last == "\r" {
				e = "\r" // after a lone CR, a lone LF would complete a CRLF, not end a blank line
			}
			last = e
			b.WriteString(text + e)
		}
		pieces := strings.FieldsFunc(string(in), func(r rune) bool { return r == '\n' || r == '\r' })
		for len(pieces) > 0 {
			var e ev
			n := min(1+rnd.IntN(4), len(pieces))
			if rnd.IntN(3) == 0 {
				line(": a comment")
			}
			if rnd.IntN(3) == 0 {
				line("id: 42")
			}
			if rnd.IntN(3) == 0 {
				e.Name = "message"
				line("event: message")
			}
			for i, p := range pieces[:n] {
				if i > 0 {
					e.Data += "\n"
				}
				e.Data += p
				if strings.HasPrefix(p, " ") || rnd.IntN(2) == 0 {
					line("data: " + p)
				} else {
					line("data:" + p)
				}
			}
			line("")
			want = append(want, e)
			pieces = pieces[n:]
		}
		built := compareStreams(t, b.Bytes(), size, MaxLine, MaxEvent, rnd, chunk)
		if diff := cmp.Diff(want, built, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("built stream: events mismatch (-want +got) for %q:\n%s", b.Bytes(), truncDiff(diff))
		}

		// Relayed: the data of every event survives AppendEvent.
		var relayed []byte
		for _, e := range got {
			relayed = AppendEvent(relayed, []byte(e.Data))
		}
		again := compareStreams(t, relayed, size, MaxLine, MaxEvent, rnd, chunk)
		if len(again) != len(got) {
			t.Fatalf("relayed %d events, read back %d", len(got), len(again))
		}
		for i := range got {
			if again[i].Data != got[i].Data {
				t.Fatalf("event %d: relayed %q, read back %q", i, got[i].Data, again[i].Data)
			}
		}
	})
}

// FuzzReaderLimits checks the caps with tiny limits: the Reader fails with
// a LimitError exactly where a line or an event's data first passes one, and
// agrees with the spec's algorithm on everything before.
func FuzzReaderLimits(f *testing.F) {
	for _, tc := range readerCases {
		if len(tc.in) < 4096 {
			f.Add([]byte(tc.in), uint8(8), uint8(12), uint8(7))
		}
	}
	for i, s := range multiLineSeeds {
		f.Add([]byte(s), uint8(10+i), uint8(20+i), uint8(i))
	}
	f.Add([]byte("data: 0123456789\r\n\r\n"), uint8(15), uint8(9), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, maxLine, maxEvent, chunk uint8) {
		rnd := rand.New(rand.NewPCG(uint64(chunk), uint64(len(in))))
		compareStreams(t, in, 16, int(maxLine%64)+1, int(maxEvent%64)+1, rnd, int(chunk%32)+1)
	})
}

// TestLimitErrorIsNotEOF guards the clients' checks: a capped stream must
// not look like a clean or a cut end.
func TestLimitErrorIsNotEOF(t *testing.T) {
	err := error(&LimitError{What: "event line", Limit: MaxLine})
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("LimitError %v matches an EOF", err)
	}
	if got, want := err.Error(), "sse: event line longer than 8388608 bytes"; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
}

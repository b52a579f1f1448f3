package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// translate runs an upstream byte stream through the SSE reader and the
// state machine, and renders the OpenAI chunks, one JSON per line, then how
// the stream ended and what the signature cache got.
func translate(r io.Reader, includeUsage bool) string {
	c := &Client{up: providers.NewUpstream(providers.UpstreamOptions{Name: "anthropic"})}
	st := &streamState{includeUsage: includeUsage, created: 1700000000}
	rd := sse.NewReader(r)
	var b strings.Builder
	var chunks []*providers.ChatCompletionStreamResponse
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errEndedEarly
			}
			fmt.Fprintf(&b, "end: error: %v\n", err)
			return b.String()
		}
		chunks, err = st.event(ev.Name, ev.Data, chunks[:0])
		for _, ch := range chunks {
			j, err := json.Marshal(ch)
			if err != nil {
				panic(err)
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		if err != nil {
			var ee *eventError
			if errors.As(err, &ee) {
				e := c.upstreamError(providers.StageStream, 0, ee.body, nil)
				fmt.Fprintf(&b, "end: error event: stage %s, status %d, type %s, code %s: %s\n", e.Stage, e.Status, e.Type, e.Code, e.Message)
			} else {
				fmt.Fprintf(&b, "end: error: %v\n", err)
			}
			return b.String()
		}
		if st.done {
			b.WriteString("end: message_stop\n")
			if len(st.toolIDs) > 0 && len(st.thinking) > 0 {
				fmt.Fprintf(&b, "signature cache: %q ->\n", st.toolIDs)
				for _, t := range st.thinking {
					b.Write(t)
					b.WriteByte('\n')
				}
			}
			return b.String()
		}
	}
}

// TestStreamGolden feeds each docs-shaped stream whole, split at every byte
// boundary, one byte at a time and with CRLF line endings: the chunks must
// be the same every time.
func TestStreamGolden(t *testing.T) {
	for path, name := range goldenCases(t, "stream") {
		t.Run(name, func(t *testing.T) {
			input, want := readGolden(t, path)
			in := []byte(input)
			got := translate(bytes.NewReader(in), true)
			checkGolden(t, path, got)
			if *update {
				want = got
			}
			for i := range len(in) + 1 {
				r := io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:]))
				if g := translate(r, true); g != want {
					t.Fatalf("split at byte %d of %d: chunks differ:\n%s", i, len(in), cmp.Diff(want, g))
				}
			}
			if g := translate(iotest.OneByteReader(bytes.NewReader(in)), true); g != want {
				t.Fatalf("one byte at a time: chunks differ:\n%s", cmp.Diff(want, g))
			}
			crlf := bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n"))
			if g := translate(iotest.HalfReader(bytes.NewReader(crlf)), true); g != want {
				t.Fatalf("CRLF: chunks differ:\n%s", cmp.Diff(want, g))
			}
		})
	}
}

func TestStreamWithoutUsage(t *testing.T) {
	input, _ := readGolden(t, "testdata/stream/text.txt")
	got := translate(strings.NewReader(input), false)
	if strings.Contains(got, `"usage"`) || strings.Contains(got, `"choices":[]`) {
		t.Errorf("usage chunk sent without include_usage:\n%s", got)
	}
	if n := strings.Count(got, `"finish_reason":"stop"`); n != 1 {
		t.Errorf("got %d finish chunks, want 1:\n%s", n, got)
	}
}

// TestScanDelta checks the hand-written fast path against encoding/json.
func TestScanDelta(t *testing.T) {
	tests := []struct {
		name, data string
		ok         bool
		index      int
		kind       deltaKind
		val        string
	}{
		{"text", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`, true, 0, deltaText, "Hi"},
		{"spaces", `{ "type" : "content_block_delta" , "index" : 12 , "delta" : { "type" : "input_json_delta" , "partial_json" : "{\"a\"" } } `, true, 12, deltaJSON, `{"a"`},
		{"reordered", `{"delta":{"thinking":"x\ny","type":"thinking_delta"},"index":3,"type":"content_block_delta"}`, true, 3, deltaThinking, "x\ny"},
		{"signature", `{"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"Eq+/="}}`, true, 1, deltaSignature, "Eq+/="},
		{"unicode escape", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"caf\u00e9"}}`, true, 0, deltaText, "café"},
		{"other event", `{"type":"content_block_stop","index":0}`, false, 0, 0, ""},
		{"unknown delta", `{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}`, false, 0, 0, ""},
		{"float index", `{"type":"content_block_delta","index":1.5,"delta":{"type":"text_delta","text":"x"}}`, false, 0, 0, ""},
		{"negative index", `{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}}`, false, 0, 0, ""},
		{"extra key", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"},"more":1}`, false, 0, 0, ""},
		{"trailing junk", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}x`, false, 0, 0, ""},
		{"truncated", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x`, false, 0, 0, ""},
		{"control char", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\x01\"}}", false, 0, 0, ""},
		{"bad utf8", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\xff\"}}", true, 0, deltaText, "a\uFFFD"}, // as encoding/json
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, kind, val, ok := scanDelta([]byte(tt.data))
			if ok != tt.ok || index != tt.index || kind != tt.kind || val != tt.val {
				t.Errorf("got (%d, %d, %q, %v), want (%d, %d, %q, %v)", index, kind, val, ok, tt.index, tt.kind, tt.val, tt.ok)
			}
		})
	}
}

// TestStreamEventAfterStop: nothing after message_stop is translated.
func TestStreamEventAfterStop(t *testing.T) {
	st := &streamState{}
	out, _ := st.event("message_stop", []byte(`{"type":"message_stop"}`), nil)
	if len(out) != 2 {
		t.Fatalf("got %d chunks for message_stop, want role + finish", len(out))
	}
	out, err := st.event("content_block_delta", []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}`), nil)
	if len(out) != 0 || err != nil {
		t.Errorf("got %d chunks, %v after message_stop; want none", len(out), err)
	}
}

func TestStreamBadIndex(t *testing.T) {
	st := &streamState{}
	_, err := st.event("content_block_start", []byte(`{"type":"content_block_start","index":999999,"content_block":{"type":"text","text":""}}`), nil)
	if err == nil {
		t.Error("a content block index of 999999 was accepted")
	}
}

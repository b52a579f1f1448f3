package anthropic

import (
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// BenchmarkStreamChunk measures the translation of one streamed text_delta
// event by the state machine (no I/O, no SSE parsing, no encoding of the
// chunk): the target is ≤ 3 µs and ≤ 3 allocations per chunk.
func BenchmarkStreamChunk(b *testing.B) {
	st := &streamState{includeUsage: true, created: 1700000000}
	var out []*providers.ChatCompletionStreamResponse
	out, _ = st.event("message_start", []byte(`{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}`), out[:0])
	out, _ = st.event("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`), out[:0])
	ev := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the quick brown fox jumps over"}}`)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		out, err = st.event("content_block_delta", ev, out[:0])
		if err != nil || len(out) != 1 {
			b.Fatal(err, len(out))
		}
	}
}

// BenchmarkStreamChunkEscaped is the same for a delta with JSON escapes,
// which takes encoding/json's string decoder.
func BenchmarkStreamChunkEscaped(b *testing.B) {
	st := &streamState{created: 1700000000}
	out, _ := st.event("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`), nil)
	ev := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n\"quoted\"\tcaf\u00e9"}}`)
	b.ReportAllocs()
	for b.Loop() {
		out, _ = st.event("content_block_delta", ev, out[:0])
	}
}

// BenchmarkResponse measures a non-streamed answer's translation.
func BenchmarkResponse(b *testing.B) {
	input, _ := readGolden(b, "testdata/response/tool_use.txt")
	body := []byte(strings.TrimSpace(input))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := fromMessagesResponse(body, 1700000000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequest measures a request's translation and encoding.
func BenchmarkRequest(b *testing.B) {
	input, _ := readGolden(b, "testdata/request/tools_round_trip.txt")
	req := parse(b, input)
	b.ReportAllocs()
	for b.Loop() {
		mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: 8192})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := encodeRequest(mr); err != nil {
			b.Fatal(err)
		}
	}
}

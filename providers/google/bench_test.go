package google

import (
	"encoding/json"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// streamTextEvent is a typical streamed text event as Gemini sends it.
var streamTextEvent = []byte(`{"candidates": [{"content": {"parts": [{"text": " brown fox jumps over"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-3-flash","responseId": "uCp4aNawLqKn1dkP2pXq-QY"}`)

// BenchmarkStreamChunk measures the translation of one streamed text event
// by the state machine alone (no SSE reading, no encoding of the chunk).
// The "general" case shows what the event costs through encoding/json,
// which every event that is not plain text (thoughts, calls, finish) takes.
func BenchmarkStreamChunk(b *testing.B) {
	for _, general := range []bool{false, true} {
		name := "text"
		if general {
			name = "general"
		}
		b.Run(name, func(b *testing.B) {
			st := newStreamState("chatcmpl-bench", "gemini-3-flash", 1, true, nil)
			st.noFast = general
			var chunks []*providers.ChatCompletionStreamResponse
			b.ReportAllocs()
			b.SetBytes(int64(len(streamTextEvent)))
			for b.Loop() {
				var err error
				chunks, err = st.event(streamTextEvent, chunks[:0])
				if err != nil || len(chunks) != 1 {
					b.Fatal(err, len(chunks))
				}
			}
		})
	}
}

var responseBody = []byte(`{"candidates":[{"content":{"parts":[{"text":"Let me think.","thought":true},{"text":"Here is a reasonably long answer with several sentences. It explains the weather in Paris and suggests an umbrella."},{"functionCall":{"name":"get_weather","args":{"city":"Paris","unit":"celsius"}},"thoughtSignature":"CiQBcsjafN1nCZpR2e7aQ=="}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":120,"cachedContentTokenCount":100,"candidatesTokenCount":40,"thoughtsTokenCount":48,"totalTokenCount":208},"modelVersion":"gemini-3-flash","responseId":"abc"}`)

// BenchmarkResponse measures a non-streamed answer: decode, translate and
// encode for the client.
func BenchmarkResponse(b *testing.B) {
	sigs := newSigCache(defaultSigCacheSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(responseBody)))
	for b.Loop() {
		var g generateResponse
		if err := json.Unmarshal(responseBody, &g); err != nil {
			b.Fatal(err)
		}
		r := fromGenerateResponse(&g, "chatcmpl-bench", "gemini-3-flash", 1, sigs)
		if _, err := r.Body(); err != nil {
			b.Fatal(err)
		}
	}
}

package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/localrouter/localrouter/providers/sse"
)

// multiLineEvents are upstream events whose JSON is split across several
// data lines, as the SSE spec allows; want is each event's data as the
// spec joins it.
var multiLineEvents = []struct {
	raw  string
	want string
}{
	{
		raw: "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\n" +
			"data: \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
		want: "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\n" +
			"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}",
	},
	{
		// CRLF, id and event fields, an empty data line and one whose
		// value keeps a leading space: none of it may change the data.
		raw: "id: 7\r\nevent: message\r\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\r\n" +
			"data:\r\ndata:  \"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\r\n" +
			"data: \"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\r\n\r\n",
		want: "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\n" +
			"\n \"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\n" +
			"\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}",
	},
	{
		raw: "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[\n" +
			"data: {\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\n" +
			"data: \"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
		want: "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[\n" +
			"{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\n" +
			"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}",
	},
	{
		raw: "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\n" +
			"data: \"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
		want: "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"deepseek-chat\",\n" +
			"\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
	},
}

func multiLineUpstream(t *testing.T) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range multiLineEvents {
			io.WriteString(w, e.raw)
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
}

// TestStreamRelaysMultiLineData checks an event whose data spans several
// lines reaches the client as the same event, read by the SSE spec.
func TestStreamRelaysMultiLineData(t *testing.T) {
	_, gw := gateway(t, oneProvider, multiLineUpstream(t).URL)
	resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	rd := sse.NewReader(resp.Body)
	for i, e := range multiLineEvents {
		got, err := rd.Next()
		if err != nil {
			t.Fatalf("event %d: got error %v, want an event", i, err)
		}
		if string(got.Data) != e.want {
			t.Errorf("event %d: got data %q, want %q", i, got.Data, e.want)
		}
	}
	if got, err := rd.Next(); err != nil || string(got.Data) != "[DONE]" {
		t.Errorf("last event: got %q (err %v), want [DONE]", got.Data, err)
	}
}

// TestStreamMultiLineDataThroughSDK reads the same stream with the OpenAI Go
// SDK: every chunk must parse and carry what the upstream sent.
func TestStreamMultiLineDataThroughSDK(t *testing.T) {
	_, gw := gateway(t, oneProvider, multiLineUpstream(t).URL)
	client := openai.NewClient(option.WithBaseURL(gw.URL+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "auto",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	n := 0
	for stream.Next() {
		chunk := stream.Current()
		if n < len(multiLineEvents) {
			if got, want := compactJSON(t, chunk.RawJSON()), compactJSON(t, multiLineEvents[n].want); got != want {
				t.Errorf("chunk %d:\n got %s\nwant %s", n, got, want)
			}
		}
		acc.AddChunk(chunk)
		n++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: got error %v, want none", err)
	}
	if n != len(multiLineEvents) {
		t.Errorf("got %d chunks, want %d", n, len(multiLineEvents))
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("got %d choices, want 1", len(acc.Choices))
	}
	msg := acc.Choices[0].Message
	if msg.Content != "Hello" {
		t.Errorf("content = %q, want %q", msg.Content, "Hello")
	}
	if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool calls = %+v, want get_weather with {\"city\":\"Paris\"}", msg.ToolCalls)
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("not JSON (%v): %q", err, s)
	}
	return b.String()
}

// TestStreamOversizedEvent: an upstream event of 20 MiB without a newline
// is refused once it passes the reader's cap, with a 502 when nothing has
// reached the client yet and with a final error event otherwise.
func TestStreamOversizedEvent(t *testing.T) {
	const huge = 20 << 20
	for _, tc := range []struct {
		name  string
		first bool // send a normal chunk before the oversized event
	}{
		{"before the first byte", false},
		{"mid-stream", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				w.Header().Set("Content-Type", "text/event-stream")
				if tc.first {
					io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n")
					w.(http.Flusher).Flush()
				}
				io.WriteString(w, "data: {\"choices\":\"")
				block := bytes.Repeat([]byte("x"), 64<<10)
				for sent := 0; sent < huge; sent += len(block) {
					if _, err := w.Write(block); err != nil {
						return // the gateway hung up, as it should
					}
				}
			})
			_, gw := gateway(t, oneProvider, up.URL)
			resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e errorShape
			if tc.first {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200 (the stream had begun): %.300s", resp.StatusCode, body)
				}
				events := sseData(t, bytes.NewReader(body))
				if len(events) != 2 || !strings.Contains(events[0], `"ok"`) {
					t.Fatalf("events = %.300q, want the first chunk and an error event", events)
				}
				e = decodeError(t, []byte(events[1]))
			} else {
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status = %d, want 502: %.300s", resp.StatusCode, body)
				}
				e = decodeError(t, body)
			}
			if e.Error.Type != "upstream_error" || !strings.Contains(e.Error.Message, "longer than 8388608 bytes") {
				t.Errorf("error = %+v, want an upstream_error naming the 8 MiB limit", e.Error)
			}
			if strings.Contains(string(body), testKey) {
				t.Errorf("provider key leaked into the error: %.300s", body)
			}
		})
	}
}

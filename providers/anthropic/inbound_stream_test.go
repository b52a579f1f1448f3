package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// sseEvent is one event of a Messages stream, its data decoded.
type sseEvent struct {
	name string
	data map[string]any
}

// parseMessagesSSE splits translated output into events. Every event must
// be exactly "event: X\ndata: <JSON object with type X>\n\n".
func parseMessagesSSE(out []byte) ([]sseEvent, error) {
	var evs []sseEvent
	rest := string(out)
	for rest != "" {
		ev, after, ok := strings.Cut(rest, "\n\n")
		if !ok {
			return evs, fmt.Errorf("event %d does not end with a blank line: %q", len(evs), rest)
		}
		rest = after
		head, data, ok := strings.Cut(ev, "\n")
		name, isEvent := strings.CutPrefix(head, "event: ")
		payload, isData := strings.CutPrefix(data, "data: ")
		if !ok || !isEvent || !isData || strings.Contains(payload, "\n") {
			return evs, fmt.Errorf("event %d is not one event line and one data line: %q", len(evs), ev)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(payload), &m); err != nil {
			return evs, fmt.Errorf("event %d (%s): data is not a JSON object: %v: %s", len(evs), name, err, payload)
		}
		if m["type"] != name {
			return evs, fmt.Errorf("event %d: event name %q, data type %v", len(evs), name, m["type"])
		}
		evs = append(evs, sseEvent{name, m})
	}
	return evs, nil
}

// streamBlock is one content block of a checked stream, its deltas joined.
type streamBlock struct {
	typ, id, name, text string
}

// streamSummary is what checkMessagesStream saw.
type streamSummary struct {
	blocks     []streamBlock
	stopReason string
	usage      map[string]any
	errType    string // set when the stream ended with an error event
}

// checkMessagesStream checks that out is a well-formed Messages event
// stream: message_start first (unless the stream failed at once), blocks
// opened one at a time with indexes 0, 1, … and deltas of their kind,
// exactly one message_delta after the last block, message_stop last, or an
// error event last and no message_stop at all.
func checkMessagesStream(out []byte) (*streamSummary, error) {
	evs, err := parseMessagesSSE(out)
	if err != nil {
		return nil, err
	}
	sum := &streamSummary{}
	started, delta, stopped := false, false, false
	open := -1
	for i, ev := range evs {
		fail := func(format string, args ...any) (*streamSummary, error) {
			return sum, fmt.Errorf("event %d (%s): %s", i, ev.name, fmt.Sprintf(format, args...))
		}
		if stopped {
			return fail("after message_stop")
		}
		if sum.errType != "" {
			return fail("after the error event")
		}
		if !started && ev.name != "message_start" && ev.name != "error" {
			return fail("before message_start")
		}
		switch ev.name {
		case "message_start":
			if started {
				return fail("a second message_start")
			}
			started = true
			msg, _ := ev.data["message"].(map[string]any)
			id, _ := msg["id"].(string)
			if !strings.HasPrefix(id, "msg_") || msg["type"] != "message" || msg["role"] != "assistant" ||
				!reflect.DeepEqual(msg["content"], []any{}) {
				return fail("message is not an empty assistant message with a msg_ id: %v", msg)
			}
			if _, ok := msg["usage"].(map[string]any)["input_tokens"].(float64); !ok {
				return fail("no usage.input_tokens: %v", msg)
			}
		case "ping":
		case "content_block_start":
			if delta {
				return fail("after message_delta")
			}
			if open >= 0 {
				return fail("block %d is still open", open)
			}
			if idx := ev.data["index"]; idx != float64(len(sum.blocks)) {
				return fail("index %v, want %d", idx, len(sum.blocks))
			}
			cb, _ := ev.data["content_block"].(map[string]any)
			b := streamBlock{}
			b.typ, _ = cb["type"].(string)
			switch b.typ {
			case "text":
				if cb["text"] != "" {
					return fail("text block starts with text %v", cb["text"])
				}
			case "thinking":
				if cb["thinking"] != "" || cb["signature"] != "" {
					return fail("thinking block starts with %v", cb)
				}
			case "tool_use":
				var ok1, ok2 bool
				b.id, ok1 = cb["id"].(string)
				b.name, ok2 = cb["name"].(string)
				if !ok1 || !ok2 || b.id == "" || !reflect.DeepEqual(cb["input"], map[string]any{}) {
					return fail("tool_use block without id, name or an empty input: %v", cb)
				}
				for _, o := range sum.blocks {
					if o.typ == "tool_use" && o.id == b.id {
						return fail("tool_use id %q used twice", b.id)
					}
				}
			default:
				return fail("unknown block type %q", b.typ)
			}
			open = len(sum.blocks)
			sum.blocks = append(sum.blocks, b)
		case "content_block_delta":
			if open < 0 || ev.data["index"] != float64(open) {
				return fail("index %v, but the open block is %d", ev.data["index"], open)
			}
			d, _ := ev.data["delta"].(map[string]any)
			b := &sum.blocks[open]
			want := map[string]string{"text": "text_delta", "thinking": "thinking_delta", "tool_use": "input_json_delta"}[b.typ]
			field := map[string]string{"text": "text", "thinking": "thinking", "tool_use": "partial_json"}[b.typ]
			s, ok := d[field].(string)
			if d["type"] != want || !ok {
				return fail("delta %v in a %s block", d, b.typ)
			}
			b.text += s
		case "content_block_stop":
			if open < 0 || ev.data["index"] != float64(open) {
				return fail("index %v, but the open block is %d", ev.data["index"], open)
			}
			open = -1
		case "message_delta":
			if delta {
				return fail("a second message_delta")
			}
			if open >= 0 {
				return fail("block %d is still open", open)
			}
			delta = true
			d, _ := ev.data["delta"].(map[string]any)
			sum.stopReason, _ = d["stop_reason"].(string)
			switch sum.stopReason {
			case "end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal":
			default:
				return fail("stop_reason %v", d["stop_reason"])
			}
			if seq, ok := d["stop_sequence"]; !ok || (sum.stopReason == "stop_sequence") != (seq != nil) {
				return fail("stop_sequence %v with stop_reason %s", seq, sum.stopReason)
			}
			sum.usage, _ = ev.data["usage"].(map[string]any)
			for _, k := range []string{"input_tokens", "output_tokens", "cache_read_input_tokens"} {
				if n, ok := sum.usage[k].(float64); !ok || n < 0 {
					return fail("usage.%s is %v", k, sum.usage[k])
				}
			}
			if sum.stopReason == "tool_use" && !slicesContainsType(sum.blocks, "tool_use") {
				return fail("stop_reason tool_use without a tool_use block")
			}
		case "message_stop":
			if !delta {
				return fail("without message_delta")
			}
			stopped = true
		case "error":
			e, _ := ev.data["error"].(map[string]any)
			typ, ok1 := e["type"].(string)
			_, ok2 := e["message"].(string)
			if !ok1 || !ok2 || typ == "" {
				return fail("error without type and message: %v", ev.data)
			}
			sum.errType = typ
		default:
			return fail("unknown event")
		}
	}
	if !stopped && sum.errType == "" {
		return sum, errors.New("the stream ends with neither message_stop nor an error event")
	}
	return sum, nil
}

func slicesContainsType(bs []streamBlock, typ string) bool {
	for _, b := range bs {
		if b.typ == typ {
			return true
		}
	}
	return false
}

// chunkMode is how runChatStream hands chunks to the state machine.
type chunkMode int

const (
	modeRaw   chunkMode = iota // Raw, as the OpenAI-compatible client sends them
	modeSlow                   // Raw, without the fast path
	modeTyped                  // typed fields only, as the Anthropic and Gemini clients send them
)

// runChatStream translates an OpenAI SSE stream the way the server will:
// [DONE] ends it with End, a chunk the state machine refuses or a stream
// cut before [DONE] with Fail.
func runChatStream(t testing.TB, input string, mode chunkMode) []byte {
	t.Helper()
	s := NewChatToMessagesStream("claude-sonnet-4-5", 42)
	s.id = "msg_test"
	s.noFastPath = mode == modeSlow
	out := s.Start(nil)
	rd := sse.NewReader(strings.NewReader(input))
	for {
		ev, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SSE: %v", err)
			}
			return s.Fail(out, "api_error", "upstream closed the stream before [DONE]")
		}
		if string(ev.Data) == "[DONE]" {
			return s.End(out)
		}
		c := &providers.ChatCompletionStreamResponse{Raw: ev.Data, Usage: providers.FindUsage(ev.Data)}
		if mode == modeTyped {
			c = &providers.ChatCompletionStreamResponse{}
			if err := json.Unmarshal(ev.Data, c); err != nil {
				t.Fatalf("typed decode of %s: %v", ev.Data, err)
			}
		}
		if out, err = s.Chunk(out, c); err != nil {
			return s.Fail(out, "api_error", err.Error())
		}
	}
}

// sameEvents compares two outputs event by event, by their decoded data:
// the fast path copies escapes as the upstream wrote them.
func sameEvents(a, b []byte) string {
	ea, err1 := parseMessagesSSE(a)
	eb, err2 := parseMessagesSSE(b)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("parse: %v, %v", err1, err2)
	}
	if reflect.DeepEqual(ea, eb) {
		return "" // cmp.Diff is slow, and the fuzzer calls this for every input
	}
	return cmp.Diff(ea, eb, cmp.AllowUnexported(sseEvent{}))
}

// rawOnly matches fields of upstream chunks and answers that the typed
// structs do not model.
var rawOnly = regexp.MustCompile(`"reasoning": ?"|"stop_reason": ?"|prompt_cache_hit_tokens|"arguments": ?\{`)

func TestChatToMessagesStreamGolden(t *testing.T) {
	for path, name := range goldenCases(t, "inbound/stream") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			input += "\n"
			got := runChatStream(t, input, modeRaw)
			checkGolden(t, path, string(got))
			if _, err := checkMessagesStream(got); err != nil {
				t.Errorf("malformed stream: %v\n%s", err, got)
			}
			if d := sameEvents(got, runChatStream(t, input, modeSlow)); d != "" {
				t.Errorf("fast path and encoding/json differ (-fast +slow):\n%s", d)
			}
			if rawOnly.MatchString(input) {
				return
			}
			if d := sameEvents(got, runChatStream(t, input, modeTyped)); d != "" {
				t.Errorf("Raw and typed chunks differ (-raw +typed):\n%s", d)
			}
		})
	}
}

// TestChatToMessagesStreamSemantics checks, per golden stream, what the
// client will make of it, so that a careless -update cannot bless a wrong
// translation.
func TestChatToMessagesStreamSemantics(t *testing.T) {
	type block struct{ typ, id, name, text string }
	tests := []struct {
		file   string
		blocks []block
		stop   string
		usage  map[string]any // nil: not checked
	}{
		{"text", []block{{"text", "", "", "Hello there!"}}, "end_turn",
			map[string]any{"input_tokens": 25.0, "output_tokens": 3.0, "cache_read_input_tokens": 0.0, "cache_creation_input_tokens": 0.0}},
		{"reasoning_then_text", []block{{"thinking", "", "", "The user greets. Answer briefly."}, {"text", "", "", "Hi!"}}, "end_turn", nil},
		{"reasoning_field_ollama", []block{{"thinking", "", "", "Thinking hard."}, {"text", "", "", "Done."}}, "end_turn", nil},
		{"reasoning_both_fields_vllm", []block{{"thinking", "", "", "Same text"}, {"text", "", "", "Answer"}}, "end_turn", nil},
		{"tool_call_fragments", []block{{"tool_use", "call_abc", "get_weather", `{"location": "Paris"}`}}, "tool_use", nil},
		{"tool_call_all_at_once", []block{{"tool_use", "call_1", "Bash", `{"command":"ls -la","description":"List files"}`}}, "tool_use", nil},
		{"tool_call_args_in_last_chunk", []block{{"tool_use", "call_7", "Read", `{"file_path":"/tmp/a.txt"}`}}, "tool_use", nil},
		{"tool_calls_parallel", []block{{"tool_use", "call_a", "get_weather", `{"city":"Paris"}`},
			{"tool_use", "call_b", "get_time", `{"tz":"CET"}`}}, "tool_use", nil},
		{"tool_calls_repeated_id", []block{{"tool_use", "call_a", "get_weather", `{"city":"Paris"}`},
			{"tool_use", "toolu_test_1", "get_time", `{"tz":"CET"}`}}, "tool_use", nil},
		{"tool_call_missing_ids", []block{{"tool_use", "toolu_test_0", "Glob", `{"pattern":"*.go"}`},
			{"tool_use", "toolu_test_1", "Grep", `{"pattern":"TODO"}`}}, "tool_use", nil},
		{"tool_call_same_index_new_id", []block{{"tool_use", "call_1", "Read", `{"file_path":"a"}`},
			{"tool_use", "call_2", "Read", `{"file_path":"b"}`}}, "tool_use", nil},
		{"tool_call_no_index", []block{{"tool_use", "call_x", "Read", `{"file_path":"a"}`},
			{"tool_use", "call_y", "Read", `{"file_path":"b"}`}}, "tool_use", nil},
		{"tool_call_name_late", []block{{"tool_use", "call_n", "Write", `{"file_path":"x"}`}}, "tool_use", nil},
		{"tool_call_no_arguments", []block{{"tool_use", "call_e", "ListAgents", `{}`}}, "tool_use", nil},
		{"tool_call_arguments_object", []block{{"tool_use", "call_o", "Read", `{"file_path":"a"}`}}, "tool_use", nil},
		{"text_then_tool", []block{{"text", "", "", "Let me look."}, {"tool_use", "call_t", "Read", `{"file_path":"main.go"}`}}, "tool_use",
			map[string]any{"input_tokens": 32.0, "output_tokens": 15.0, "cache_read_input_tokens": 8.0, "cache_creation_input_tokens": 0.0}},
		{"reasoning_then_tool", []block{{"thinking", "", "", "Need the file."}, {"tool_use", "call_r", "Read", `{"file_path":"go.mod"}`}}, "tool_use", nil},
		{"empty_tool_calls_with_content", []block{{"text", "", "", "Plain answer"}}, "end_turn", nil},
		{"several_finish_reasons", []block{{"tool_use", "call_f", "Bash", `{"command":"pwd"}`}}, "tool_use",
			map[string]any{"input_tokens": 60.0, "output_tokens": 7.0, "cache_read_input_tokens": 0.0, "cache_creation_input_tokens": 0.0}},
		{"usage_cached", []block{{"text", "", "", "Cached."}}, "end_turn",
			map[string]any{"input_tokens": 500.0, "output_tokens": 3.0, "cache_read_input_tokens": 1500.0, "cache_creation_input_tokens": 0.0}},
		{"usage_deepseek_cache", []block{{"text", "", "", "Cached."}}, "end_turn",
			map[string]any{"input_tokens": 976.0, "output_tokens": 3.0, "cache_read_input_tokens": 1024.0, "cache_creation_input_tokens": 0.0}},
		{"length", []block{{"text", "", "", "A long ans"}}, "max_tokens", nil},
		{"length_during_tool", []block{{"tool_use", "call_l", "Write", `{"file_path":"a","content":"unfini`}}, "max_tokens", nil},
		{"content_filter", []block{{"text", "", "", "I cannot help with that."}}, "refusal", nil},
		{"no_usage", []block{{"text", "", "", "No usage here."}}, "end_turn",
			map[string]any{"input_tokens": 42.0, "output_tokens": 4.0, "cache_read_input_tokens": 0.0, "cache_creation_input_tokens": 0.0}},
		{"finish_tool_calls_without_tool", []block{{"text", "", "", "Nothing to call."}}, "end_turn", nil},
		{"finish_stop_with_tool_ollama", []block{{"tool_use", "call_s", "Bash", `{"command":"date"}`}}, "tool_use", nil},
		{"vllm_stop_sequence", []block{{"text", "", "", "1, 2, 3"}}, "stop_sequence", nil},
		{"escapes_unicode", []block{{"text", "", "", "line\n\"quoted\"\tcafé ☕ 😀 \u2028 </script>café 😀 /"}}, "end_turn", nil},
		{"empty_answer", nil, "end_turn", nil},
		{"other_choice_ignored", []block{{"text", "", "", "Zero"}}, "end_turn", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			input, _ := readGolden(t, "testdata/inbound/stream/"+tt.file+".txt")
			for _, mode := range []chunkMode{modeRaw, modeSlow} {
				sum, err := checkMessagesStream(runChatStream(t, input+"\n", mode))
				if err != nil {
					t.Fatal(err)
				}
				var got []block
				for _, b := range sum.blocks {
					got = append(got, block(b))
				}
				if diff := cmp.Diff(tt.blocks, got, cmp.AllowUnexported(block{})); diff != "" {
					t.Errorf("mode %d: blocks (-want +got):\n%s", mode, diff)
				}
				if sum.stopReason != tt.stop {
					t.Errorf("mode %d: stop_reason %q, want %q", mode, sum.stopReason, tt.stop)
				}
				if tt.usage != nil {
					if diff := cmp.Diff(tt.usage, sum.usage); diff != "" {
						t.Errorf("mode %d: usage (-want +got):\n%s", mode, diff)
					}
				}
			}
		})
	}
}

func TestChatToMessagesStreamCut(t *testing.T) {
	input, _ := readGolden(t, "testdata/inbound/stream/cut_before_done.txt")
	sum, err := checkMessagesStream(runChatStream(t, input+"\n", modeRaw))
	if err != nil {
		t.Fatal(err)
	}
	if sum.errType != "api_error" || sum.stopReason != "" {
		t.Errorf("got error type %q and stop_reason %q, want an api_error event and no message_delta", sum.errType, sum.stopReason)
	}
}

// TestChatToMessagesStreamOrder covers sequences the golden files do not.
func TestChatToMessagesStreamOrder(t *testing.T) {
	chunk := func(s string) *providers.ChatCompletionStreamResponse {
		return &providers.ChatCompletionStreamResponse{Raw: []byte(s)}
	}
	t.Run("a call continued after the next started is an error", func(t *testing.T) {
		s := NewChatToMessagesStream("m", 1)
		out := s.Start(nil)
		var err error
		for _, c := range []string{
			`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`,
		} {
			if out, err = s.Chunk(out, chunk(c)); err != nil {
				break
			}
		}
		if err == nil {
			t.Fatal("no error for an interleaved tool call")
		}
		out = s.Fail(out, "api_error", err.Error())
		if sum, cerr := checkMessagesStream(out); cerr != nil || sum.errType != "api_error" {
			t.Errorf("after Fail: %v, %+v\n%s", cerr, sum, out)
		}
	})
	t.Run("End without Start or chunks", func(t *testing.T) {
		s := NewChatToMessagesStream("m", 7)
		out := s.End(nil)
		sum, err := checkMessagesStream(out)
		if err != nil || len(sum.blocks) != 0 || sum.stopReason != "end_turn" {
			t.Errorf("got %+v, %v\n%s", sum, err, out)
		}
		if again := s.End(nil); len(again) != 0 {
			t.Errorf("a second End appended %q", again)
		}
	})
	t.Run("Fail ends the stream", func(t *testing.T) {
		s := NewChatToMessagesStream("m", 7)
		out := s.Start(nil)
		out, _ = s.Chunk(out, chunk(`{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`))
		out = s.Fail(out, "overloaded_error", `upstream "busy"`)
		n := len(out)
		out, err := s.Chunk(out, chunk(`{"choices":[{"index":0,"delta":{"content":"late"}}]}`))
		out = s.End(out)
		if err != nil || len(out) != n {
			t.Errorf("after Fail: %v, appended %q", err, out[n:])
		}
		sum, cerr := checkMessagesStream(out)
		if cerr != nil || sum.errType != "overloaded_error" || sum.stopReason != "" {
			t.Errorf("got %+v, %v\n%s", sum, cerr, out)
		}
		if !bytes.HasSuffix(out, []byte(`"error":{"type":"overloaded_error","message":"upstream \"busy\""}}`+"\n\n")) {
			t.Errorf("error event: %s", out)
		}
	})
	t.Run("Fail before anything", func(t *testing.T) {
		out := NewChatToMessagesStream("m", 7).Fail(nil, "api_error", "x")
		if sum, err := checkMessagesStream(out); err != nil || sum.errType != "api_error" {
			t.Errorf("got %+v, %v\n%s", sum, err, out)
		}
	})
	t.Run("bad JSON is an error", func(t *testing.T) {
		s := NewChatToMessagesStream("m", 7)
		if _, err := s.Chunk(s.Start(nil), chunk(`{"choices":[`)); err == nil {
			t.Error("no error for a truncated chunk")
		}
	})
	t.Run("unique message ids", func(t *testing.T) {
		a, b := NewChatToMessagesStream("m", 0), NewChatToMessagesStream("m", 0)
		if a.id == b.id || !strings.HasPrefix(a.id, "msg_") {
			t.Errorf("ids %q and %q", a.id, b.id)
		}
	})
}

// TestFastChunk checks the hand-written path against encoding/json: each
// case either takes the fast path and gives the events encoding/json
// gives, or leaves everything to it.
func TestFastChunk(t *testing.T) {
	const openTool = `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"id":"call_1","type":"function","function":{"name":"Write","arguments":""}}]}}]}`
	tests := []struct {
		name, data string
		fast       bool
		before     string // a chunk both streams get first
	}{
		{"openai", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"obfuscation":"x1"}`, true, ""},
		{"vllm", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"q","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null,"stop_reason":null}]}`, true, ""},
		{"role", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, true, ""},
		{"deepseek reasoning", `{"choices":[{"index":0,"delta":{"content":null,"reasoning_content":"hmm"},"finish_reason":null}]}`, true, ""},
		{"ollama reasoning", `{"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"hmm"},"finish_reason":null}]}`, true, ""},
		{"empty tool_calls", `{"choices":[{"index":0,"delta":{"content":"x","tool_calls":[]}}]}`, true, ""},
		{"spaces", " { \"choices\" : [ { \"index\" : 0 , \"delta\" : { \"content\" : \"x\" } } ] } ", true, ""},
		{"escapes", `{"choices":[{"index":0,"delta":{"content":"a\n\"b\"\u00e9\ud83d\ude00\/"}}]}`, true, ""},
		{"usage null", `{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}`, true, ""},
		{"finish", `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, false, ""},
		{"usage", `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, false, ""},
		{"tool call", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}`, false, ""},
		{"second choice", `{"choices":[{"index":1,"delta":{"content":"x"}}]}`, false, ""},
		{"two choices", `{"choices":[{"index":0,"delta":{"content":"x"}},{"index":1,"delta":{"content":"y"}}]}`, false, ""},
		{"duplicate key", `{"choices":[{"index":0,"delta":{"content":"x","content":"y"}}]}`, false, ""},
		{"escaped key", `{"choices":[{"index":0,"delta":{"cont\u0065nt":"x"}}]}`, false, ""},
		{"unknown key", `{"choices":[{"index":0,"delta":{"content":"x","audio":{}}}]}`, false, ""},
		{"control char", "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\x01\"}}]}", false, ""},
		{"bad escape", `{"choices":[{"index":0,"delta":{"content":"a\x"}}]}`, false, ""},
		{"bad utf8", "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\xff\"}}]}", false, ""},
		{"trailing junk", `{"choices":[{"index":0,"delta":{"content":"x"}}]}x`, false, ""},
		{"truncated", `{"choices":[{"index":0,"delta":{"content":"x`, false, ""},
		{"float created", `{"created":1.5,"choices":[{"index":0,"delta":{"content":"x"}}]}`, false, ""},
		{"tool fragment", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"{\"file_path\": \"a\u00e9"}}]},"finish_reason":null}]}`, true, openTool},
		{"empty tool fragment", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":""}}]}}]}`, true, openTool},
		{"fragment of a closed call", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"x"}}]}}]}`, false, openTool},
		{"fragment without index", `{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}`, false, openTool},
		{"fragment with text", `{"choices":[{"index":0,"delta":{"content":"a","tool_calls":[{"index":2,"function":{"arguments":"x"}}]}}]}`, false, openTool},
		{"fragment with a name", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"name":"Write","arguments":"x"}}]}}]}`, false, openTool},
		{"fragment, no call open", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"function":{"arguments":"x"}}]}}]}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &providers.ChatCompletionStreamResponse{Raw: []byte(tt.data)}
			fresh := func(noFast bool) (*ChatToMessagesStream, []byte) {
				s := NewChatToMessagesStream("m", 0)
				s.id = "msg_test"
				out := s.Start(nil)
				if tt.before != "" {
					var err error
					if out, err = s.Chunk(out, &providers.ChatCompletionStreamResponse{Raw: []byte(tt.before)}); err != nil {
						t.Fatal(err)
					}
				}
				s.noFastPath = noFast
				return s, out
			}
			probe, _ := fresh(false)
			if _, ok := probe.fastChunk(nil, c.Raw); ok != tt.fast {
				t.Errorf("fast path taken = %v, want %v", ok, tt.fast)
			}
			fast, a := fresh(false)
			slow, b := fresh(true)
			a, errA := fast.Chunk(a, c)
			b, errB := slow.Chunk(b, c)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("errors differ: fast %v, slow %v", errA, errB)
			}
			a, b = fast.End(a), slow.End(b)
			if d := sameEvents(a, b); d != "" {
				t.Errorf("events differ (-fast +slow):\n%s", d)
			}
		})
	}
}

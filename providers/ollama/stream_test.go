package ollama

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// chunkMode is how runStream hands chunks to the state machine.
type chunkMode int

const (
	modeRaw   chunkMode = iota // Raw, as the OpenAI-compatible client sends them
	modeSlow                   // Raw, without the fast path
	modeTyped                  // typed fields only, as the Anthropic and Gemini clients send them
)

// newTestStream returns a stream whose clock moves 1 ms a reading and
// whose call ids count up, so that its output is the same every run.
func newTestStream(generate bool, mode chunkMode) *NDJSONStream {
	s := newStream("llama3.2", generate)
	s.now = stepClock(time.Millisecond)
	s.start = s.now()
	n := 0
	s.newID = func() string { n++; return "call_test" + strconv.Itoa(n) }
	s.noFastPath = mode == modeSlow
	return s
}

// errCut is how the tests, like the gateway, end a stream cut before [DONE].
var errCut = providers.ErrStreamCut

// runStream translates an OpenAI SSE stream the way the gateway will:
// [DONE] ends it with End, a chunk the state machine refuses or a stream
// cut before [DONE] with Fail.
func runStream(t testing.TB, s *NDJSONStream, input string, mode chunkMode) []byte {
	t.Helper()
	rd := sse.NewReader(strings.NewReader(input))
	var out []byte
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return s.Fail(out, errCut.Error())
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Data) == "[DONE]" {
			return s.End(out)
		}
		c := &providers.ChatCompletionStreamResponse{Raw: ev.Data}
		if mode == modeTyped {
			c = &providers.ChatCompletionStreamResponse{}
			if json.Unmarshal(ev.Data, c) != nil {
				return s.Fail(out, "bad chunk")
			}
		}
		if out, err = s.Chunk(out, c); err != nil {
			return s.Fail(out, err.Error())
		}
	}
}

// runCompletions translates an OpenAI completions SSE stream likewise.
func runCompletions(t testing.TB, s *NDJSONStream, input string) []byte {
	t.Helper()
	rd := sse.NewReader(strings.NewReader(input))
	var out []byte
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return s.Fail(out, errCut.Error())
		}
		if err != nil {
			t.Fatal(err)
		}
		var done bool
		if out, done, err = CompletionEvent(out, s, ev.Data); err != nil {
			return s.Fail(out, err.Error())
		}
		if done {
			return out
		}
	}
}

// ndjsonLine is one line of an Ollama stream, decoded.
type ndjsonLine map[string]any

// checkNDJSON checks that out is a well-formed Ollama stream: lines of one
// JSON object each, "done":false on every line but the last, and a last
// line that is either the one done:true line or the one error line. It
// returns the lines decoded.
func checkNDJSON(out []byte) ([]ndjsonLine, error) {
	if len(out) == 0 || out[len(out)-1] != '\n' {
		return nil, fmt.Errorf("does not end with a newline: %q", out)
	}
	var lines []ndjsonLine
	raw := bytes.Split(out[:len(out)-1], []byte("\n"))
	for i, l := range raw {
		var m ndjsonLine
		d := json.NewDecoder(bytes.NewReader(l))
		if err := d.Decode(&m); err != nil || d.More() || m == nil {
			return lines, fmt.Errorf("line %d is not one JSON object: %v: %q", i, err, l)
		}
		last := i == len(raw)-1
		_, isErr := m["error"]
		switch {
		case isErr && (!last || len(m) != 1):
			return lines, fmt.Errorf("line %d: an error line that is not the only field of the last line: %q", i, l)
		case isErr:
		case m["done"] == true && !last:
			return lines, fmt.Errorf("line %d: done:true before the last line", i)
		case m["done"] != last:
			return lines, fmt.Errorf("line %d: done is %v", i, m["done"])
		}
		if !isErr {
			if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m["created_at"])); err != nil {
				return lines, fmt.Errorf("line %d: created_at: %v", i, err)
			}
			if _, ok := m["model"].(string); !ok {
				return lines, fmt.Errorf("line %d: no model", i)
			}
		}
		lines = append(lines, m)
	}
	return lines, nil
}

func TestChatStreamGolden(t *testing.T) {
	for _, dir := range []string{"chat", "generate"} {
		for path, name := range goldenCases(t, "stream/"+dir) {
			t.Run(dir+"/"+name, func(t *testing.T) {
				input, _ := readGolden(t, path)
				run := func(mode chunkMode) []byte {
					s := newTestStream(dir == "generate", mode)
					s.SetPromptTokens(42)
					return runStream(t, s, input, mode)
				}
				out := run(modeRaw)
				checkGolden(t, path, string(out))
				fast, err := checkNDJSON(out)
				if err != nil {
					t.Fatalf("malformed stream: %v\n%s", err, out)
				}
				slow, err := checkNDJSON(run(modeSlow))
				if err != nil {
					t.Fatalf("malformed stream without the fast path: %v", err)
				}
				if diff := cmp.Diff(slow, fast); diff != "" {
					t.Errorf("fast path and encoding/json differ (-slow +fast):\n%s", diff)
				}
			})
		}
	}
}

func TestCompletionsStreamGolden(t *testing.T) {
	for path, name := range goldenCases(t, "stream/completions") {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, path)
			run := func(mode chunkMode) []byte {
				s := newTestStream(true, mode)
				return runCompletions(t, s, input)
			}
			out := run(modeRaw)
			checkGolden(t, path, string(out))
			fast, err := checkNDJSON(out)
			if err != nil {
				t.Fatalf("malformed stream: %v\n%s", err, out)
			}
			slow, err := checkNDJSON(run(modeSlow))
			if err != nil {
				t.Fatalf("malformed stream without the fast path: %v", err)
			}
			if diff := cmp.Diff(slow, fast); diff != "" {
				t.Errorf("fast path and encoding/json differ (-slow +fast):\n%s", diff)
			}
		})
	}
}

// TestChatStreamTyped runs typed chunks, as the Anthropic and Gemini
// clients produce them, through the machine: the lines are those of the
// same chunks given as Raw.
func TestChatStreamTyped(t *testing.T) {
	for _, name := range []string{"text_vllm", "tool_calls_openai", "length_without_usage"} {
		t.Run(name, func(t *testing.T) {
			input, _ := readGolden(t, "testdata/stream/chat/"+name+".txt")
			raw, err := checkNDJSON(runStream(t, newTestStream(false, modeRaw), input, modeRaw))
			if err != nil {
				t.Fatal(err)
			}
			typed, err := checkNDJSON(runStream(t, newTestStream(false, modeTyped), input, modeTyped))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(raw, typed); diff != "" {
				t.Errorf("typed chunks differ from raw ones (-raw +typed):\n%s", diff)
			}
		})
	}
}

// TestStreamDurations checks the metrics of the done line against a clock
// the test controls: the prompt is evaluated until the first delta, the
// answer from there to End.
func TestStreamDurations(t *testing.T) {
	var clock time.Time = testEpoch
	s := newStream("m", false)
	s.now = func() time.Time { return clock }
	s.start = clock
	clock = clock.Add(300 * time.Millisecond) // the upstream thinks
	out, _ := s.Chunk(nil, &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"a"}}]}`)})
	clock = clock.Add(2 * time.Second)
	out = s.End(out)
	lines, err := checkNDJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	for k, want := range map[string]float64{
		"total_duration":       float64(2300 * time.Millisecond),
		"prompt_eval_duration": float64(300 * time.Millisecond),
		"eval_duration":        float64(2 * time.Second),
		"load_duration":        0,
		"prompt_eval_count":    0, // no usage and no estimate
		"eval_count":           1, // one byte of text: a quarter of a token, rounded up
	} {
		if last[k] != want {
			t.Errorf("%s = %v, want %v", k, last[k], want)
		}
	}
	if got := lines[0]["created_at"]; got != "2026-12-03T11:40:44.424101766Z" {
		t.Errorf("created_at of the delta = %v, want the time it was sent", got)
	}
}

// TestStreamAfterEnd checks that nothing follows the last line.
func TestStreamAfterEnd(t *testing.T) {
	text := &providers.ChatCompletionStreamResponse{Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"a"}}]}`)}
	for name, end := range map[string]func(s *NDJSONStream, dst []byte) []byte{
		"End":  (*NDJSONStream).End,
		"Fail": func(s *NDJSONStream, dst []byte) []byte { return s.Fail(dst, "boom") },
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestStream(false, modeRaw)
			out := end(s, nil)
			n := len(out)
			out, err := s.Chunk(out, text)
			out = s.End(out)
			out = s.Fail(out, "again")
			out, done, err2 := CompletionEvent(out, s, []byte(`{"choices":[{"text":"x"}]}`))
			if err != nil || err2 != nil || !done || len(out) != n {
				t.Errorf("after %s: got %q (err %v, %v, done %v), want nothing more", name, out[n:], err, err2, done)
			}
		})
	}
}

// lineShape is a JSON value's keys in order and the kinds of their
// values, recursively: what a client's decoder sees of it.
func lineShape(t *testing.T, line []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	var b strings.Builder
	var walk func() error
	walk = func() error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteRune(rune(v))
			for d.More() {
				if v == '{' {
					k, err := d.Token()
					if err != nil {
						return err
					}
					b.WriteString(k.(string) + ":")
				}
				if err := walk(); err != nil {
					return err
				}
				b.WriteByte(' ')
			}
			end, err := d.Token()
			b.WriteRune(rune(end.(json.Delim)))
			return err
		default:
			b.WriteString(reflect.TypeOf(v).String())
		}
		return nil
	}
	if err := walk(); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return b.String()
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}

// TestStreamMatchesCapture checks that the stream's lines have the very
// shape (keys, their order, the kinds of their values) of the lines a real
// Ollama server sent: a delta line, the done line, the error line.
func TestStreamMatchesCapture(t *testing.T) {
	captured := readLines(t, "testdata/captures/30-api-chat-stream.body")
	failed := readLines(t, "testdata/captures/43-api-chat-stream-runner-killed.last")

	s := newTestStream(false, modeRaw)
	out := runStream(t, s, `data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}

data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":26,"completion_tokens":16}}

data: [DONE]

`, modeRaw)
	ours := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(ours) != 2 {
		t.Fatalf("got %d lines, want a delta and the done line:\n%s", len(ours), out)
	}
	for i, pair := range [][2][]byte{
		{captured[0], ours[0]},
		{captured[len(captured)-1], ours[1]},
		{failed[0], newTestStream(false, modeRaw).Fail(nil, "an error")[:len(`{"error":"an error"}`)]},
	} {
		if want, got := lineShape(t, pair[0]), lineShape(t, pair[1]); want != got {
			t.Errorf("line kind %d: shape\n%s\nwant Ollama's\n%s", i, got, want)
		}
	}
	var last map[string]any
	json.Unmarshal(ours[1], &last)
	if last["done_reason"] != "length" || last["prompt_eval_count"] != 26.0 || last["eval_count"] != 16.0 {
		t.Errorf("done line %s: want done_reason length and the upstream's usage", ours[1])
	}
}

// TestStreamToolCallsWhole checks that a call's argument fragments reach
// the client as one object, in one line, as Ollama's clients need.
func TestStreamToolCallsWhole(t *testing.T) {
	input, _ := readGolden(t, "testdata/stream/chat/tool_calls_openai.txt")
	lines, err := checkNDJSON(runStream(t, newTestStream(false, modeRaw), input, modeRaw))
	if err != nil {
		t.Fatal(err)
	}
	var calls []any
	for _, l := range lines {
		if msg, ok := l["message"].(map[string]any); ok && msg["tool_calls"] != nil {
			if calls != nil {
				t.Fatal("tool calls in two lines")
			}
			calls = msg["tool_calls"].([]any)
		}
	}
	want := []any{
		map[string]any{"id": "call_abc", "function": map[string]any{"index": 0.0, "name": "get_weather", "arguments": map[string]any{"city": "Paris"}}},
		map[string]any{"id": "call_def", "function": map[string]any{"index": 1.0, "name": "get_weather", "arguments": map[string]any{"city": "Rome", "unit": "°C"}}},
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
}

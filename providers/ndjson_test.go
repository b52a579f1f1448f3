package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readAllLines reads every line of in with a lineReader of the given
// buffer size and cap, and the error that ended it.
func readAllLines(in string, size, max int, oneByte bool) ([]string, error) {
	var r io.Reader = strings.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	lr := newLineReader(r, size, max)
	var got []string
	for {
		ev, err := lr.Next()
		if err != nil {
			return got, err
		}
		got = append(got, string(ev.Data))
	}
}

func TestLineReader(t *testing.T) {
	long := `{"message":{"content":"` + strings.Repeat("x", 100) + `"}}`
	for _, tc := range []struct {
		name, in string
		want     []string
		err      error
	}{
		{"lines", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"crlf", "{\"a\":1}\r\n{\"b\":2}\r\n", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"blank lines skipped", "\n{\"a\":1}\n\n  \r\n{\"b\":2}\n\n", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"longer than the buffer", long + "\n" + long + "\n", []string{long, long}, io.EOF},
		// Ollama's answer to a streamed request that only loads the model
		// is one JSON object with no line break.
		{"one object without a line break", `{"done":true,"done_reason":"load"}`, []string{`{"done":true,"done_reason":"load"}`}, io.EOF},
		{"last line without a line break", "{\"a\":1}\n{\"b\":2}", []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"cut inside the last line", "{\"a\":1}\n{\"b\":", []string{`{"a":1}`}, io.ErrUnexpectedEOF},
		{"cut inside a long line", long[:90], nil, io.ErrUnexpectedEOF},
		{"empty", "", nil, io.EOF},
		{"only blank", "\n\r\n \n", nil, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, oneByte := range []bool{false, true} {
				got, err := readAllLines(tc.in, 16, 1<<20, oneByte)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("one byte a read %v: lines (-want +got):\n%s", oneByte, diff)
				}
				if !errors.Is(err, tc.err) {
					t.Errorf("one byte a read %v: got error %v, want %v", oneByte, err, tc.err)
				}
			}
		})
	}
}

// TestLineReaderLimit: a line over the cap fails, and so does every read
// after it, while a line exactly at the cap is read.
func TestLineReaderLimit(t *testing.T) {
	at := strings.Repeat("x", 40)
	got, err := readAllLines(at+"\n", 16, 40, false)
	if err != io.EOF || len(got) != 1 || got[0] != at {
		t.Fatalf("a line of exactly the cap: got %q, %v; want it read", got, err)
	}
	lr := newLineReader(strings.NewReader("{}\n"+at+"y\n{}\n"), 16, 40)
	if _, err := lr.Next(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := lr.Next(); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("read %d after the long line: got %v, want ErrLineTooLong", i, err)
		}
	}
}

func TestMembers(t *testing.T) {
	type kv struct{ K, V string }
	for _, tc := range []struct {
		in   string
		want []kv
		ok   bool
	}{
		{`{"done":true,"eval_count":16}`, []kv{{`"done"`, "true"}, {`"eval_count"`, "16"}}, true},
		{` { "a" : [1,{"b":"}"}] , "c":"x\"y" } `, []kv{{`"a"`, `[1,{"b":"}"}]`}, {`"c"`, `"x\"y"`}}, true},
		{`{}`, nil, true},
		// A key nested deeper is not a top-level member.
		{`{"message":{"done":true}}`, []kv{{`"message"`, `{"done":true}`}}, true},
		{`[1]`, nil, false},
		{`{"a":}`, nil, false},
		{`{"a":1`, []kv{{`"a"`, "1"}}, false},
		{`{"a":1,}`, []kv{{`"a"`, "1"}}, false},
		{`{"a" 1}`, nil, false},
		{``, nil, false},
	} {
		var got []kv
		ok := members([]byte(tc.in), func(k, v []byte) { got = append(got, kv{string(k), string(v)}) })
		if ok != tc.ok {
			t.Errorf("%s: got ok %v, want %v", tc.in, ok, tc.ok)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: members (-want +got):\n%s", tc.in, diff)
		}
	}
}

// ndjsonUpstream serves body as an NDJSON stream, each line written and
// flushed on its own, and records the request.
func ndjsonUpstream(t *testing.T, ct string, body []byte, got *http.Request) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got != nil {
			*got = *r.Clone(context.Background())
		}
		w.Header().Set("Content-Type", ct)
		for _, l := range bytes.SplitAfter(body, []byte("\n")) {
			w.Write(l)
			http.NewResponseController(w).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// forwardOllama runs ForwardNative with OllamaWire as a client of out
// would: it reads out until Forward returns.
func forwardOllama(ctx context.Context, u *Upstream, url string, stream bool) ([]string, *NativeResponse, error) {
	req := NativeRequest{Protocol: ProtocolOllama, Path: "/api/chat", Body: []byte(`{"model":"tiny"}`)}
	if !stream {
		resp, err := ForwardNative(ctx, u, url, req, nil, OllamaWire{})
		return nil, resp, err
	}
	out := make(chan []byte)
	type result struct {
		resp *NativeResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := ForwardNative(ctx, u, url, req, chanSink(ctx, out), OllamaWire{})
		done <- result{resp, err}
		close(out)
	}()
	var got []string
	for l := range out {
		got = append(got, string(l))
	}
	r := <-done
	return got, r.resp, r.err
}

// chanSink is sinktest.Chan, which this package's own tests cannot import.
func chanSink(ctx context.Context, ch chan<- []byte) Sink[[]byte] {
	return SinkFunc[[]byte](func(b []byte) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/ndjson/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantLines splits an NDJSON body into the lines a relay must send, each
// with its "\n".
func wantLines(body []byte) []string {
	var out []string
	for _, l := range strings.SplitAfter(string(body), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestForwardOllamaStream relays a real Ollama /api/chat stream line for
// line and reads the final line's counts.
func TestForwardOllamaStream(t *testing.T) {
	body := readTestdata(t, "ollama-chat-stream.ndjson")
	var req http.Request
	srv := ndjsonUpstream(t, "application/x-ndjson", body, &req)
	got, resp, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLines(body), got); diff != "" {
		t.Errorf("relayed lines (-want +got):\n%s", diff)
	}
	if want := (&Usage{PromptTokens: 26, CompletionTokens: 16, TotalTokens: 42}); !cmp.Equal(resp.Usage, want) {
		t.Errorf("got usage %+v, want %+v", resp.Usage, want)
	}
	if resp.ContentType != "application/x-ndjson" {
		t.Errorf("got content type %q, want application/x-ndjson", resp.ContentType)
	}
	if got := req.Header.Get("Accept"); got != "application/x-ndjson" {
		t.Errorf("upstream got Accept %q, want application/x-ndjson", got)
	}
}

// TestForwardOllamaNonStream returns the answer as Ollama sent it.
func TestForwardOllamaNonStream(t *testing.T) {
	body := readTestdata(t, "ollama-chat.json")
	srv := ndjsonUpstream(t, "application/json; charset=utf-8", body, nil)
	_, resp, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Body, body) || resp.Status != http.StatusOK {
		t.Errorf("got %d %s, want 200 and the upstream's body", resp.Status, resp.Body)
	}
	if want := (&Usage{PromptTokens: 26, CompletionTokens: 16, TotalTokens: 42}); !cmp.Equal(resp.Usage, want) {
		t.Errorf("got usage %+v, want %+v", resp.Usage, want)
	}
}

// TestForwardOllamaLoadAnswer: Ollama answers a streamed chat with no
// messages (a client preloading the model) with one JSON object; it is a
// stream of one line.
func TestForwardOllamaLoadAnswer(t *testing.T) {
	const load = `{"model":"tiny","created_at":"2026-12-03T11:40:44.1Z","message":{"role":"assistant","content":""},"done_reason":"load","done":true}`
	srv := ndjsonUpstream(t, "application/json; charset=utf-8", []byte(load), nil)
	got, resp, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{load + "\n"}, got); diff != "" {
		t.Errorf("relayed lines (-want +got):\n%s", diff)
	}
	if resp.ContentType != "application/x-ndjson" || resp.Usage != nil {
		t.Errorf("got content type %q, usage %+v; want application/x-ndjson and none", resp.ContentType, resp.Usage)
	}
}

// TestForwardOllamaStreamErrors: the runner dies mid-stream (a real
// capture: Ollama's last line is {"error":…}); the line reaches the client
// and the error says so. An error as the first line reaches nobody: the
// gateway can still send a real status. A cut stream is a broken one.
func TestForwardOllamaStreamErrors(t *testing.T) {
	killed := readTestdata(t, "ollama-chat-stream-runner-killed.ndjson")
	const msg = "an error was encountered while running the model: unexpected EOF"
	t.Run("mid-stream", func(t *testing.T) {
		srv := ndjsonUpstream(t, "application/x-ndjson", killed, nil)
		got, _, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
		if diff := cmp.Diff(wantLines(killed), got); diff != "" {
			t.Errorf("relayed lines (-want +got):\n%s", diff)
		}
		var pe *Error
		if !errors.As(err, &pe) || !errors.Is(err, ErrRelayedFailure) || pe.Message != msg || pe.Stage != StageStream {
			t.Fatalf("got error %v, want a stream *Error saying %q that wraps ErrRelayedFailure", err, msg)
		}
	})
	t.Run("first line", func(t *testing.T) {
		line := `{"error":"` + msg + `"}`
		srv := ndjsonUpstream(t, "application/x-ndjson", []byte(line+"\n"), nil)
		got, _, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
		if len(got) != 0 {
			t.Errorf("relayed %q, want nothing", got)
		}
		var pe *Error
		if !errors.As(err, &pe) || errors.Is(err, ErrRelayedFailure) || pe.Message != msg || string(pe.Raw) != line {
			t.Fatalf("got error %v (raw %q), want a *Error saying %q with the line as Raw, not relayed", err, pe.Raw, msg)
		}
	})
	t.Run("cut", func(t *testing.T) {
		lines := wantLines(readTestdata(t, "ollama-chat-stream.ndjson"))
		cut := strings.Join(lines[:3], "")
		srv := ndjsonUpstream(t, "application/x-ndjson", []byte(cut), nil)
		got, _, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
		if diff := cmp.Diff(lines[:3], got); diff != "" {
			t.Errorf("relayed lines (-want +got):\n%s", diff)
		}
		if !errors.Is(err, errOllamaEndedEarly) {
			t.Fatalf("got error %v, want errOllamaEndedEarly", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		srv := ndjsonUpstream(t, "application/x-ndjson", []byte("<html>\n"), nil)
		_, _, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", true)
		if !errors.Is(err, errOllamaNotObject) {
			t.Fatalf("got error %v, want errOllamaNotObject", err)
		}
	})
}

// TestForwardOllamaStatus: an error status keeps Ollama's body for the
// client, and its message.
func TestForwardOllamaStatus(t *testing.T) {
	const body = `{"error":"model 'no-such-model' not found"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	for _, stream := range []bool{false, true} {
		_, _, err := forwardOllama(context.Background(), testUpstream(), srv.URL+"/api/chat", stream)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != http.StatusNotFound || string(pe.Raw) != body || pe.Message != "model 'no-such-model' not found" {
			t.Errorf("stream %v: got %v, want a 404 *Error with Ollama's body as Raw", stream, err)
		}
	}
}

// TestForwardOllamaIncremental: each line reaches out as it arrives, not
// when the stream ends; cancelling the client ends the upstream's request.
func TestForwardOllamaIncremental(t *testing.T) {
	first := `{"model":"tiny","message":{"role":"assistant","content":"Hi"},"done":false}` + "\n"
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, first)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []byte)
	errc := make(chan error, 1)
	go func() {
		_, err := ForwardNative(ctx, testUpstream(), srv.URL+"/api/chat",
			NativeRequest{Protocol: ProtocolOllama, Body: []byte(`{}`)}, chanSink(ctx, out), OllamaWire{})
		errc <- err
	}()
	if got := string(<-out); got != first {
		t.Fatalf("first item %q, want %q", got, first)
	}
	cancel()
	<-gone
	if err := <-errc; err == nil {
		t.Fatal("got nil after the client went away, want an error")
	}
}

// TestForwardOllamaIdle: an upstream that falls silent mid-stream is cut at
// the idle timeout, through the same loop as SSE streams.
func TestForwardOllamaIdle(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		io.WriteString(w, `{"done":false}`+"\n")
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	u := NewUpstream(UpstreamOptions{Name: "p", IdleTimeout: 20 * time.Millisecond})
	_, _, err := forwardOllama(context.Background(), u, srv.URL+"/api/chat", true)
	var pe *Error
	if !errors.As(err, &pe) || !pe.Timeout || !errors.Is(err, ErrIdle) {
		t.Fatalf("got %v, want an idle timeout", err)
	}
}

func TestOllamaUsage(t *testing.T) {
	for _, tc := range []struct {
		body string
		want *Usage
	}{
		{`{"model":"m","embeddings":[[0.1]],"total_duration":1,"prompt_eval_count":7}`, &Usage{PromptTokens: 7, TotalTokens: 7}},
		{`{"modelfile":"…","details":{"eval_count":3}}`, nil},
		{`not json`, nil},
	} {
		if got := (OllamaWire{}).Usage([]byte(tc.body)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.body, got, tc.want)
		}
	}
}

func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}\r\n\r\n", "{\"a\":", `{"done":true}`, "\n\n", "x\ny"} {
		f.Add(s, uint8(16))
	}
	f.Fuzz(func(t *testing.T, in string, size uint8) {
		const max = 64
		got, err := readAllLines(in, 16+int(size%64), max, false)
		// The reference: split at "\n", drop a "\r" before it, skip blank
		// lines; a last piece without "\n" counts when it is whole JSON.
		var want []string
		wantErr := io.EOF
		pieces := strings.Split(in, "\n")
		for i, p := range pieces {
			last := i == len(pieces)-1
			if len(p) > max { // a "\r" before the "\n" counts
				wantErr = ErrLineTooLong
				break
			}
			if strings.TrimSpace(p) == "" {
				continue
			}
			if last && !json.Valid([]byte(p)) {
				wantErr = io.ErrUnexpectedEOF
				break
			}
			want = append(want, strings.TrimSuffix(p, "\r"))
		}
		if wantErr == ErrLineTooLong {
			if !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("%q: got %v, want ErrLineTooLong", in, err)
			}
			return
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("%q: got error %v, want %v", in, err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%q: lines (-want +got):\n%s", in, diff)
		}
	})
}

// FuzzMembers checks the walk against encoding/json on every input that is
// a valid JSON object: the same keys, in order, with the same values.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"done":true,"eval_count":16}`, `{"a":[1,{"b":"}"}],"c":"x\"y"}`, `{}`, `{"a":}`, ` {"a" : 1 } `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var rawKeys [][]byte
		var vals []json.RawMessage
		ok := members([]byte(in), func(k, v []byte) {
			rawKeys = append(rawKeys, k)
			vals = append(vals, json.RawMessage(v))
		})
		if !json.Valid([]byte(in)) || strings.TrimSpace(in)[0] != '{' {
			return
		}
		if !ok {
			t.Fatalf("%q: a valid object, members says it is not", in)
		}
		keys := make([]string, len(rawKeys))
		for i, k := range rawKeys {
			if err := json.Unmarshal(k, &keys[i]); err != nil {
				t.Fatalf("%q: key %q is not a JSON string", in, k)
			}
		}
		dec := json.NewDecoder(strings.NewReader(in))
		dec.Token() // {
		for i := 0; dec.More(); i++ {
			tok, _ := dec.Token()
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if i >= len(keys) || keys[i] != tok.(string) || !bytes.Equal(compactJSON(t, vals[i]), compactJSON(t, v)) {
				t.Fatalf("%q: member %d: got %q, want %q: %s", in, i, keys, tok, v)
			}
		}
	})
}

func compactJSON(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return buf.Bytes()
}

// BenchmarkReadLines reads an Ollama /api/chat stream of 200 lines, as
// ReadLines frames it.
func BenchmarkReadLines(b *testing.B) {
	var in bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&in, `{"model":"qwen3:8b","created_at":"2026-12-04T21:00:00.000000Z","message":{"role":"assistant","content":" tok%d"},"done":false}`+"\n", i)
	}
	in.WriteString(`{"model":"qwen3:8b","created_at":"2026-12-04T21:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":1,"prompt_eval_count":12,"eval_count":200}` + "\n")
	body := in.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	r := bytes.NewReader(body)
	for b.Loop() {
		r.Reset(body)
		lr := newLineReader(r, lineReadSize, MaxLine)
		for {
			if _, err := lr.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

package tests

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// This file holds what the Ollama, completions and embeddings tests
// (ollama_test.go, fim_test.go) drive the gateway with: Ollama's own Go
// client with a tap on its transport, the captures of a real Ollama
// server (testdata/ollama, copied from ../shared/captures/ollama) and a
// strict reader of NDJSON streams built from them, an upstream that serves
// Ollama's native API the way a real one does, and the completions and
// embeddings halves of the OpenAI-compatible and Gemini fakes.

// ---- the captures ----

// capture returns a file of testdata/ollama: what a real Ollama server
// (v0.25.0-rc0-10-f63eea3) sent, copied from ../shared/captures/ollama.
func capture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ollama", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// captureContentType is the Content-Type a captured answer came with.
func captureContentType(t *testing.T, name string) string {
	t.Helper()
	for line := range strings.Lines(string(capture(t, name+".headers"))) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s.headers has no Content-Type", name)
	return ""
}

// captureLines splits an NDJSON capture into its lines, decoded.
func captureLines(t *testing.T, body []byte) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	for line := range bytes.Lines(body) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("capture line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// dechunk decodes a .raw capture: the chunked body as it came off the wire.
func dechunk(t *testing.T, raw []byte) []byte {
	t.Helper()
	b, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("dechunk: %v", err)
	}
	return b
}

// jsonKind is the JSON type of a value: string, number, bool, object,
// array or null.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func kinds(m map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = jsonKind(v)
	}
	return out
}

// ndjsonShape is what the lines of a real Ollama stream hold: each field's
// JSON kind on a content line, on the done line and in message.
type ndjsonShape struct {
	line, done, message map[string]string
	generate            bool // /api/generate's: response in place of message
}

// captureShape reads the shape of /api/chat's stream from the capture
// 30-api-chat-stream; with generate, /api/generate's, which has the same
// fields but a response string in place of the message (Ollama's
// GenerateResponse beside ChatResponse).
func captureShape(t *testing.T, generate bool) ndjsonShape {
	t.Helper()
	lines := captureLines(t, capture(t, "30-api-chat-stream.body"))
	s := ndjsonShape{line: kinds(lines[0]), done: kinds(lines[len(lines)-1]), generate: generate}
	for i, l := range lines[:len(lines)-1] {
		if !maps.Equal(kinds(l), s.line) {
			t.Fatalf("capture line %d has other fields than line 0", i)
		}
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(lines[0]["message"], &msg); err != nil {
		t.Fatal(err)
	}
	s.message = kinds(msg)
	if generate {
		for _, m := range []map[string]string{s.line, s.done} {
			delete(m, "message")
			m["response"] = "string"
		}
	}
	return s
}

// ollamaCall is a tool call of an Ollama answer, as the checks read it.
type ollamaCall struct {
	ID       string `json:"id"`
	Function struct {
		Index     *int            `json:"index"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// ndjsonAnswer is a stream as checkNDJSON read it.
type ndjsonAnswer struct {
	lines     int
	text      string // message.content, or response, joined
	thinking  string
	calls     []ollamaCall
	callLines int                        // lines that carried tool calls
	done      map[string]json.RawMessage // the done line; nil when there is none
	reason    string                     // its done_reason
	err       string                     // the message of the {"error"} line that ended the stream
}

// checkNDJSON reads body as Ollama's NDJSON and checks every line against
// the shape a real Ollama sends (captureShape): one JSON object per line,
// each ending in "\n"; a content line has exactly the capture's fields of
// the capture's kinds (created_at RFC 3339, done false), message
// {role: assistant, content} with perhaps thinking and tool_calls (each
// call whole: a name and arguments as an object); the done line, once and
// last, has exactly the capture's done fields, durations and counts as
// non-negative integers, done_reason stop, length or load. A stream that
// failed ends instead with one line {"error":"…"} and nothing else, as
// the capture 43 of a runner killed mid-stream does.
func checkNDJSON(body []byte, shape ndjsonShape) (*ndjsonAnswer, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("empty stream")
	}
	if body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("the last line does not end in a newline: %q", lastN(body, 200))
	}
	a := &ndjsonAnswer{}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	a.lines = len(lines)
	for i, line := range lines {
		last := i == len(lines)-1
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return a, fmt.Errorf("line %d is not a JSON object: %v: %q", i, err, line)
		}
		if raw, ok := m["error"]; ok {
			if len(m) != 1 || jsonKind(raw) != "string" || !last {
				return a, fmt.Errorf("line %d: an error line is {\"error\":\"…\"} alone, and the last: %q", i, line)
			}
			json.Unmarshal(raw, &a.err)
			if a.err == "" {
				return a, fmt.Errorf("line %d: an empty error", i)
			}
			continue
		}
		var done bool
		if jsonKind(m["done"]) != "bool" || json.Unmarshal(m["done"], &done) != nil {
			return a, fmt.Errorf("line %d: done is not a boolean: %q", i, line)
		}
		want := shape.line
		if done {
			want = shape.done
		}
		for k, kind := range want {
			if got := jsonKind(m[k]); got != kind {
				return a, fmt.Errorf("line %d: %s is %q, a real Ollama sends a %s: %q", i, k, got, kind, line)
			}
		}
		for k, v := range m {
			if _, ok := want[k]; ok {
				continue
			}
			// What a real Ollama adds beside the capture's fields:
			// thinking on /api/generate lines, context on its done line.
			if shape.generate && (k == "thinking" && jsonKind(v) == "string" || k == "context" && done && jsonKind(v) == "array") {
				continue
			}
			return a, fmt.Errorf("line %d: field %s, which a real Ollama's line does not have: %q", i, k, line)
		}
		var model, created string
		json.Unmarshal(m["model"], &model)
		json.Unmarshal(m["created_at"], &created)
		if model == "" {
			return a, fmt.Errorf("line %d: empty model", i)
		}
		if _, err := time.Parse(time.RFC3339Nano, created); err != nil {
			return a, fmt.Errorf("line %d: created_at %q: %v", i, created, err)
		}
		if shape.generate {
			var s string
			json.Unmarshal(m["response"], &s)
			a.text += s
			json.Unmarshal(m["thinking"], &s)
			if m["thinking"] != nil {
				a.thinking += s
			}
		} else if err := a.message(m["message"], shape, i); err != nil {
			return a, err
		}
		if !done {
			continue
		}
		if !last {
			return a, fmt.Errorf("line %d is done, but %d lines follow it", i, len(lines)-1-i)
		}
		a.done = m
		json.Unmarshal(m["done_reason"], &a.reason)
		if a.reason != "stop" && a.reason != "length" && a.reason != "load" {
			return a, fmt.Errorf("done_reason %q", a.reason)
		}
		for k, kind := range shape.done {
			if kind != "number" {
				continue
			}
			if n := bytes.TrimSpace(m[k]); len(bytes.Trim(n, "0123456789")) != 0 {
				return a, fmt.Errorf("%s is %s, not a non-negative integer (Ollama's durations are ns, its counts whole)", k, n)
			}
		}
	}
	if a.done == nil && a.err == "" {
		return a, fmt.Errorf("the stream has neither a done line nor an error line: %q", lastN(body, 300))
	}
	return a, nil
}

// message checks one line's message and adds it to a.
func (a *ndjsonAnswer) message(raw json.RawMessage, shape ndjsonShape, i int) error {
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	for k, kind := range shape.message {
		if got := jsonKind(m[k]); got != kind {
			return fmt.Errorf("line %d: message.%s is %q, a real Ollama sends a %s: %s", i, k, got, kind, raw)
		}
	}
	var role, content, thinking string
	json.Unmarshal(m["role"], &role)
	json.Unmarshal(m["content"], &content)
	if role != "assistant" {
		return fmt.Errorf("line %d: message.role %q", i, role)
	}
	a.text += content
	for k, v := range m {
		switch _, ok := shape.message[k]; {
		case ok:
		case k == "thinking" && jsonKind(v) == "string":
			json.Unmarshal(v, &thinking)
			a.thinking += thinking
		case k == "tool_calls" && jsonKind(v) == "array":
			calls, err := readCalls(v)
			if err != nil {
				return fmt.Errorf("line %d: %v", i, err)
			}
			a.calls = append(a.calls, calls...)
			a.callLines++
		default:
			return fmt.Errorf("line %d: message.%s, which a real Ollama's message does not have: %s", i, k, raw)
		}
	}
	return nil
}

// readCalls checks tool calls as Ollama's client reads them (its
// ToolCall): {"id"?, "function": {"index"?, "name", "arguments": {…}}},
// the arguments an object, never a string.
func readCalls(raw json.RawMessage) ([]ollamaCall, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("tool_calls: %v", err)
	}
	var calls []ollamaCall
	for j, it := range items {
		for k := range it {
			if k != "id" && k != "function" {
				return nil, fmt.Errorf("tool_calls[%d].%s", j, k)
			}
		}
		var fn map[string]json.RawMessage
		json.Unmarshal(it["function"], &fn)
		for k := range fn {
			if k != "index" && k != "name" && k != "arguments" {
				return nil, fmt.Errorf("tool_calls[%d].function.%s", j, k)
			}
		}
		if jsonKind(fn["name"]) != "string" || jsonKind(fn["arguments"]) != "object" {
			return nil, fmt.Errorf("tool_calls[%d]: a name and arguments as an object, got %s", j, it["function"])
		}
		if id, ok := it["id"]; ok && jsonKind(id) != "string" || fn["index"] != nil && jsonKind(fn["index"]) != "number" {
			return nil, fmt.Errorf("tool_calls[%d]: id a string and index a number, got %s", j, raw)
		}
		var c ollamaCall
		json.Unmarshal(mustJSONBytes(it), &c)
		calls = append(calls, c)
	}
	return calls, nil
}

func mustJSONBytes(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// checkOllamaObject checks a non-streamed answer: one object shaped like
// the done line of a stream, as the capture 31 (stream: false) is.
func checkOllamaObject(body []byte, shape ndjsonShape) (*ndjsonAnswer, error) {
	body = bytes.TrimSuffix(body, []byte("\n"))
	if bytes.Contains(body, []byte("\n")) {
		return nil, fmt.Errorf("a non-streamed answer of several lines: %s", body)
	}
	a, err := checkNDJSON(append(bytes.Clone(body), '\n'), shape)
	if err == nil && a.done == nil {
		err = fmt.Errorf("the answer is not done: %s", body)
	}
	return a, err
}

func lastN(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ---- the client side ----

// ollamaClient returns Ollama's own Go client for the gateway p; tap sees
// every request and answer.
func ollamaClient(t *testing.T, p *proc, tap *respTap) *api.Client {
	t.Helper()
	// The client signs requests with the user's Ollama key when asked to.
	t.Setenv("OLLAMA_AUTH", "false")
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	tap.tr = tr
	u, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	return api.NewClient(u, &http.Client{Transport: tap})
}

// olPost sends a raw request to one of the gateway's doors and returns
// the status, headers and whole body.
func olPost(t *testing.T, p *proc, path, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	return respPost(t, p, path, []byte(body), hdr)
}

// ollamaError reads an error answer in Ollama's shape: {"error":"…"} and
// no other field, as the captures 33 and 34 are; "" when it is not one.
func ollamaError(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || len(m) != 1 || jsonKind(m["error"]) != "string" {
		return ""
	}
	var s string
	json.Unmarshal(m["error"], &s)
	return s
}

// ---- an upstream that speaks Ollama's API ----

// fakeOllama is a local Ollama server: the native API (/api/chat,
// /api/generate, /api/embed, /api/embeddings, /api/show, /api/tags,
// /api/version) and its OpenAI-compatible one below /v1. It reads
// requests with Ollama's own types (github.com/ollama/ollama/api), so a
// body a real Ollama could not decode (arguments that are not an object,
// images that are not base64, a bad think) is refused as Ollama refuses it,
// with 400 {"error":"…"}; and it refuses what a real one refuses of a
// well-formed request: an unknown model (404), a suffix to a model without
// insert, raw with a system prompt or template, chat to an embedding model,
// embeddings from a model without them. It answers in the captures' shapes
// and records every request it took. A refusal, and a credential reaching
// it, are test failures.
type fakeOllama struct {
	*httptest.Server
	show []byte // the capture of /api/show, the template of its answers

	mu       sync.Mutex // guards the fields below
	reqs     []upstreamSeen
	sent     []byte // the last answer's body as written
	problems []string
	hook     func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

// ollamaModels are the models the fake has pulled, with their capabilities.
var ollamaModels = map[string][]string{
	"llama3.2:latest":         {"completion", "tools"},
	"qwen2.5-coder:1.5b":      {"completion", "tools", "insert"},
	"nomic-embed-text:latest": {"embedding"},
}

// ollamaModelName is a name as Ollama resolves it: the latest tag by default.
func ollamaModelName(name string) string {
	if !strings.Contains(name, ":") {
		return name + ":latest"
	}
	return name
}

func newFakeOllama(t *testing.T) *fakeOllama {
	f := &fakeOllama{show: capture(t, "06-api-show.body")}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Ollama: %s", p)
		}
	})
	return f
}

// setHook makes h answer the requests it wants (it returns true for
// those), after validation and recording.
func (f *fakeOllama) setHook(h func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeOllama) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeOllama) requests() []upstreamSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamSeen(nil), f.reqs...)
}

func (f *fakeOllama) last(t *testing.T) upstreamSeen {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatal("the fake Ollama got no valid request")
	}
	return rs[len(rs)-1]
}

// lastSent is the body of the fake's last answer, byte for byte.
func (f *fakeOllama) lastSent() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.sent)
}

// refuse answers as Ollama does when it cannot serve a request; an
// unknown model is the only refusal the tests expect.
func (f *fakeOllama) refuse(w http.ResponseWriter, status int, msg string) {
	if status != http.StatusNotFound {
		f.problem("answered %d: %s", status, msg)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, ollamaErrorBody(msg))
}

func ollamaErrorBody(msg string) string { return `{"error":` + js(msg) + `}` }

// recorder tees what the fake writes, so a test can compare the bytes the
// client got with those the upstream sent.
type recorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() { r.ResponseWriter.(http.Flusher).Flush() }

func (f *fakeOllama) serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	defer func() {
		f.mu.Lock()
		f.sent = rec.buf.Bytes()
		f.mu.Unlock()
	}()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// A local Ollama takes no key: nothing the client sent for its own
	// auth may reach it.
	// (Named, not shown: keys stay out of the test output.)
	for _, h := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key"} {
		if _, ok := r.Header[h]; ok {
			f.problem("a credential reached the local Ollama in %s", h)
		}
	}
	if bytes.Contains(body, []byte(clientToken)) {
		f.problem("the client's token is in the body")
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /api/version":
		writeJSON(rec, `{"version":"0.25.0"}`)
		return
	case "GET /api/tags":
		f.tags(rec)
		return
	case "GET /api/ps":
		// Nothing loaded, as capture 07 (the gateway's probe asks).
		writeJSON(rec, `{"models":[]}`)
		return
	case "GET /v1/models":
		writeJSON(rec, `{"object":"list","data":[{"id":"llama3.2:latest","object":"model","created":1764000000,"owned_by":"library"}]}`)
		return
	case "POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings":
		// Ollama's OpenAI-compatible API, which the gateway uses for the
		// doors without an Ollama form.
		f.openAI(rec, r, body)
		return
	case "POST /api/show", "POST /api/chat", "POST /api/generate", "POST /api/embed", "POST /api/embeddings":
	default:
		f.problem("unknown URL %s %s", r.Method, r.URL.Path)
		http.NotFound(rec, r)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		f.refuse(rec, http.StatusBadRequest, "missing request body")
		return
	}
	var model string
	var check func() string
	var answer func(w http.ResponseWriter)
	switch r.URL.Path {
	case "/api/show":
		var req api.ShowRequest
		if err := json.Unmarshal(body, &req); err != nil {
			f.refuse(rec, http.StatusBadRequest, err.Error())
			return
		}
		model = req.Model
		if model == "" {
			model = req.Name
		}
		answer = func(w http.ResponseWriter) { f.answerShow(w, model) }
	case "/api/chat":
		var req api.ChatRequest
		if err := json.Unmarshal(body, &req); err != nil {
			f.refuse(rec, http.StatusBadRequest, err.Error())
			return
		}
		model = req.Model
		check = func() string {
			caps := ollamaModels[ollamaModelName(model)]
			switch {
			case !slices.Contains(caps, "completion"):
				return fmt.Sprintf("%q does not support chat", model)
			case len(req.Tools) > 0 && !slices.Contains(caps, "tools"):
				return fmt.Sprintf("registry.ollama.ai/library/%s does not support tools", ollamaModelName(model))
			case req.Think != nil && !req.Think.IsValid():
				return "invalid think value"
			}
			return validFormat(req.Format)
		}
		answer = func(w http.ResponseWriter) { answerOllamaChat(w, &req) }
	case "/api/generate":
		var req api.GenerateRequest
		if err := json.Unmarshal(body, &req); err != nil {
			f.refuse(rec, http.StatusBadRequest, err.Error())
			return
		}
		model = req.Model
		check = func() string {
			caps := ollamaModels[ollamaModelName(model)]
			switch {
			case !slices.Contains(caps, "completion"):
				return fmt.Sprintf("%q does not support generate", model)
			case req.Suffix != "" && !slices.Contains(caps, "insert"):
				return fmt.Sprintf("registry.ollama.ai/library/%s does not support insert", ollamaModelName(model))
			case req.Raw && (req.Template != "" || req.System != "" || len(req.Context) > 0):
				return "raw mode does not support template, system, or context"
			}
			return validFormat(req.Format)
		}
		answer = func(w http.ResponseWriter) { answerOllamaGenerate(w, &req) }
	case "/api/embed":
		var req api.EmbedRequest
		if err := json.Unmarshal(body, &req); err != nil {
			f.refuse(rec, http.StatusBadRequest, err.Error())
			return
		}
		model = req.Model
		var inputs []string
		check = func() string {
			if !slices.Contains(ollamaModels[ollamaModelName(model)], "embedding") {
				return "this model does not support embeddings"
			}
			switch in := req.Input.(type) {
			case string:
				inputs = []string{in}
			case []any:
				for _, v := range in {
					s, ok := v.(string)
					if !ok {
						return "invalid input type"
					}
					inputs = append(inputs, s)
				}
			case nil:
			default:
				return "invalid input type"
			}
			return ""
		}
		answer = func(w http.ResponseWriter) {
			var vs []string
			for i := range inputs {
				vs = append(vs, floats(embedVector(10, i, max(req.Dimensions, 0), 6)))
			}
			writeJSON(w, fmt.Sprintf(`{"model":%s,"embeddings":[%s],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":%d}`,
				js(model), strings.Join(vs, ","), 3*len(inputs)))
		}
	case "/api/embeddings":
		var req api.EmbeddingRequest
		if err := json.Unmarshal(body, &req); err != nil {
			f.refuse(rec, http.StatusBadRequest, err.Error())
			return
		}
		model = req.Model
		check = func() string {
			if !slices.Contains(ollamaModels[ollamaModelName(model)], "embedding") {
				return "this model does not support embeddings"
			}
			return ""
		}
		answer = func(w http.ResponseWriter) {
			writeJSON(w, `{"embedding":`+floats(embedVector(10, 0, 0, 6))+`}`)
		}
	}
	if model == "" {
		f.refuse(rec, http.StatusBadRequest, "model is required")
		return
	}
	if _, ok := ollamaModels[ollamaModelName(model)]; !ok {
		// As the captures 33 and 34: Ollama names the model it lacks.
		f.refuse(rec, http.StatusNotFound, "model '"+model+"' not found")
		return
	}
	if check != nil {
		if msg := check(); msg != "" {
			f.refuse(rec, http.StatusBadRequest, msg)
			return
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, upstreamSeen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(rec, r, body) {
		return
	}
	answer(rec)
}

// validFormat checks format as Ollama does: "json" or a JSON schema.
func validFormat(format json.RawMessage) string {
	format = bytes.TrimSpace(format)
	if len(format) == 0 || string(format) == `""` || string(format) == `"json"` || string(format) == "null" {
		return ""
	}
	var schema map[string]any
	if json.Unmarshal(format, &schema) != nil {
		return "invalid format: " + string(format)
	}
	return ""
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, body)
}

// tags lists the models as the capture 05 does.
func (f *fakeOllama) tags(w http.ResponseWriter) {
	var ms []string
	for _, name := range slices.Sorted(maps.Keys(ollamaModels)) {
		caps, _ := json.Marshal(ollamaModels[name])
		ms = append(ms, fmt.Sprintf(`{"name":%s,"model":%s,"modified_at":"2026-12-03T11:40:42.776046136Z","size":509054,"digest":"24c830f1c5fbe0fc9f7c451bde6778098a66016b20a8281504cf985e9720617a",`+
			`"details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"124K","quantization_level":"unknown"},"capabilities":%s}`, js(name), js(name), caps))
	}
	writeJSON(w, `{"models":[`+strings.Join(ms, ",")+`]}`)
}

// answerShow answers /api/show with the capture 06 (its template, model
// info with llama.context_length 4096, …) and the model's capabilities.
func (f *fakeOllama) answerShow(w http.ResponseWriter, model string) {
	var show map[string]json.RawMessage
	json.Unmarshal(f.show, &show)
	show["capabilities"], _ = json.Marshal(ollamaModels[ollamaModelName(model)])
	writeJSON(w, string(mustJSONBytes(show)))
}

// ollamaMetrics are a done line's durations (ns) and counts, from the capture 30.
const ollamaMetrics = `"total_duration":30133418,"load_duration":2196527,"prompt_eval_count":26,"prompt_eval_duration":927773,"eval_count":16,"eval_duration":23524952`

func ollamaHead(model string) string {
	return `{"model":` + js(model) + `,"created_at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"`
}

// ollamaMessage is the JSON of an assistant message.
func ollamaMessage(content, thinking, calls string) string {
	m := `{"role":"assistant","content":` + js(content)
	if thinking != "" {
		m += `,"thinking":` + js(thinking)
	}
	if calls != "" {
		m += `,"tool_calls":` + calls
	}
	return m + "}"
}

// ollamaChatLine is one content line of a streamed /api/chat answer.
func ollamaChatLine(model, content, thinking, calls string) string {
	return ollamaHead(model) + `,"message":` + ollamaMessage(content, thinking, calls) + `,"done":false}` + "\n"
}

// ollamaChatDone is the done line of a streamed /api/chat answer.
func ollamaChatDone(model, reason string) string {
	return ollamaHead(model) + `,"message":{"role":"assistant","content":""},"done":true,"done_reason":"` + reason + `",` + ollamaMetrics + "}\n"
}

// nativeHello and the rest are what the fake Ollama answers.
func nativeHello(model string) string   { return "Hello from " + model + "." }
func nativeResults(model string) string { return model + " read the tool result." }

const nativeThinking = "Thinking it over, natively."

// fimText is what every fake completes a fill-in-the-middle prompt with.
func fimText(model string) string { return "return a + b  # filled by " + model }

// answerOllamaChat answers as the other fakes' models do: a tool
// result acknowledged, an image described, get_weather called when
// offered, JSON for a format, else hello; with think, thinking first.
func answerOllamaChat(w http.ResponseWriter, req *api.ChatRequest) {
	model := req.Model
	stream := req.Stream == nil || *req.Stream
	if len(req.Messages) == 0 {
		// A load, as Ollama answers one.
		writeJSON(w, ollamaHead(model)+`,"message":{"role":"assistant","content":""},"done_reason":"load","done":true}`)
		return
	}
	last := req.Messages[len(req.Messages)-1]
	var text, calls string
	switch {
	case last.Role == "tool":
		text = nativeResults(strings.TrimSuffix(model, ":latest"))
	case len(last.Images) > 0:
		text = "I see an image."
	case slices.ContainsFunc(req.Tools, func(t api.Tool) bool { return t.Function.Name == "get_weather" }):
		calls = `[{"id":"call_ifu63csc","function":{"index":0,"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}}]`
	case len(req.Format) > 0:
		text = weatherJSON
	default:
		text = nativeHello(model)
	}
	thinking := ""
	if req.Think != nil && req.Think.Bool() {
		thinking = nativeThinking
	}
	if !stream {
		writeJSON(w, ollamaHead(model)+`,"message":`+ollamaMessage(text, thinking, calls)+`,"done":true,"done_reason":"stop",`+ollamaMetrics+"}")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl := w.(http.Flusher)
	if thinking != "" {
		io.WriteString(w, ollamaChatLine(model, "", thinking, ""))
	}
	for _, piece := range strings.SplitAfter(text, " ") {
		if piece != "" {
			io.WriteString(w, ollamaChatLine(model, piece, "", ""))
			fl.Flush()
		}
	}
	if calls != "" {
		io.WriteString(w, ollamaChatLine(model, "", "", calls))
	}
	io.WriteString(w, ollamaChatDone(model, "stop"))
	fl.Flush()
}

// answerOllamaGenerate answers /api/generate: the middle of a FIM or raw
// prompt, else hello.
func answerOllamaGenerate(w http.ResponseWriter, req *api.GenerateRequest) {
	model := req.Model
	if req.Prompt == "" && len(req.Images) == 0 {
		writeJSON(w, ollamaHead(model)+`,"response":"","done":true,"done_reason":"load"}`)
		return
	}
	text := nativeHello(model)
	if req.Suffix != "" || req.Raw {
		text = fimText(model)
	}
	ctx := `"context":[151644,872,198],`
	if req.Raw {
		ctx = "" // a raw prompt has no conversation to carry on
	}
	done := ollamaHead(model) + `,"response":"","done":true,"done_reason":"stop",` + ctx + ollamaMetrics + "}"
	if req.Stream != nil && !*req.Stream {
		writeJSON(w, strings.Replace(done, `"response":""`, `"response":`+js(text), 1))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	for _, piece := range strings.SplitAfter(text, " ") {
		if piece != "" {
			io.WriteString(w, ollamaHead(model)+`,"response":`+js(piece)+`,"done":false}`+"\n")
			w.(http.Flusher).Flush()
		}
	}
	io.WriteString(w, done+"\n")
}

// openAI serves Ollama's OpenAI-compatible API with the OpenAI-compatible
// fake's rules and answers.
func (f *fakeOllama) openAI(w http.ResponseWriter, r *http.Request, body []byte) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		f.problem("answered 400: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	validate, answer := validateChat, (&fakeChat{}).answer
	switch r.URL.Path {
	case "/v1/completions":
		validate, answer = validateCompletions, answerCompletions
	case "/v1/embeddings":
		validate, answer = validateEmbeddings, answerEmbeddings
	}
	if msg := validate(req); msg != "" {
		f.problem("answered 400: %s", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, openAIErrorJSON(msg, "invalid_request_error", "", ""))
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, upstreamSeen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, body) {
		return
	}
	answer(w, req)
}

// ---- OpenAI's completions and embeddings, for fakeChat and fakeOllama ----

// completionParams are the parameters of OpenAI's legacy completions;
// anything else is "Unrecognized request argument supplied".
var completionParams = set("model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options",
	"logprobs", "echo", "stop", "presence_penalty", "frequency_penalty", "best_of", "logit_bias", "user", "seed")

// validateCompletions applies /v1/completions' rules; "" means valid. It
// takes a suffix (llama.cpp, LM Studio and Ollama do; vLLM refuses one,
// which the tests show separately) and any number of stop sequences, as
// those servers do.
func validateCompletions(req map[string]json.RawMessage) string {
	for k := range req {
		if !completionParams[k] {
			return "Unrecognized request argument supplied: " + k
		}
	}
	var model string
	if json.Unmarshal(req["model"], &model) != nil || model == "" {
		return "you must provide a model parameter"
	}
	switch jsonKind(req["prompt"]) {
	case "string":
	case "array":
		var ss []string
		var toks []int
		var arrs [][]int
		if json.Unmarshal(req["prompt"], &ss) != nil && json.Unmarshal(req["prompt"], &toks) != nil && json.Unmarshal(req["prompt"], &arrs) != nil {
			return "Invalid type for 'prompt': expected a string, an array of strings or token arrays"
		}
	default:
		return "Missing required parameter: 'prompt'."
	}
	if k := jsonKind(req["suffix"]); k != "" && k != "string" && k != "null" {
		return "Invalid type for 'suffix': expected a string"
	}
	stream := false
	if raw, ok := req["stream"]; ok && json.Unmarshal(raw, &stream) != nil {
		return "Invalid type for 'stream': expected a boolean"
	}
	if raw, ok := req["stream_options"]; ok {
		var so map[string]json.RawMessage
		if !stream || json.Unmarshal(raw, &so) != nil {
			return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
		}
		for k := range so {
			if k != "include_usage" {
				return "Unrecognized request argument supplied: stream_options." + k
			}
		}
	}
	for _, k := range []string{"max_tokens", "n", "seed", "logprobs", "best_of"} {
		if raw, ok := req[k]; ok && string(raw) != "null" {
			var n float64
			if json.Unmarshal(raw, &n) != nil || n != math.Trunc(n) || n < 0 {
				return fmt.Sprintf("Invalid type for '%s': expected an integer", k)
			}
		}
	}
	for k, hi := range map[string]float64{"temperature": 2, "top_p": 1} {
		if raw, ok := req[k]; ok && string(raw) != "null" {
			var x float64
			if json.Unmarshal(raw, &x) != nil || x < 0 || x > hi {
				return fmt.Sprintf("Invalid '%s': expected a number from 0 to %v", k, hi)
			}
		}
	}
	if raw, ok := req["stop"]; ok && string(raw) != "null" {
		var one string
		var many []string
		if json.Unmarshal(raw, &one) != nil && json.Unmarshal(raw, &many) != nil {
			return "Invalid 'stop': expected a string or an array of strings"
		}
	}
	return ""
}

// answerCompletions answers a completion: the middle of a FIM prompt (a
// suffix, or a prompt already in FIM tokens), else a plain completion;
// streamed as OpenAI streams text_completion chunks, then the usage chunk
// when asked, then [DONE].
func answerCompletions(w http.ResponseWriter, req map[string]json.RawMessage) {
	var model, prompt, suffix string
	var stream bool
	json.Unmarshal(req["model"], &model)
	json.Unmarshal(req["prompt"], &prompt)
	json.Unmarshal(req["suffix"], &suffix)
	json.Unmarshal(req["stream"], &stream)
	text := "Completed by " + model + "."
	if suffix != "" || strings.Contains(prompt, "<|fim_middle|>") {
		text = fimText(model)
	}
	const usage = `{"prompt_tokens":21,"completion_tokens":9,"total_tokens":30}`
	if !stream {
		writeJSON(w, fmt.Sprintf(`{"id":"cmpl-e2e","object":"text_completion","created":1764000000,"model":%s,"system_fingerprint":"fp_e2e",`+
			`"choices":[{"text":%s,"index":0,"logprobs":null,"finish_reason":"stop"}],"usage":%s}`, js(model), js(text), usage))
		return
	}
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	json.Unmarshal(req["stream_options"], &so)
	w.Header().Set("Content-Type", "text/event-stream")
	ev := func(text, finish string) string {
		if finish == "" {
			finish = "null"
		} else {
			finish = `"` + finish + `"`
		}
		return fmt.Sprintf(`data: {"id":"cmpl-e2e","object":"text_completion","created":1764000000,"model":%s,"system_fingerprint":"fp_e2e",`+
			`"choices":[{"text":%s,"index":0,"logprobs":null,"finish_reason":%s}]}`+"\n\n", js(model), js(text), finish)
	}
	for _, piece := range strings.SplitAfter(text, " ") {
		if piece != "" {
			io.WriteString(w, ev(piece, ""))
			w.(http.Flusher).Flush()
		}
	}
	io.WriteString(w, ev("", "stop"))
	if so.IncludeUsage {
		fmt.Fprintf(w, `data: {"id":"cmpl-e2e","object":"text_completion","created":1764000000,"model":%s,"choices":[],"usage":%s}`+"\n\n", js(model), usage)
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

var embeddingParams = set("model", "input", "encoding_format", "dimensions", "user")

// validateEmbeddings applies /v1/embeddings' rules; "" means valid.
func validateEmbeddings(req map[string]json.RawMessage) string {
	for k := range req {
		if !embeddingParams[k] {
			return "Unrecognized request argument supplied: " + k
		}
	}
	var model string
	if json.Unmarshal(req["model"], &model) != nil || model == "" {
		return "you must provide a model parameter"
	}
	if n := len(embedInputs(req["input"])); n == 0 {
		return "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
	}
	if raw, ok := req["encoding_format"]; ok && string(raw) != `"float"` && string(raw) != `"base64"` {
		return "Invalid value for 'encoding_format': " + string(raw)
	}
	if raw, ok := req["dimensions"]; ok {
		var d int
		if json.Unmarshal(raw, &d) != nil || d < 1 {
			return "Invalid 'dimensions': integer below minimum value."
		}
	}
	return ""
}

// embedInputs reads input: a non-empty string, an array of them, a token
// array or an array of token arrays; nil when it is none of those.
func embedInputs(raw json.RawMessage) []json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil
		}
		return []json.RawMessage{raw}
	}
	var toks []int
	if json.Unmarshal(raw, &toks) == nil && len(toks) > 0 {
		return []json.RawMessage{raw}
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return nil
	}
	for _, it := range items {
		var s string
		var arr []int
		if json.Unmarshal(it, &s) == nil && s != "" || json.Unmarshal(it, &arr) == nil && len(arr) > 0 {
			continue
		}
		return nil
	}
	return items
}

// answerEmbeddings answers in OpenAI's list shape, vectors as floats or,
// asked for base64, as little-endian float32s.
func answerEmbeddings(w http.ResponseWriter, req map[string]json.RawMessage) {
	var model, format string
	var dims int
	json.Unmarshal(req["model"], &model)
	json.Unmarshal(req["encoding_format"], &format)
	json.Unmarshal(req["dimensions"], &dims)
	var data []string
	inputs := embedInputs(req["input"])
	for i := range inputs {
		v := embedVector(1, i, dims, 4)
		emb := floats(v)
		if format == "base64" {
			emb = `"` + base64Floats(v) + `"`
		}
		data = append(data, fmt.Sprintf(`{"object":"embedding","index":%d,"embedding":%s}`, i, emb))
	}
	writeJSON(w, fmt.Sprintf(`{"object":"list","data":[%s],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`,
		strings.Join(data, ","), js(model), 3*len(inputs), 3*len(inputs)))
}

// embedVector is a fake's embedding of input i: base+i, then steps of a
// quarter, values a float32 holds exactly, so a vector survives every
// conversion unchanged; dims of them, or def when dims is 0.
func embedVector(base, i, dims, def int) []float32 {
	if dims == 0 {
		dims = def
	}
	v := make([]float32, dims)
	for j := range v {
		v[j] = float32(base+i) + float32(j)/4
	}
	return v
}

func floats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ---- Gemini's batchEmbedContents, for fakeGemini ----

// geminiEmbedModel is the embedding model the fake Gemini serves.
const geminiEmbedModel = "gemini-embedding-001"

// batchEmbed serves models/{model}:batchEmbedContents as the API does:
// each request names the URL's model and has content with text parts; the
// answer holds one embedding per request, outputDimensionality long.
func batchEmbed(w http.ResponseWriter, model string, body []byte) {
	if model != geminiEmbedModel {
		geminiError(w, 404, "NOT_FOUND", "models/"+model+" is not found for API version v1beta, or is not supported for batchEmbedContents.")
		return
	}
	var req struct {
		Requests []struct {
			Model   string `json:"model"`
			Content *struct {
				Parts []struct {
					Text *string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
			TaskType             string `json:"taskType"`
			OutputDimensionality *int   `json:"outputDimensionality"`
		} `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		geminiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	if len(req.Requests) == 0 {
		geminiError(w, 400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: at least one request is required")
		return
	}
	var out []string
	for i, r := range req.Requests {
		switch {
		case r.Model != "models/"+model:
			geminiError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("* BatchEmbedContentsRequest.requests[%d].model: model %q does not match the model in the URL", i, r.Model))
			return
		case r.Content == nil || len(r.Content.Parts) == 0:
			geminiError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("* BatchEmbedContentsRequest.requests[%d].content.parts: contents.parts must not be empty.", i))
			return
		case r.OutputDimensionality != nil && *r.OutputDimensionality < 1:
			geminiError(w, 400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests[].output_dimensionality: must be positive")
			return
		}
		for _, p := range r.Content.Parts {
			if p.Text == nil {
				geminiError(w, 400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests[].content.parts[]: only text is supported")
				return
			}
		}
		dims := 0
		if r.OutputDimensionality != nil {
			dims = *r.OutputDimensionality
		}
		out = append(out, `{"values":`+floats(embedVector(100, i, dims, 3))+`}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	io.WriteString(w, `{"embeddings":[`+strings.Join(out, ",")+`]}`)
}

// TestOllamaCaptureChecks holds the stream checks to the captures: what a
// real Ollama sent passes them (a stream, a whole answer, one with a tool
// call, a stream whose runner was killed), and each way a line can differ
// from a real one fails them, so that the checks passing on the gateway's
// answers means something.
func TestOllamaCaptureChecks(t *testing.T) {
	shape := captureShape(t, false)
	stream := capture(t, "30-api-chat-stream.body")
	if a, err := checkNDJSON(stream, shape); err != nil || a.done == nil || a.reason != "length" || a.lines != 12 {
		t.Errorf("the capture 30 fails the checks: %v (%+v)", err, a)
	}
	if a, err := checkOllamaObject(capture(t, "31-api-chat.body"), shape); err != nil || a.text != `\ELondF 202un. aboutParis Tou` {
		t.Errorf("the capture 31 fails the checks: %v", err)
	}
	if a, err := checkOllamaObject(capture(t, "32-api-chat-tools-forced.body"), shape); err != nil || len(a.calls) != 1 || a.calls[0].Function.Name != "get_weather" {
		t.Errorf("the capture 32 fails the checks: %v", err)
	}
	if a, err := checkNDJSON(dechunk(t, capture(t, "43-api-chat-stream-runner-killed.raw")), shape); err != nil || a.done != nil || !strings.Contains(a.err, "unexpected EOF") {
		t.Errorf("the capture 43 fails the checks: %v", err)
	}

	lines := strings.SplitAfter(string(stream), "\n")
	text, done := lines[0], lines[len(lines)-2]
	for name, body := range map[string]string{
		"no newline at the end":        strings.TrimSuffix(text+done, "\n"),
		"no done line":                 text + text,
		"done line not last":           done + text,
		"two done lines":               text + done + done,
		"an empty line":                text + "\n" + done,
		"not JSON":                     text + "data: {}\n" + done,
		"done a string":                strings.Replace(text, `"done":false`, `"done":"false"`, 1) + done,
		"created_at not RFC 3339":      strings.Replace(text, `"created_at":"2026-12-03T11:40:44.124101766Z"`, `"created_at":"yesterday"`, 1) + done,
		"model missing":                strings.Replace(text, `"model":"tiny",`, ``, 1) + done,
		"a field Ollama does not send": strings.Replace(text, `"done":false`, `"done":false,"id":"x"`, 1) + done,
		"done_reason on a text line":   strings.Replace(text, `"done":false`, `"done":false,"done_reason":"stop"`, 1) + done,
		"role not assistant":           strings.Replace(text, `"role":"assistant"`, `"role":"user"`, 1) + done,
		"content not a string":         strings.Replace(text, `"content":"\\"`, `"content":null`, 1) + done,
		"a duration with a fraction":   text + strings.Replace(done, `"total_duration":30133418`, `"total_duration":30133.418`, 1),
		"a negative count":             text + strings.Replace(done, `"eval_count":16`, `"eval_count":-16`, 1),
		"a count as a string":          text + strings.Replace(done, `"eval_count":16`, `"eval_count":"16"`, 1),
		"done without its metrics":     text + strings.Replace(done, `,"eval_duration":23524952`, ``, 1),
		"an unknown done_reason":       text + strings.Replace(done, `"done_reason":"length"`, `"done_reason":"tool_calls"`, 1),
		"arguments as a string":        strings.Replace(text, `"content":"\\"`, `"content":"","tool_calls":[{"function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`, 1) + done,
		"a call without a name":        strings.Replace(text, `"content":"\\"`, `"content":"","tool_calls":[{"function":{"arguments":{}}}]`, 1) + done,
		"an error beside a done":       text + done + `{"error":"boom"}` + "\n",
		"an error with other fields":   text + `{"error":"boom","done":true}` + "\n",
		"an error before the end":      text + `{"error":"boom"}` + "\n" + text + `{"error":"boom"}` + "\n",
	} {
		if _, err := checkNDJSON([]byte(body), shape); err == nil {
			t.Errorf("%s: the checks pass %q", name, body)
		}
	}
	gen := captureShape(t, true)
	if _, err := checkNDJSON(stream, gen); err == nil {
		t.Error("/api/chat's lines pass the checks of /api/generate's")
	}
	genText := `{"model":"m","created_at":"2026-12-03T11:40:44.124101766Z","response":"a","done":false}` + "\n"
	genDone := `{"model":"m","created_at":"2026-12-03T11:40:44.124101766Z","response":"","done":true,"done_reason":"stop","context":[1,2],` + ollamaMetrics + "}\n"
	if a, err := checkNDJSON([]byte(genText+genDone), gen); err != nil || a.text != "a" {
		t.Errorf("a generate stream fails the checks: %v", err)
	}
	if _, err := checkNDJSON([]byte(strings.Replace(genText, `"response":"a"`, `"message":{"role":"assistant","content":"a"}`, 1)+genDone), gen); err == nil {
		t.Error("a generate line with a message passes")
	}
}

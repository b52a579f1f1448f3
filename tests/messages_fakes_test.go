package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// This file holds what the Messages tests (messages_test.go) drive the
// gateway with: the Anthropic SDK with a recorder on its side, an upstream
// that speaks Messages (the API itself, or a local server such as Ollama ≥
// 0.14), an OpenAI-compatible upstream that validates Chat Completions like
// the real API, and a reader of Messages event streams.

// clientToken is the credential the client sends for its own auth
// (ANTHROPIC_AUTH_TOKEN style); it must never reach an upstream.
const clientToken = "sk-ant-client-own-token-never-forwarded-91f3"

// ---- the client side ----

// sdkRecorder is the Anthropic SDK's transport: it keeps the last request
// as the SDK sent it and the last answer as it came back (the body only
// when it is not a stream, so streams stay incremental).
type sdkRecorder struct {
	mu         sync.Mutex // guards the fields below
	reqURL     *url.URL
	reqHeader  http.Header
	reqBody    []byte
	status     int
	respHeader http.Header
	respBody   []byte
	tr         http.RoundTripper
}

func (rt *sdkRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rt.mu.Lock()
	rt.reqURL, rt.reqHeader, rt.reqBody = r.URL, r.Header.Clone(), body
	rt.status, rt.respHeader, rt.respBody = 0, nil, nil
	tr := rt.tr
	rt.mu.Unlock()
	resp, err := tr.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	var rb []byte
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		rb, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(rb))
	}
	rt.mu.Lock()
	rt.status, rt.respHeader, rt.respBody = resp.StatusCode, resp.Header.Clone(), rb
	rt.mu.Unlock()
	return resp, nil
}

// sent returns the last request the SDK made.
func (rt *sdkRecorder) sent() (http.Header, []byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.reqHeader, rt.reqBody
}

// got returns the last answer's status, headers and (non-stream) body.
func (rt *sdkRecorder) got() (int, http.Header, []byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.status, rt.respHeader, rt.respBody
}

// route is the X-LocalRouter-Route of the last answer.
func (rt *sdkRecorder) route() string {
	_, h, _ := rt.got()
	return h.Get("X-LocalRouter-Route")
}

// claudeSDK returns an Anthropic SDK client for the gateway p, with its own
// credential (Authorization: Bearer, as ANTHROPIC_AUTH_TOKEN makes it) and
// no retries; rec sees every request.
func claudeSDK(t *testing.T, p *proc, rec *sdkRecorder, opts ...option.RequestOption) *anthropic.Client {
	t.Helper()
	return claudeSDKAuth(t, p, rec, clientToken, opts...)
}

// claudeSDKAuth is claudeSDK with token as the credential; "" sends none.
func claudeSDKAuth(t *testing.T, p *proc, rec *sdkRecorder, token string, opts ...option.RequestOption) *anthropic.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rec.tr = tr
	base := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(p.url + "/"),
		option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: rec}),
	}
	if token != "" {
		base = append(base, option.WithAuthToken(token))
	}
	c := anthropic.NewClient(append(base, opts...)...)
	return &c
}

// withXAPIKey makes the SDK authenticate as Claude Code does with
// ANTHROPIC_API_KEY: x-api-key instead of Authorization.
func withXAPIKey(key string) option.RequestOption {
	return option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		r.Header.Del("Authorization")
		r.Header.Set("X-Api-Key", key)
		return next(r)
	})
}

// ---- Messages event streams ----

type sseEvent struct {
	name string
	data string
}

// parseSSE splits a text/event-stream body into its events.
func parseSSE(body []byte) ([]sseEvent, error) {
	var evs []sseEvent
	var cur sseEvent
	var data []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	flush := func() {
		if cur.name != "" || len(data) > 0 {
			cur.data = strings.Join(data, "\n")
			evs = append(evs, cur)
		}
		cur, data = sseEvent{}, nil
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			cur.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		default:
			return nil, fmt.Errorf("not an SSE line: %q", line)
		}
	}
	flush()
	return evs, sc.Err()
}

// checkMessagesStream checks the event grammar the Messages API documents
// and Claude Code relies on: message_start; blocks one at a time with
// indexes 0, 1, … (content_block_start, deltas of the block's kind,
// content_block_stop); exactly one message_delta; message_stop last; ping
// anywhere; no error event. It returns the event names in order.
func checkMessagesStream(evs []sseEvent) ([]string, error) {
	var names []string
	next, open, openType := 0, -1, ""
	deltas := 0
	for i, ev := range evs {
		names = append(names, ev.name)
		var d struct {
			Type         string `json:"type"`
			Index        *int   `json:"index"`
			ContentBlock struct {
				Type string `json:"type"`
			} `json:"content_block"`
			Delta struct {
				Type string `json:"type"`
			} `json:"delta"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			return names, fmt.Errorf("event %d (%s): data is not JSON: %v: %s", i, ev.name, err, ev.data)
		}
		if d.Type != ev.name {
			return names, fmt.Errorf("event %d: name %q but data type %q", i, ev.name, d.Type)
		}
		if i == 0 && ev.name != "message_start" {
			return names, fmt.Errorf("first event is %q, want message_start", ev.name)
		}
		switch ev.name {
		case "ping":
		case "message_start":
			if i != 0 {
				return names, fmt.Errorf("a second message_start at event %d", i)
			}
		case "content_block_start":
			if open >= 0 || d.Index == nil || *d.Index != next || deltas > 0 {
				return names, fmt.Errorf("event %d: content_block_start index %v while block %d is open (next %d)", i, d.Index, open, next)
			}
			open, openType = next, d.ContentBlock.Type
			next++
		case "content_block_delta":
			if d.Index == nil || *d.Index != open {
				return names, fmt.Errorf("event %d: delta for block %v, open is %d", i, d.Index, open)
			}
			want := map[string]string{"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "thinking",
				"input_json_delta": "tool_use", "citations_delta": "text"}[d.Delta.Type]
			if want != openType {
				return names, fmt.Errorf("event %d: %s inside a %s block", i, d.Delta.Type, openType)
			}
		case "content_block_stop":
			if d.Index == nil || *d.Index != open {
				return names, fmt.Errorf("event %d: stop for block %v, open is %d", i, d.Index, open)
			}
			open = -1
		case "message_delta":
			if open >= 0 || deltas > 0 {
				return names, fmt.Errorf("event %d: message_delta with block %d open or after another message_delta", i, open)
			}
			deltas++
		case "message_stop":
			if deltas != 1 || i != len(evs)-1 {
				return names, fmt.Errorf("event %d: message_stop after %d message_delta, %d events after it", i, deltas, len(evs)-1-i)
			}
		case "error":
			return names, fmt.Errorf("event %d: error event: %s", i, ev.data)
		default:
			return names, fmt.Errorf("event %d: unknown event %q", i, ev.name)
		}
	}
	if len(names) == 0 || names[len(names)-1] != "message_stop" {
		return names, fmt.Errorf("the stream did not end with message_stop: %v", names)
	}
	return names, nil
}

// ---- an upstream that speaks Messages ----

// fakeMessages is an upstream serving Anthropic Messages. As the API
// (key set) it requires its x-api-key and checks thinking signatures, which
// it issues itself; as a local server (key "") it takes no key, like
// Ollama. Either validates requests as the API documents, answers 400
// invalid_request_error otherwise, and records every request it got.
type fakeMessages struct {
	*httptest.Server
	name      string // says hello as "Hello from <name>."
	key       string
	checkSigs bool
	hasCount  bool // serves /v1/messages/count_tokens

	mu       sync.Mutex // guards the fields below
	reqs     []upstreamSeen
	counts   []upstreamSeen
	problems []string
	issued   map[string]bool
	hook     func(w http.ResponseWriter, r *http.Request, req *msgReq) bool
}

type upstreamSeen struct {
	path, query string
	header      http.Header
	body        []byte
}

// msgReq is the part of a Messages request the fake reads.
type msgReq struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	Stream    bool            `json:"stream"`
	System    json.RawMessage `json:"system"`
	Thinking  *struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
	} `json:"thinking"`
	Tools []struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

type msgBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Thinking  *string         `json:"thinking"`
	Signature *string         `json:"signature"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	Source    *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	} `json:"source"`
}

// blocks returns message i's content blocks; a string is one text block.
func (m *msgReq) blocks(i int) ([]msgBlock, error) {
	raw := bytes.TrimSpace(m.Messages[i].Content)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []msgBlock{{Type: "text", Text: &s}}, nil
	}
	var bs []msgBlock
	err := json.Unmarshal(raw, &bs)
	return bs, err
}

func (m *msgReq) thinkingOn() bool {
	return m.Thinking != nil && (m.Thinking.Type == "enabled" || m.Thinking.Type == "adaptive")
}

func (m *msgReq) hasTool(name string) bool {
	for _, t := range m.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// lastTurn returns the blocks of the last message that is not a system message.
func (m *msgReq) lastTurn() []msgBlock {
	for i := len(m.Messages) - 1; i >= 0; i-- {
		if m.Messages[i].Role != "system" {
			bs, _ := m.blocks(i)
			return bs
		}
	}
	return nil
}

// newFakeAnthropicAPI is the Messages API itself: key required, signatures checked.
func newFakeAnthropicAPI(t *testing.T) *fakeMessages {
	return newFakeMessages(t, "Claude", anthropicKey, true)
}

// newFakeLocalMessages is a local server that serves Messages beside Chat
// Completions (Ollama ≥ 0.14, LM Studio, vLLM): no key, no signature
// checks, and GET /v1/models for the gateway's health probe.
func newFakeLocalMessages(t *testing.T) *fakeMessages {
	return newFakeMessages(t, "qwen3-coder", "", false)
}

func newFakeMessages(t *testing.T, name, key string, api bool) *fakeMessages {
	f := &fakeMessages{name: name, key: key, checkSigs: api, hasCount: api, issued: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Messages upstream %s: %s", name, p)
		}
	})
	return f
}

// setHook makes h answer the requests it wants (it returns true for
// those), after validation and recording.
func (f *fakeMessages) setHook(h func(w http.ResponseWriter, r *http.Request, req *msgReq) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// issue returns a new signature this API will accept back.
func (f *fakeMessages) issue() string {
	sig := "EqQBCkYIBxgCKkD" + strings.ToLower(rand.Text()) + "=="
	f.mu.Lock()
	f.issued[sig] = true
	f.mu.Unlock()
	return sig
}

// signed reports whether this API issued sig.
func (f *fakeMessages) signed(sig string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued[sig]
}

// accept marks a signature as issued by this API (one from an earlier session).
func (f *fakeMessages) accept(sig string) {
	f.mu.Lock()
	f.issued[sig] = true
	f.mu.Unlock()
}

func (f *fakeMessages) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// requests returns the valid /v1/messages requests received so far.
func (f *fakeMessages) requests() []upstreamSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamSeen(nil), f.reqs...)
}

func (f *fakeMessages) last(t *testing.T) upstreamSeen {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatalf("fake %s got no valid request", f.name)
	}
	return rs[len(rs)-1]
}

// lastCount returns the last count_tokens request received.
func (f *fakeMessages) lastCount(t *testing.T) upstreamSeen {
	t.Helper()
	f.mu.Lock()
	cs := append([]upstreamSeen(nil), f.counts...)
	f.mu.Unlock()
	if len(cs) == 0 {
		t.Fatalf("fake %s got no count_tokens request", f.name)
	}
	return cs[len(cs)-1]
}

func anthropicErrorJSON(typ, msg string) string {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg},
		"request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
	return string(b)
}

func (f *fakeMessages) reject(w http.ResponseWriter, status int, typ, msg string) {
	f.problem("answered %d %s: %s", status, typ, msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, anthropicErrorJSON(typ, msg))
}

func (f *fakeMessages) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/v1/models" && f.key == "" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"qwen3-coder","object":"model","created":1764000000,"owned_by":"library"}]}`)
		return
	}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/") && f.key == "" {
		// Ollama's and LM Studio's model APIs, which the probe asks
		// first: this server, like vLLM, has neither.
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// The client's own credential must never get here.
	if f.key != "" {
		if got := r.Header.Get("X-Api-Key"); got != f.key {
			f.reject(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
			return
		}
		if a := r.Header.Get("Authorization"); a != "" {
			f.problem("the API got an Authorization header %q beside its key", a)
		}
	} else if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
		f.problem("a credential reached the local server: Authorization %q, X-Api-Key %q", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}
	if strings.Contains(string(body), clientToken) {
		f.problem("the client's token is in the body")
	}
	if r.Method != http.MethodPost {
		f.reject(w, http.StatusMethodNotAllowed, "invalid_request_error", "method not allowed")
		return
	}
	count := r.URL.Path == "/v1/messages/count_tokens"
	if !count && r.URL.Path != "/v1/messages" || count && !f.hasCount {
		if count {
			// Ollama has no count_tokens: a plain 404, which is no problem.
			http.NotFound(w, r)
			return
		}
		f.reject(w, http.StatusNotFound, "not_found_error", "Not found: "+r.URL.Path)
		return
	}
	if r.Header.Get("Anthropic-Version") == "" && f.key != "" {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", "Content-Type must be application/json, not "+ct)
		return
	}
	var req msgReq
	if err := json.Unmarshal(body, &req); err != nil {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", "There was an error parsing the body: "+err.Error())
		return
	}
	if msg := f.validate(&req, body, count); msg != "" {
		f.reject(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	seen := upstreamSeen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body}
	f.mu.Lock()
	if count {
		f.counts = append(f.counts, seen)
	} else {
		f.reqs = append(f.reqs, seen)
	}
	hook := f.hook
	f.mu.Unlock()
	if count {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"input_tokens":4242}`)
		return
	}
	if hook != nil && hook(w, r, &req) {
		return
	}
	f.answer(w, &req)
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// validate applies the Messages API's documented rules; "" means valid.
func (f *fakeMessages) validate(req *msgReq, body []byte, count bool) string {
	switch {
	case req.Model == "":
		return "model: Field required"
	case !count && (req.MaxTokens == nil || *req.MaxTokens < 1):
		return "max_tokens: Field required"
	case len(req.Messages) == 0:
		return "messages: Field required"
	}
	if n := bytes.Count(body, []byte(`"cache_control"`)); n > 4 {
		return fmt.Sprintf("A maximum of 4 blocks with cache_control may be provided. Found %d.", n)
	}
	if req.Thinking != nil {
		switch req.Thinking.Type {
		case "enabled":
			if req.Thinking.BudgetTokens < 1024 {
				return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
			}
			if !count && req.Thinking.BudgetTokens >= *req.MaxTokens {
				return "`max_tokens` must be greater than `thinking.budget_tokens`"
			}
		case "adaptive", "disabled":
		default:
			return "thinking: Input tag '" + req.Thinking.Type + "' found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
		}
	}
	names := map[string]bool{}
	for i, tl := range req.Tools {
		if tl.Type != "" && tl.Type != "custom" {
			continue // a server tool
		}
		if !toolNameRE.MatchString(tl.Name) {
			return fmt.Sprintf("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i)
		}
		if names[tl.Name] {
			return "tools: Tool names must be unique."
		}
		names[tl.Name] = true
		var schema struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(tl.InputSchema, &schema) != nil || schema.Type != "object" {
			return fmt.Sprintf("tools.%d.custom.input_schema.type: Input should be 'object'", i)
		}
	}
	var pending map[string]bool // tool_use ids of the previous assistant turn
	prevRole := ""
	lastAssistant := -1
	for i := range req.Messages {
		role := req.Messages[i].Role
		bs, err := req.blocks(i)
		if err != nil {
			return fmt.Sprintf("messages.%d.content: Input should be a valid list: %v", i, err)
		}
		if len(bs) == 0 {
			return fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
		}
		if role == "system" {
			// Mid-conversation system messages: text only, and no turn of their own.
			for j, b := range bs {
				if b.Type != "text" {
					return fmt.Sprintf("messages.%d.content.%d: system messages take text blocks only", i, j)
				}
			}
			continue
		}
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user', 'assistant' or 'system'", i)
		}
		if prevRole == "" && role != "user" || prevRole == role {
			return fmt.Sprintf("messages.%d: roles must alternate between \"user\" and \"assistant\", starting with user", i)
		}
		prevRole = role
		uses := map[string]bool{}
		others := 0
		for j, b := range bs {
			switch b.Type {
			case "text":
				if b.Text == nil || *b.Text == "" {
					return fmt.Sprintf("messages.%d.content.%d.text: text content blocks must be non-empty", i, j)
				}
				others++
			case "image":
				if b.Source == nil {
					return fmt.Sprintf("messages.%d.content.%d.image.source: Field required", i, j)
				}
				if b.Source.Type == "base64" {
					switch b.Source.MediaType {
					case "image/jpeg", "image/png", "image/gif", "image/webp":
					default:
						return fmt.Sprintf("messages.%d.content.%d.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", i, j)
					}
					if _, err := base64.StdEncoding.DecodeString(b.Source.Data); err != nil {
						return fmt.Sprintf("messages.%d.content.%d.image.source.base64: invalid base64 data", i, j)
					}
				}
				others++
			case "thinking", "redacted_thinking":
				if role != "assistant" {
					return fmt.Sprintf("messages.%d.content.%d: thinking blocks are only allowed in assistant messages", i, j)
				}
				if b.Type == "thinking" {
					if b.Signature == nil {
						return fmt.Sprintf("messages.%d.content.%d.thinking.signature: Field required", i, j)
					}
					f.mu.Lock()
					ok := f.issued[*b.Signature]
					f.mu.Unlock()
					if f.checkSigs && !ok {
						return fmt.Sprintf("messages.%d.content.%d: Invalid `signature` in `thinking` block", i, j)
					}
				}
			case "tool_use":
				if role != "assistant" {
					return fmt.Sprintf("messages.%d.content.%d: tool_use blocks are only allowed in assistant messages", i, j)
				}
				if b.ID == "" || b.Name == "" {
					return fmt.Sprintf("messages.%d.content.%d.tool_use: id and name are required", i, j)
				}
				var in map[string]any
				if json.Unmarshal(b.Input, &in) != nil {
					return fmt.Sprintf("messages.%d.content.%d.tool_use.input: Input should be a valid dictionary", i, j)
				}
				uses[b.ID] = true
			case "tool_result":
				if role != "user" || !pending[b.ToolUseID] {
					return fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, b.ToolUseID)
				}
				if others > 0 {
					return fmt.Sprintf("messages.%d: tool_result blocks must come first in the user message", i)
				}
				delete(pending, b.ToolUseID)
			default:
				others++
			}
		}
		if role == "user" && len(pending) > 0 {
			return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %v. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, keys(pending))
		}
		if role == "assistant" {
			lastAssistant = i
		}
		pending = uses
	}
	// With thinking on, the assistant turn that opened the tool loop now
	// being answered must start with a thinking block.
	if req.thinkingOn() && lastAssistant >= 0 {
		last := req.lastTurn()
		if len(last) > 0 && last[0].Type == "tool_result" {
			bs, _ := req.blocks(lastAssistant)
			if t := bs[0].Type; t != "thinking" && t != "redacted_thinking" {
				return fmt.Sprintf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%s`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.", lastAssistant, t)
			}
		}
	}
	return ""
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// aBlock is one content block of an answer.
type aBlock struct {
	typ                 string // text, thinking, tool_use
	text                string
	thinking, signature string
	id, name, input     string
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// answer replies as the model would: the results of tool calls are
// acknowledged, an image is described, the weather and time tools are
// called when offered, else hello. With thinking on, a signed thinking
// block comes first.
func (f *fakeMessages) answer(w http.ResponseWriter, req *msgReq) {
	var blocks []aBlock
	if req.thinkingOn() {
		blocks = append(blocks, aBlock{typ: "thinking", thinking: "The user wants facts; tools can give them.", signature: f.issue()})
	}
	last := req.lastTurn()
	results, images := 0, ""
	for _, b := range last {
		switch b.Type {
		case "tool_result":
			results++
		case "image":
			images = b.Source.MediaType
		}
	}
	stop := "end_turn"
	switch {
	case results > 0:
		blocks = append(blocks, aBlock{typ: "text", text: fmt.Sprintf("Got %d tool results.", results)})
	case images != "":
		blocks = append(blocks, aBlock{typ: "text", text: "I see an " + images + " image."})
	case req.hasTool("apply_patch"):
		// Codex's freeform tool, reaching Messages as a one-string-parameter
		// tool; the input non-ASCII escaped so that the stream's byte-split
		// fragments stay valid UTF-8.
		blocks = append(blocks, aBlock{typ: "tool_use", id: "toolu_01" + rand.Text(), name: "apply_patch", input: `{"input":` + asciiJSON(applyPatchInput) + `}`})
		stop = "tool_use"
	case req.hasTool("get_weather"):
		blocks = append(blocks, aBlock{typ: "tool_use", id: "toolu_01" + rand.Text(), name: "get_weather", input: `{"city":"Paris","unit":"celsius"}`})
		if req.hasTool("get_time") {
			blocks = append(blocks, aBlock{typ: "tool_use", id: "toolu_01" + rand.Text(), name: "get_time", input: `{"city":"Paris"}`})
		}
		stop = "tool_use"
	default:
		blocks = append(blocks, aBlock{typ: "text", text: "Hello from " + f.name + "."})
	}
	if req.Stream {
		writeEvents(w, messagesEvents(req.Model, blocks, stop))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, messageJSON(req.Model, blocks, stop))
}

func messageJSON(model string, blocks []aBlock, stop string) string {
	var content []string
	for _, b := range blocks {
		switch b.typ {
		case "thinking":
			content = append(content, fmt.Sprintf(`{"type":"thinking","thinking":%s,"signature":%s}`, js(b.thinking), js(b.signature)))
		case "text":
			content = append(content, fmt.Sprintf(`{"type":"text","text":%s}`, js(b.text)))
		case "tool_use":
			content = append(content, fmt.Sprintf(`{"type":"tool_use","id":%s,"name":%s,"input":%s}`, js(b.id), js(b.name), b.input))
		}
	}
	return fmt.Sprintf(`{"id":"msg_01%s","type":"message","role":"assistant","model":%s,"content":[%s],"stop_reason":%q,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":15}}`,
		rand.Text(), js(model), strings.Join(content, ","), stop)
}

// messagesEvents is an answer as the API streams it.
func messagesEvents(model string, blocks []aBlock, stop string) []string {
	ev := func(name, data string) string { return "event: " + name + "\ndata: " + data }
	out := []string{
		ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_01%s","type":"message","role":"assistant","model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}`, rand.Text(), js(model))),
		ev("ping", `{"type": "ping"}`),
	}
	delta := func(i int, d string) string {
		return ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":%s}`, i, d))
	}
	for i, b := range blocks {
		switch b.typ {
		case "thinking":
			out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":"","signature":""}}`, i)))
			half := len(b.thinking) / 2
			out = append(out,
				delta(i, `{"type":"thinking_delta","thinking":`+js(b.thinking[:half])+`}`),
				delta(i, `{"type":"thinking_delta","thinking":`+js(b.thinking[half:])+`}`),
				delta(i, `{"type":"signature_delta","signature":`+js(b.signature)+`}`))
		case "text":
			out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, i)))
			for _, word := range strings.SplitAfter(b.text, " ") {
				out = append(out, delta(i, `{"type":"text_delta","text":`+js(word)+`}`))
			}
		case "tool_use":
			out = append(out, ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%s,"name":%s,"input":{}}}`, i, js(b.id), js(b.name))))
			out = append(out, delta(i, `{"type":"input_json_delta","partial_json":""}`))
			third := len(b.input) / 3
			for _, frag := range []string{b.input[:third], b.input[third : 2*third], b.input[2*third:]} {
				out = append(out, delta(i, `{"type":"input_json_delta","partial_json":`+js(frag)+`}`))
			}
		}
		out = append(out, ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, i)))
	}
	return append(out,
		ev("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":15}}`, stop)),
		ev("message_stop", `{"type":"message_stop"}`))
}

// ---- an OpenAI-compatible upstream ----

// fakeChat is an OpenAI-compatible Chat Completions server (DeepSeek,
// vLLM, Ollama's /v1) that validates requests as the real API does:
// unknown parameters, roles, content parts, tool definitions, tool_call ids
// answered by tool messages right after the assistant message that made
// them, arguments as JSON strings. A request it refuses is a test failure.
type fakeChat struct {
	*httptest.Server
	mu       sync.Mutex // guards the fields below
	reqs     []upstreamSeen
	problems []string
	hook     func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool
}

func newFakeChat(t *testing.T) *fakeChat {
	f := &fakeChat{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Chat Completions upstream: %s", p)
		}
	})
	return f
}

func (f *fakeChat) setHook(h func(w http.ResponseWriter, r *http.Request, req map[string]json.RawMessage) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeChat) requests() []upstreamSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamSeen(nil), f.reqs...)
}

func (f *fakeChat) last(t *testing.T) upstreamSeen {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatal("the fake Chat Completions upstream got no valid request")
	}
	return rs[len(rs)-1]
}

func openAIErrorJSON(msg, typ, param, code string) string {
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if param != "" {
		e["param"] = param
	}
	if code != "" {
		e["code"] = code
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return string(b)
}

func (f *fakeChat) reject(w http.ResponseWriter, status int, msg string) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf("answered %d: %s", status, msg))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, openAIErrorJSON(msg, "invalid_request_error", "", ""))
}

// The parameters the fake takes; anything else is "Unrecognized request
// argument supplied", as the OpenAI API and vLLM answer.
var (
	chatParams = set("model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stream",
		"stream_options", "stop", "tools", "tool_choice", "parallel_tool_calls", "user", "reasoning_effort", "seed", "n",
		"presence_penalty", "frequency_penalty", "response_format", "logprobs", "top_logprobs", "logit_bias")
	messageKeys = map[string]map[string]bool{
		"system":    set("role", "content", "name"),
		"developer": set("role", "content", "name"),
		"user":      set("role", "content", "name"),
		"assistant": set("role", "content", "name", "tool_calls", "refusal", "reasoning_content"),
		"tool":      set("role", "content", "tool_call_id"),
	}
	efforts = set("none", "minimal", "low", "medium", "high", "xhigh")
)

func set(ks ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

var functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func (f *fakeChat) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && (r.URL.Path == "/api/tags" || r.URL.Path == "/api/v0/models") {
		// The local probe asks for Ollama's and LM Studio's own model lists
		// first; an OpenAI-compatible server without them (vLLM, DeepSeek)
		// answers 404, and that is no fault of the request.
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"qwen3","object":"model","owned_by":"local"},{"id":"deepseek-chat","object":"model","owned_by":"deepseek"}]}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+upstreamKey {
		f.mu.Lock()
		f.problems = append(f.problems, "Authorization "+r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, openAIErrorJSON("Incorrect API key provided", "invalid_request_error", "", "invalid_api_key"))
		return
	}
	if r.Header.Get("X-Api-Key") != "" || strings.Contains(string(body), clientToken) {
		f.mu.Lock()
		f.problems = append(f.problems, "the client's credential reached the upstream")
		f.mu.Unlock()
	}
	for k := range r.Header {
		if strings.HasPrefix(k, "Anthropic-") {
			f.mu.Lock()
			f.problems = append(f.problems, "an Anthropic header reached a Chat Completions upstream: "+k)
			f.mu.Unlock()
		}
	}
	// Beside Chat Completions, the legacy completions (with FIM's suffix)
	// and embeddings, which the completions and embeddings doors use
	// (ollama_fakes_test.go).
	validate, answer := validateChat, f.answer
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/completions":
		validate, answer = validateCompletions, answerCompletions
	case r.Method == http.MethodPost && r.URL.Path == "/v1/embeddings":
		validate, answer = validateEmbeddings, answerEmbeddings
	case r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions":
		f.reject(w, http.StatusNotFound, "unknown URL "+r.Method+" "+r.URL.Path)
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		f.reject(w, http.StatusBadRequest, "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	if msg := validate(req); msg != "" {
		f.reject(w, http.StatusBadRequest, msg)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, upstreamSeen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, req) {
		return
	}
	answer(w, req)
}

// validateChat applies the Chat Completions API's rules; "" means valid.
func validateChat(req map[string]json.RawMessage) string {
	for k := range req {
		if !chatParams[k] {
			return "Unrecognized request argument supplied: " + k
		}
	}
	var model string
	if json.Unmarshal(req["model"], &model) != nil || model == "" {
		return "you must provide a model parameter"
	}
	stream := false
	if raw, ok := req["stream"]; ok && json.Unmarshal(raw, &stream) != nil {
		return "Invalid type for 'stream': expected a boolean"
	}
	if _, ok := req["stream_options"]; ok && !stream {
		return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
	}
	if raw, ok := req["max_tokens"]; ok {
		var n int
		if json.Unmarshal(raw, &n) != nil || n < 1 {
			return "Invalid 'max_tokens': integer below minimum value."
		}
	}
	if raw, ok := req["reasoning_effort"]; ok {
		var e string
		if json.Unmarshal(raw, &e) != nil || !efforts[e] {
			return "Invalid value for 'reasoning_effort': " + string(raw)
		}
	}
	if raw, ok := req["stop"]; ok {
		var stops []string
		var one string
		if json.Unmarshal(raw, &one) != nil && (json.Unmarshal(raw, &stops) != nil || len(stops) > 4) {
			return "Invalid 'stop': expected a string or an array of at most 4 strings"
		}
	}
	tools := map[string]bool{}
	if raw, ok := req["tools"]; ok {
		var ts []map[string]json.RawMessage
		if json.Unmarshal(raw, &ts) != nil {
			return "Invalid type for 'tools': expected an array of objects"
		}
		for i, tl := range ts {
			for k := range tl {
				if k != "type" && k != "function" {
					return fmt.Sprintf("Unrecognized request argument supplied: tools[%d].%s", i, k)
				}
			}
			var fn map[string]json.RawMessage
			if string(tl["type"]) != `"function"` || json.Unmarshal(tl["function"], &fn) != nil {
				return fmt.Sprintf("Invalid value for 'tools[%d].type': expected 'function'", i)
			}
			for k := range fn {
				if k != "name" && k != "description" && k != "parameters" && k != "strict" {
					return fmt.Sprintf("Unrecognized request argument supplied: tools[%d].function.%s", i, k)
				}
			}
			var name string
			if json.Unmarshal(fn["name"], &name) != nil || !functionNameRE.MatchString(name) {
				return fmt.Sprintf("Invalid 'tools[%d].function.name': string does not match pattern '^[a-zA-Z0-9_-]{1,64}$'", i)
			}
			if tools[name] {
				return fmt.Sprintf("Invalid 'tools': duplicate function name %s", name)
			}
			tools[name] = true
			if p, ok := fn["parameters"]; ok {
				var schema map[string]any
				if json.Unmarshal(p, &schema) != nil {
					return fmt.Sprintf("Invalid 'tools[%d].function.parameters': expected an object", i)
				}
			}
		}
	}
	if raw, ok := req["tool_choice"]; ok {
		if len(tools) == 0 {
			return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
		}
		var s string
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &s) == nil {
			if s != "none" && s != "auto" && s != "required" {
				return "Invalid value for 'tool_choice': " + s
			}
		} else if json.Unmarshal(raw, &named) != nil || named.Type != "function" || !tools[named.Function.Name] {
			return "Invalid value for 'tool_choice': " + string(raw)
		}
	}
	if raw, ok := req["response_format"]; ok {
		if msg := chatResponseFormat(raw); msg != "" {
			return msg
		}
	}
	if _, ok := req["parallel_tool_calls"]; ok && len(tools) == 0 {
		return "Invalid value for 'parallel_tool_calls': only allowed when 'tools' are specified."
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(req["messages"], &msgs) != nil || len(msgs) == 0 {
		return "Invalid 'messages': expected a non-empty array of objects"
	}
	var pending []string // tool_call ids still waiting for their tool message
	toolTurn := false    // the messages since the assistant message with tool_calls are all tool messages
	for i, m := range msgs {
		var role string
		json.Unmarshal(m["role"], &role)
		allowed, ok := messageKeys[role]
		if !ok {
			return fmt.Sprintf("Invalid value for 'messages[%d].role': %q", i, role)
		}
		for k := range m {
			if !allowed[k] {
				return fmt.Sprintf("Unrecognized request argument supplied: messages[%d].%s", i, k)
			}
		}
		if role != "tool" && len(pending) > 0 {
			return fmt.Sprintf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(pending, ", "))
		}
		switch role {
		case "tool":
			var id string
			json.Unmarshal(m["tool_call_id"], &id)
			at := -1
			for j, p := range pending {
				if p == id {
					at = j
				}
			}
			if !toolTurn || at < 0 {
				return fmt.Sprintf("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (messages[%d], tool_call_id %q).", i, id)
			}
			pending = append(pending[:at], pending[at+1:]...)
			if msg := chatContent(m["content"], i, false, false); msg != "" {
				return msg
			}
			continue
		case "assistant":
			var calls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function *struct {
					Name      string          `json:"name"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"function"`
			}
			if raw, ok := m["tool_calls"]; ok && json.Unmarshal(raw, &calls) != nil {
				return fmt.Sprintf("Invalid type for 'messages[%d].tool_calls': expected an array", i)
			}
			for j, c := range calls {
				if c.ID == "" || c.Type != "function" || c.Function == nil || c.Function.Name == "" {
					return fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d]' needs id, type function and function.name", i, j)
				}
				var args string
				if json.Unmarshal(c.Function.Arguments, &args) != nil {
					return fmt.Sprintf("Invalid type for 'messages[%d].tool_calls[%d].function.arguments': expected a string, but got %s instead.", i, j, c.Function.Arguments)
				}
				var v any
				if json.Unmarshal([]byte(args), &v) != nil {
					return fmt.Sprintf("Invalid 'messages[%d].tool_calls[%d].function.arguments': not valid JSON: %q", i, j, args)
				}
				pending = append(pending, c.ID)
			}
			if msg := chatContent(m["content"], i, len(calls) > 0, false); msg != "" {
				return msg
			}
			toolTurn = len(calls) > 0
			continue
		default:
			if msg := chatContent(m["content"], i, false, role == "user"); msg != "" {
				return msg
			}
		}
		toolTurn = false
	}
	if len(pending) > 0 {
		return fmt.Sprintf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(pending, ", "))
	}
	return ""
}

// chatResponseFormat checks response_format: text, json_object, or
// json_schema with a name, a schema object and nothing the API does not
// know; "" means valid.
func chatResponseFormat(raw json.RawMessage) string {
	var rf map[string]json.RawMessage
	if json.Unmarshal(raw, &rf) != nil {
		return "Invalid type for 'response_format': expected an object"
	}
	var typ string
	json.Unmarshal(rf["type"], &typ)
	for k := range rf {
		if k != "type" && (k != "json_schema" || typ != "json_schema") {
			return "Unrecognized request argument supplied: response_format." + k
		}
	}
	switch typ {
	case "text", "json_object":
		return ""
	case "json_schema":
	default:
		return "Invalid value for 'response_format.type': " + string(rf["type"])
	}
	var spec map[string]json.RawMessage
	if json.Unmarshal(rf["json_schema"], &spec) != nil {
		return "Missing required parameter: 'response_format.json_schema'."
	}
	for k := range spec {
		if k != "name" && k != "description" && k != "schema" && k != "strict" {
			return "Unrecognized request argument supplied: response_format.json_schema." + k
		}
	}
	var name string
	var schema map[string]any
	if json.Unmarshal(spec["name"], &name) != nil || !functionNameRE.MatchString(name) {
		return "Invalid 'response_format.json_schema.name': string does not match pattern '^[a-zA-Z0-9_-]{1,64}$'"
	}
	if json.Unmarshal(spec["schema"], &schema) != nil || schema == nil {
		return "Invalid 'response_format.json_schema.schema': expected an object"
	}
	return ""
}

// chatContent checks a message's content: a string, or parts (text; and
// image_url in user messages). It may be null or absent only beside
// tool_calls.
func chatContent(raw json.RawMessage, i int, mayBeNull, images bool) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if mayBeNull {
			return ""
		}
		return fmt.Sprintf("Missing required parameter: 'messages[%d].content'.", i)
	}
	if raw[0] == '"' {
		return ""
	}
	var parts []map[string]json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return fmt.Sprintf("Invalid type for 'messages[%d].content': expected a string or an array of content parts", i)
	}
	for j, p := range parts {
		var typ string
		json.Unmarshal(p["type"], &typ)
		switch {
		case typ == "text":
			var text string
			if json.Unmarshal(p["text"], &text) != nil {
				return fmt.Sprintf("Invalid 'messages[%d].content[%d].text'", i, j)
			}
			for k := range p {
				if k != "type" && k != "text" {
					return fmt.Sprintf("Unrecognized request argument supplied: messages[%d].content[%d].%s", i, j, k)
				}
			}
		case typ == "image_url" && images:
			var img map[string]json.RawMessage
			if json.Unmarshal(p["image_url"], &img) != nil {
				return fmt.Sprintf("Invalid 'messages[%d].content[%d].image_url'", i, j)
			}
			var u string
			json.Unmarshal(img["url"], &u)
			if !strings.HasPrefix(u, "data:image/") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				return fmt.Sprintf("Invalid 'messages[%d].content[%d].image_url.url': expected a URL or a data URL", i, j)
			}
			for k := range p {
				if k != "type" && k != "image_url" {
					return fmt.Sprintf("Unrecognized request argument supplied: messages[%d].content[%d].%s", i, j, k)
				}
			}
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'text' and 'image_url' (messages[%d].content[%d].type).", typ, i, j)
		}
	}
	return ""
}

// answer replies like fakeMessages.answer, in Chat Completions: tool
// results acknowledged, images described, the weather and time tools
// called, else hello; with reasoning_effort set, reasoning_content first.
func (f *fakeChat) answer(w http.ResponseWriter, req map[string]json.RawMessage) {
	var model string
	json.Unmarshal(req["model"], &model)
	var stream bool
	json.Unmarshal(req["stream"], &stream)
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	json.Unmarshal(req["messages"], &msgs)
	var tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	json.Unmarshal(req["tools"], &tools)
	has := func(name string) bool {
		for _, t := range tools {
			if t.Function.Name == name {
				return true
			}
		}
		return false
	}
	var respFormat struct {
		Type string `json:"type"`
	}
	json.Unmarshal(req["response_format"], &respFormat)
	reasoning := ""
	if _, ok := req["reasoning_effort"]; ok {
		reasoning = "Thinking it over, locally."
	}
	last := msgs[len(msgs)-1]
	text := ""
	var calls []chatCall
	switch {
	case last.Role == "tool":
		text = "The tools answered."
	case last.Role == "user" && bytes.Contains(last.Content, []byte(`"image_url"`)):
		text = "I see an image."
	case has("apply_patch"):
		// Codex's freeform tool, offered as a function with one string
		// parameter; arguments as Python servers write them (json.dumps:
		// ", " and ": ", non-ASCII escaped).
		calls = append(calls, chatCall{"call_" + strings.ToLower(rand.Text()[:12]), "apply_patch", `{"input": ` + asciiJSON(applyPatchInput) + `}`})
	case has("get_weather"):
		calls = append(calls, chatCall{"call_" + strings.ToLower(rand.Text()[:12]), "get_weather", `{"city":"Paris","unit":"celsius"}`})
		if has("get_time") {
			calls = append(calls, chatCall{"call_" + strings.ToLower(rand.Text()[:12]), "get_time", `{"city":"Paris"}`})
		}
	case respFormat.Type == "json_schema" || respFormat.Type == "json_object":
		text = weatherJSON
	default:
		text = "Hello from " + model + "."
	}
	var includeUsage struct {
		IncludeUsage bool `json:"include_usage"`
	}
	json.Unmarshal(req["stream_options"], &includeUsage)
	if stream {
		writeChatStream(w, model, reasoning, text, calls, includeUsage.IncludeUsage)
		return
	}
	finish := "stop"
	msg := map[string]any{"role": "assistant", "content": text}
	if reasoning != "" {
		msg["reasoning_content"] = reasoning
	}
	if len(calls) > 0 {
		finish = "tool_calls"
		msg["content"] = nil
		var tcs []any
		for _, c := range calls {
			tcs = append(tcs, map[string]any{"id": c.id, "type": "function", "function": map[string]string{"name": c.name, "arguments": c.args}})
		}
		msg["tool_calls"] = tcs
	}
	b, _ := json.Marshal(map[string]any{"id": "chatcmpl-e2e", "object": "chat.completion", "created": 1764000000, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

type chatCall struct{ id, name, args string }

// writeChatStream streams an answer the way OpenAI does: role first,
// reasoning and content in pieces, each tool call as an id+name delta and
// then argument fragments, the finish, the usage chunk, [DONE].
func writeChatStream(w http.ResponseWriter, model, reasoning, text string, calls []chatCall, usage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	io.WriteString(w, chunk(model, `{"role":"assistant","content":""}`, ""))
	for _, piece := range strings.SplitAfter(reasoning, " ") {
		if piece != "" {
			io.WriteString(w, chunk(model, `{"reasoning_content":`+js(piece)+`}`, ""))
		}
	}
	for _, piece := range strings.SplitAfter(text, " ") {
		if piece != "" {
			io.WriteString(w, chunk(model, `{"content":`+js(piece)+`}`, ""))
			fl.Flush()
		}
	}
	for i, c := range calls {
		io.WriteString(w, chunk(model, fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":%s,"type":"function","function":{"name":%s,"arguments":""}}]}`, i, js(c.id), js(c.name)), ""))
		half := len(c.args) / 2
		for _, frag := range []string{c.args[:half], c.args[half:]} {
			io.WriteString(w, chunk(model, fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, js(frag)), ""))
		}
		fl.Flush()
	}
	finish := "stop"
	if len(calls) > 0 {
		finish = "tool_calls"
	}
	io.WriteString(w, chunk(model, `{}`, finish))
	if usage {
		fmt.Fprintf(w, `data: {"id":"chatcmpl-e2e","object":"chat.completion.chunk","created":1764000000,"model":%s,"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":9,"total_tokens":39}}`+"\n\n", js(model))
	}
	io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The tests in this file drive sessions (DESIGN §10) as an agent does: a
// five-turn conversation, turn 3 a tool result, with the strategy flipping
// after turn 2; judged by what the local and remote fakes received.

// chatConvo is a conversation on the OpenAI door through openai-go: no
// session header, so the gateway keys it by its prefix.
type chatConvo struct {
	c    openai.Client
	msgs []openai.ChatCompletionMessageParamUnion
}

func newChatConvo(p *proc, opening string) *chatConvo {
	c := openai.NewClient(option.WithBaseURL(p.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
	return &chatConvo{c: c, msgs: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are a coding agent."), openai.UserMessage(opening)}}
}

// turn sends the conversation so far and returns the route it took.
func (cv *chatConvo) turn(t *testing.T, n int) string {
	t.Helper()
	var raw *http.Response
	resp, err := cv.c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "auto", Messages: cv.msgs},
		option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("turn %d: %v", n, err)
	}
	cv.msgs = append(cv.msgs, resp.Choices[0].Message.ToParam())
	return raw.Header.Get("X-LocalRouter-Route")
}

// user adds a user turn; tool adds a tool call and its result, so the next
// request is a tool turn.
func (cv *chatConvo) user(s string) { cv.msgs = append(cv.msgs, openai.UserMessage(s)) }

func (cv *chatConvo) tool(id string) {
	cv.msgs = append(cv.msgs, openai.ChatCompletionMessageParamUnion{OfAssistant: &openai.ChatCompletionAssistantMessageParam{
		ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
			ID: id, Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "read_file", Arguments: `{"path":"main.go"}`}}}}}},
		openai.ToolMessage("package main", id))
}

// sessionFakes counts what each side received.
type sessionFakes struct {
	local, remote *fakeOpenAI
	ss            *stratServer
}

func (f sessionFakes) counts() (int, int) { return upstreamHits(f.local), upstreamHits(f.remote) }

// send makes one request with send and checks that it reached side's
// fake, and only it; it returns the route header.
func (f sessionFakes) send(t *testing.T, what, side string, send func() string) string {
	t.Helper()
	l0, r0 := f.counts()
	route := send()
	l, r := f.counts()
	got := map[[2]int]string{{l0 + 1, r0}: "local", {l0, r0 + 1}: "remote"}[[2]int{l, r}]
	if got != side {
		t.Errorf("%s: local fake %d→%d, remote fake %d→%d (route %q), want it on the %s side", what, l0, l, r0, r, route, side)
	}
	return route
}

// turner is a conversation through one front door's official SDK.
type turner interface {
	turn(t *testing.T, n int) string
}

// step sends turn n of cv, which must reach side.
func (f sessionFakes) step(t *testing.T, cv turner, n int, side string) string {
	t.Helper()
	return f.send(t, fmt.Sprintf("turn %d", n), side, func() string { return cv.turn(t, n) })
}

func startSessions(t *testing.T, extra string) (*gateway, sessionFakes) {
	t.Helper()
	f := sessionFakes{local: newLocalFake(t), remote: newFakeOpenAI(t), ss: newStratServer(t, stratLocal)}
	in := newInstance(t, routingSetup{apiKey: clientKey, strategyURL: f.ss.URL, localURL: f.local.URL, remoteURL: f.remote.URL, extra: extra}.yaml())
	g := in.start(t)
	g.key = clientKey
	g.waitStrategy(t, "local")
	return g, f
}

func (f sessionFakes) flip(t *testing.T, g *gateway, side string) {
	t.Helper()
	f.ss.set(http.StatusOK, map[string]string{"local": stratLocal, "remote": stratRemote}[side])
	g.waitStrategy(t, side)
}

func TestSessionsStickyOpenAIDoor(t *testing.T) {
	g, f := startSessions(t, "")
	cv := newChatConvo(g.p, "Fix the failing test in pkg/router.")
	f.step(t, cv, 1, "local")
	cv.user("And the benchmark too.")
	f.step(t, cv, 2, "local")

	f.flip(t, g, "remote")
	cv.tool("call_1")
	if route := f.step(t, cv, 3, "local"); route != routeLocal+" (session)" {
		t.Errorf("turn 3 route %q, want %s (session)", route, routeLocal)
	}
	cv.user("Now the docs.")
	f.step(t, cv, 4, "local")
	cv.user("Thanks.")
	f.step(t, cv, 5, "local")

	// A new conversation follows the flip at once.
	other := newChatConvo(g.p, "Write a README for pkg/router.")
	route := f.send(t, "a new conversation after the flip", "remote", func() string { return other.turn(t, 1) })
	if route != routeRemote+" (strategy)" {
		t.Errorf("new conversation route %q, want %s (strategy)", route, routeRemote)
	}
	if h := g.health(t); h.Sessions.Count != 2 || h.Sessions.Mode != "sticky" {
		t.Errorf("/health sessions %+v, want 2 sticky", h.Sessions)
	}

	// Force remote moves every session at once, inside a tool loop too.
	g.control(t, http.MethodPut, "/localrouter/override", `{"override":"remote"}`)
	cv.tool("call_2")
	route = f.step(t, cv, 6, "remote")
	if !strings.Contains(route, "override") {
		t.Errorf("turn 6 route %q, want the override's", route)
	}
}

func TestSessionsFollowOpenAIDoor(t *testing.T) {
	g, f := startSessions(t, "  sessions: follow\n")
	cv := newChatConvo(g.p, "Fix the failing test in pkg/router.")
	f.step(t, cv, 1, "local")
	cv.user("And the benchmark too.")
	f.step(t, cv, 2, "local")
	f.flip(t, g, "remote")
	cv.tool("call_1")
	if route := f.step(t, cv, 3, "local"); !strings.Contains(route, "tool loop") {
		t.Errorf("turn 3 (a tool result) route %q, want it kept in its tool loop", route)
	}
	cv.user("Now the docs.")
	if route := f.step(t, cv, 4, "remote"); !strings.Contains(route, "session moved") {
		t.Errorf("turn 4 (the next user turn) route %q, want the strategy's, session moved", route)
	}
	cv.user("Thanks.")
	f.step(t, cv, 5, "remote")
}

// msgConvo is a conversation on the Messages door through anthropic-sdk-go,
// with Claude Code's session header.
type msgConvo struct {
	c      *anthropic.Client
	rec    *sdkRecorder
	id     string
	params anthropic.MessageNewParams
	last   anthropic.Message
}

func newMsgConvo(t *testing.T, p *proc, id, opening string) *msgConvo {
	rec := &sdkRecorder{}
	return &msgConvo{c: claudeSDKAuth(t, p, rec, clientKey), rec: rec, id: id, params: anthropic.MessageNewParams{
		Model: "auto", MaxTokens: 1024, System: []anthropic.TextBlockParam{{Text: "You are Claude Code."}},
		Messages: []anthropic.MessageParam{userText(opening)}}}
}

func (cv *msgConvo) turn(t *testing.T, n int) string {
	t.Helper()
	msg, err := cv.c.Messages.New(context.Background(), cv.params, aoption.WithHeader("X-Claude-Code-Session-Id", cv.id))
	if err != nil {
		t.Fatalf("turn %d: %v", n, err)
	}
	cv.params.Messages = append(cv.params.Messages, msg.ToParam())
	cv.last = *msg
	return cv.rec.route()
}

func (cv *msgConvo) user(s string) { cv.params.Messages = append(cv.params.Messages, userText(s)) }

func (cv *msgConvo) tool(id string) {
	cv.params.Messages = append(cv.params.Messages,
		anthropic.NewAssistantMessage(anthropic.NewToolUseBlock(id, map[string]string{"path": "main.go"}, "Read")),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(id, "package main", false)))
}

func TestSessionsMessagesDoor(t *testing.T) {
	for _, mode := range []string{"sticky", "follow"} {
		t.Run(mode, func(t *testing.T) {
			g, f := startSessions(t, "  sessions: "+mode+"\n")
			cv := newMsgConvo(t, g.p, "1fa9516e-e3c9-4260-b85c-1a1d785103d6", "Fix the failing test in pkg/router.")
			f.step(t, cv, 1, "local")
			cv.user("And the benchmark too.")
			f.step(t, cv, 2, "local")
			f.flip(t, g, "remote")
			cv.tool("toolu_1")
			f.step(t, cv, 3, "local")
			cv.user("Now the docs.")
			later := map[string]string{"sticky": "local", "follow": "remote"}[mode]
			f.step(t, cv, 4, later)
			cv.user("Thanks.")
			f.step(t, cv, 5, later)

			// Another Claude Code session, started after the flip.
			other := newMsgConvo(t, g.p, "2b7c0d1e-0000-4000-8000-000000000002", "Fix the failing test in pkg/router.")
			f.send(t, "another session after the flip", "remote", func() string { return other.turn(t, 1) })
		})
	}
}

// TestSessionSideSwitchStripsForeignSignatures: a Claude Code session on
// Anthropic (signed thinking), moved to a local server that speaks Messages
// natively, then back. Neither side sees what the other signed; Anthropic
// still gets its own signed blocks back, and answers no 400.
func TestSessionSideSwitchStripsForeignSignatures(t *testing.T) {
	api, local := newFakeAnthropicAPI(t), newFakeLocalMessages(t)
	p := start(t, `server:
  port: PORT
  api_key: `+clientKey+`
routing:
  default: remote
  local_model: qwen3-coder
  remote_model: claude-sonnet-4-5
  fallback: false
providers:
  anthropic:
    api_key: "`+anthropicKey+`"
    base_url: `+api.URL+`
    local: false
    models: [claude-sonnet-4-5]
  localmsg:
    type: openai
    base_url: `+local.URL+`/v1
    local: true
    protocols: [anthropic]
    models: [qwen3-coder]
`)
	g := newGateway(t, p)
	g.key = clientKey
	cv := newMsgConvo(t, p, "3c8d1e2f-0000-4000-8000-000000000003", "Weather and time in Paris?")
	cv.params.Model = "claude-sonnet-4-5-auto" // no provider lists it: routed by the default side
	cv.params.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
	cv.params.Tools = weatherTools
	cv.params.MaxTokens = 4096
	side := func(s string) {
		t.Helper()
		if st := g.control(t, http.MethodPut, "/localrouter/override", `{"override":"`+s+`"}`); st.Override != s {
			t.Fatalf("override %s: %+v", s, st)
		}
	}
	thinkingSig := func(n int) string {
		t.Helper()
		if b := block0(&cv.last); b.Type == "thinking" && b.Signature != "" {
			return b.Signature
		}
		t.Fatalf("turn %d: no signed thinking block first in the answer: %s", n, cv.last.RawJSON())
		return ""
	}
	results := func() {
		if len(toolUses(&cv.last)) == 0 {
			cv.user("Go on.")
			return
		}
		cv.params.Messages = append(cv.params.Messages, toolResults(&cv.last))
	}

	if r := cv.turn(t, 1); !strings.HasPrefix(r, "remote:anthropic/") {
		t.Fatalf("turn 1 route %q, want Anthropic", r)
	}
	sigA := thinkingSig(1)
	if !api.signed(sigA) {
		t.Fatalf("turn 1: signature %q not Anthropic's", sigA)
	}
	results()

	side("local")
	if r := cv.turn(t, 2); !strings.HasPrefix(r, "local:localmsg/") {
		t.Fatalf("turn 2 route %q, want the local Messages server", r)
	}
	if body := local.last(t).body; bytes.Contains(body, []byte(sigA)) || bytes.Contains(body, []byte(`"thinking"`)) {
		t.Errorf("turn 2: the local server got Anthropic's thinking (signature %s): %s", sigA, body)
	}
	// Its tool loop's thinking gone, thinking is off for that request, as
	// Anthropic's rules want: the local model answers the results in text.
	cv.user("And in Rome?")
	cv.turn(t, 3)
	sigL := thinkingSig(3)
	results()

	side("remote")
	if r := cv.turn(t, 4); !strings.HasPrefix(r, "remote:anthropic/") {
		t.Fatalf("turn 4 route %q, want Anthropic", r)
	}
	body := api.last(t).body
	if bytes.Contains(body, []byte(sigL)) {
		t.Errorf("turn 4: Anthropic got the local server's signature %s", sigL)
	}
	if !bytes.Contains(body, []byte(sigA)) {
		t.Errorf("turn 4: Anthropic's own signed thinking from turn 1 did not come back to it")
	}
	var sent struct {
		Messages []json.RawMessage `json:"messages"`
	}
	json.Unmarshal(body, &sent)
	if len(sent.Messages) != 7 {
		t.Errorf("turn 4: Anthropic got %d messages, want all 7 (only thinking is removed)", len(sent.Messages))
	}
}

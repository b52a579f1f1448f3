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

// wantSide checks that the request just made reached side's fake, and
// only it.
func (f sessionFakes) wantSide(t *testing.T, what, side, route string, before [2]int) {
	t.Helper()
	l, r := f.counts()
	got := map[[2]int]string{{before[0] + 1, before[1]}: "local", {before[0], before[1] + 1}: "remote"}[[2]int{l, r}]
	if got != side {
		t.Errorf("%s: local fake %d→%d, remote fake %d→%d (route %q), want it on the %s side", what, before[0], l, before[1], r, route, side)
	}
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
	step := func(n int, side string) string {
		t.Helper()
		l, r := f.counts()
		route := cv.turn(t, n)
		f.wantSide(t, fmt.Sprintf("turn %d", n), side, route, [2]int{l, r})
		return route
	}
	step(1, "local")
	cv.user("And the benchmark too.")
	step(2, "local")

	f.flip(t, g, "remote")
	cv.tool("call_1")
	if route := step(3, "local"); route != routeLocal+" (session)" {
		t.Errorf("turn 3 route %q, want %s (session)", route, routeLocal)
	}
	cv.user("Now the docs.")
	step(4, "local")
	cv.user("Thanks.")
	step(5, "local")

	// A new conversation follows the flip at once.
	other := newChatConvo(g.p, "Write a README for pkg/router.")
	l, r := f.counts()
	route := other.turn(t, 1)
	f.wantSide(t, "a new conversation after the flip", "remote", route, [2]int{l, r})
	if route != routeRemote+" (strategy)" {
		t.Errorf("new conversation route %q, want %s (strategy)", route, routeRemote)
	}
	if h := g.health(t); h.Sessions.Count != 2 || h.Sessions.Mode != "sticky" {
		t.Errorf("/health sessions %+v, want 2 sticky", h.Sessions)
	}

	// Force remote moves every session at once, inside a tool loop too.
	g.control(t, http.MethodPut, "/localrouter/override", `{"override":"remote"}`)
	cv.tool("call_2")
	l, r = f.counts()
	route = cv.turn(t, 6)
	f.wantSide(t, "turn 6 under Force remote", "remote", route, [2]int{l, r})
	if !strings.Contains(route, "override") {
		t.Errorf("turn 6 route %q, want the override's", route)
	}
}

func TestSessionsFollowOpenAIDoor(t *testing.T) {
	g, f := startSessions(t, "  sessions: follow\n")
	cv := newChatConvo(g.p, "Fix the failing test in pkg/router.")
	step := func(n int, side string) string {
		t.Helper()
		l, r := f.counts()
		route := cv.turn(t, n)
		f.wantSide(t, fmt.Sprintf("turn %d", n), side, route, [2]int{l, r})
		return route
	}
	step(1, "local")
	cv.user("And the benchmark too.")
	step(2, "local")
	f.flip(t, g, "remote")
	cv.tool("call_1")
	if route := step(3, "local"); !strings.Contains(route, "tool loop") {
		t.Errorf("turn 3 (a tool result) route %q, want it kept in its tool loop", route)
	}
	cv.user("Now the docs.")
	if route := step(4, "remote"); !strings.Contains(route, "session moved") {
		t.Errorf("turn 4 (the next user turn) route %q, want the strategy's, session moved", route)
	}
	cv.user("Thanks.")
	step(5, "remote")
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
			step := func(n int, side string) string {
				t.Helper()
				l, r := f.counts()
				route := cv.turn(t, n)
				f.wantSide(t, fmt.Sprintf("turn %d", n), side, route, [2]int{l, r})
				return route
			}
			step(1, "local")
			cv.user("And the benchmark too.")
			step(2, "local")
			f.flip(t, g, "remote")
			cv.tool("toolu_1")
			step(3, "local")
			cv.user("Now the docs.")
			later := map[string]string{"sticky": "local", "follow": "remote"}[mode]
			step(4, later)
			cv.user("Thanks.")
			step(5, later)

			// Another Claude Code session, started after the flip.
			other := newMsgConvo(t, g.p, "2b7c0d1e-0000-4000-8000-000000000002", "Fix the failing test in pkg/router.")
			l, r := f.counts()
			route := other.turn(t, 1)
			f.wantSide(t, "another session after the flip", "remote", route, [2]int{l, r})
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

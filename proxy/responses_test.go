package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func postResponses(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url+"/v1/responses", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A native Responses upstream that cuts its stream midway leaves the client
// a response.failed under the upstream's own response id and the next
// sequence number, never a stream that just stops.
func TestResponsesPassThroughCutEndsFailed(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path != "/v1/responses" {
			http.Error(w, "wrong path "+r.URL.Path, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_up1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n")
		io.WriteString(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":7,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n")
	})
	_, gw := gateway(t, strings.Replace(oneProvider, "local: false", "local: false\n    protocols: [responses]", 1), up.URL+"/v1")
	resp, got := postResponses(t, gw.URL, `{"model":"deepseek-chat","input":"hi","stream":true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if !strings.Contains(got, `"delta":"Hel"`) || strings.Contains(got, "event: response.completed") {
		t.Fatalf("want the relayed delta and no response.completed:\n%s", got)
	}
	i := strings.LastIndex(got, "event: response.failed\ndata: ")
	if i < 0 {
		t.Fatalf("no response.failed at the end:\n%s", got)
	}
	var ev struct {
		Type     string `json:"type"`
		Seq      int    `json:"sequence_number"`
		Response struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  struct{ Code, Message string }
		} `json:"response"`
	}
	data := strings.TrimSpace(got[i+len("event: response.failed\ndata: "):])
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatalf("response.failed data %q: %v", data, err)
	}
	if ev.Seq != 8 || ev.Response.ID != "resp_up1" || ev.Response.Status != "failed" || ev.Response.Error.Code != "server_error" ||
		ev.Response.Error.Message == "" {
		t.Errorf("response.failed = %+v; want sequence 8, id resp_up1, status failed, code server_error and a message", ev)
	}
}

// previous_response_id that names no response the gateway kept goes on to a
// native upstream, which may know it, and is refused with a 400 on a
// translated route: never a silent fresh start.
func TestResponsesUnknownPreviousID(t *testing.T) {
	var sawPrev string
	native := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req struct {
			Prev string `json:"previous_response_id"`
		}
		json.Unmarshal(body, &req)
		sawPrev = req.Prev
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"resp_up2","object":"response","status":"completed","output":[]}`)
	})
	_, gw := gateway(t, strings.Replace(oneProvider, "local: false", "local: false\n    protocols: [responses]", 1), native.URL+"/v1")
	if resp, got := postResponses(t, gw.URL, `{"model":"deepseek-chat","input":"hi","previous_response_id":"resp_openai_own"}`); resp.StatusCode != 200 || sawPrev != "resp_openai_own" {
		t.Errorf("native: status %d, upstream saw previous_response_id %q: %s", resp.StatusCode, sawPrev, got)
	}

	chat := newUpstream(t, completion)
	_, gw = gateway(t, oneProvider, chat.URL)
	resp, got := postResponses(t, gw.URL, `{"model":"deepseek-chat","input":"hi","previous_response_id":"resp_gone"}`)
	e := decodeError(t, []byte(got))
	if resp.StatusCode != http.StatusBadRequest || e.Error.Param == nil || *e.Error.Param != "previous_response_id" ||
		e.Error.Code == nil || *e.Error.Code != "previous_response_not_found" || chat.count() != 0 {
		t.Errorf("translated: status %d, %s, upstream calls %d; want 400 previous_response_not_found and no call", resp.StatusCode, got, chat.count())
	}
}

// A chain of turns reaches a Chat upstream as the whole conversation; a
// response sent with store: false cannot be named.
func TestResponsesChain(t *testing.T) {
	up := newUpstream(t, completion)
	_, gw := gateway(t, oneProvider, up.URL)
	id := func(body string) string {
		var r struct{ ID string }
		json.Unmarshal([]byte(body), &r)
		return r.ID
	}
	_, first := postResponses(t, gw.URL, `{"model":"deepseek-chat","instructions":"Be brief.","input":"one"}`)
	_, second := postResponses(t, gw.URL, fmt.Sprintf(`{"model":"deepseek-chat","input":"two","previous_response_id":%q}`, id(first)))
	var chat struct {
		Messages []struct {
			Role    string
			Content string
		}
	}
	json.Unmarshal(up.last(t).body, &chat)
	var turns []string
	for _, m := range chat.Messages {
		turns = append(turns, m.Role+":"+m.Content)
	}
	// Instructions are not carried over from the previous turn, as OpenAI
	// does it.
	if want := "user:one assistant:Hi there. user:two"; strings.Join(turns, " ") != want {
		t.Errorf("second turn sent %q; want %q", turns, want)
	}
	_, third := postResponses(t, gw.URL, fmt.Sprintf(`{"model":"deepseek-chat","input":"three","store":false,"previous_response_id":%q}`, id(second)))
	json.Unmarshal(up.last(t).body, &chat)
	if len(chat.Messages) != 5 {
		t.Errorf("third turn sent %d messages; want 5", len(chat.Messages))
	}
	resp, got := postResponses(t, gw.URL, fmt.Sprintf(`{"model":"deepseek-chat","input":"four","previous_response_id":%q}`, id(third)))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("chaining to a store: false response: status %d %s; want 400", resp.StatusCode, got)
	}
}

func TestResponseStoreBounds(t *testing.T) {
	s := newResponseStore(2, 10)
	s.put("a", []byte("[1]"))
	s.put("b", []byte("[2]"))
	s.get("a") // a is now the most recent
	s.put("c", []byte("[3]"))
	if _, ok := s.get("b"); ok {
		t.Error("b should have gone first: least recently used")
	}
	if _, ok := s.get("a"); !ok {
		t.Error("a was used last and should be kept")
	}
	s.put("d", []byte("[4444444]")) // 9 bytes: over 10 in all with any other
	if _, ok := s.get("d"); !ok || s.bytes > 10 || len(s.byID) != s.order.Len() {
		t.Errorf("after a large put: %d bytes, %d ids, %d in order", s.bytes, len(s.byID), s.order.Len())
	}
	s.put("huge", make([]byte, 11))
	if _, ok := s.get("huge"); ok {
		t.Error("an entry over the whole budget must not be kept")
	}
}

func TestResponsesErrorCode(t *testing.T) {
	for _, tc := range []struct {
		e    *apiError
		want string
	}{
		{newAPIError(429, "rate_limit_error", "", "", "slow down"), "rate_limit_exceeded"},
		{newAPIError(502, "upstream_error", "rate_limit_exceeded", "", "Rate limit reached. Please try again in 20s."), "rate_limit_exceeded"},
		{newAPIError(400, "invalid_request_error", "context_length_exceeded", "", "too long"), "context_length_exceeded"},
		{newAPIError(400, "invalid_request_error", "", "", "This model's maximum context length is 8192 tokens"), "context_length_exceeded"},
		{newAPIError(502, "upstream_error", "upstream_error", "", "stream ended early"), "server_error"},
	} {
		if got := responsesErrorCode(tc.e); got != tc.want {
			t.Errorf("%d %q: code %q, want %q", tc.e.status, tc.e.Error(), got, tc.want)
		}
	}
}

// Rules see which front door a request came through and which tool sent
// it (DESIGN §5: endpoint, client).
func TestRulesSeeEndpointAndClient(t *testing.T) {
	up := newUpstream(t, completion)
	cfg := strings.Replace(oneProvider, "  remote_model: deepseek-chat\n", `  remote_model: deepseek-chat
  rules:
    - {when: 'endpoint == "responses" && client == "codex"', use: deepseek/deepseek-reasoner}
`, 1)
	_, gw := gateway(t, cfg, up.URL)
	send := func(path, ua, body string) string {
		req, _ := http.NewRequest(http.MethodPost, gw.URL+path, strings.NewReader(body))
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-LocalRouter-Route")
	}
	codex := "codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)"
	if got := send("/v1/responses", codex, `{"model":"auto","input":"hi"}`); !strings.Contains(got, "deepseek-reasoner") {
		t.Errorf("Codex on /v1/responses: route %q; want the rule's deepseek-reasoner", got)
	}
	if got := send("/v1/chat/completions", codex, `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`); strings.Contains(got, "deepseek-reasoner") {
		t.Errorf("Codex on /v1/chat/completions: route %q; the rule is for the Responses door only", got)
	}
	if got := send("/v1/responses", "claude-cli/2.1.328 (external, sdk-cli)", `{"model":"auto","input":"hi"}`); strings.Contains(got, "deepseek-reasoner") {
		t.Errorf("Claude Code on /v1/responses: route %q; the rule is for Codex only", got)
	}
}

func TestClientOf(t *testing.T) {
	for ua, want := range map[string]string{
		"claude-cli/2.1.328 (external, sdk-cli)":                                "claude-code",
		"codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.169.0)": "codex",
		"codex_cli_rs/0.50.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5.10":           "codex",
		"copilot/0.0.354 (linux v22.20.0) term/unknown":                         "copilot",
		"GitHubCopilotChat/0.31.0":                                              "copilot",
		"Zed/0.210.4 (macos; aarch64)":                                          "zed",
		"OpenAI/Go 3.98.0":                                                      "",
		"":                                                                      "",
	} {
		if got := clientOf(ua); got != want {
			t.Errorf("clientOf(%q) = %q, want %q", ua, got, want)
		}
	}
}

// A client that hangs up mid-stream cancels the upstream call, translated
// or passed through, and leaves no goroutine behind.
func TestResponsesClientAbortLeaksNothing(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(map[bool]string{false: "translated", true: "native"}[native], func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			upstreamDone := make(chan struct{})
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				defer close(upstreamDone)
				w.Header().Set("Content-Type", "text/event-stream")
				for i := 0; ; i++ {
					if native {
						fmt.Fprintf(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"delta\":\"t\"}\n\n", i)
					} else {
						fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			})
			cfg := oneProvider
			if native {
				cfg = strings.Replace(cfg, "local: false", "local: false\n    protocols: [responses]", 1)
			}
			_, gw := gateway(t, cfg, up.URL+"/v1")
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL+"/v1/responses",
				strings.NewReader(`{"model":"auto","stream":true,"input":"hi"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(resp.Body)
			for i := 0; i < 6; i++ { // a few events, then hang up
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			resp.Body.Close()
			select {
			case <-upstreamDone:
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream request still runs after the client hung up")
			}
			gw.Close()
			up.Close()
			http.DefaultClient.CloseIdleConnections()
		})
	}
}

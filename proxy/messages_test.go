package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A Chat stream that the Messages translator cannot follow (arguments for
// a tool call after the next call began) ends as a failure in Anthropic's
// shape, never with a clean message_stop over a corrupted answer.
func TestMessagesStreamUntranslatableEndsWithError(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{
			`{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c0","type":"function","function":{"name":"a","arguments":"{"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"b","arguments":"{}"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`,
			`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", d)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	_, gw := gateway(t, oneProvider, up.URL)
	resp, err := http.Post(gw.URL+"/v1/messages", "application/json", strings.NewReader(
		`{"model":"auto","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"go"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := string(body)
	if !strings.Contains(got, "event: error\n") || strings.Contains(got, "event: message_stop") {
		t.Fatalf("stream should end with an error event and no message_stop; got:\n%s", got)
	}
	if !strings.Contains(got, `"type":"error"`) {
		t.Errorf("error event is not in Anthropic's shape:\n%s", got)
	}
}

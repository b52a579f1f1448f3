package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// TestRequestsTheAPIWouldRefuse covers inputs an OpenAI client may send that
// the Messages API rejects as they are.
func TestRequestsTheAPIWouldRefuse(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, mr *messagesRequest)
	}{
		{"tool_choice without tools is dropped",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"auto"}`,
			func(t *testing.T, mr *messagesRequest) {
				if mr.ToolChoice != nil {
					t.Errorf("tool_choice = %+v, want none without tools", mr.ToolChoice)
				}
			}},
		{"empty stop sequences are dropped",
			`{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["","END"]}`,
			func(t *testing.T, mr *messagesRequest) {
				if len(mr.StopSequences) != 1 || mr.StopSequences[0] != "END" {
					t.Errorf("stop_sequences = %q, want [END]", mr.StopSequences)
				}
			}},
		{"a whitespace-only prefill is dropped",
			`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"  \n"}]}`,
			func(t *testing.T, mr *messagesRequest) {
				if len(mr.Messages) != 1 || mr.Messages[0].Role != "user" {
					b, _ := json.Marshal(mr.Messages)
					t.Errorf("messages = %s, want only the user turn", b)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := providers.ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if err := req.Decode(); err != nil {
				t.Fatal(err)
			}
			mr, err := toMessagesRequest(req, convertOptions{defaultMaxTokens: 1024})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, mr)
		})
	}
}

func TestErrorBodyWithStatus200(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	}))
	defer up.Close()
	req, _ := providers.ParseRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	_, err := testClient(t, up.URL).ChatCompletion(context.Background(), req)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Status != 529 || !strings.Contains(pe.Message, "Overloaded") {
		t.Errorf("got %v, want the overloaded error with status 529", err)
	}
}

package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
	"github.com/localrouter/localrouter/providers/sse"
)

// streamFrom runs one stream request against an upstream that answers with
// body, and returns the chunks' data and the stream's error.
func streamFrom(t *testing.T, body string) ([]string, error) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
	t.Cleanup(up.Close)
	c, err := New(Options{Name: "testai", BaseURL: up.URL, APIKey: "sk-test-sse-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := providers.ParseRequest([]byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *providers.ChatCompletionStreamResponse)
	errc := make(chan error, 1)
	go func() {
		errc <- c.ChatCompletionStream(context.Background(), req, sinktest.Chan(context.Background(), out))
		close(out)
	}()
	var got []string
	for chunk := range out {
		got = append(got, string(chunk.Raw))
	}
	return got, <-errc
}

// TestStreamMultiLineEvent: the chunk is the event's whole data, every data
// line joined as the spec says, and an error or usage split over lines is
// still seen.
func TestStreamMultiLineEvent(t *testing.T) {
	got, err := streamFrom(t, "data: {\"choices\":\ndata: [{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\r\n"+
		"data: \"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\r\n\r\ndata: [DONE]\n\n")
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	want := "{\"choices\":\n[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\n\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}"
	if len(got) != 1 || got[0] != want {
		t.Errorf("got chunks %q, want [%q]", got, want)
	}

	_, err = streamFrom(t, "data: {\"error\":\ndata: {\"message\":\"boom\",\"type\":\"server_error\"}}\n\n")
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Stage != providers.StageStream || pe.Message != "boom" {
		t.Errorf("got error %#v, want the upstream's stream error \"boom\"", err)
	}
}

// TestStreamOversizedLine: a line past sse.MaxLine fails the stream at the
// stream stage, with the reader's LimitError inside.
func TestStreamOversizedLine(t *testing.T) {
	got, err := streamFrom(t, "data: {\"a\":1}\n\ndata: "+strings.Repeat("x", sse.MaxLine+1))
	var pe *providers.Error
	var le *sse.LimitError
	if !errors.As(err, &pe) || pe.Stage != providers.StageStream || !errors.As(err, &le) {
		t.Fatalf("got error %v, want a stream-stage *providers.Error holding an *sse.LimitError", err)
	}
	if len(got) != 1 || got[0] != `{"a":1}` {
		t.Errorf("got chunks %q, want the one before the long line", got)
	}
	if strings.Contains(pe.Error(), "sk-test-sse") {
		t.Errorf("key in the error: %v", pe)
	}
}

package proxy

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
)

// hangGuard only turns a hang into a failure; the timeouts under test are
// far shorter.
const hangGuard = 10 * time.Second

// postGuarded is post that fails the test instead of hanging.
func postGuarded(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, b, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.resp, r.body
	case <-time.After(hangGuard):
		t.Fatalf("no answer from the gateway after %v", hangGuard)
		return nil, nil
	}
}

// TestAnswerTooLargeIs502: a non-streamed answer over the cap reaches the
// client as a 502 error, never as a 200 with a cut body.
func TestAnswerTooLargeIs502(t *testing.T) {
	old := providers.MaxResponse
	providers.MaxResponse = 1 << 10
	t.Cleanup(func() { providers.MaxResponse = old })
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`+
			strings.Repeat("a", 2<<10)+`"},"finish_reason":"stop"}]}`)
	})
	_, gw := gateway(t, oneProvider, up.URL)
	resp, body := postGuarded(t, gw.URL, `{"model":"deepseek/deepseek-chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("got status %d, want 502 (body %.200s)", resp.StatusCode, body)
	}
	e := decodeError(t, body)
	if want := "deepseek: upstream answer larger than 1 KiB"; e.Error.Message != want {
		t.Errorf("got message %q, want %q", e.Error.Message, want)
	}
	if e.Error.Code == nil || *e.Error.Code != "upstream_response_too_large" {
		t.Errorf("got code %v, want upstream_response_too_large", e.Error.Code)
	}
}

// stalled answers 200 and then sends no body until release is closed.
func stalled(release <-chan struct{}) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// TestAnswerStallIs504: a non-streamed body that stops after the headers
// is a timeout (504); on a routed request the other side is tried.
func TestAnswerStallIs504(t *testing.T) {
	const sides = `
routing: {default: remote, local_model: qwen3, remote_model: deepseek-chat}
providers:
  deepseek: {api_key: ` + testKey + `, base_url: UPSTREAM, local: false, models: [deepseek-chat], idle_timeout: 50ms}
  ollama: {base_url: LOCAL, local: true, models: [qwen3]}
mock: {token_delay: 0s}
`
	release := make(chan struct{})
	remote := newUpstream(t, stalled(release))
	local := newUpstream(t, completion)
	_, gw := gateway(t, strings.Replace(sides, "LOCAL", local.URL, 1), remote.URL)
	// Registered last, so it runs first: closing the gateway waits for
	// its handlers, which may be waiting for this upstream.
	t.Cleanup(func() { close(release) })

	resp, body := postGuarded(t, gw.URL, `{"model":"deepseek/deepseek-chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("explicit provider: got status %d, want 504 (body %.200s)", resp.StatusCode, body)
	}
	if e := decodeError(t, body); e.Error.Code == nil || *e.Error.Code != "upstream_timeout" {
		t.Errorf("got code %v, want upstream_timeout", e.Error.Code)
	}

	resp, body = postGuarded(t, gw.URL, `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || local.count() != 1 {
		t.Fatalf("routed: got status %d and %d local calls, want 200 from the local side (body %.200s)", resp.StatusCode, local.count(), body)
	}
	if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "local:ollama/qwen3") {
		t.Errorf("got route %q, want the fallback to local:ollama/qwen3", r)
	}
}

// TestKeyNeverReachesClient: whatever the upstream echoes, the key (or any
// 8 bytes of its start) is not in the status, headers, body or logs.
func TestKeyNeverReachesClient(t *testing.T) {
	echo := func(r *http.Request) string {
		return "bad key " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	tests := []struct {
		name    string
		stream  bool
		handler func(w http.ResponseWriter, r *http.Request, body []byte)
	}{
		{"key in message, type, code and param", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":%[1]q,"code":%[1]q,"param":%[1]q}}`, echo(r))
		}},
		{"key in Retry-After", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Retry-After", echo(r))
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"slow down"}}`)
		}},
		{"key in an in-stream error", true, func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"+
				"data: {\"error\":{\"message\":%q,\"type\":%[1]q,\"code\":%[1]q,\"param\":%[1]q}}\n\n", echo(r))
		}},
		{"key across the cut of a text body", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "bad key "+strings.Repeat("x", 512-len("bad key ")-len(testKey)/2)+testKey+" and more")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, tc.handler)
			cfg, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", up.URL)), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, err := New(Options{Config: cfg, Version: "test",
				Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			gw := httptest.NewServer(s.Handler())
			resp, body := postGuarded(t, gw.URL, fmt.Sprintf(`{"model":"deepseek/deepseek-chat","stream":%v,"messages":[{"role":"user","content":"hi"}]}`, tc.stream))
			// Close waits for the handler, and so for its log line.
			gw.Close()
			if resp.StatusCode == http.StatusOK && !tc.stream {
				t.Fatalf("got 200, want an error (body %.200s)", body)
			}
			var seen strings.Builder
			fmt.Fprintf(&seen, "%s\n", resp.Status)
			resp.Header.Write(&seen)
			seen.Write(body)
			seen.WriteString("\n" + logs.String())
			if !strings.Contains(seen.String(), "bad key") {
				t.Errorf("the upstream's message is not passed on:\n%s", seen.String())
			}
			if strings.Contains(seen.String(), testKey[:8]) {
				t.Errorf("the key (or its start) reached the client or the logs:\n%s", seen.String())
			}
		})
	}
}

package google

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
)

// TestKeyNeverInErrors makes upstreams echo the key and a secret header
// into every field of an error, and checks no part of what reaches the
// gateway (and so the client and the logs) shows either.
func TestKeyNeverInErrors(t *testing.T) {
	const hdrSecret = "hdr-secret-9876543210"
	echo := func(r *http.Request) string {
		return "bad key " + r.Header.Get("X-Goog-Api-Key") + " / " + r.Header.Get("X-Extra-Secret")
	}
	tests := []struct {
		name    string
		stream  bool
		handler func(w http.ResponseWriter, r *http.Request, _ []byte)
	}{
		{"gemini error", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"code":400,"message":%q,"status":%[1]q}}`, echo(r))
		}},
		{"key in Retry-After", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Retry-After", echo(r))
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"code":429,"message":"bad key, slow down","status":"RESOURCE_EXHAUSTED"}}`)
		}},
		{"openai-shaped body from a proxy", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":%[1]q,"code":%[1]q,"param":%[1]q}}`, echo(r))
		}},
		{"json error to a stream", true, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"error":{"message":%q,"type":%[1]q,"code":%[1]q,"param":%[1]q}}`, echo(r))
		}},
		{"in-stream error", true, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}],\"role\":\"model\"},\"index\":0}]}\n\n"+
				"data: {\"error\":{\"code\":500,\"message\":%q,\"status\":%[1]q}}\n\n", echo(r))
		}},
		// The generic parser cuts a text body at 512 bytes, inside the key.
		{"key across the cut of a text body", false, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "bad key "+strings.Repeat("x", 512-len("bad key ")-len(testKey)/2)+testKey+" and more")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newFake(t, tc.handler)
			c := newTestClient(t, up.URL, func(o *Options) { o.Headers = map[string]string{"X-Extra-Secret": hdrSecret} })
			req := parse(t, `{"model":"gemini-3-flash","messages":[{"role":"user","content":"Hi"}]}`)
			var err error
			if tc.stream {
				_, err = collect(t, c, req)
			} else {
				_, err = c.ChatCompletion(context.Background(), req)
			}
			var e *providers.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *providers.Error", err)
			}
			shown := []string{err.Error(), fmt.Sprintf("%v %+v", err, err), e.Message, e.Type, e.Code, e.Param}
			for k, vs := range e.Header {
				shown = append(shown, k+": "+strings.Join(vs, ", "))
			}
			for _, s := range shown {
				// Any 8 bytes of a secret's start would say too much.
				if strings.Contains(s, testKey[:8]) || strings.Contains(s, hdrSecret[:8]) {
					t.Errorf("got %q, want no secret (nor its start) in it", s)
				}
			}
			if !strings.Contains(e.Message, "bad key") {
				t.Errorf("got message %q, want the upstream's message (redacted)", e.Message)
			}
		})
	}
}

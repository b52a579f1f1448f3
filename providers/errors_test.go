package providers

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseErrorBody(t *testing.T) {
	// 801 bytes, over the 512-byte cap, with a 2-byte character across byte 512.
	long := "x" + strings.Repeat("é", 400)
	tests := []struct {
		name                  string
		body                  string
		msg, typ, code, param string
		msgPrefix             bool
	}{
		{
			name: "openai string code",
			body: `{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			msg:  "Incorrect API key provided.", typ: "invalid_request_error", code: "invalid_api_key",
		},
		{
			name: "openai with param",
			body: `{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`,
			msg:  "bad temperature", typ: "invalid_request_error", param: "temperature",
		},
		{
			name: "numeric code",
			body: `{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":429}}`,
			msg:  "Rate limit reached", typ: "rate_limit_error", code: "429",
		},
		{
			name: "negative numeric code",
			body: `{"error":{"message":"busy","type":"server_error","code":-1}}`,
			msg:  "busy", typ: "server_error", code: "-1",
		},
		{
			name: "vendor extras in error object",
			body: `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error","metadata":{"raw":"x"}}}`,
			msg:  "Insufficient Balance", typ: "unknown_error", code: "invalid_request_error",
		},
		{
			name: "ollama string error",
			body: `{"error":"model \"llama9\" not found, try pulling it first"}`,
			msg:  `model "llama9" not found, try pulling it first`,
		},
		{
			name: "fastapi string detail",
			body: `{"detail":"Not Found"}`,
			msg:  "Not Found",
		},
		{
			name: "fastapi validation detail",
			body: `{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}`,
			msg:  `[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]`,
		},
		{
			name: "top-level message",
			body: `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","code":400}`,
			msg:  "This model's maximum context length is 4096 tokens.",
		},
		{
			name: "minimax base_resp",
			body: `{"id":"","choices":null,"base_resp":{"status_code":1004,"status_msg":"login fail: Please carry the API secret key"}}`,
			msg:  "login fail: Please carry the API secret key", code: "1004",
		},
		{
			name: "non-json body",
			body: "  <html><body>502 Bad Gateway</body></html>\n",
			msg:  "<html><body>502 Bad Gateway</body></html>",
		},
		{
			name: "empty body",
			body: "",
			msg:  "",
		},
		{
			name: "json without a known field",
			body: `{"status":"down"}`,
			msg:  `{"status":"down"}`,
		},
		{
			name:      "long non-json body is capped",
			body:      long,
			msg:       "x" + strings.Repeat("é", 255),
			msgPrefix: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, typ, code, param := ParseErrorBody([]byte(tc.body))
			if tc.msgPrefix {
				if !strings.HasPrefix(msg, tc.msg) || len(msg) > 520 {
					t.Errorf("got message of %d bytes %q…, want a capped prefix of the body", len(msg), msg[:min(len(msg), 20)])
				}
				if !utf8.ValidString(msg) {
					t.Errorf("got message with invalid UTF-8 %q, want a cut on a character boundary", msg[len(msg)-8:])
				}
			} else if msg != tc.msg {
				t.Errorf("got message %q, want %q", msg, tc.msg)
			}
			if typ != tc.typ {
				t.Errorf("got type %q, want %q", typ, tc.typ)
			}
			if code != tc.code {
				t.Errorf("got code %q, want %q", code, tc.code)
			}
			if param != tc.param {
				t.Errorf("got param %q, want %q", param, tc.param)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"status", &Error{Provider: "openai", Stage: StageStatus, Status: 429, Message: "slow down"}, "openai: upstream status 429: slow down"},
		{"timeout", &Error{Provider: "vllm", Stage: StageConnect, Timeout: true}, "vllm: upstream timed out"},
		{"connect", &Error{Provider: "ollama", Stage: StageConnect, Message: "connection refused"}, "ollama: upstream connect failed: connection refused"},
		{"stream", &Error{Provider: "x", Stage: StageStream}, "x: upstream stream failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorAs(t *testing.T) {
	inner := &Error{Provider: "p", Stage: StageStream, Err: io.ErrUnexpectedEOF}
	wrapped := fmt.Errorf("proxy: relay: %w", inner)
	var e *Error
	if !errors.As(wrapped, &e) || e != inner {
		t.Fatalf("errors.As: got %v, want the *Error", e)
	}
	if !errors.Is(wrapped, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(wrapped, io.ErrUnexpectedEOF): got false, want true")
	}
	for s, want := range map[Stage]string{StageConnect: "connect", StageStatus: "status", StageStream: "stream"} {
		if got := s.String(); got != want {
			t.Errorf("Stage(%d).String(): got %q, want %q", int(s), got, want)
		}
	}
}

package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestBadInputs(t *testing.T) {
	up := newUpstream(t, completion)
	yaml := oneProvider + `
server:
  api_key: gw-secret
  max_body: 1KiB
  allowed_origins: ["http://localhost:3000"]
`
	_, gw := gateway(t, yaml, up.URL)
	ok := `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`
	auth := "Bearer gw-secret"
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantCode   string
	}{
		{"invalid JSON", "POST", "/v1/chat/completions", `{"model":`, nil, 400, "invalid_json"},
		{"not an object", "POST", "/v1/chat/completions", `[1,2]`, nil, 400, "invalid_json"},
		{"wrong content type", "POST", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":7}]}`, nil, 400, "invalid_value"},
		{"messages not an array", "POST", "/v1/chat/completions", `{"model":"auto","messages":"hi"}`, nil, 400, "invalid_value"},
		{"stream not a bool", "POST", "/v1/chat/completions", `{"model":"auto","stream":"yes","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_value"},
		{"trailing garbage", "POST", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"hi"}]}x`, nil, 400, "invalid_json"},
		{"no messages", "POST", "/v1/chat/completions", `{"model":"auto"}`, nil, 400, "missing_messages"},
		{"empty messages", "POST", "/v1/chat/completions", `{"model":"auto","messages":[]}`, nil, 400, "missing_messages"},
		{"unknown provider/model", "POST", "/v1/chat/completions", `{"model":"nope/x","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model_not_found"},
		{"body over the cap", "POST", "/v1/chat/completions", `{"model":"auto","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, nil, 413, "request_too_large"},
		{"wrong method", "GET", "/v1/chat/completions", "", nil, 405, "method_not_allowed"},
		{"unknown path", "GET", "/v1/embeddings2", "", nil, 404, "unknown_url"},
		{"evil Host", "POST", "/v1/chat/completions", ok, map[string]string{"Host": "evil.example"}, 403, "forbidden_host"},
		{"evil Host with port", "POST", "/v1/chat/completions", ok, map[string]string{"Host": "evil.example:8080"}, 403, "forbidden_host"},
		{"evil Origin", "POST", "/v1/chat/completions", ok, map[string]string{"Origin": "https://evil.example"}, 403, "forbidden_origin"},
		{"missing api key", "POST", "/v1/chat/completions", ok, map[string]string{"Authorization": ""}, 401, "invalid_api_key"},
		{"wrong api key", "POST", "/v1/chat/completions", ok, map[string]string{"Authorization": "Bearer nope"}, 401, "invalid_api_key"},
		{"models needs the key", "GET", "/v1/models", "", map[string]string{"Authorization": ""}, 401, "invalid_api_key"},
		{"allowed origin passes", "POST", "/v1/chat/completions", ok, map[string]string{"Origin": "http://localhost:3000"}, 200, ""},
		{"x-api-key works", "POST", "/v1/chat/completions", ok, map[string]string{"Authorization": "", "X-Api-Key": "gw-secret"}, 200, ""},
		{"health needs no key", "GET", "/health", "", map[string]string{"Authorization": ""}, 200, ""},
		{"localhost Host", "POST", "/v1/chat/completions", ok, map[string]string{"Host": "localhost:8080"}, 200, ""},
		{"ipv6 loopback Host", "POST", "/v1/chat/completions", ok, map[string]string{"Host": "[::1]:8080"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, gw.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", auth)
			for k, v := range tt.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantCode == "" {
				return
			}
			e := decodeError(t, body)
			if e.Error.Code == nil || *e.Error.Code != tt.wantCode {
				t.Errorf("code = %v, want %q (%s)", e.Error.Code, tt.wantCode, e.Error.Message)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	if n := up.count(); n != 4 {
		t.Errorf("upstream got %d requests, want 4 (only the accepted ones)", n)
	}
}

// TestEmptyHostRefused sends HTTP/1.0 without a Host header, which Go's
// client cannot, so a raw connection it is.
func TestEmptyHostRefused(t *testing.T) {
	up := newUpstream(t, completion)
	_, gw := gateway(t, oneProvider, up.URL)
	for _, req := range []string{
		"GET /v1/models HTTP/1.0\r\n\r\n",
		"GET /v1/models HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", gw.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, req)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%q: status %d, want 403: %s", req, resp.StatusCode, body)
			continue
		}
		if e := decodeError(t, body); *e.Error.Code != "forbidden_host" {
			t.Errorf("code = %s", *e.Error.Code)
		}
	}
}

func TestPreflight(t *testing.T) {
	_, gw := gateway(t, `
server:
  allowed_origins: ["http://localhost:3000"]
`, "")
	for _, tt := range []struct {
		origin string
		want   int
	}{{"http://localhost:3000", 204}, {"https://evil.example", 403}} {
		req, _ := http.NewRequest(http.MethodOptions, gw.URL+"/v1/chat/completions", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("preflight from %s: status %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
		if tt.want == 204 && resp.Header.Get("Access-Control-Allow-Origin") != tt.origin {
			t.Errorf("Access-Control-Allow-Origin = %q", resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

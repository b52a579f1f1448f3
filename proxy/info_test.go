package proxy

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
)

func TestModelsList(t *testing.T) {
	_, gw := gateway(t, oneProvider, "http://127.0.0.1:9/v1")
	resp, err := http.Get(gw.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Object string
		Data   []struct{ ID, Object string }
	}
	json.NewDecoder(resp.Body).Decode(&list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" {
			t.Errorf("%s: object %q", m.ID, m.Object)
		}
	}
	want := "auto local remote deepseek/deepseek-chat"
	if list.Object != "list" || strings.Join(ids, " ") != want {
		t.Errorf("models = %s %v, want list %s", list.Object, ids, want)
	}
}

func TestHealthHoldsNoSecret(t *testing.T) {
	yaml := oneProvider + `
server:
  api_key: gw-secret-key
`
	_, gw := gateway(t, yaml, "http://127.0.0.1:9/v1")
	resp, err := http.Get(gw.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h Status
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || h.Side != "remote" || h.Override != "auto" || h.Mock || h.Strategy.Source != "config" || h.Strategy.RemoteModel != "deepseek-chat" {
		t.Errorf("health = %s", body)
	}
	for _, secret := range []string{testKey, "gw-secret-key"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/health shows a secret: %s", body)
		}
	}
}

func TestMockWhenNoProviderIsUsable(t *testing.T) {
	t.Setenv("LR_TEST_UNSET_KEY", "")
	_, gw := gateway(t, `
providers:
  openai: {api_key: "${LR_TEST_UNSET_KEY}"}
mock: {token_delay: 0s}
`, "")
	resp, err := http.Get(gw.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h Status
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if !h.Mock || !strings.Contains(h.MockReason, "no usable provider") {
		t.Errorf("health mock=%v reason=%q, want mock with a reason", h.Mock, h.MockReason)
	}
	if len(h.Providers) != 1 || h.Providers[0].Skipped != "no api_key" {
		t.Errorf("providers = %+v, want openai skipped for its missing key", h.Providers)
	}

	for _, stream := range []bool{false, true} {
		body := `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`
		if stream {
			body = `{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`
		}
		resp := post(t, gw.URL, body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := string(b)
		if stream {
			text = streamText(t, b)
		}
		if resp.StatusCode != 200 || !strings.Contains(text, "mock provider, standing in for remote:") {
			t.Fatalf("stream=%v: status %d body %s", stream, resp.StatusCode, b)
		}
		if stream {
			ev := sseData(t, strings.NewReader(string(b)))
			if ev[len(ev)-1] != "[DONE]" || !strings.Contains(ev[len(ev)-2], `"usage"`) {
				t.Errorf("mock stream does not end with usage then [DONE]: %q", ev[len(ev)-2:])
			}
		}
	}
}

func TestMockModeNamesTheRoute(t *testing.T) {
	up := newUpstream(t, completion)
	s, gw := gateway(t, oneProvider, up.URL)
	s.SetMock(true)
	resp := post(t, gw.URL, `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "standing in for remote:deepseek/deepseek-chat") {
		t.Errorf("mock answer does not name the route: %s", b)
	}
	if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasSuffix(r, ", mock)") {
		t.Errorf("X-LocalRouter-Route = %q, want it to say mock", r)
	}
	if up.count() != 0 {
		t.Error("mock mode called the upstream")
	}
	s.SetMock(false)
	resp = post(t, gw.URL, `{"model":"auto","messages":[{"role":"user","content":"hello"}]}`)
	resp.Body.Close()
	if up.count() != 1 {
		t.Error("mock mode off did not reach the upstream")
	}
}

func TestListenReportsPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	cfg, err := config.Parse([]byte("server:\n  port: "+port+"\n"), "busy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Listen()
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "server.port") {
		t.Errorf("Listen on a busy port: %v, want a message naming the port setting", err)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		t.Errorf("want a friendly error, got the raw %v", ne)
	}
}

package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

func put(t *testing.T, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const twoSides = `
server: {api_key: gw-key}
routing: {default: remote, local_model: qwen3, remote_model: deepseek-chat}
providers:
  deepseek: {api_key: ` + testKey + `, base_url: UPSTREAM, local: false, models: [deepseek-chat]}
  ollama: {base_url: LOCAL, local: true, models: [qwen3]}
mock: {token_delay: 0s}
`

func TestControlEndpoints(t *testing.T) {
	remote := newUpstream(t, completion)
	local := newUpstream(t, completion)
	s, gw := gateway(t, strings.Replace(twoSides, "LOCAL", local.URL, 1), remote.URL)
	changes, unsub := s.Subscribe()
	defer unsub()
	auth := []string{"Authorization", "Bearer gw-key"}

	resp, _ := put(t, gw.URL+"/localrouter/override", `{"override":"local"}`)
	if resp.StatusCode != 401 {
		t.Errorf("override without the api key: %d, want 401", resp.StatusCode)
	}
	resp, body := put(t, gw.URL+"/localrouter/override", `{"override":"local"}`, auth...)
	var st Status
	json.Unmarshal([]byte(body), &st)
	if resp.StatusCode != 200 || st.Override != "local" || st.Side != "local" {
		t.Fatalf("PUT override: %d %s", resp.StatusCode, body)
	}
	select {
	case <-changes:
	case <-time.After(hangGuard):
		t.Error("subscribers not told of the override")
	}
	chat := post(t, gw.URL, `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`, auth...)
	chat.Body.Close()
	if r := chat.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "local:ollama/qwen3 (override") {
		t.Errorf("route after override = %q", r)
	}
	for _, bad := range []string{`{"override":"sideways"}`, `{}`, `nope`} {
		resp, body := put(t, gw.URL+"/localrouter/override", bad, auth...)
		if resp.StatusCode != 400 {
			t.Errorf("PUT override %s: %d, want 400", bad, resp.StatusCode)
		}
		decodeError(t, []byte(body))
	}
	put(t, gw.URL+"/localrouter/override", `{"override":"auto"}`, auth...)

	resp, body = put(t, gw.URL+"/localrouter/mock", `{"mock":true}`, auth...)
	if json.Unmarshal([]byte(body), &st); resp.StatusCode != 200 || !st.Mock {
		t.Fatalf("PUT mock: %d %s", resp.StatusCode, body)
	}
	before := remote.count()
	chat = post(t, gw.URL, `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`, auth...)
	b, _ := io.ReadAll(chat.Body)
	chat.Body.Close()
	if !strings.Contains(string(b), "mock provider") || remote.count() != before {
		t.Errorf("mock mode: %s (upstream calls %d → %d)", b, before, remote.count())
	}

	req, _ := http.NewRequest(http.MethodPost, gw.URL+"/localrouter/refresh", nil)
	req.Header.Set("Authorization", "Bearer gw-key")
	rresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(rresp.Body).Decode(&st)
	rresp.Body.Close()
	if rresp.StatusCode != 200 || st.Strategy.Source != "config" {
		t.Errorf("refresh without a strategy URL: %d %+v", rresp.StatusCode, st.Strategy)
	}
	get, _ := http.NewRequest(http.MethodGet, gw.URL+"/localrouter/status", nil)
	get.Header.Set("Authorization", "Bearer gw-key")
	sresp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	sresp.Body.Close()
	if sresp.StatusCode != 200 {
		t.Errorf("GET /localrouter/status: %d", sresp.StatusCode)
	}
}

func TestFallbackToTheOtherSide(t *testing.T) {
	remote := newUpstream(t, either)
	local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"message":"model is loading","type":"server_error"}}`)
	})
	yaml := strings.Replace(twoSides, "LOCAL", local.URL, 1)
	yaml = strings.Replace(yaml, "default: remote", "default: local", 1)
	s, gw := gateway(t, yaml, remote.URL)
	changes, unsub := s.Subscribe()
	defer unsub()
	// The first request tries the local side and falls back; its 503 marks
	// the local side degraded, so the next goes remote at once.
	wantRoute := []string{"remote:deepseek/deepseek-chat (fallback from ollama/qwen3",
		"remote:deepseek/deepseek-chat (default side, local degraded)"}
	for i, stream := range []bool{false, true} {
		body := `{"model":"auto","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		resp := post(t, gw.URL, body, "Authorization", "Bearer gw-key")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		route := resp.Header.Get("X-LocalRouter-Route")
		if resp.StatusCode != 200 || !strings.HasPrefix(route, wantRoute[i]) {
			t.Errorf("stream=%v: %d route %q body %s", stream, resp.StatusCode, route, b)
		}
	}
	select {
	case <-changes:
	case <-time.After(hangGuard):
		t.Error("subscribers not told of the fallback")
	}
	if fb := s.Status().LastFallback; fb == nil || !strings.Contains(fb.Err, "model is loading") {
		t.Errorf("last_fallback = %+v", fb)
	}
	// An explicit provider/model never falls back.
	resp := post(t, gw.URL, `{"model":"ollama/qwen3","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer gw-key")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("explicit local request: status %d, want the upstream's 503", resp.StatusCode)
	}
}

func TestReloadRejectsARefusedStrategyURL(t *testing.T) {
	s, _ := gateway(t, oneProvider, "http://127.0.0.1:9/v1")
	bad, err := config.Parse([]byte(strings.ReplaceAll(oneProvider, "UPSTREAM", "http://127.0.0.1:9/v1")+`
remote_strategy: {url: "http://strategy.example.com/s.json"}
`), "reload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.reload(context.Background(), bad, nil)
	st := s.Status()
	if !strings.Contains(st.ReloadError, "remote_strategy") || s.state.Load().cfg == bad {
		t.Errorf("reload with a plain-http public strategy URL: config_error %q, applied %v", st.ReloadError, s.state.Load().cfg == bad)
	}
}

func TestProbe(t *testing.T) {
	down := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) })
	for _, tt := range []struct {
		name, yaml string
		wantUp     bool
	}{
		{"listing answers", `
providers: {box: {base_url: UPSTREAM, local: true}}`, true},
		{"listing fails", `
providers: {box: {base_url: ` + down.URL + `, local: true}}`, false},
		{"cannot be probed, trusted", `
providers: {box: {type: mock, local: true}}`, true},
		{"nothing local", `
providers: {cloud: {api_key: k, base_url: UPSTREAM, local: false}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				io.WriteString(w, `{"object":"list","data":[{"id":"qwen3","object":"model"}]}`)
			})
			s, _ := gateway(t, tt.yaml, up.URL)
			s.probeOnce(context.Background())
			if got := s.Status().LocalUp; got != tt.wantUp {
				t.Errorf("local_up = %v, want %v", got, tt.wantUp)
			}
		})
	}
}

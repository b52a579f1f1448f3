package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPrivateControlAndHeader(t *testing.T) {
	remote := newUpstream(t, completion)
	local := newUpstream(t, completion)
	s, gw := gateway(t, strings.Replace(twoSides, "LOCAL", local.URL, 1), remote.URL)
	changes, unsub := s.Subscribe()
	defer unsub()
	auth := []string{"Authorization", "Bearer gw-key"}

	if resp, _ := put(t, gw.URL+"/localrouter/private", `{"private":true}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the api key: %d, want 401", resp.StatusCode)
	}
	for _, body := range []string{`{}`, `{"private":"on"}`, `not json`} {
		if resp, b := put(t, gw.URL+"/localrouter/private", body, auth...); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, resp.StatusCode, b)
		}
	}
	resp, body := put(t, gw.URL+"/localrouter/private", `{"private":true}`, auth...)
	var st Status
	json.Unmarshal([]byte(body), &st)
	if resp.StatusCode != http.StatusOK || !st.Private || st.Side != "local" || !strings.Contains(st.Route, "private: local only") {
		t.Fatalf("PUT private: %d %s", resp.StatusCode, body)
	}
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Error("subscribers not told of Local only")
	}
	if !s.Private() {
		t.Error("Private() is false after PUT true")
	}
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/localrouter/private", nil)
	req.Header.Set("Authorization", "Bearer gw-key")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /localrouter/private: %v %v, want 405", resp.StatusCode, err)
	}
	s.SetPrivate(false)

	for _, tc := range []struct {
		value   string
		private bool
	}{{"1", true}, {"true", true}, {" YES ", true}, {"on", true}, {"0", false}, {"false", false}, {"", false}} {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		if tc.value != "" {
			r.Header.Set(privateHeader, tc.value)
		}
		if got := s.privateWhy(r, s.state.Load(), []byte(`{"messages":[]}`)) != ""; got != tc.private {
			t.Errorf("header %q: private %v, want %v", tc.value, got, tc.private)
		}
	}
}

func TestPrivateHeaderKeyIsCanonical(t *testing.T) {
	if got := http.CanonicalHeaderKey(privateHeader); got != privateHeaderKey {
		t.Errorf("privateHeaderKey = %q, but net/http stores %q as %q", privateHeaderKey, privateHeader, got)
	}
}

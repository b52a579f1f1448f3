package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
)

// TestPprofOffByDefaultAndGuarded: the profiles are there only when asked
// for, and then only for a caller with the api_key, like the API.
func TestPprofOffByDefaultAndGuarded(t *testing.T) {
	const clientKey = "lr-client-pprof"
	yaml := "server:\n  api_key: " + clientKey + "\n" + oneProvider
	for _, on := range []bool{false, true} {
		cfg, err := config.Parse([]byte(strings.ReplaceAll(yaml, "UPSTREAM", "http://127.0.0.1:9/v1")), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Config: cfg, Pprof: on})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.Handler())
		get := func(key string) int {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/debug/pprof/goroutine?debug=1", nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]
		if got := get(clientKey); got != want {
			t.Errorf("pprof %v, with the key: %d, want %d", on, got, want)
		}
		if got := get(""); got != http.StatusUnauthorized {
			t.Errorf("pprof %v, without the key: %d, want 401", on, got)
		}
		ts.Close()
	}
}

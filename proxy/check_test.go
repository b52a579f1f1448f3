package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// check prints the strategy URL, which may carry a password: it must be
// redacted there as in /health and the logs.
func TestCheckRedactsStrategyURL(t *testing.T) {
	const password = "s3cret-pa55-9f2e"
	tests := []struct {
		name string
		doc  string // what the strategy server answers; "" for a 500
	}{
		{name: "fetched", doc: `{"strategy":"remote"}`},
		{name: "fetch failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sawPassword string
			strat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, sawPassword, _ = r.BasicAuth()
				if tt.doc == "" {
					http.Error(w, "nope", http.StatusInternalServerError)
					return
				}
				w.Write([]byte(tt.doc))
			}))
			t.Cleanup(strat.Close)
			u := strings.Replace(strat.URL, "http://", "http://user:"+password+"@", 1) + "/s.json"
			s, _ := gateway(t, oneProvider+"remote_strategy: {url: \""+u+"\"}\n", "http://127.0.0.1:9")
			var out bytes.Buffer
			err := s.Check(&out)
			if (err != nil) != (tt.doc == "") {
				t.Errorf("Check: got error %v, want one only when the fetch fails", err)
			}
			if sawPassword != password {
				t.Errorf("strategy server got password %q, want the configured one", sawPassword)
			}
			if strings.Contains(out.String(), password) || err != nil && strings.Contains(err.Error(), password) {
				t.Errorf("check shows the password:\n%s\nerror: %v", out.String(), err)
			}
			host := strings.TrimPrefix(strat.URL, "http://")
			if want := "remote strategy: http://user:xxxxx@" + host + "/s.json"; !strings.Contains(out.String(), want) {
				t.Errorf("got output\n%s\nwant it to contain %q", out.String(), want)
			}
		})
	}
}

// check lists the models FIM and embeddings get when the config gives
// them their own.
func TestCheckListsEndpointModels(t *testing.T) {
	cfg := strings.Replace(oneProvider, "  remote_model: deepseek-chat\n",
		"  remote_model: deepseek-chat\n  fim_model: {remote: deepseek-coder}\n", 1)
	s, _ := gateway(t, cfg, "http://127.0.0.1:9")
	var out bytes.Buffer
	s.Check(&out)
	if !strings.Contains(out.String(), "auto (completions)") || !strings.Contains(out.String(), "deepseek-coder") {
		t.Errorf("check output does not list the FIM model:\n%s", out.String())
	}
	if strings.Contains(out.String(), "auto (embeddings)") {
		t.Errorf("check lists an embeddings route the config does not set:\n%s", out.String())
	}
}

package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/config"
)

// TestHealthConfigErrorQuotesNothing: a config file that is really a file
// of secrets (LOCALROUTER_CONFIG_PATH set to a .env), or was truncated, is
// rejected on reload; the unauthenticated /health says where the problem
// is, quotes nothing of the file, and the running config keeps serving.
func TestHealthConfigErrorQuotesNothing(t *testing.T) {
	const secret = "sk-proj-Hq3Vz8LmWc2Tr7Ny"
	for _, tt := range []struct {
		name, content, want string
	}{
		{"a .env file", "OPENAI_API_KEY=" + secret + "\n", ":1:1: the file must be a mapping"},
		{"a key in the wrong type", "server:\n  port: " + secret + "\n", ":2:9: server.port:"},
		{"a key as an alias", "providers:\n  x: {api_key: *" + secret + "}\n", ":2:16:"},
		{"an empty file", "", ": the file has no settings"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, gw := gateway(t, oneProvider, "http://127.0.0.1:9/v1")
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if err == nil {
				t.Fatalf("Load accepted %q", tt.content)
			}
			s.reload(context.Background(), c, err) // as the watcher does

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
			if !strings.Contains(h.ReloadError, path+tt.want) {
				t.Errorf("config_error = %q, want it to contain %q", h.ReloadError, path+tt.want)
			}
			for i := 0; i+6 <= len(secret); i++ {
				if w := secret[i : i+6]; strings.Contains(string(body), w) {
					t.Fatalf("/health shows %q of the file: %s", w, body)
				}
			}
			if h.Mock || !strings.HasPrefix(h.Route, "remote:deepseek/deepseek-chat") {
				t.Errorf("mock %v route %q after a rejected file, want the running config's route", h.Mock, h.Route)
			}
		})
	}
}

package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	toml "github.com/pelletier/go-toml/v2"
)

// setupKey is server.api_key in the setup tests; no output may show it.
const setupKey = "sk-lr-test-secret-4242"

// homeOf is the HOME an env from userEnv sets.
func homeOf(t *testing.T, env []string) string {
	t.Helper()
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			return h
		}
	}
	t.Fatal("no HOME in the environment")
	return ""
}

// TestSetupCodexReachesLocalRouter is what a Codex user does: run
// `localrouter setup codex`, then talk to the provider config.toml names.
// The official SDK takes nothing but that file's base_url and model, and
// the key from the variable its env_key names, as Codex does.
func TestSetupCodexReachesLocalRouter(t *testing.T) {
	path, port := writeConfig(t, "server:\n  port: PORT\n  api_key: "+setupKey+"\n")
	srv := startAt(t, path, port, userEnv(t), "--mock")

	env := userEnv(t)
	out, err := run(t, env, "setup", "codex", "--config", path)
	if err != nil {
		t.Fatalf("setup codex: %v\n%s", err, out)
	}
	if strings.Contains(out, setupKey) || !strings.Contains(out, "LOCALROUTER_API_KEY") {
		t.Errorf("setup said %q: want the variable to set and never the key", out)
	}
	file := filepath.Join(homeOf(t, env), ".codex", "config.toml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), setupKey) {
		t.Errorf("config.toml holds the key; Codex reads it from the environment:\n%s", b)
	}
	var cfg struct {
		Model          string `toml:"model"`
		ModelProvider  string `toml:"model_provider"`
		ModelProviders map[string]struct {
			BaseURL string `toml:"base_url"`
			EnvKey  string `toml:"env_key"`
			WireAPI string `toml:"wire_api"`
		} `toml:"model_providers"`
	}
	if err := toml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	prov := cfg.ModelProviders[cfg.ModelProvider]
	if prov.WireAPI != "responses" || prov.BaseURL != srv.url+"/v1" {
		t.Fatalf("provider %q = %+v, want the Responses API at %s/v1", cfg.ModelProvider, prov, srv.url)
	}
	userEnvVars := map[string]string{prov.EnvKey: setupKey} // what the user exports, as setup told them
	c := openai.NewClient(option.WithBaseURL(prov.BaseURL), option.WithAPIKey(userEnvVars[prov.EnvKey]), option.WithMaxRetries(0))
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: cfg.Model,
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("say hi")},
	})
	if err != nil {
		t.Fatalf("Responses API through %s: %v\n%s", prov.BaseURL, err, srv.Logs())
	}
	if r.OutputText() == "" || r.Status != responses.ResponseStatusCompleted {
		t.Errorf("answer %q, status %q", r.OutputText(), r.Status)
	}
}

// setupClients are the clients that write a file, where it is under HOME
// on Linux, and the golden files of config/clients/testdata for it.
var setupClients = []struct{ name, file, ext, brokenAt string }{
	{"claude-code", ".claude/settings.json", "json", ":5:"},
	{"codex", ".codex/config.toml", "toml", ":3:"},
	{"opencode", ".config/opencode/opencode.json", "json", ":3:"},
	{"continue", ".continue/config.yaml", "yaml", ":3:"},
	{"zed", ".config/zed/settings.json", "json", ":4:"},
	{"cline", ".cline/data/settings/providers.json", "json", ":4:"},
	{"qwen-code", ".qwen/settings.json", "json", ":4:"},
	{"aider", ".aider.conf.yml", "yaml", ":2:"},
}

// TestSetupCommand runs `localrouter setup` as a process for each client
// over the user's file in config/clients/testdata: --print writes nothing and shows
// no key, the write gives the golden result, a second run changes
// nothing, --undo restores the file byte for byte, a second --undo has
// nothing to undo and fails, and a broken file is refused with its line.
// No LocalRouter is running: the URL and key come from the config.
func TestSetupCommand(t *testing.T) {
	// The golden files were written for http://127.0.0.1:8080, this key and
	// a 32768-token context window.
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	cfg := "server:\n  port: 8080\n  api_key: " + setupKey + "\nproviders:\n  openai: {api_key: sk-upstream, context_window: 32768}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range setupClients {
		t.Run(c.name, func(t *testing.T) {
			env := userEnv(t)
			file := filepath.Join(homeOf(t, env), c.file)
			before := golden(t, c.name, "before."+c.ext)
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, before, 0o644); err != nil {
				t.Fatal(err)
			}
			setup := func(args ...string) (string, error) {
				out, err := run(t, env, append([]string{"setup", c.name, "--config", cfgPath}, args...)...)
				if strings.Contains(out, setupKey) {
					t.Errorf("setup %v printed the API key:\n%s", args, out)
				}
				return out, err
			}
			unchanged := func(when string, want []byte) {
				t.Helper()
				if got, _ := os.ReadFile(file); string(got) != string(want) {
					t.Errorf("%s: the file is\n%s\nwant\n%s", when, got, want)
				}
			}

			out, err := setup("--print")
			if err != nil || !strings.Contains(out, "+++ "+file) || !strings.Contains(out, "nothing written") {
				t.Errorf("--print: %v\n%s", err, out)
			}
			unchanged("after --print", before)
			if _, err := os.Stat(file + ".localrouter-backup"); err == nil {
				t.Error("--print made a backup")
			}

			if out, err = setup(); err != nil || !strings.Contains(out, "Wrote "+file) || !strings.Contains(out, "--undo") {
				t.Errorf("setup: %v\n%s", err, out)
			}
			after := golden(t, c.name, "after."+c.ext)
			unchanged("after setup", after)
			if out, err = setup(); err != nil || !strings.Contains(out, "nothing to change") {
				t.Errorf("second setup: %v\n%s", err, out)
			}
			unchanged("after a second setup", after)

			if out, err = setup("--undo"); err != nil || !strings.Contains(out, "Restored "+file) {
				t.Errorf("--undo: %v\n%s", err, out)
			}
			unchanged("after --undo", before)
			out, err = setup("--undo")
			if exitCode(err) != 1 || !strings.Contains(out, "nothing to undo") {
				t.Errorf("second --undo: exit %d, %q; want 1 and nothing to undo", exitCode(err), out)
			}

			broken := golden(t, c.name, "broken."+c.ext)
			if err := os.WriteFile(file, broken, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err = setup()
			if exitCode(err) != 1 || !strings.Contains(out, file+c.brokenAt) {
				t.Errorf("broken file: exit %d, %q; want 1 naming %s%s", exitCode(err), out, file, c.brokenAt)
			}
			unchanged("after a refused setup", broken)
		})
	}
}

// TestSetupListAndPaste: `localrouter setup` lists every client; a client
// configured by pasting gets its settings printed, without the key.
func TestSetupListAndPaste(t *testing.T) {
	env := userEnv(t)
	out, err := run(t, env, "setup")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, name := range []string{"claude-code", "codex", "opencode", "continue", "zed", "cline", "qwen-code", "aider", "copilot-cli", "jetbrains", "copilot"} {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("the list lacks %s:\n%s", name, out)
		}
	}
	cfgPath, port := writeConfig(t, "server:\n  port: PORT\n  api_key: "+setupKey+"\n")
	out, err = run(t, env, "setup", "copilot-cli", "--config", cfgPath, "--model", "local")
	if err != nil || strings.Contains(out, setupKey) || !strings.Contains(out, "COPILOT_MODEL=\"local\"") ||
		!strings.Contains(out, "127.0.0.1:"+itoa(port)+"/v1") {
		t.Errorf("copilot-cli: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(homeOf(t, env)); len(entries) != 0 {
		t.Errorf("a paste client wrote into HOME: %v", entries)
	}
}

func golden(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "config", "clients", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestConnectClientOverDBus clicks Connect a client… → Codex in the real
// binary's tray over a private session bus: it writes the same
// config.toml, byte for byte, as `localrouter setup codex` does.
func TestConnectClientOverDBus(t *testing.T) {
	path, port := writeConfig(t, "notifications: false\nserver:\n  port: PORT\n  api_key: "+setupKey+"\n")
	env := userEnv(t)
	_, c := startWithTray(t, path, port, env)
	file := filepath.Join(homeOf(t, env), ".codex", "config.toml")

	c.WaitFor(t, 10*time.Second, "Codex in Connect a client…", func() (bool, string) {
		m, err := c.Menu()
		if err != nil {
			return false, err.Error()
		}
		connect, ok := m.Find("Connect a client…")
		_, codex := connect.Find("Codex")
		return ok && codex, "no Codex entry under Connect a client…"
	})
	c.ClickLabel(t, "Codex")
	var got []byte
	c.WaitFor(t, 10*time.Second, "config.toml written", func() (bool, string) {
		b, err := os.ReadFile(file)
		got = b
		return err == nil && len(b) > 0, "not yet"
	})

	cmdEnv := userEnv(t)
	if out, err := run(t, cmdEnv, "setup", "codex", "--config", path); err != nil {
		t.Fatalf("setup codex: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(homeOf(t, cmdEnv), ".codex", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the tray wrote\n%s\nthe command writes\n%s", got, want)
	}
	if _, err := os.Stat(file + ".localrouter-created"); err != nil {
		t.Errorf("the tray's write cannot be undone: %v", err)
	}
}

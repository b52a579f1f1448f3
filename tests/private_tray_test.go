//go:build linux

package tests

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/tray/traytest"
)

// startWithTray runs the built binary with its tray (no --headless) on a
// private session bus of its own, and returns its tray as a host sees it.
func startWithTray(t *testing.T, path string, port int, env []string) (*proc, *traytest.Client) {
	t.Helper()
	addr := traytest.StartBus(t)
	watcher := traytest.StartWatcher(t, addr)
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), config: path, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "--config", path)
	p.cmd.Env = append(env, "LOCALROUTER_LOG_LEVEL=debug", "DBUS_SESSION_BUS_ADDRESS="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.serve(t)
	return p, traytest.NewClient(t, addr, watcher.WaitItem(t, 10*time.Second))
}

// TestLocalOnlyCheckboxOverDBus ticks the tray's Local only box of the real
// binary over D-Bus: requests for the remote side, by name too, stay local
// and the remote fakes see nothing; after a restart the box is still
// ticked; unticking it lets requests go remote again.
func TestLocalOnlyCheckboxOverDBus(t *testing.T) {
	b := newPrivateBackends(t)
	path, port := writeConfig(t, "notifications: false\n"+b.config(""))
	env := userEnv(t)
	p, c := startWithTray(t, path, port, env)

	title := func(want string) func() (bool, string) {
		return func() (bool, string) { s := c.Title(); return s == want, s }
	}
	checked := func(on bool) func() (bool, string) {
		return func() (bool, string) {
			m, err := c.Menu()
			if err != nil {
				return false, err.Error()
			}
			n, ok := m.Find("Local only")
			return ok && n.Checked() == on, fmt.Sprintf("found %v, checked %v", ok, n.Checked())
		}
	}
	c.WaitFor(t, 10*time.Second, "title at start", title("Remote · deepseek-chat"))
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, 10*time.Second, "Local only ticked", checked(true))
	c.WaitFor(t, 10*time.Second, "title under Local only", title("Local only · qwen3"))
	for _, model := range []string{"auto", "remote", "deepseek/deepseek-chat", "anthropic/claude-sonnet-4-5"} {
		if route := chatRoute(t, p, model, "hello"); !strings.HasPrefix(route, "local:ollama/qwen3") || !strings.Contains(route, "private: local only") {
			t.Errorf("%s under Local only: route %q", model, route)
		}
	}
	if st := status(t, p); st["private"] != true {
		t.Errorf("/health under Local only: private %v", st["private"])
	}

	p.stop(t)
	p, c = startWithTray(t, path, port, env)
	c.WaitFor(t, 10*time.Second, "Local only ticked after a restart", checked(true))
	c.WaitFor(t, 10*time.Second, "title after a restart", title("Local only · qwen3"))
	if route := chatRoute(t, p, "remote", "hello"); !strings.Contains(route, "private: local only") {
		t.Errorf("after a restart: route %q", route)
	}
	b.remoteSawNothing(t)

	c.ClickLabel(t, "Local only")
	c.WaitFor(t, 10*time.Second, "Local only unticked", checked(false))
	c.WaitFor(t, 10*time.Second, "title after unticking", title("Remote · deepseek-chat"))
	if route := chatRoute(t, p, "auto", "hello"); !strings.HasPrefix(route, "remote:deepseek/deepseek-chat") {
		t.Errorf("after unticking: route %q, want remote", route)
	}
}

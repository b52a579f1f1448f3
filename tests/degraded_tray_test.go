//go:build linux

package tests

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/tray/traytest"
)

// TestLocalDegradedNotifiesOnce runs the binary with its tray and a
// notification daemon on a private session bus: a local server that
// answers 500 sends routed requests remote for the back-off, and the
// desktop hears of it once, however many requests go remote meanwhile;
// when it recovers the desktop hears that too.
func TestLocalDegradedNotifiesOnce(t *testing.T) {
	local := newFlakyLocal(t)
	remote := newFakeOpenAI(t)
	cfg := strings.Replace(routingSetup{localURL: local.URL, remoteURL: remote.URL, extra: "  local_backoff: 3s\n"}.yaml(),
		"default: remote", "default: local", 1)
	path, port := writeConfig(t, cfg)
	addr := traytest.StartBus(t)
	watcher := traytest.StartWatcher(t, addr)
	notes := traytest.StartNotifications(t, addr)
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), config: path, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "--config", path)
	p.cmd.Env = append(userEnv(t), "DBUS_SESSION_BUS_ADDRESS="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.serve(t)
	c := traytest.NewClient(t, addr, watcher.WaitItem(t, 10*time.Second))
	g := newGateway(t, p)
	c.WaitFor(t, 10*time.Second, "the tray shows the local route", func() (bool, string) {
		s := c.Title()
		return strings.HasPrefix(s, "Local"), s
	})

	degraded := func() int {
		n := 0
		for _, m := range notes.All() {
			if strings.Contains(m.Summary+" "+m.Body, "answered with an error") {
				n++
			}
		}
		return n
	}
	local.fail(http.StatusInternalServerError, `{"error":{"message":"llama runner process has terminated: exit status 2","type":"api_error","param":null,"code":null}}`)
	for i := range 4 {
		if r := g.mustChat(t, "auto", false, "hi", nil); r.status != http.StatusOK || !strings.HasPrefix(r.route, routeRemote) {
			t.Fatalf("request %d with the local server failing: %v, want remote", i, r)
		}
	}
	notes.Wait(t, 10*time.Second, func(m traytest.Notification) bool {
		return strings.Contains(m.Summary+" "+m.Body, "answered with an error")
	})
	c.WaitFor(t, 10*time.Second, "the tray shows the remote route", func() (bool, string) {
		s := c.Title()
		return strings.HasPrefix(s, "Remote"), s
	})
	for range 3 {
		g.mustChat(t, "auto", false, "hi", nil)
	}

	local.status.Store(0) // it recovers
	eventually(t, "local again once the back-off ends", func() (bool, string) {
		r := g.mustChat(t, "auto", false, "hi", nil)
		return strings.HasPrefix(r.route, routeLocal), r.String()
	})
	notes.Wait(t, 10*time.Second, func(m traytest.Notification) bool {
		return strings.Contains(m.Summary+" "+m.Body, "tried again")
	})
	if n := degraded(); n != 1 {
		var all []string
		for _, m := range notes.All() {
			all = append(all, m.Summary+": "+m.Body)
		}
		t.Errorf("%d notifications that the local model is failing, want 1:\n%s", n, strings.Join(all, "\n"))
	}
}

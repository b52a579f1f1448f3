//go:build linux

package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/localrouter/localrouter/tray/traytest"
)

const waitLong = 10 * time.Second

// dashboardURL is what the fake app's Open dashboard opens, numbered per click.
const dashboardURL = "http://127.0.0.1:8080/ui/?token=t"

// fyne.io/systray and dbus.SessionBus are per-process singletons, so every
// tray here runs in a child process: this test binary, re-run as the app.
func TestMain(m *testing.M) {
	if os.Getenv("TRAYTEST_APP") == "1" {
		os.Exit(runFakeApp())
	}
	os.Exit(m.Run())
}

// runFakeApp runs the tray over a fakeCore until Quit; exit status 3 means
// Run reported ErrNoTray.
func runFakeApp() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := os.Getenv("TRAYTEST_CONFIG")
	var clicks atomic.Int32
	dashboard := func() string { return dashboardURL + strconv.Itoa(int(clicks.Add(1))) }
	core := newFakeCore(cfg, cancel)
	core.slow, _ = time.ParseDuration(os.Getenv("TRAYTEST_SLOW_STATE"))
	err := Run(ctx, core, Options{LogPath: os.Getenv("TRAYTEST_LOG"), LaunchArgs: []string{"--config", cfg},
		Dashboard: dashboard, Clients: []Client{{"codex", "Codex"}, {"aider", "Aider"}}, Connect: fakeConnect})
	if errors.Is(err, ErrNoTray) {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// fakeConnect records which client it was asked to connect in the file
// $TRAYTEST_CONNECTED; aider fails.
func fakeConnect(name string) (string, error) {
	if name == "aider" {
		return "", errors.New("~/.aider.conf.yml:3: did not find expected key")
	}
	f, err := os.OpenFile(os.Getenv("TRAYTEST_CONNECTED"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, name)
	return "Wrote ~/.codex/config.toml.\nUndo: localrouter setup codex --undo", err
}

type appProc struct {
	cmd    *exec.Cmd
	done   chan error
	cfg    string
	stderr syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the child's stderr copier and the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startApp runs the tray app in a child process with env added.
func startApp(t *testing.T, env ...string) *appProc {
	t.Helper()
	dir := t.TempDir()
	p := &appProc{cfg: filepath.Join(dir, "config.yaml"), done: make(chan error, 1)}
	os.WriteFile(p.cfg, []byte("notifications: true\n"), 0o600)
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), append([]string{"TRAYTEST_APP=1", "TRAYTEST_CONFIG=" + p.cfg,
		"TRAYTEST_LOG=" + filepath.Join(dir, "localrouter.log"), "TRAYTEST_CONNECTED=" + filepath.Join(dir, "connected.txt")}, env...)...)
	p.cmd.Env = append(p.cmd.Env, traytest.RaceEnv)
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		traytest.CheckRaces(t, p.stderr.String())
		if t.Failed() {
			t.Logf("app stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *appProc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(waitLong):
		t.Fatal("the app did not exit")
		return -1
	}
}

// fakeOpener puts an executable xdg-open first on PATH that appends its
// arguments, one per line, to the returned file.
func fakeOpener(t *testing.T) (pathEnv, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "opened.txt")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '" + record + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH"), record
}

// waitFile waits until file's content satisfies ok.
func waitFile(t *testing.T, file string, what string, ok func(b []byte, err error) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		b, err := os.ReadFile(file)
		if ok(b, err) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waiting for %s; got %q, err %v", file, what, b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func titleIs(c *traytest.Client, want string) func() (bool, string) {
	return func() (bool, string) { s := c.Title(); return s == want, s }
}

func iconOf(t *testing.T, c *traytest.Client) []byte {
	px, err := c.IconPixmap()
	if err != nil || len(px) == 0 {
		return nil
	}
	return px[0].Pix
}

// TestTrayOverDBus drives the real tray over a private session bus, as a
// panel would: the menu read over com.canonical.dbusmenu, items clicked,
// notifications captured, launch at login and the opener checked on disk.
func TestTrayOverDBus(t *testing.T) {
	addr := traytest.StartBus(t)
	watcher := traytest.StartWatcher(t, addr)
	notes := traytest.StartNotifications(t, addr)
	pathEnv, opened := fakeOpener(t)
	xdg := t.TempDir() // go-autostart reads XDG_CONFIG_HOME in init: set it for the child
	app := startApp(t, pathEnv, "XDG_CONFIG_HOME="+xdg)
	c := traytest.NewClient(t, addr, watcher.WaitItem(t, waitLong))
	c.WaitFor(t, waitLong, "initial title", titleIs(c, "Remote · gemini-3-flash"))
	if tt, err := c.ToolTip(); err != nil || tt.Title != "Remote · gemini-3-flash" {
		t.Errorf("tooltip %+v, err %v", tt, err)
	}
	remoteIcon := iconOf(t, c)
	if remoteIcon == nil {
		t.Fatal("no icon")
	}

	// The whole menu: labels, order, separators, checkboxes, enabled states.
	type entry struct {
		Label                       string
		Separator                   bool
		Enabled, Checkable, Checked bool
	}
	var got []entry
	var m traytest.Node
	c.WaitFor(t, waitLong, "menu", func() (bool, string) {
		var err error
		if m, err = c.Menu(); err != nil {
			return false, err.Error()
		}
		return len(m.Children) == 20, fmt.Sprint(len(m.Children), " entries")
	})
	for _, n := range m.Children {
		got = append(got, entry{n.Label(), n.Type() == "separator", n.Enabled(), n.Checkable(), n.Checked()})
	}
	sep := entry{Separator: true, Enabled: true}
	want := []entry{
		{"Remote · gemini-3-flash", false, false, false, false},
		{"Strategy: remote, just now", false, false, false, false},
		{"Today: no requests yet", false, false, false, false},
		{"http://127.0.0.1:8080/v1", false, true, false, false},
		sep,
		{"Follow remote strategy", false, true, true, true},
		{"Force local", false, true, true, false},
		{"Force remote", false, true, true, false},
		{"Local only", false, true, true, false},
		sep,
		{"Mock mode", false, true, true, false},
		{"Launch at login", false, true, true, false},
		sep,
		{"Refresh strategy now", false, true, false, false},
		{"Open dashboard", false, true, false, false},
		{"Connect a client…", false, true, false, false},
		{"Open config", false, true, false, false},
		{"Open log", false, true, false, false},
		sep,
		{"Quit", false, true, false, false},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("menu:\n got %v\nwant %v", got, want)
	}

	checked := func(label string, on bool) func() (bool, string) {
		return func() (bool, string) {
			m, err := c.Menu()
			if err != nil {
				return false, err.Error()
			}
			n, _ := m.Find(label)
			return n.Checked() == on, fmt.Sprintf("%q checked=%v", label, n.Checked())
		}
	}

	// Force local: title, tooltip, icon, radio checks, one notification.
	c.ClickLabel(t, "Force local")
	c.WaitFor(t, waitLong, "title after Force local", titleIs(c, "Local · qwen3"))
	c.WaitFor(t, waitLong, "Force local checked", checked("Force local", true))
	c.WaitFor(t, waitLong, "Follow unchecked", checked("Follow remote strategy", false))
	if tt, _ := c.ToolTip(); tt.Title != "Local · qwen3" {
		t.Errorf("tooltip %q after Force local", tt.Title)
	}
	if bytes.Equal(iconOf(t, c), remoteIcon) {
		t.Error("icon unchanged after Force local")
	}
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Route: Local · qwen3" && n.Body == "Routing: Force local." && n.AppName == "LocalRouter"
	})

	// Back to following; the strategy flips on "Refresh strategy now".
	c.ClickLabel(t, "Follow remote strategy")
	c.WaitFor(t, waitLong, "title after Follow", titleIs(c, "Remote · gemini-3-flash"))

	// Local only: the box, the title and icon, a notification each way.
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "title under Local only", titleIs(c, "Local only · qwen3"))
	c.WaitFor(t, waitLong, "Local only checked", checked("Local only", true))
	if bytes.Equal(iconOf(t, c), remoteIcon) {
		t.Error("icon unchanged under Local only")
	}
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Route: Local only · qwen3" && n.Body == "Local only is on: no request leaves this machine."
	})
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "title after Local only", titleIs(c, "Remote · gemini-3-flash"))
	c.WaitFor(t, waitLong, "Local only unchecked", checked("Local only", false))
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Route: Remote · gemini-3-flash" && n.Body == "Local only is off: requests may go remote again."
	})
	c.ClickLabel(t, "Refresh strategy now")
	c.WaitFor(t, waitLong, "title after the strategy flip", titleIs(c, "Local · qwen3"))
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Route: Local · qwen3" && n.Body == "The remote strategy changed the route."
	})

	c.ClickLabel(t, "Mock mode")
	c.WaitFor(t, waitLong, "mock title", titleIs(c, "Mock · qwen3"))
	c.WaitFor(t, waitLong, "Mock mode checked", checked("Mock mode", true))
	notes.Wait(t, waitLong, func(n traytest.Notification) bool { return n.Summary == "Route: Mock · qwen3" })

	// Launch at login writes and removes the .desktop entry.
	desktop := filepath.Join(xdg, "autostart", "localrouter.desktop")
	c.ClickLabel(t, "Launch at login")
	// The box is checked after go-autostart has written the file, which it
	// does in several writes: read it only then.
	c.WaitFor(t, waitLong, "Launch at login checked", checked("Launch at login", true))
	b := waitFile(t, desktop, "the entry", func(b []byte, err error) bool { return err == nil && len(b) > 0 })
	exe, _ := filepath.Abs(os.Args[0])
	if wantExec := "Exec=" + strconv.Quote(exe) + " " + strconv.Quote("--config") + " " + strconv.Quote(app.cfg) + "\n"; !strings.Contains(string(b), wantExec) {
		t.Errorf("%s:\n%s\nwant the line %q", desktop, b, wantExec)
	}
	c.ClickLabel(t, "Launch at login")
	waitFile(t, desktop, "removal", func(b []byte, err error) bool { return os.IsNotExist(err) })
	c.WaitFor(t, waitLong, "Launch at login unchecked", checked("Launch at login", false))

	c.ClickLabel(t, "Open config")
	waitFile(t, opened, "the config path", func(b []byte, _ error) bool { return strings.Contains(string(b), app.cfg+"\n") })
	c.ClickLabel(t, "Open log")
	waitFile(t, opened, "the log path", func(b []byte, _ error) bool { return strings.Contains(string(b), "localrouter.log\n") })
	// Each click asks for a fresh address: with server.api_key set, each
	// carries its own one-time token.
	c.ClickLabel(t, "Open dashboard")
	waitFile(t, opened, "the dashboard", func(b []byte, _ error) bool { return strings.Contains(string(b), dashboardURL+"1\n") })
	c.ClickLabel(t, "Open dashboard")
	waitFile(t, opened, "the dashboard again", func(b []byte, _ error) bool { return strings.Contains(string(b), dashboardURL+"2\n") })

	// Connect a client…: its submenu lists the clients; each click runs
	// Connect and says what it did, or why it could not.
	c.WaitFor(t, waitLong, "the clients", func() (bool, string) {
		m, err := c.Menu()
		if err != nil {
			return false, err.Error()
		}
		connect, _ := m.Find("Connect a client…")
		got := fmt.Sprint(labels(connect.Children))
		return got == "[Codex Aider]", got
	})
	c.ClickLabel(t, "Codex")
	waitFile(t, filepath.Join(filepath.Dir(app.cfg), "connected.txt"), "the connect", func(b []byte, _ error) bool { return string(b) == "codex\n" })
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Codex connected" && strings.Contains(n.Body, "Undo: localrouter setup codex --undo")
	})
	c.ClickLabel(t, "Aider")
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Could not connect Aider" && strings.Contains(n.Body, "aider.conf.yml:3")
	})

	c.ClickLabel(t, "Quit")
	if code := app.waitExit(t); code != 0 {
		t.Errorf("exit status %d after Quit, want 0", code)
	}
	// One notification per event, none at start-up.
	if n := len(notes.All()); n != 8 {
		t.Errorf("%d notifications, want 8: %+v", n, notes.All())
	}
}

// TestNoSessionBus: without a session bus Run returns ErrNoTray instead of
// panicking (systray.Quit panics when there was no bus at start-up).
// TestClickWhileTheMenuUpdates: systray drops a click that nobody is
// receiving at that moment, so one that comes while the menu is being
// updated (here State takes 300 ms) must still be taken.
func TestClickWhileTheMenuUpdates(t *testing.T) {
	addr := traytest.StartBus(t)
	watcher := traytest.StartWatcher(t, addr)
	startApp(t, "XDG_CONFIG_HOME="+t.TempDir(), "TRAYTEST_SLOW_STATE=300ms")
	c := traytest.NewClient(t, addr, watcher.WaitItem(t, waitLong))
	c.WaitFor(t, waitLong, "initial title", titleIs(c, "Remote · gemini-3-flash"))
	c.ClickLabel(t, "Force local") // the update it causes takes 300 ms
	time.Sleep(50 * time.Millisecond)
	c.ClickLabel(t, "Mock mode")
	c.WaitFor(t, waitLong, "mock mode after a click during an update", titleIs(c, "Mock · qwen3"))
}

func TestNoSessionBus(t *testing.T) {
	app := startApp(t, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus")
	if code := app.waitExit(t); code != 3 {
		t.Errorf("exit status %d, want 3 (ErrNoTray)", code)
	}
}

func waitNameOwned(t *testing.T, conn *dbus.Conn, name string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err == nil && has {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not owned within %v", name, waitLong)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTrayHostStartsLater: the app starts before any tray host, as at login,
// and must register once one appears (systray v1.12.2 alone misses it in
// ~1% of runs).
func TestTrayHostStartsLater(t *testing.T) {
	addr := traytest.StartBus(t)
	traytest.StartNotifications(t, addr)
	conn := traytest.Connect(t, addr)
	app := startApp(t)
	waitNameOwned(t, conn, fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", app.cmd.Process.Pid))
	w := traytest.StartWatcher(t, addr)
	c := traytest.NewClient(t, addr, w.WaitItem(t, waitLong))
	c.WaitFor(t, waitLong, "title", titleIs(c, "Remote · gemini-3-flash"))
}

// TestTrayReregistersAfterHostRestart: the host restarts after a
// notification was closed (systray v1.12.2's own loop has ended by then:
// the icon never came back).
func TestTrayReregistersAfterHostRestart(t *testing.T) {
	addr := traytest.StartBus(t)
	notes := traytest.StartNotifications(t, addr)
	notes.CloseAfterNotify()
	first := traytest.StartWatcher(t, addr)
	startApp(t)
	c := traytest.NewClient(t, addr, first.WaitItem(t, waitLong))
	c.WaitFor(t, waitLong, "title", titleIs(c, "Remote · gemini-3-flash"))
	c.ClickLabel(t, "Force local")
	notes.Wait(t, waitLong, func(n traytest.Notification) bool { return n.Summary == "Route: Local · qwen3" })

	first.Close() // the panel goes away...
	second := traytest.StartWatcher(t, addr)
	item := second.WaitItem(t, waitLong) // ...and the item registers with the new one
	c2 := traytest.NewClient(t, addr, item)
	c2.WaitFor(t, waitLong, "title after the host restart", titleIs(c2, "Local · qwen3"))
}

// TestTrayRepeatedStartups: icon, title and tooltip are there from the
// first moment in every start (set from onReady they were lost in ~3%).
func TestTrayRepeatedStartups(t *testing.T) {
	n := 20
	if testing.Short() {
		n = 5
	}
	addr := traytest.StartBus(t)
	for i := range n {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			w := traytest.StartWatcher(t, addr)
			app := startApp(t)
			c := traytest.NewClient(t, addr, w.WaitItem(t, waitLong))
			c.WaitFor(t, waitLong, "icon, title and tooltip", func() (bool, string) {
				tt, _ := c.ToolTip()
				s, icon := c.Title(), iconOf(t, c)
				return s == "Remote · gemini-3-flash" && tt.Title == s && len(icon) > 0,
					fmt.Sprintf("title %q tooltip %q icon %d bytes", s, tt.Title, len(icon))
			})
			// Read once more without waiting: nothing may arrive late.
			if px, _ := c.IconPixmap(); len(px) == 0 {
				t.Error("no icon")
			}
			c.ClickLabel(t, "Quit")
			if code := app.waitExit(t); code != 0 {
				t.Errorf("exit status %d", code)
			}
			w.Close()
		})
	}
}

func labels(ns []traytest.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Label())
	}
	return out
}

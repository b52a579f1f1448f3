//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/localrouter/localrouter/tray/traytest"
)

const waitLong = 10 * time.Second

// TestMain runs this binary as the app when a test asks it to.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOCALROUTER_TEST_MAIN"); path != "" {
		if err := run([]string{"--config", path}, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// upstream is a fake OpenAI-compatible server that counts chat requests.
func upstream(t *testing.T, name string, chats *atomic.Int64) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[]}`)
			return
		}
		chats.Add(1)
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"from %s"},"finish_reason":"stop"}]}`, name)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// TestTrayDrivesTheProxy runs localrouter itself (main's run: the real
// proxy and tray, wired by main's adapter) on a private session bus, and checks that what is
// clicked in the menu changes how the next request is routed.
func TestTrayDrivesTheProxy(t *testing.T) {
	addr := traytest.StartBus(t)
	watcher := traytest.StartWatcher(t, addr)
	notes := traytest.StartNotifications(t, addr)

	var localHits, remoteHits atomic.Int64
	localURL, remoteURL := upstream(t, "local", &localHits), upstream(t, "remote", &remoteHits)
	var strat atomic.Value
	strat.Store(`{"strategy":"remote","local_model":"qwen3","remote_model":"gpt-4o"}`)
	stratSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strat.Load().(string))
	}))
	t.Cleanup(stratSrv.Close)

	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := free.Addr().String()
	free.Close()
	yaml := fmt.Sprintf(`server: {host: 127.0.0.1, port: %d}
notifications: true
remote_strategy: {url: %q, poll_interval: 1h}
routing: {default: remote, local_model: qwen3, remote_model: gpt-4o}
providers:
  localprov: {base_url: %q, local: true, models: [qwen3]}
  remoteprov: {base_url: %q, api_key: sk-test, local: false, models: [gpt-4o]}
`, free.Addr().(*net.TCPAddr).Port, stratSrv.URL, localURL+"/v1", remoteURL+"/v1")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir() // an xdg-open stub that records what it opens
	record := filepath.Join(bin, "opened")
	os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" >> '"+record+"'\n"), 0o755)

	// The app runs as a child process (systray and the session bus are
	// per-process singletons), through main's own run.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOCALROUTER_TEST_MAIN="+path, traytest.RaceEnv,
		"HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		traytest.CheckRaces(t, stderr.String())
		if t.Failed() {
			t.Logf("app stderr:\n%s", stderr.String())
		}
	})

	chat := func() (route string, body string) {
		t.Helper()
		resp, err := http.Post("http://"+apiAddr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return resp.Header.Get("X-LocalRouter-Route"), string(b)
	}

	c := traytest.NewClient(t, addr, watcher.WaitItem(t, waitLong))
	title := func(want string) func() (bool, string) {
		return func() (bool, string) { s := c.Title(); return s == want, s }
	}
	c.WaitFor(t, waitLong, "title from the remote strategy", title("Remote · gpt-4o"))
	if route, body := chat(); !strings.HasPrefix(route, "remote:remoteprov/gpt-4o") || !strings.Contains(body, "from remote") {
		t.Errorf("before Force local: route %q, body %s", route, body)
	}

	c.ClickLabel(t, "Force local")
	c.WaitFor(t, waitLong, "title after Force local", title("Local · qwen3"))
	if route, body := chat(); !strings.HasPrefix(route, "local:localprov/qwen3") || !strings.Contains(body, "from local") {
		t.Errorf("after Force local: route %q, body %s", route, body)
	}
	notes.Wait(t, waitLong, func(n traytest.Notification) bool { return n.Summary == "Route: Local · qwen3" })

	c.ClickLabel(t, "Follow remote strategy")
	c.WaitFor(t, waitLong, "title after Follow", title("Remote · gpt-4o"))
	c.ClickLabel(t, "Mock mode")
	c.WaitFor(t, waitLong, "title in mock mode", title("Mock · gpt-4o"))
	hits := localHits.Load() + remoteHits.Load()
	if _, body := chat(); !strings.Contains(body, "chatcmpl-mock") || localHits.Load()+remoteHits.Load() != hits {
		t.Errorf("mock mode: an upstream answered: %s", body)
	}
	c.ClickLabel(t, "Mock mode")
	c.WaitFor(t, waitLong, "title after mock mode", title("Remote · gpt-4o"))

	// Local only keeps even a request for the remote side local, and
	// /health says so.
	health := func() string {
		t.Helper()
		resp, err := http.Get("http://" + apiAddr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "title under Local only", title("Local only · qwen3"))
	remoteBefore := remoteHits.Load()
	if route, body := chat(); !strings.HasPrefix(route, "local:localprov/qwen3") || !strings.Contains(route, "private: local only") ||
		!strings.Contains(body, "from local") {
		t.Errorf("under Local only: route %q, body %s", route, body)
	}
	if remoteHits.Load() != remoteBefore {
		t.Error("under Local only the remote upstream was called")
	}
	if h := health(); !strings.Contains(h, `"private":true`) {
		t.Errorf("/health under Local only: %s", h)
	}
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "title after Local only", title("Remote · gpt-4o"))
	if h := health(); !strings.Contains(h, `"private":false`) {
		t.Errorf("/health after Local only: %s", h)
	}

	// The strategy flips to local; "Refresh strategy now" fetches it.
	px, _ := c.IconPixmap()
	before := px[0].Pix
	strat.Store(`{"strategy":"local","local_model":"qwen3","remote_model":"gpt-4o"}`)
	c.ClickLabel(t, "Refresh strategy now")
	c.WaitFor(t, waitLong, "title after the strategy flip", title("Local · qwen3"))
	if tt, _ := c.ToolTip(); tt.Title != "Local · qwen3" {
		t.Errorf("tooltip %q", tt.Title)
	}
	if px, _ := c.IconPixmap(); len(px) == 0 || bytes.Equal(px[0].Pix, before) {
		t.Error("icon unchanged after the strategy flip")
	}
	notes.Wait(t, waitLong, func(n traytest.Notification) bool {
		return n.Summary == "Route: Local · qwen3" && n.Body == "The remote strategy changed the route."
	})
	if route, _ := chat(); !strings.HasPrefix(route, "local:localprov/qwen3") {
		t.Errorf("after the strategy flip: route %q", route)
	}

	// Open config calls the opener with the config in use.
	c.ClickLabel(t, "Open config")
	c.WaitFor(t, waitLong, "the opener", func() (bool, string) {
		b, _ := os.ReadFile(record)
		return string(b) == path+"\n", string(b)
	})

	// Quit: the server drains and the process exits 0.
	c.ClickLabel(t, "Quit")
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("after Quit: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("the app did not exit after Quit")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cache", "localrouter", "localrouter.log")); !strings.Contains(string(b), "LocalRouter listening") {
		t.Errorf("log file: %q, err %v", b, err)
	}
}

// TestTrayLocalOnlySurvivesRestart ticks Local only in the menu, quits, and
// starts localrouter again on the same state: the box is ticked, the title
// says so, and requests stay local, before it is unticked from the menu.
func TestTrayLocalOnlySurvivesRestart(t *testing.T) {
	var localHits, remoteHits atomic.Int64
	localURL, remoteURL := upstream(t, "local", &localHits), upstream(t, "remote", &remoteHits)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := free.Addr().String()
	free.Close()
	yaml := fmt.Sprintf(`server: {host: 127.0.0.1, port: %d}
notifications: false
routing: {default: remote, local_model: qwen3, remote_model: gpt-4o}
providers:
  localprov: {base_url: %q, local: true, models: [qwen3]}
  remoteprov: {base_url: %q, api_key: sk-test, local: false, models: [gpt-4o]}
`, free.Addr().(*net.TCPAddr).Port, localURL+"/v1", remoteURL+"/v1")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// run starts the app on a session bus of its own and returns its tray
	// and a function that quits it from the menu.
	run := func() (*traytest.Client, func()) {
		addr := traytest.StartBus(t)
		watcher := traytest.StartWatcher(t, addr)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOCALROUTER_TEST_MAIN="+path, traytest.RaceEnv, "DBUS_SESSION_BUS_ADDRESS="+addr,
			"HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			traytest.CheckRaces(t, stderr.String())
			if t.Failed() {
				t.Logf("app stderr:\n%s", stderr.String())
			}
		})
		c := traytest.NewClient(t, addr, watcher.WaitItem(t, waitLong))
		return c, func() {
			c.ClickLabel(t, "Quit")
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Errorf("after Quit: %v", err)
				}
			case <-time.After(waitLong):
				t.Fatal("the app did not exit after Quit")
			}
		}
	}
	chatRoute := func() string {
		t.Helper()
		resp, err := http.Post("http://"+apiAddr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"remote","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header.Get("X-LocalRouter-Route")
	}
	checked := func(c *traytest.Client, on bool) func() (bool, string) {
		return func() (bool, string) {
			m, err := c.Menu()
			if err != nil {
				return false, err.Error()
			}
			n, _ := m.Find("Local only")
			return n.Checked() == on, fmt.Sprintf("Local only checked=%v", n.Checked())
		}
	}
	title := func(c *traytest.Client, want string) func() (bool, string) {
		return func() (bool, string) { s := c.Title(); return s == want, s }
	}

	c, quit := run()
	c.WaitFor(t, waitLong, "title at start", title(c, "Remote · gpt-4o"))
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "Local only checked", checked(c, true))
	quit()

	c, quit = run()
	c.WaitFor(t, waitLong, "title after the restart", title(c, "Local only · qwen3"))
	c.WaitFor(t, waitLong, "Local only checked after the restart", checked(c, true))
	if route := chatRoute(); !strings.HasPrefix(route, "local:localprov/qwen3") || !strings.Contains(route, "private: local only") {
		t.Errorf("after the restart: route %q, want local with private: local only", route)
	}
	if n := remoteHits.Load(); n != 0 {
		t.Errorf("the remote upstream got %d requests under Local only", n)
	}
	c.ClickLabel(t, "Local only")
	c.WaitFor(t, waitLong, "title after unticking", title(c, "Remote · gpt-4o"))
	if route := chatRoute(); !strings.HasPrefix(route, "remote:remoteprov/gpt-4o") {
		t.Errorf("after unticking: route %q, want remote", route)
	}
	quit()
}

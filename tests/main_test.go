// Package tests drives the built localrouter binary as a user would: a real
// process, a config file on disk, fake upstreams that speak OpenAI's wire
// format, and the official openai-go client.
package tests

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "localrouter-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "localrouter")
	build := exec.Command("go", "build", "-o", binary, "github.com/localrouter/localrouter")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build localrouter: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running localrouter.
type proc struct {
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:port
	config string
	mu     sync.Mutex // guards logs
	logs   bytes.Buffer
	done   chan error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

// Logs returns what the process has logged so far.
func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// userEnv isolates the process's config and cache dirs in a temp home.
func userEnv(t *testing.T) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "PATH=" + os.Getenv("PATH")}
	return env
}

// start writes cfg (with PORT replaced) to a temp file and runs the binary on it.
func start(t *testing.T, cfg string, args ...string) *proc {
	t.Helper()
	path, port := writeConfig(t, cfg)
	return startAt(t, path, port, userEnv(t), args...)
}

// writeConfig writes cfg to a temp file, on a free port: PORT in cfg is
// replaced, and a cfg without a port gets one.
func writeConfig(t *testing.T, cfg string) (path string, port int) {
	t.Helper()
	port = freePort(t)
	path = filepath.Join(t.TempDir(), "config.yaml")
	cfg = strings.ReplaceAll(cfg, "PORT", fmt.Sprint(port))
	if !strings.Contains(cfg, "port:") {
		cfg = fmt.Sprintf("server:\n  port: %d\n", port) + cfg
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, port
}

func startAt(t *testing.T, path string, port int, env []string, args ...string) *proc {
	t.Helper()
	p := command(path, port, env, args...)
	p.serve(t)
	return p
}

// command prepares the binary on the config at path, headless, logging at
// debug level into p; the caller may redirect its output before serve.
func command(path string, port int, env []string, args ...string) *proc {
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), config: path, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, append([]string{"--config", path, "--headless"}, args...)...)
	p.cmd.Env = append(env, "LOCALROUTER_LOG_LEVEL=debug")
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	return p
}

// serve starts p and waits until it answers /health.
func (p *proc) serve(t *testing.T) {
	t.Helper()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(p.url + "/health")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case err := <-p.done:
			t.Fatalf("localrouter exited before serving: %v\n%s", err, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("localrouter did not serve within 15s:\n%s", p.Logs())
		}
	}
}

// stop sends SIGTERM and waits for the process to exit.
func (p *proc) stop(t *testing.T) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("localrouter did not exit within 10s of SIGTERM")
		return <-p.done
	}
}

// run runs the binary to completion and returns its combined output.
func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// finalLogs stops the process and returns all it logged: the log is
// written off the request path, so only a finished process has surely
// written every line. Checks that something is absent from the log use it.
func (p *proc) finalLogs(t *testing.T) string {
	t.Helper()
	if err := p.stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	return p.Logs()
}

// waitLog waits until the process has logged substr.
func (p *proc) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Logs(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", substr, p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

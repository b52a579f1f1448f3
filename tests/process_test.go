package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestChunksAreNotCoalesced(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	// The upstream sends its five content chunks 100 ms apart.
	resp, err := http.Post(p.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek/slow-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var arrivals []time.Time
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"`) && !strings.Contains(sc.Text(), `"content":""`) {
			arrivals = append(arrivals, time.Now())
		}
	}
	if len(arrivals) != 5 {
		t.Fatalf("got %d content events, want 5", len(arrivals))
	}
	for i := 1; i < len(arrivals); i++ {
		// Coalesced events would arrive together; 50 ms leaves room for a
		// loaded machine without letting buffering pass.
		if gap := arrivals[i].Sub(arrivals[i-1]); gap < 50*time.Millisecond {
			t.Errorf("event %d arrived %v after the previous one, want ~100ms apart", i, gap)
		}
	}
}

func TestKeysNeverShown(t *testing.T) {
	up := newFakeOpenAI(t)
	cfg := providerConfig(up.URL) + `
  openai:
    api_key: sk-wrong-key-that-the-upstream-echoes
    base_url: ` + up.URL + `/v1
    local: false
`
	p := start(t, cfg)
	// The upstream echoes a rejected key in its error, as real vendors do.
	resp, err := http.Post(p.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(body, "Incorrect API key provided: [redacted]") {
		t.Errorf("status %d body %s, want the upstream's 401 with the key redacted", resp.StatusCode, body)
	}
	health, err := http.Get(p.url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	hbody := readAll(t, health.Body)
	health.Body.Close()
	out, err := run(t, userEnv(t), "check", "--config", p.config)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	p.waitLog(t, "status=401")
	for name, text := range map[string]string{"error body": body, "/health": hbody, "check": out, "log": p.Logs()} {
		for _, key := range []string{upstreamKey, "sk-wrong-key-that-the-upstream-echoes"} {
			if strings.Contains(text, key) {
				t.Errorf("%s shows a provider key:\n%s", name, text)
			}
		}
	}
}

func TestMissingConfigIsCreatedAndServesMock(t *testing.T) {
	env := userEnv(t)
	dir := filepath.Join(t.TempDir(), "fresh", "localrouter")
	path := filepath.Join(dir, "config.yaml")
	// The template listens on 8080, which may be taken here; check first
	// creates it, then a copy with a free port serves.
	out, err := run(t, env, "check", "--config", path)
	if err != nil {
		t.Fatalf("check on a missing config: %v\n%s", err, out)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("template not created: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode = %v, want 0700", dst.Mode().Perm())
	}
	if !strings.Contains(out, "mock") {
		t.Errorf("check does not say it will serve mock answers:\n%s", out)
	}
	tmpl, _ := os.ReadFile(path)
	port := freePort(t)
	if !strings.Contains(string(tmpl), "port: 8080") {
		t.Fatalf("template does not listen on 8080:\n%s", tmpl)
	}
	os.WriteFile(path, []byte(strings.Replace(string(tmpl), "port: 8080", "port: "+itoa(port), 1)), 0o600)
	p := startAt(t, path, port, env)

	resp, err := http.Get(p.url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Mock       bool   `json:"mock"`
		MockReason string `json:"mock_reason"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if !h.Mock || h.MockReason == "" {
		t.Errorf("health mock=%v reason=%q, want mock with a reason", h.Mock, h.MockReason)
	}
	p.waitLog(t, "serving from the mock provider") // loudly
	chat, err := http.Post(p.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, chat.Body)
	chat.Body.Close()
	if chat.StatusCode != 200 || !strings.Contains(body, "mock provider") {
		t.Errorf("first chat on a fresh install: %d %s", chat.StatusCode, body)
	}
}

func TestBrokenConfigFailsWithLine(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"malformed", "server:\n  port: 8080\n providers: x\n", ":3"},
		{"unknown key", "server:\n  prot: 8080\n", `prot`},
		{"bad value", "server:\n  port: lots\n", "server.port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(path, []byte(tt.yaml), 0o600)
			for _, args := range [][]string{{"check", "--config", path}, {"--headless", "--config", path}} {
				out, err := run(t, userEnv(t), args...)
				if err == nil {
					t.Fatalf("%v: exit 0 on a broken config:\n%s", args, out)
				}
				if !strings.Contains(out, path) || !strings.Contains(out, tt.want) {
					t.Errorf("%v: error does not name the file and %q:\n%s", args, tt.want, out)
				}
			}
		})
	}
}

func TestCheckPrintsRoutingTable(t *testing.T) {
	up := newFakeOpenAI(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(providerConfig(up.URL)+`
  ollama:
    models: [qwen3:8b]
`), 0o600)
	out, err := run(t, userEnv(t), "check", "--config", path)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"deepseek", "ollama", "local", "auto", "remote:deepseek/deepseek-chat", "qwen3:8b"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("server:\n  port: "+itoa(busy.Addr().(*net.TCPAddr).Port)+"\n"), 0o600)
	out, err := run(t, userEnv(t), "--headless", "--config", path)
	if err == nil {
		t.Fatal("started on a busy port")
	}
	if !strings.Contains(out, "already in use") || !strings.Contains(out, "server.port") {
		t.Errorf("message does not say the port is taken and how to change it:\n%s", out)
	}
}

func TestShutdownLetsStreamsFinish(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	resp, err := http.Post(p.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek/slow-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the stream has begun
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	rest := readAll(t, br)
	if !strings.HasSuffix(rest, "data: [DONE]\n\n") || strings.Count(rest, `"content":"`) < 5 {
		t.Errorf("stream cut by shutdown:\n%s", rest)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, nil, "--version")
	if err != nil || !strings.HasPrefix(out, "localrouter ") || !strings.Contains(out, "commit") {
		t.Errorf("--version: %v %q", err, out)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestHelpExitsZero(t *testing.T) {
	for _, arg := range []string{"--help", "help"} {
		out, err := run(t, nil, arg)
		if err != nil || !strings.Contains(out, "-config") {
			t.Errorf("%s: %v\n%s", arg, err, out)
		}
	}
}

// TestUnknownCommandDoesNotServe: a mistyped command is an error, not a
// gateway started in the background of a typo.
func TestUnknownCommandDoesNotServe(t *testing.T) {
	out, err := run(t, userEnv(t), "chek")
	if err == nil || !strings.Contains(out, `unknown command "chek"`) {
		t.Errorf("localrouter chek: %v\n%s", err, out)
	}
}

// TestStderrReaderGone runs the binary with stderr on a pipe whose reader
// goes away, as with `localrouter | tee log` stopped or a log shipper
// restarting: the next log line must not kill the gateway, and the log file
// must keep every line.
func TestStderrReaderGone(t *testing.T) {
	path, port := writeConfig(t, "")
	env := userEnv(t)
	p := command(path, port, env, "--mock")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = pw
	p.serve(t)
	pw.Close()
	pr.Close()
	const requests = 3
	for i := range requests {
		resp, err := http.Post(p.url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatalf("request %d after stderr closed: %v (exit: %v)", i+1, err, exitStatus(p))
		}
		body := readAll(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	// The log is written off the request path: a clean exit writes what
	// it still holds.
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM with stderr gone: %v", err)
	}
	logFile := filepath.Join(envValue(env, "XDG_CACHE_HOME"), "localrouter", "localrouter.log")
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "path=/v1/chat/completions"); n != requests {
		t.Errorf("log file has %d request lines, want %d:\n%s", n, requests, b)
	}
}

// exitStatus says how p ended, for a failure message: a request that failed
// usually means it is exiting, so it gets a moment to do so.
func exitStatus(p *proc) string {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Sprint(err)
	case <-time.After(5 * time.Second):
		return "still running"
	}
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// TestHangupReloadsConfig sends SIGHUP during a stream: the stream
// completes, the process keeps serving, and the config is read again.
func TestHangupReloadsConfig(t *testing.T) {
	up := newFakeOpenAI(t)
	p := start(t, providerConfig(up.URL))
	resp, err := http.Post(p.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek/slow-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the stream has begun
		t.Fatal(err)
	}
	// The file is unchanged, so the watcher reloads nothing: a reload is
	// SIGHUP's.
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") || strings.Count(string(rest), `"content":"`) < 5 {
		t.Fatalf("stream cut by SIGHUP: %v (exit: %v):\n%s", err, exitStatus(p), rest)
	}
	p.waitLog(t, "config reloaded")
	health, err := http.Get(p.url + "/health")
	if err != nil {
		t.Fatalf("not serving after SIGHUP: %v (exit: %v)", err, exitStatus(p))
	}
	health.Body.Close()
}

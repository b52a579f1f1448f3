package tests

// Checks of packaging/: the Docker image's files agree with each other and
// with the documented paths and port (no Docker engine is needed: the
// Dockerfile and compose file are read, the entrypoint runs under sh with the
// real binary), the desktop files are valid, the generated icons are up to
// date, make install/uninstall leave nothing behind, and make dist would build
// the documented artifacts.

import (
	"bufio"
	"bytes"
	"context"
	be "encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/localrouter/localrouter/config"
)

// repoRoot is the repository, seen from tests/.
const repoRoot = ".."

// The documented container layout (README "Docker and running for a team").
const (
	containerConfigDir  = "/app/config"
	containerConfigPath = "/app/config/config.yaml"
	containerDefault    = "/app/config.default.yaml"
	containerPort       = 8080
)

func readRepoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dockerInstr is one Dockerfile instruction with its continuation lines joined.
type dockerInstr struct {
	cmd, args string
	stage     int // index of the FROM it belongs to
}

func parseDockerfile(t *testing.T, data []byte) []dockerInstr {
	t.Helper()
	var out []dockerInstr
	var cur strings.Builder
	stage := -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // comments may sit inside a continued instruction too
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstr{cmd: cmd, args: strings.Join(strings.Fields(args), " "), stage: stage})
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued line: %q", cur.String())
	}
	return out
}

func instrs(all []dockerInstr, cmd string, stage int) []dockerInstr {
	var out []dockerInstr
	for _, in := range all {
		if in.cmd == cmd && (stage < 0 || in.stage == stage) {
			out = append(out, in)
		}
	}
	return out
}

func TestPackagingDockerDefaultConfig(t *testing.T) {
	raw := readRepoFile(t, "packaging/config.docker.yaml")

	t.Setenv("LOCALROUTER_API_KEY", "team-key-123")
	cfg, err := config.Parse(raw, "packaging/config.docker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Host != "0.0.0.0" {
		t.Errorf("server.host = %q, want 0.0.0.0 (a container must listen on all interfaces)", cfg.Server.Host)
	}
	if cfg.Server.Port != containerPort {
		t.Errorf("server.port = %d, want %d", cfg.Server.Port, containerPort)
	}
	if got := string(cfg.Server.APIKey); got != "team-key-123" {
		t.Errorf("server.api_key = %q, want it taken from LOCALROUTER_API_KEY", got)
	}
	if len(cfg.Server.AllowedOrigins) != 0 {
		t.Errorf("server.allowed_origins = %v, want none by default", cfg.Server.AllowedOrigins)
	}

	// The literal value is the reference, not a key.
	var doc struct {
		Server struct {
			APIKey string `yaml:"api_key"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Server.APIKey != "${LOCALROUTER_API_KEY}" {
		t.Errorf(`server.api_key is %q in the file, want "${LOCALROUTER_API_KEY}"`, doc.Server.APIKey)
	}

	// Why the entrypoint refuses to start without the variable: an empty
	// expansion is no key at all, and off loopback nothing else guards.
	t.Setenv("LOCALROUTER_API_KEY", "")
	cfg, err = config.Parse(raw, "packaging/config.docker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.APIKey != "" {
		t.Errorf("with LOCALROUTER_API_KEY empty, api_key = %q; the entrypoint's refusal assumes it is empty", cfg.Server.APIKey)
	}
}

func TestPackagingDockerfile(t *testing.T) {
	df := parseDockerfile(t, readRepoFile(t, "packaging/Dockerfile"))
	froms := instrs(df, "FROM", -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	if !strings.Contains(froms[0].args, "golang:1.26") {
		t.Errorf("builder stage is %q, want golang:1.26", froms[0].args)
	}
	last := len(froms) - 1
	build := strings.Join(func() []string {
		var s []string
		for _, r := range instrs(df, "RUN", 0) {
			s = append(s, r.args)
		}
		return s
	}(), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-X main.date=${DATE}"} {
		if !strings.Contains(build, want) {
			t.Errorf("the builder's go build lacks %q:\n%s", want, build)
		}
	}
	if !strings.Contains(strings.Join(func() []string {
		var s []string
		for _, r := range instrs(df, "RUN", last) {
			s = append(s, r.args)
		}
		return s
	}(), " "), "ca-certificates") {
		t.Error("the final image does not install ca-certificates")
	}

	// EXPOSE, VOLUME, ENV and HEALTHCHECK agree with the default config.
	if ex := instrs(df, "EXPOSE", last); len(ex) != 1 || ex[0].args != strconv.Itoa(containerPort) {
		t.Errorf("EXPOSE = %v, want %d", ex, containerPort)
	}
	if v := instrs(df, "VOLUME", last); len(v) != 1 || strings.Trim(v[0].args, `[]" `) != containerConfigDir {
		t.Errorf("VOLUME = %v, want %s", v, containerConfigDir)
	}
	env := map[string]string{}
	for _, e := range instrs(df, "ENV", last) {
		for _, kv := range strings.Fields(e.args) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	if env["LOCALROUTER_CONFIG_PATH"] != containerConfigPath {
		t.Errorf("ENV LOCALROUTER_CONFIG_PATH = %q, want %s", env["LOCALROUTER_CONFIG_PATH"], containerConfigPath)
	}
	if path.Dir(env["LOCALROUTER_CONFIG_PATH"]) != containerConfigDir {
		t.Errorf("the config path %q is not in the volume %s", env["LOCALROUTER_CONFIG_PATH"], containerConfigDir)
	}
	hc := instrs(df, "HEALTHCHECK", last)
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %v", hc)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d/health", containerPort); !strings.Contains(hc[0].args, "CMD") || !strings.Contains(hc[0].args, want) {
		t.Errorf("HEALTHCHECK %q does not fetch %s", hc[0].args, want)
	}

	// The files the entrypoint expects are where it looks.
	copies := map[string]string{} // destination → source
	for _, c := range instrs(df, "COPY", last) {
		f := strings.Fields(c.args)
		copies[f[len(f)-1]] = strings.Join(f[:len(f)-1], " ")
	}
	for dst, src := range map[string]string{
		containerDefault:            "packaging/config.docker.yaml",
		"/app/docker-entrypoint.sh": "packaging/docker-entrypoint.sh",
		"/app/localrouter":          "--from=build /out/localrouter",
	} {
		if copies[dst] != src {
			t.Errorf("COPY to %s is from %q, want %q", dst, copies[dst], src)
		}
	}
	if ep := instrs(df, "ENTRYPOINT", last); len(ep) != 1 || ep[0].args != `["/app/docker-entrypoint.sh"]` {
		t.Errorf("ENTRYPOINT = %v", ep)
	}
	if u := instrs(df, "USER", last); len(u) != 1 || strings.HasPrefix(u[0].args, "root") || strings.HasPrefix(u[0].args, "0") {
		t.Errorf("USER = %v, want a non-root user", u)
	}

	// The build context keeps what the build needs.
	ignore := strings.Fields(string(readRepoFile(t, "packaging/Dockerfile.dockerignore")))
	for _, need := range []string{"go.mod", "go.sum", "main.go", "packaging/config.docker.yaml", "packaging/docker-entrypoint.sh", "assets/config.yaml"} {
		for _, pat := range ignore {
			if strings.HasPrefix(pat, "#") {
				continue
			}
			if ok, _ := path.Match(pat, need); ok || strings.HasPrefix(need, strings.TrimSuffix(pat, "/")+"/") {
				t.Errorf("Dockerfile.dockerignore pattern %q drops %s, which the build needs", pat, need)
			}
		}
	}
}

func TestPackagingCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Ports       []string          `yaml:"ports"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "packaging/docker-compose.yml"), &compose); err != nil {
		t.Fatal(err)
	}
	svc, ok := compose.Services["localrouter"]
	if !ok {
		t.Fatalf("no localrouter service in %v", compose.Services)
	}
	// Compose resolves build.context against the compose file's folder.
	df := filepath.Join(repoRoot, "packaging", filepath.FromSlash(svc.Build.Context), filepath.FromSlash(svc.Build.Dockerfile))
	if _, err := os.Stat(df); err != nil || filepath.Clean(df) != filepath.Join(repoRoot, "packaging", "Dockerfile") {
		t.Errorf("build context %q + dockerfile %q is %s, want packaging/Dockerfile (%v)", svc.Build.Context, svc.Build.Dockerfile, df, err)
	}
	published := false
	for _, p := range svc.Ports {
		if strings.HasSuffix(p, ":"+strconv.Itoa(containerPort)) {
			published = true
		}
	}
	if !published {
		t.Errorf("ports %v do not publish the container's %d", svc.Ports, containerPort)
	}
	if !slices.Contains(svc.Volumes, "./config:"+containerConfigDir) {
		t.Errorf("volumes %v do not mount ./config on %s", svc.Volumes, containerConfigDir)
	}
	if v := svc.Environment["LOCALROUTER_API_KEY"]; !strings.HasPrefix(v, "${LOCALROUTER_API_KEY:?") {
		t.Errorf("LOCALROUTER_API_KEY is %q: compose should refuse to start without it (${LOCALROUTER_API_KEY:?…})", v)
	}
	// Every variable the default config reads is passed into the container.
	refs := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(uncommented(readRepoFile(t, "packaging/config.docker.yaml")), -1)
	for _, m := range refs {
		if _, ok := svc.Environment[m[1]]; !ok {
			t.Errorf("packaging/config.docker.yaml reads ${%s}, which docker-compose.yml does not pass", m[1])
		}
	}
}

func uncommented(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "#"); i == 0 || i > 0 && (l[i-1] == ' ' || l[i-1] == '\t') {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// fakeApp lays out the image's /app in a temp dir, with a stand-in for the
// binary that prints its arguments and exits.
func fakeApp(t *testing.T) string {
	t.Helper()
	app := t.TempDir()
	if err := os.Mkdir(filepath.Join(app, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "config.default.yaml"), readRepoFile(t, "packaging/config.docker.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho \"ARGS: $*\"\necho \"CONFIG_PATH: $LOCALROUTER_CONFIG_PATH\"\n"
	if err := os.WriteFile(filepath.Join(app, "localrouter"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return app
}

func runEntrypoint(t *testing.T, app string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{filepath.Join(repoRoot, "packaging", "docker-entrypoint.sh")}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LOCALROUTER_APP_DIR=" + app}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

func TestPackagingEntrypoint(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	t.Run("refuses without LOCALROUTER_API_KEY", func(t *testing.T) {
		app := fakeApp(t)
		out, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY="})
		if code == 0 || strings.Contains(out, "ARGS:") {
			t.Fatalf("started without a key (exit %d):\n%s", code, out)
		}
		if !strings.Contains(errOut, "LOCALROUTER_API_KEY is not set") {
			t.Errorf("the refusal does not say why:\n%s", errOut)
		}
	})
	t.Run("copies the default config and serves headless", func(t *testing.T) {
		app := fakeApp(t)
		cfgPath := filepath.Join(app, "config", "config.yaml")
		out, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY=k", "LOCALROUTER_CONFIG_PATH=" + cfgPath}, "--mock")
		if code != 0 {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		if !strings.Contains(out, "ARGS: --headless --mock\n") || !strings.Contains(out, "CONFIG_PATH: "+cfgPath) {
			t.Errorf("binary ran as:\n%s", out)
		}
		st, err := os.Stat(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("the copied config has mode %v, want 0600", st.Mode().Perm())
		}
		if got, _ := os.ReadFile(cfgPath); !bytes.Equal(got, readRepoFile(t, "packaging/config.docker.yaml")) {
			t.Error("the copied config differs from packaging/config.docker.yaml")
		}
	})
	t.Run("default path without LOCALROUTER_CONFIG_PATH", func(t *testing.T) {
		app := fakeApp(t)
		if _, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY=k"}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(app, "config", "config.yaml")); err != nil {
			t.Error(err)
		}
	})
	t.Run("keeps an existing config", func(t *testing.T) {
		app := fakeApp(t)
		mine := []byte("server:\n  host: 0.0.0.0\n  api_key: literal-key\n")
		cfgPath := filepath.Join(app, "config", "config.yaml")
		if err := os.WriteFile(cfgPath, mine, 0o600); err != nil {
			t.Fatal(err)
		}
		// It does not read LOCALROUTER_API_KEY, so the variable is not required.
		out, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_CONFIG_PATH=" + cfgPath})
		if code != 0 || !strings.Contains(out, "ARGS: --headless\n") {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		if got, _ := os.ReadFile(cfgPath); !bytes.Equal(got, mine) {
			t.Error("the existing config was overwritten")
		}
	})
	t.Run("unwritable folder serves the default in place", func(t *testing.T) {
		app := fakeApp(t)
		out, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY=k", "LOCALROUTER_CONFIG_PATH=" + filepath.Join(app, "missing-dir", "config.yaml")})
		if code != 0 {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		if want := "ARGS: --headless --config " + filepath.Join(app, "config.default.yaml") + "\n"; !strings.Contains(out, want) {
			t.Errorf("binary ran as:\n%s\nwant %q", out, want)
		}
		if !strings.Contains(errOut, "cannot create") {
			t.Errorf("no explanation on stderr:\n%s", errOut)
		}
	})
	t.Run("an explicit --config is used as is", func(t *testing.T) {
		app := fakeApp(t)
		other := filepath.Join(t.TempDir(), "other.yaml")
		if err := os.WriteFile(other, []byte("server:\n  api_key: \"${LOCALROUTER_API_KEY}\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, code := runEntrypoint(t, app, nil, "--config", other); code == 0 {
			t.Error("started with --config naming a file that needs LOCALROUTER_API_KEY, without it")
		}
		out, errOut, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY=k"}, "--config="+other)
		if code != 0 || !strings.Contains(out, "ARGS: --headless --config="+other+"\n") {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(app, "config", "config.yaml")); err == nil {
			t.Error("the default config was copied although --config named another file")
		}
	})
	t.Run("check and --version", func(t *testing.T) {
		app := fakeApp(t)
		out, _, code := runEntrypoint(t, app, []string{"LOCALROUTER_API_KEY=k"}, "check")
		if code != 0 || !strings.Contains(out, "ARGS: check\n") {
			t.Errorf("check: exit %d:\n%s", code, out)
		}
		out, _, code = runEntrypoint(t, app, nil, "--version")
		if code != 0 || !strings.Contains(out, "ARGS: --version\n") {
			t.Errorf("--version: exit %d:\n%s", code, out)
		}
	})
}

// TestPackagingContainerServes runs the real binary through the entrypoint
// with the image's default config (only the port changed): off loopback the
// Host check is off, /health is open for the HEALTHCHECK, and everything else
// needs the key.
func TestPackagingContainerServes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	port := freePort(t)
	app := t.TempDir()
	if err := os.Mkdir(filepath.Join(app, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	def := strings.Replace(string(readRepoFile(t, "packaging/config.docker.yaml")), fmt.Sprintf("port: %d ", containerPort), fmt.Sprintf("port: %d ", port), 1)
	if !strings.Contains(def, fmt.Sprintf("port: %d ", port)) {
		t.Fatal("could not change the port in packaging/config.docker.yaml")
	}
	if err := os.WriteFile(filepath.Join(app, "config.default.yaml"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(app, "localrouter")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	p.cmd = exec.Command("sh", filepath.Join(repoRoot, "packaging", "docker-entrypoint.sh"))
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"LOCALROUTER_APP_DIR=" + app, "LOCALROUTER_CONFIG_PATH=" + filepath.Join(app, "config", "config.yaml"),
		"LOCALROUTER_API_KEY=team-key"}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })

	get := func(path, host, key string) int {
		req, _ := http.NewRequest("GET", p.url+path, nil)
		if host != "" {
			req.Host = host
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for get("/health", "", "") != http.StatusOK {
		select {
		case err := <-p.done:
			t.Fatalf("exited before serving: %v\n%s", err, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not serve within 15s:\n%s", p.Logs())
		}
	}
	p.waitLog(t, "LocalRouter listening")
	if code := get("/health", "localrouter.internal:8080", ""); code != http.StatusOK {
		t.Errorf("/health through a load balancer's Host: %d, want 200 without a key", code)
	}
	if code := get("/v1/models", "localrouter.internal:8080", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1/models without the key: %d, want 401", code)
	}
	if code := get("/v1/models", "localrouter.internal:8080", "team-key"); code != http.StatusOK {
		t.Errorf("/v1/models with the key: %d, want 200", code)
	}
}

func desktopKeys(t *testing.T, data []byte) map[string]string {
	t.Helper()
	keys := map[string]string{}
	group := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			group = l
		case group == "[Desktop Entry]":
			k, v, _ := strings.Cut(l, "=")
			keys[k] = v
		}
	}
	return keys
}

func validateDesktop(t *testing.T, file string) {
	t.Helper()
	if _, err := exec.LookPath("desktop-file-validate"); err != nil {
		t.Log("desktop-file-validate is not installed (apt-get install desktop-file-utils): not run")
		return
	}
	out, err := exec.Command("desktop-file-validate", file).CombinedOutput()
	if err != nil {
		t.Errorf("desktop-file-validate %s: %v\n%s", file, err, out)
	} else if len(out) > 0 {
		t.Logf("desktop-file-validate %s:\n%s", file, out)
	}
}

var hicolorSizes = []int{16, 24, 32, 48, 64, 128, 256, 512}

func TestPackagingLinuxDesktop(t *testing.T) {
	file := filepath.Join(repoRoot, "packaging", "linux", "localrouter.desktop")
	keys := desktopKeys(t, readRepoFile(t, "packaging/linux/localrouter.desktop"))
	for k, want := range map[string]string{
		"Type": "Application", "Name": "LocalRouter", "Exec": "localrouter", "Icon": "localrouter",
		"Terminal": "false", "Categories": "Development;Network;",
	} {
		if keys[k] != want {
			t.Errorf("%s=%q, want %q", k, keys[k], want)
		}
	}
	validateDesktop(t, file)

	for _, n := range hicolorSizes {
		p := fmt.Sprintf("packaging/linux/icons/hicolor/%dx%d/apps/localrouter.png", n, n)
		c, err := png.DecodeConfig(bytes.NewReader(readRepoFile(t, p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if c.Width != n || c.Height != n {
			t.Errorf("%s is %d×%d", p, c.Width, c.Height)
		}
	}

	unit := string(readRepoFile(t, "packaging/linux/localrouter.service"))
	for _, want := range []string{"ExecStart=%h/.local/bin/localrouter --headless", "Restart=on-failure", "WantedBy=default.target"} {
		if !strings.Contains(unit, want+"\n") {
			t.Errorf("localrouter.service lacks %q", want)
		}
	}
}

// TestPackagingIconsUpToDate redraws the application icon and compares it with
// the committed files; run `go run ./packaging/appicon` after changing it.
func TestPackagingIconsUpToDate(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./packaging/appicon", "-out", out)
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./packaging/appicon: %v\n%s", err, b)
	}
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		n++
		want, _ := os.ReadFile(p)
		if got := readRepoFile(t, "packaging/"+filepath.ToSlash(rel)); !bytes.Equal(got, want) {
			t.Errorf("packaging/%s is stale: run go run ./packaging/appicon", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(hicolorSizes)+1 {
		t.Errorf("appicon wrote %d files, want %d PNGs and the .icns", n, len(hicolorSizes))
	}
	icns := readRepoFile(t, "packaging/macos/LocalRouter.icns")
	if string(icns[:4]) != "icns" || int(be.BigEndian.Uint32(icns[4:8])) != len(icns) {
		t.Error("LocalRouter.icns has a bad header")
	}
}

func TestPackagingWindowsResources(t *testing.T) {
	var res map[string]map[string]map[string]json.RawMessage
	if err := json.Unmarshal(readRepoFile(t, "packaging/windows/winres.json"), &res); err != nil {
		t.Fatal(err)
	}
	var icons []string
	if err := json.Unmarshal(res["RT_GROUP_ICON"]["APP"]["0000"], &icons); err != nil {
		t.Fatal(err)
	}
	if len(icons) == 0 {
		t.Fatal("no icon")
	}
	for _, ic := range icons {
		b := readRepoFile(t, path.Join("packaging/windows", ic))
		c, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || c.Width > 256 {
			t.Errorf("%s: %v, %d px (an .ico entry is at most 256)", ic, err, c.Width)
		}
	}
	for _, typ := range []string{"RT_MANIFEST", "RT_VERSION"} {
		if len(res[typ]) == 0 {
			t.Errorf("winres.json has no %s", typ)
		}
	}
	if !strings.Contains(string(readRepoFile(t, ".gitignore")), "/rsrc_windows_*.syso") {
		t.Error(".gitignore does not ignore the generated .syso")
	}
}

func TestPackagingMacOS(t *testing.T) {
	dec := xml.NewDecoder(bytes.NewReader(readRepoFile(t, "packaging/macos/Info.plist")))
	plist := map[string]string{}
	key, inDict := "", false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Info.plist: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "dict":
				inDict = true
			case "key":
				var s string
				dec.DecodeElement(&s, &el)
				key = s
			case "string":
				var s string
				dec.DecodeElement(&s, &el)
				plist[key] = s
			case "true", "false":
				plist[key] = el.Name.Local
			}
		}
	}
	if !inDict {
		t.Fatal("Info.plist has no dict")
	}
	for k, want := range map[string]string{
		"CFBundleIdentifier": "dev.localrouter.LocalRouter", "LSUIElement": "true", "CFBundleExecutable": "localrouter",
		"CFBundlePackageType": "APPL", "CFBundleShortVersionString": "@SHORT_VERSION@", "CFBundleIconFile": "LocalRouter",
	} {
		if plist[k] != want {
			t.Errorf("%s = %q, want %q", k, plist[k], want)
		}
	}
	script := string(readRepoFile(t, "packaging/macos/make-app.sh"))
	for _, want := range []string{"@SHORT_VERSION@", "LocalRouter.icns", "CGO_ENABLED=1", "Contents/MacOS/localrouter"} {
		if !strings.Contains(script, want) {
			t.Errorf("make-app.sh does not mention %q", want)
		}
	}
	if runtime.GOOS != "darwin" {
		out, err := exec.Command("sh", filepath.Join(repoRoot, "packaging", "macos", "make-app.sh")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "must be built on macOS") {
			t.Errorf("make-app.sh off macOS: %v\n%s", err, out)
		}
	}
}

func TestPackagingInstallUninstall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("make install is for Linux desktops")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	prefix := filepath.Join(t.TempDir(), "prefix")
	makeIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	makeIn("install", "PREFIX="+prefix, "BIN="+binary)

	exe := filepath.Join(prefix, "bin", "localrouter")
	if out, err := exec.Command(exe, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "localrouter ") {
		t.Errorf("installed binary --version: %v %s", err, out)
	}
	desktop := filepath.Join(prefix, "share", "applications", "localrouter.desktop")
	b, err := os.ReadFile(desktop)
	if err != nil {
		t.Fatal(err)
	}
	if keys := desktopKeys(t, b); keys["Exec"] != exe || keys["TryExec"] != exe || keys["Icon"] != "localrouter" {
		t.Errorf("installed desktop entry: Exec=%q TryExec=%q Icon=%q, want Exec=%s", keys["Exec"], keys["TryExec"], keys["Icon"], exe)
	}
	validateDesktop(t, desktop)
	for _, n := range hicolorSizes {
		if _, err := os.Stat(filepath.Join(prefix, "share", "icons", "hicolor", fmt.Sprintf("%dx%d", n, n), "apps", "localrouter.png")); err != nil {
			t.Error(err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(prefix, "share", "systemd", "user", "localrouter.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart="+exe+" --headless\n") {
		t.Errorf("installed unit does not run %s --headless:\n%s", exe, unit)
	}

	makeIn("uninstall", "PREFIX="+prefix)
	var left []string
	filepath.WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
		if p != prefix {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("make uninstall left behind:\n%s", strings.Join(left, "\n"))
	}
}

// TestPackagingMakeDistPlan checks, without building, what make dist would
// do; CI runs the real make dist.
func TestPackagingMakeDistPlan(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	cmd := exec.Command("make", "--no-print-directory", "-n", "dist", "VERSION=v1.2.3-4-gabcdef", "COMMIT=abcdef0", "DATE=2026-01-02T03:04:05Z")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n dist: %v\n%s", err, out)
	}
	plan := string(out)
	for _, want := range []string{
		"name=localrouter_v1.2.3-4-gabcdef_linux_$arch", "for arch in amd64 arm64",
		"CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath",
		"name=localrouter_v1.2.3-4-gabcdef_windows_amd64", "zip -qr $name.zip",
		"CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64",
		"-H windowsgui", "--file-version '1.2.3'", "trap 'rm -f rsrc_windows_amd64.syso' EXIT",
		"-X main.version=v1.2.3-4-gabcdef -X main.commit=abcdef0 -X main.date=2026-01-02T03:04:05Z",
		"cp LICENSE README.md README_zh.md", "sha256sum *.tar.gz *.zip > SHA256SUMS",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("make -n dist lacks %q:\n%s", want, plan)
		}
	}
	for _, f := range []string{"LICENSE", "README.md", "README_zh.md"} {
		if _, err := os.Stat(filepath.Join(repoRoot, f)); err != nil {
			t.Errorf("dist ships %s: %v", f, err)
		}
	}
	if lic := string(readRepoFile(t, "LICENSE")); !strings.HasPrefix(lic, "MIT License") || !strings.Contains(lic, "The LocalRouter authors") {
		t.Error("LICENSE is not the MIT licence of The LocalRouter authors")
	}
}

// TestPackagingMakeDist runs the real make dist: both Linux archives, the
// Windows GUI build with its resources (cgo through mingw-w64) and the
// checksums. CI installs what it needs.
func TestPackagingMakeDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries")
	}
	for _, tool := range []string{"make", "zip", "sha256sum", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install zip gcc-mingw-w64-x86-64)", tool)
		}
	}
	cmd := exec.Command("make", "--no-print-directory", "dist", "VERSION=v0.0.0-test")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join("..", "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"_linux_amd64.tar.gz", "_linux_arm64.tar.gz", "_windows_amd64.zip"} {
		if !strings.Contains(string(sums), "localrouter_v0.0.0-test"+want) {
			t.Errorf("SHA256SUMS lacks %s:\n%s", want, sums)
		}
	}
	if !strings.Contains(string(out), "dist: localrouter v0.0.0-test (commit ") {
		t.Errorf("the packaged binary is not stamped with its version:\n%s", out)
	}
}

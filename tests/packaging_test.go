package tests

// Checks of packaging/ by what they do rather than what they say. No Docker
// engine is needed: the image is put together on the host from the
// Dockerfile (its build stage's go build run in the build context that
// .dockerignore leaves, its final stage's files, environment, entrypoint and
// health check moved under a temp dir) and served; the compose file is
// checked against the Dockerfile and the image's config; the entrypoint runs
// under sh; the desktop files, the systemd unit and the macOS bundle script
// are run or validated; make install/uninstall leave nothing behind.

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
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

// dockerConfig is the image's default config, as the container reads it.
func dockerConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(readRepoFile(t, "packaging/config.docker.yaml"), "packaging/config.docker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPackagingDockerDefaultConfig(t *testing.T) {
	t.Setenv("LOCALROUTER_API_KEY", "team-key-123")
	cfg := dockerConfig(t)
	if cfg.Server.Host != "0.0.0.0" {
		t.Errorf("server.host = %q, want 0.0.0.0 (a container must listen on all interfaces)", cfg.Server.Host)
	}
	if got := string(cfg.Server.APIKey); got != "team-key-123" {
		t.Errorf("server.api_key = %q, want it taken from LOCALROUTER_API_KEY", got)
	}
	if len(cfg.Server.AllowedOrigins) != 0 {
		t.Errorf("server.allowed_origins = %v, want none by default", cfg.Server.AllowedOrigins)
	}
}

// finalStage returns the index of the Dockerfile's last FROM.
func finalStage(t *testing.T, df []dockerInstr) int {
	t.Helper()
	froms := instrs(df, "FROM", -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	return len(froms) - 1
}

// dockerEnv is the final stage's ENV.
func dockerEnv(df []dockerInstr, stage int) map[string]string {
	env := map[string]string{}
	for _, e := range instrs(df, "ENV", stage) {
		for _, kv := range strings.Fields(e.args) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return env
}

// dockerVolume is the final stage's one VOLUME.
func dockerVolume(t *testing.T, df []dockerInstr, stage int) string {
	t.Helper()
	v := instrs(df, "VOLUME", stage)
	if len(v) != 1 {
		t.Fatalf("want one VOLUME, got %v", v)
	}
	return strings.Trim(v[0].args, `[]" `)
}

// goVersionAtLeast reports whether Go version have (1.26, 1.26.1) is at
// least want.
func goVersionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range w {
		if i >= len(h) {
			return i >= 2 // an image tag without a patch is the newest patch
		}
		a, _ := strconv.Atoi(h[i])
		b, _ := strconv.Atoi(w[i])
		if a != b {
			return a > b
		}
	}
	return true
}

func TestPackagingDockerfile(t *testing.T) {
	df := parseDockerfile(t, readRepoFile(t, "packaging/Dockerfile"))
	last := finalStage(t, df)

	// The golang image sets GOTOOLCHAIN=local: a builder older than go.mod's
	// go line cannot build the module.
	goLine := regexp.MustCompile(`(?m)^go (\S+)`).FindStringSubmatch(string(readRepoFile(t, "go.mod")))
	image := regexp.MustCompile(`golang:(\d+\.\d+(?:\.\d+)?)`).FindStringSubmatch(instrs(df, "FROM", 0)[0].args)
	if goLine == nil || image == nil {
		t.Errorf("no go line in go.mod (%v), or no golang:<version> builder (%v)", goLine, image)
	} else if !goVersionAtLeast(image[1], goLine[1]) {
		t.Errorf("builder golang:%s cannot build a module that needs go %s", image[1], goLine[1])
	}
	// Alpine has no CA certificates: without them no HTTPS provider answers.
	var final []string
	for _, r := range instrs(df, "RUN", last) {
		final = append(final, r.args)
	}
	if !strings.Contains(strings.Join(final, " "), "ca-certificates") {
		t.Error("the final image does not install ca-certificates")
	}
	if u := instrs(df, "USER", last); len(u) != 1 || strings.HasPrefix(u[0].args, "root") || strings.HasPrefix(u[0].args, "0") {
		t.Errorf("USER = %v, want a non-root user", u)
	}
	port := dockerConfig(t).Server.Port
	if ex := instrs(df, "EXPOSE", last); len(ex) != 1 || ex[0].args != strconv.Itoa(port) {
		t.Errorf("EXPOSE = %v, but the image's config listens on %d", ex, port)
	}
	// The config the container writes must outlive the container.
	if cfgPath, vol := dockerEnv(df, last)["LOCALROUTER_CONFIG_PATH"], dockerVolume(t, df, last); path.Dir(cfgPath) != vol {
		t.Errorf("the config path %q is not in the volume %s", cfgPath, vol)
	}
	// Every COPY from the build context finds its source there.
	ignore := dockerignore(t)
	for _, c := range instrs(df, "COPY", -1) {
		f := strings.Fields(c.args)
		if strings.HasPrefix(f[0], "--from=") {
			continue
		}
		for _, src := range f[:len(f)-1] {
			if src == "." || src == "./" {
				continue
			}
			if isDockerignored(ignore, src) {
				t.Errorf("COPY %s: Dockerfile.dockerignore leaves it out of the build context", src)
			} else if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(src))); err != nil {
				t.Errorf("COPY %s: %v", src, err)
			}
		}
	}
}

func dockerignore(t *testing.T) []string {
	t.Helper()
	var pats []string
	for _, l := range strings.Split(string(readRepoFile(t, "packaging/Dockerfile.dockerignore")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("Dockerfile.dockerignore: exceptions (%s) are not modelled here", l)
		}
		pats = append(pats, strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/"))
	}
	return pats
}

// isDockerignored reports whether rel (slash-separated, relative to the
// context) is left out of the build context: as in Docker, a pattern is
// anchored at the context's root, ** spans directories, and leaving out a
// directory leaves out everything in it.
func isDockerignored(pats []string, rel string) bool {
	for _, p := range pats {
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("(/.*)?$")
		if regexp.MustCompile(re.String()).MatchString(rel) {
			return true
		}
	}
	return false
}

// copyBuildContext copies the repository into dir as docker build would
// send it: without what .dockerignore leaves out, modes kept.
func copyBuildContext(t *testing.T, dir string) {
	t.Helper()
	ignore := dockerignore(t)
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if rel == "." {
			return nil
		}
		if isDockerignored(ignore, filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, st.Mode().Perm())
}

// absPath matches an absolute path in a shell command.
var absPath = regexp.MustCompile(`(^|[\s="'])(/[A-Za-z0-9._/-]+)`)

// dockerImage is packaging/Dockerfile's image put together on the host as
// docker build would, under root, which stands for the image's /: the build
// stage's go build run in a copy of the build context, then the final
// stage's COPY, VOLUME, ENV, HEALTHCHECK and ENTRYPOINT, their paths moved
// under root. What it cannot do is the final stage's RUN (apk, the user).
type dockerImage struct {
	root        string
	copies      map[string]string // build-context source → path under root
	imageEnv    map[string]string // ENV as the Dockerfile has it
	env         []string          // ENV, paths under root
	entrypoint  []string
	healthcheck string // the HEALTHCHECK CMD, for sh -c
}

// under moves the image path p under root.
func (img dockerImage) under(p string) string { return filepath.Join(img.root, filepath.FromSlash(p)) }

// buildDockerImage builds the image; with -short the build stage's output
// is the binary the tests built, which skips a build but not the Dockerfile.
func buildDockerImage(t *testing.T, buildArgs map[string]string) dockerImage {
	t.Helper()
	df := parseDockerfile(t, readRepoFile(t, "packaging/Dockerfile"))
	last := finalStage(t, df)
	buildCtx := filepath.Join(t.TempDir(), "context")
	copyBuildContext(t, buildCtx)
	buildRoot := t.TempDir() // the build stage's /
	env := os.Environ()
	for _, in := range df {
		if in.stage != 0 {
			continue
		}
		switch in.cmd {
		case "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			if v, ok := buildArgs[name]; ok {
				def = v
			}
			env = append(env, name+"="+def)
		case "RUN":
			// Only the build: go mod download would need the network, and
			// the host's module cache has what the build needs.
			if !strings.Contains(in.args, "go build") || testing.Short() {
				continue
			}
			cmdline := absPath.ReplaceAllString(in.args, "${1}"+buildRoot+"${2}")
			cmd := exec.Command("sh", "-c", cmdline)
			cmd.Dir, cmd.Env = buildCtx, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the build stage's RUN %s: %v\n%s", cmdline, err, out)
			}
		}
	}
	img := dockerImage{root: t.TempDir(), copies: map[string]string{}}
	for _, in := range df {
		if in.stage != last {
			continue
		}
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			from := buildCtx
			if strings.HasPrefix(f[0], "--from=") {
				from, f = buildRoot, f[1:]
			}
			if len(f) != 2 {
				t.Fatalf("COPY %s: one source and a destination are modelled here", in.args)
			}
			src := filepath.Join(from, filepath.FromSlash(f[0]))
			if from == buildRoot && testing.Short() {
				src = binary
			}
			if err := copyFile(src, img.under(f[1])); err != nil {
				t.Fatalf("COPY %s: %v", in.args, err)
			}
			if from == buildCtx {
				img.copies[f[0]] = img.under(f[1])
			}
		case "VOLUME":
			if err := os.MkdirAll(img.under(dockerVolume(t, df, last)), 0o700); err != nil {
				t.Fatal(err)
			}
		case "HEALTHCHECK":
			_, c, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK %s has no CMD", in.args)
			}
			img.healthcheck = c
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &img.entrypoint); err != nil || len(img.entrypoint) == 0 {
				t.Fatalf("ENTRYPOINT %s: want the exec form (%v)", in.args, err)
			}
			img.entrypoint[0] = img.under(img.entrypoint[0])
		}
	}
	img.imageEnv = dockerEnv(df, last)
	for k, v := range img.imageEnv {
		if strings.HasPrefix(v, "/") {
			v = img.under(v)
		}
		img.env = append(img.env, k+"="+v)
	}
	// The entrypoint's own hook for where /app is (see its header).
	img.env = append(img.env, "PATH="+os.Getenv("PATH"), "LOCALROUTER_APP_DIR="+img.under("/app"))
	return img
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
	dockerfile := parseDockerfile(t, readRepoFile(t, "packaging/Dockerfile"))
	port, volume := dockerConfig(t).Server.Port, dockerVolume(t, dockerfile, finalStage(t, dockerfile))
	published := false
	for _, p := range svc.Ports {
		if strings.HasSuffix(p, ":"+strconv.Itoa(port)) {
			published = true
		}
	}
	if !published {
		t.Errorf("ports %v do not publish %d, where the image's config listens", svc.Ports, port)
	}
	if !slices.Contains(svc.Volumes, "./config:"+volume) {
		t.Errorf("volumes %v do not mount ./config on the image's VOLUME %s", svc.Volumes, volume)
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

// TestPackagingContainerServes builds the image's binary as the Dockerfile
// does and runs the image's entrypoint with the image's files and
// environment: the binary is static (alpine has no glibc) and stamped, the
// default config is copied into the volume and serves off loopback, /health
// answers the HEALTHCHECK without a key, and everything else needs it.
func TestPackagingContainerServes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	img := buildDockerImage(t, map[string]string{"VERSION": "v1.2.3", "COMMIT": "abc1234", "DATE": "2026-01-02T03:04:05Z"})
	run := func(env []string, args ...string) *exec.Cmd {
		cmd := exec.Command(img.entrypoint[0], append(img.entrypoint[1:], args...)...)
		cmd.Env = append(append([]string{}, img.env...), env...)
		return cmd
	}
	if testing.Short() {
		t.Log("-short: the image's binary is the tests' own build, not the Dockerfile's")
	} else {
		if f, err := elf.Open(img.under("/app/localrouter")); err != nil {
			t.Errorf("the image's binary: %v", err)
		} else {
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("the image's binary is dynamically linked; alpine cannot run it")
				}
			}
			f.Close()
		}
		out, err := run(nil, "--version").CombinedOutput()
		if want := "localrouter v1.2.3 (commit abc1234, built 2026-01-02T03:04:05Z)\n"; err != nil || string(out) != want {
			t.Errorf("docker run … --version: %v %q, want %q", err, out, want)
		}
	}

	// The image's port may be taken here: the default config gets a free one.
	imagePort, port := dockerConfig(t).Server.Port, freePort(t)
	def := img.copies["packaging/config.docker.yaml"]
	b, err := os.ReadFile(def)
	if err != nil {
		t.Fatalf("the image has no copy of packaging/config.docker.yaml: %v", err)
	}
	moved := strings.Replace(string(b), fmt.Sprintf("port: %d ", imagePort), fmt.Sprintf("port: %d ", port), 1)
	if moved == string(b) {
		t.Fatal("could not change the port in the image's default config")
	}
	if err := os.WriteFile(def, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	p.cmd = run([]string{"LOCALROUTER_API_KEY=team-key"})
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
	if _, err := os.Stat(img.under(img.imageEnv["LOCALROUTER_CONFIG_PATH"])); err != nil {
		t.Errorf("the default config was not copied into the volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(img.under(img.imageEnv["XDG_CACHE_HOME"]), "localrouter", "localrouter.log")); err != nil {
		t.Errorf("no log file in the image's cache dir: %v", err)
	}
	if _, err := exec.LookPath("wget"); err != nil {
		t.Log("wget is not installed: the HEALTHCHECK is not run")
	} else {
		hc := strings.ReplaceAll(img.healthcheck, fmt.Sprintf("127.0.0.1:%d/", imagePort), fmt.Sprintf("127.0.0.1:%d/", port))
		if out, err := exec.Command("sh", "-c", hc).CombinedOutput(); err != nil {
			t.Errorf("HEALTHCHECK %s: %v\n%s", img.healthcheck, err, out)
		}
	}
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

// iniKeys reads an INI-style file (desktop entry, systemd unit) into
// section → key → value.
func iniKeys(data []byte) map[string]map[string]string {
	keys := map[string]map[string]string{}
	section := ""
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = l
		default:
			k, v, _ := strings.Cut(l, "=")
			if keys[section] == nil {
				keys[section] = map[string]string{}
			}
			keys[section][k] = v
		}
	}
	return keys
}

func desktopKeys(t *testing.T, data []byte) map[string]string {
	t.Helper()
	return iniKeys(data)["[Desktop Entry]"]
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
	// A tray app started from the menu must not open a terminal window.
	if keys["Terminal"] != "false" {
		t.Errorf("Terminal=%q, want false", keys["Terminal"])
	}
	validateDesktop(t, file)
	// The Icon names the icon set that is shipped, in every size.
	for _, n := range hicolorSizes {
		p := fmt.Sprintf("packaging/linux/icons/hicolor/%dx%d/apps/%s.png", n, n, keys["Icon"])
		c, err := png.DecodeConfig(bytes.NewReader(readRepoFile(t, p)))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if c.Width != n || c.Height != n {
			t.Errorf("%s is %d×%d", p, c.Width, c.Height)
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
	// make dist writes a .syso into the tree while it builds: never to be committed.
	if _, err := exec.LookPath("git"); err != nil {
		t.Log("no git: .gitignore not checked")
	} else {
		cmd := exec.Command("git", "check-ignore", "-q", "rsrc_windows_amd64.syso")
		cmd.Dir = repoRoot
		if err := cmd.Run(); err != nil {
			t.Errorf("git does not ignore the rsrc_windows_amd64.syso make dist generates: %v", err)
		}
	}
}

// plistStrings reads a flat Info.plist dict: key → string, or "true"/"false".
func plistStrings(t *testing.T, data []byte) map[string]string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
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
	return plist
}

// TestPackagingMacOS runs make-app.sh with stand-ins for the macOS tools it
// calls (uname, go, plutil, codesign, ditto), and checks the bundle it
// assembles: the Info.plist names the executable and icon it put there, the
// version is stamped, and the build is a cgo darwin one (the tray needs Cocoa).
func TestPackagingMacOS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX sh")
	}
	script := filepath.Join(repoRoot, "packaging", "macos", "make-app.sh")
	if runtime.GOOS != "darwin" {
		out, err := exec.Command("sh", script).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "must be built on macOS") {
			t.Errorf("make-app.sh off macOS: %v\n%s", err, out)
		}
	}

	fake, out := t.TempDir(), t.TempDir()
	goLog := filepath.Join(fake, "go.log")
	tools := map[string]string{
		"uname":    `echo Darwin`,
		"plutil":   `exit 0`,
		"codesign": `exit 0`,
		"ditto":    `for a; do last=$a; done; : >"$last"`,
		// go env GOARCH, or go build … -o OUT: records how it was called and
		// writes a binary that prints the stamped version.
		"go": `case $1 in env) echo arm64; exit 0 ;; esac
echo "CGO_ENABLED=$CGO_ENABLED GOOS=$GOOS GOARCH=$GOARCH $*" >>"` + goLog + `"
o=; prev=; for a; do [ "$prev" = -o ] && o=$a; prev=$a; done
printf '#!/bin/sh\necho built\n' >"$o"; chmod +x "$o"`,
	}
	for name, body := range tools {
		if err := os.WriteFile(filepath.Join(fake, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", script)
	cmd.Env = []string{"PATH=" + fake + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"VERSION=v1.2.3-4-gabcdef", "COMMIT=abcdef0", "DATE=2026-01-02T03:04:05Z", "OUT=" + out}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-app.sh: %v\n%s", err, b)
	}
	app := filepath.Join(out, "LocalRouter.app", "Contents")
	plist := plistStrings(t, readFileOrFail(t, filepath.Join(app, "Info.plist")))
	if st, err := os.Stat(filepath.Join(app, "MacOS", plist["CFBundleExecutable"])); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("CFBundleExecutable %q is not the bundle's executable: %v", plist["CFBundleExecutable"], err)
	}
	if _, err := os.Stat(filepath.Join(app, "Resources", plist["CFBundleIconFile"]+".icns")); err != nil {
		t.Errorf("CFBundleIconFile %q is not in the bundle: %v", plist["CFBundleIconFile"], err)
	}
	// Bundle versions must be numeric.
	if got := plist["CFBundleShortVersionString"]; got != "1.2.3" {
		t.Errorf("CFBundleShortVersionString = %q, want 1.2.3 from v1.2.3-4-gabcdef", got)
	}
	// A menu-bar app: no Dock icon.
	if plist["LSUIElement"] != "true" {
		t.Errorf("LSUIElement = %q, want true", plist["LSUIElement"])
	}
	if _, err := os.Stat(filepath.Join(out, "LocalRouter_v1.2.3-4-gabcdef_macos_arm64.zip")); err != nil {
		t.Errorf("no zip: %v", err)
	}
	builds := string(readFileOrFail(t, goLog))
	for _, want := range []string{"CGO_ENABLED=1 GOOS=darwin GOARCH=arm64 build", "-X main.version=v1.2.3-4-gabcdef -X main.commit=abcdef0 -X main.date=2026-01-02T03:04:05Z"} {
		if !strings.Contains(builds, want) {
			t.Errorf("go was run as:\n%s\nwant %q", builds, want)
		}
	}
}

func readFileOrFail(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
	unitFile := filepath.Join(prefix, "share", "systemd", "user", "localrouter.service")
	unit := iniKeys(readFileOrFail(t, unitFile))
	// The installed unit starts the installed binary headless, with flags
	// it accepts (--version after them prints and exits).
	exec0 := strings.Fields(unit["[Service]"]["ExecStart"])
	if len(exec0) == 0 || exec0[0] != exe || !slices.Contains(exec0, "--headless") {
		t.Errorf("installed unit: ExecStart=%q, want %s --headless", unit["[Service]"]["ExecStart"], exe)
	} else if out, err := exec.Command(exe, append(exec0[1:], "--version")...).CombinedOutput(); err != nil {
		t.Errorf("ExecStart's flags: %v\n%s", err, out)
	}
	// A crashed gateway comes back, and enable starts it at login.
	if got := unit["[Service]"]["Restart"]; got != "on-failure" {
		t.Errorf("Restart=%q, want on-failure", got)
	}
	if got := unit["[Install]"]["WantedBy"]; got != "default.target" {
		t.Errorf("WantedBy=%q, want default.target (the user session)", got)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified")
	} else {
		cmd := exec.Command("systemd-analyze", "--user", "verify", unitFile)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
		}
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

// TestPackagingMakeDistPlan checks, without building, what make dist works
// out from the version: the archive names, the numeric Windows file version
// and the stamp in every build; CI runs the real make dist.
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
		"name=localrouter_v1.2.3-4-gabcdef_linux_$arch", "name=localrouter_v1.2.3-4-gabcdef_windows_amd64",
		"--file-version '1.2.3'",
		// Without it the Windows tray app opens a console window.
		"-H windowsgui",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("make -n dist lacks %q:\n%s", want, plan)
		}
	}
	if n := strings.Count(plan, "-X main.version=v1.2.3-4-gabcdef -X main.commit=abcdef0 -X main.date=2026-01-02T03:04:05Z"); n != 2 {
		t.Errorf("%d builds are stamped with the version, want 2 (Linux, Windows):\n%s", n, plan)
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

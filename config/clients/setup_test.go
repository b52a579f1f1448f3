package clients

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/tailscale/hujson"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testKey is server.api_key in these tests: it must never be printed.
const testKey = "sk-lr-test-secret-4242"

func testTarget() Target {
	return Target{URL: "http://127.0.0.1:8080", APIKey: testKey, Model: "auto", Context: 32768,
		ConfigPath: "/home/u/.config/localrouter/config.yaml"}
}

func testEnv(t *testing.T) Env {
	return Env{Home: t.TempDir(), GOOS: "linux", Getenv: func(string) string { return "" }}
}

// goldens are the clients that write a file, with the real parser for it
// and the line their broken example is refused at.
var goldens = []struct {
	client, ext string
	brokenLine  int
	decode      func([]byte) (any, error)
	comment     *regexp.Regexp
}{
	{"claude-code", "json", 5, decodeJSON, jsonComment},
	{"codex", "toml", 3, decodeTOML, hashComment},
	{"opencode", "json", 3, decodeJSON, jsonComment},
	{"continue", "yaml", 3, decodeYAML, hashComment},
	{"zed", "json", 4, decodeJSON, jsonComment},
	{"cline", "json", 4, decodeJSON, jsonComment},
	{"qwen-code", "json", 4, decodeJSON, jsonComment},
	{"aider", "yaml", 2, decodeYAML, hashComment},
}

var (
	jsonComment = regexp.MustCompile(`(?m)(?:^|\s)(//.*)$`)
	hashComment = regexp.MustCompile(`(?m)(?:^|\s)(#.*)$`)
)

func decodeJSON(b []byte) (any, error) {
	std, err := hujson.Standardize(bytes.Clone(b))
	if err != nil {
		return nil, err
	}
	var v any
	return v, json.Unmarshal(std, &v)
}

func decodeTOML(b []byte) (any, error) {
	var v map[string]any
	err := toml.Unmarshal(b, &v)
	return plain(v), err
}

func decodeYAML(b []byte) (any, error) {
	var v map[string]any
	err := yaml.Unmarshal(b, &v)
	return plain(v), err
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.client, func(t *testing.T) {
			env, tgt := testEnv(t), testTarget()
			c, err := find(g.client)
			if err != nil {
				t.Fatal(err)
			}
			path := c.path(env)
			before := readTestdata(t, g.client, "before."+g.ext)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, before, 0o640); err != nil {
				t.Fatal(err)
			}

			p, err := Preview(g.client, tgt, env)
			if err != nil {
				t.Fatal(err)
			}
			assertFile(t, path, before, 0o640)
			assertNoBackup(t, path)
			if !p.Changed || !strings.Contains(p.Diff, "+++ "+path) {
				t.Errorf("--print shows no change:\n%s", p.Diff)
			}

			r, err := Apply(g.client, tgt, env)
			if err != nil {
				t.Fatal(err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", g.client, "after."+g.ext), after)
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v after the write, want 0640 kept", fi.Mode().Perm())
			}
			if r.Backup != path+backupSuffix || p.Diff != r.Diff {
				t.Errorf("backup %q, want %q; --print's diff equals the write's: %v", r.Backup, path+backupSuffix, p.Diff == r.Diff)
			}
			for _, out := range []string{p.Diff, r.Diff, Message(r, false)} {
				if strings.Contains(out, testKey) {
					t.Errorf("the API key is printed:\n%s", out)
				}
			}
			checkMerge(t, g.decode, c.ops(tgt), before, after)
			for _, m := range g.comment.FindAllStringSubmatch(string(before), -1) {
				if !bytes.Contains(after, []byte(m[1])) {
					t.Errorf("comment %q lost", m[1])
				}
			}

			again, err := Apply(g.client, tgt, env)
			if err != nil {
				t.Fatal(err)
			}
			if again.Changed {
				t.Errorf("a second run changed the file:\n%s", again.Diff)
			}
			assertFile(t, path, after, 0o640)
			if b, _ := os.ReadFile(path + backupSuffix); !bytes.Equal(b, before) {
				t.Error("the second run replaced the backup of the user's file")
			}

			u, err := Undo(g.client, env)
			if err != nil {
				t.Fatal(err)
			}
			assertFile(t, path, before, 0o640)
			assertNoBackup(t, path)
			if !strings.Contains(Message(u, true), "Restored "+path) {
				t.Errorf("undo says %q", Message(u, true))
			}
			if _, err := Undo(g.client, env); !errors.Is(err, ErrNothingToUndo) {
				t.Errorf("a second undo: %v, want ErrNothingToUndo", err)
			}
		})
	}
}

// TestGoldenNew writes each client's file where the user has none; undo
// removes it again.
func TestGoldenNew(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.client, func(t *testing.T) {
			env, tgt := testEnv(t), testTarget()
			r, err := Apply(g.client, tgt, env)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(r.Path)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", g.client, "new."+g.ext), got)
			if fi, _ := os.Stat(r.Path); fi.Mode().Perm() != 0o600 {
				t.Errorf("a new file has mode %v, want 0600 (it may hold the key)", fi.Mode().Perm())
			}
			if _, err := g.decode(got); err != nil {
				t.Errorf("the real parser rejects the new file: %v", err)
			}
			if again, err := Apply(g.client, tgt, env); err != nil || again.Changed {
				t.Errorf("second run: changed %v, err %v", again.Changed, err)
			}
			if _, err := Undo(g.client, env); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(r.Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("undo left the file setup created: %v", err)
			}
			assertNoBackup(t, r.Path)
		})
	}
}

func TestBrokenFileRefused(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.client, func(t *testing.T) {
			env := testEnv(t)
			c, _ := find(g.client)
			path := c.path(env)
			broken := readTestdata(t, g.client, "broken."+g.ext)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, broken, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, f := range []func(string, Target, Env) (Result, error){Preview, Apply} {
				_, err := f(g.client, testTarget(), env)
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("got %v, want a ParseError", err)
				}
				if pe.Path != path || pe.Line != g.brokenLine {
					t.Errorf("refused at %s:%d, want %s:%d (%v)", pe.Path, pe.Line, path, g.brokenLine, err)
				}
				if want := fmt.Sprintf("%s:%d", path, g.brokenLine); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			assertFile(t, path, broken, 0o644)
			assertNoBackup(t, path)
		})
	}
}

// checkMerge checks after against before: every user setting is kept,
// and what changed is exactly the settings LocalRouter owns, set as ops say.
func checkMerge(t *testing.T, decode func([]byte) (any, error), ops []op, before, after []byte) {
	t.Helper()
	b, err := decode(before)
	if err != nil {
		t.Fatalf("the real parser rejects the user's file: %v", err)
	}
	a, err := decode(after)
	if err != nil {
		t.Fatalf("the real parser rejects the result: %v", err)
	}
	bl, al := leaves(b), leaves(a)
	for k, v := range bl {
		if !owned(ops, k, b, bl) && !reflect.DeepEqual(al[k], v) {
			t.Errorf("user setting %s = %v became %v", k, v, al[k])
		}
	}
	for k, v := range al {
		if !owned(ops, k, a, bl) && !reflect.DeepEqual(bl[k], v) {
			t.Errorf("%s = %v written, but LocalRouter does not own it", k, v)
		}
	}
	for _, o := range ops {
		got, found := lookup(a, o.path)
		switch {
		case o.del:
			if found {
				t.Errorf("%s = %v, want it removed", strings.Join(o.path, "."), got)
			}
		case o.ifAbsent:
			if !found {
				t.Errorf("%s missing", strings.Join(o.path, "."))
			}
		case o.match != nil:
			list, _ := got.([]any)
			n := 0
			for _, e := range list {
				if o.match(e) {
					n++
					if !reflect.DeepEqual(e, plain(o.value)) {
						t.Errorf("%s entry = %v, want %v", strings.Join(o.path, "."), e, plain(o.value))
					}
				}
			}
			if n != 1 {
				t.Errorf("%s has %d LocalRouter entries, want 1", strings.Join(o.path, "."), n)
			}
		case !reflect.DeepEqual(got, plain(o.value)):
			t.Errorf("%s = %v, want %v", strings.Join(o.path, "."), got, plain(o.value))
		}
	}
}

// owned reports whether the leaf at path k of tree is LocalRouter's:
// under a key it sets, or in a list entry it owns. A value set only when
// absent is owned only where the user's file lacked it.
func owned(ops []op, k string, tree any, userLeaves map[string]any) bool {
	for _, o := range ops {
		p := strings.Join(o.path, ".")
		if o.match == nil {
			if o.ifAbsent {
				if _, had := userLeaves[p]; had {
					continue
				}
			}
			if k == p || strings.HasPrefix(k, p+".") {
				return true
			}
			continue
		}
		rest, ok := strings.CutPrefix(k, p+"[")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest[:strings.IndexByte(rest, ']')])
		if err != nil {
			continue
		}
		if list, _ := mustLookup(tree, o.path).([]any); i < len(list) && o.match(list[i]) {
			return true
		}
	}
	return false
}

func mustLookup(tree any, path []string) any {
	v, _ := lookup(tree, path)
	return v
}

func lookup(tree any, path []string) (any, bool) {
	v := tree
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// leaves flattens v to "a.b[0].c" -> scalar.
func leaves(v any) map[string]any {
	out := map[string]any{}
	var walk func(string, any)
	walk = func(p string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(strings.TrimPrefix(p+"."+k, "."), e)
			}
			if len(v) == 0 {
				out[p] = v
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", p, i), e)
			}
			if len(v) == 0 {
				out[p] = v
			}
		default:
			out[p] = v
		}
	}
	walk("", v)
	return out
}

func readTestdata(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./setup -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func assertFile(t *testing.T, path string, want []byte, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not byte for byte what it should be:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

func assertNoBackup(t *testing.T, path string) {
	t.Helper()
	for _, s := range []string{backupSuffix, createdSuffix} {
		if _, err := os.Stat(path + s); err == nil {
			t.Errorf("%s exists", path+s)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestSymlinkKept: a settings file that is a link into a dotfiles
// repository stays a link; its target is edited, backed up and restored.
func TestSymlinkKept(t *testing.T) {
	env := testEnv(t)
	target := filepath.Join(t.TempDir(), "dotfiles", "aider.conf.yml")
	before := readTestdata(t, "aider", "before.yaml")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, before, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(env.Home, ".aider.conf.yml")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if _, err := Apply("aider", testTarget(), env); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a link: %v", link, err)
	}
	got, _ := os.ReadFile(link)
	if want := readTestdata(t, "aider", "after.yaml"); !bytes.Equal(got, want) {
		t.Errorf("through the link:\n%s\nwant\n%s", got, want)
	}
	if _, err := Undo("aider", env); err != nil {
		t.Fatal(err)
	}
	assertFile(t, target, before, 0o644)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("undo replaced the link: %v", err)
	}
}

func TestYAMLAnchorNotQuoted(t *testing.T) {
	_, err := editYAML("a.yml", []byte("openai-api-key: *sk-secret-name\n"), nil)
	if err == nil || strings.Contains(err.Error(), "sk-secret-name") || !strings.Contains(err.Error(), "a.yml:1") {
		t.Errorf("got %v, want an error at a.yml:1 that does not quote the alias", err)
	}
}

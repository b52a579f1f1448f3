package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/localrouter/localrouter"

// listedPackage is what `go list -json` says of one package.
type listedPackage struct {
	ImportPath string
	Imports    []string // direct imports, without tests
	Deps       []string // everything it needs, transitively
}

// guiModules may be linked only into the tray (and main, which runs it).
var guiModules = []string{"fyne.io/systray", "github.com/gen2brain/beeep", "github.com/emersion/go-autostart", "github.com/godbus/dbus"}

// importRule is DESIGN §1 and docs/style.md §1 for the packages at path
// (and below it, when tree is set).
type importRule struct {
	path string
	tree bool
	// own lists the LocalRouter packages it may import directly (by
	// prefix); external lists the modules outside the standard library it
	// may import directly. A nil list allows nothing.
	own, external []string
}

var importRules = []importRule{
	{path: "config", own: nil, external: []string{"gopkg.in/yaml.v3", "github.com/fsnotify/fsnotify"}},
	{path: "providers", tree: true, own: []string{"providers"}},
	{path: "strategy", tree: true, own: []string{"strategy"}, external: []string{"github.com/expr-lang/expr"}},
	{path: "proxy/usage", tree: true, own: []string{"proxy/usage", "assets"}, external: []string{"modernc.org/sqlite"}},
	// The dashboard reads the usage store and serves its page from assets;
	// the proxy mounts it, main wires it.
	{path: "proxy/ui", tree: true, own: []string{"proxy/ui", "proxy/usage", "assets"}},
	{path: "proxy", tree: true, own: []string{"proxy", "providers", "strategy", "config"},
		external: []string{"gopkg.in/yaml.v3", "github.com/fsnotify/fsnotify", "github.com/expr-lang/expr",
			"github.com/prometheus/client_golang", "github.com/prometheus/client_model", "github.com/prometheus/common"}},
	{path: "tray", tree: true, own: []string{"tray", "assets"}, external: guiModules},
	{path: "assets", tree: true, own: []string{"assets"}},
	{path: "config/clients", own: []string{"config", "strategy"},
		external: []string{"github.com/tailscale/hujson", "github.com/pelletier/go-toml/v2", "gopkg.in/yaml.v3", "github.com/aymanbagabas/go-udiff"}},
}

// TestImportRules fails when a package imports what the layout forbids, so
// a shortcut across layers is caught at review time rather than found later.
func TestImportRules(t *testing.T) {
	pkgs := goList(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the check would prove nothing", len(pkgs))
	}
	checked := map[string]bool{}
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue // the main package
		}
		for _, imp := range p.Imports {
			if imp == module {
				t.Errorf("%s imports main", p.ImportPath)
			}
		}
		rule, ok := ruleFor(rel)
		if !ok {
			continue
		}
		checked[rule.path] = true
		for _, imp := range p.Imports {
			if err := rule.allows(imp); err != nil {
				t.Errorf("%s imports %s: %v", p.ImportPath, imp, err)
			}
		}
		if rule.path != "tray" {
			for _, dep := range p.Deps {
				for _, m := range guiModules {
					if hasPathPrefix(dep, m) {
						t.Errorf("%s links %s (through %s): only the tray may", p.ImportPath, m, dep)
					}
				}
			}
		}
	}
	for _, r := range importRules {
		if !checked[r.path] {
			t.Errorf("no package matched the rule for %s: is the layout still as DESIGN §1 says?", r.path)
		}
	}
}

// TestImportRulesCatchViolations proves the checker rejects what it must.
func TestImportRulesCatchViolations(t *testing.T) {
	cases := []struct{ pkg, imp string }{
		{"providers/openai", module + "/proxy"},
		{"providers", module + "/config"},
		{"strategy", module + "/providers"},
		{"proxy", module + "/tray"},
		{"proxy", "fyne.io/systray"},
		{"tray", module + "/proxy"},
		{"config", "github.com/expr-lang/expr"},
	}
	for _, c := range cases {
		rule, ok := ruleFor(c.pkg)
		if !ok {
			t.Fatalf("no rule for %s", c.pkg)
		}
		if rule.allows(c.imp) == nil {
			t.Errorf("%s importing %s was allowed", c.pkg, c.imp)
		}
	}
	if rule, _ := ruleFor("proxy"); rule.allows("net/http") != nil || rule.allows(module+"/providers/anthropic") != nil {
		t.Error("proxy may import the standard library and providers/...")
	}
}

func ruleFor(rel string) (importRule, bool) {
	for _, r := range importRules {
		if rel == r.path || (r.tree && strings.HasPrefix(rel, r.path+"/")) {
			return r, true
		}
	}
	return importRule{}, false
}

func (r importRule) allows(imp string) error {
	if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
		for _, o := range r.own {
			if hasPathPrefix(rel, o) {
				return nil
			}
		}
		return errors.New("not allowed by DESIGN §1")
	}
	if isStd(imp) {
		return nil
	}
	for _, m := range r.external {
		if hasPathPrefix(imp, m) {
			return nil
		}
	}
	return errors.New("module not allowed for this package (docs/style.md §1)")
}

// isStd reports whether imp is in the standard library: its first element
// has no dot.
func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

func goList(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

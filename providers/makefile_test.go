package providers

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestMakefileFuzzList checks that the Makefile's FUZZ list names every fuzz
// target in the module and nothing else: make fuzz explores only what the
// list names, so a target left off it would never be run for longer than
// its seed corpus.
func TestMakefileFuzzList(t *testing.T) {
	const root = ".." // this package's directory is the module root's providers/
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := makeFuzzList(string(mk))
	if err != nil {
		t.Fatal(err)
	}
	found, err := fuzzTargets(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no func Fuzz* in the module: is the walk looking in the wrong place?")
	}
	for _, f := range found {
		if !slices.Contains(listed, f) {
			t.Errorf("fuzz target %s is missing from the Makefile's FUZZ list", f)
		}
	}
	seen := map[string]bool{}
	for _, l := range listed {
		if !slices.Contains(found, l) {
			t.Errorf("the Makefile's FUZZ list names %s, which does not exist", l)
		}
		if seen[l] {
			t.Errorf("the Makefile's FUZZ list names %s twice", l)
		}
		seen[l] = true
	}
	// make test must not depend on what a random search finds.
	if recipe := makeRecipe(string(mk), "test"); recipe == "" {
		t.Error("the Makefile has no test target")
	} else if regexp.MustCompile(`-fuzz\b|\$\(MAKE\).*\bfuzz\b`).MatchString(recipe) {
		t.Errorf("make test runs the fuzzer; it must only replay the seed corpora:\n%s", recipe)
	}
}

// makeFuzzList returns the entries (./pkg:FuzzName) of the FUZZ := variable.
func makeFuzzList(mk string) ([]string, error) {
	m := regexp.MustCompile(`(?m)^FUZZ\s*:?=((?:.*\\\n)*.*)$`).FindStringSubmatch(mk)
	if m == nil {
		return nil, errors.New("the Makefile has no FUZZ := list")
	}
	return strings.Fields(strings.ReplaceAll(m[1], "\\\n", " ")), nil
}

// makeRecipe returns the lines of target's recipe.
func makeRecipe(mk, target string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(mk) {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			b.WriteString(line)
		case in:
			return b.String()
		}
	}
	return b.String()
}

// fuzzTargets returns ./pkg:FuzzName for every fuzz target under root, in
// the form go test -fuzz takes them.
func fuzzTargets(root string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// The go tool ignores these directories too.
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := "./" + filepath.ToSlash(rel)
		if rel == "." {
			pkg = "."
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && isFuzzName(fn.Name.Name) {
				out = append(out, pkg+":"+fn.Name.Name)
			}
		}
		return nil
	})
	return out, err
}

// isFuzzName reports whether name is one go test runs as a fuzz target:
// Fuzz, then nothing or a character that is not a lower-case letter.
func isFuzzName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Fuzz")
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !unicode.IsLower(r)
}

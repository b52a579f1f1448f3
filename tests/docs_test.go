package tests

// Checks of the README front pages and docs/ by what they tell a reader to do.
//
//   - Every fenced yaml block loads. A block with any top-level key of
//     LocalRouter's config (server, routing, providers, …) is a config
//     snippet: it is pasted over the template a new user starts from
//     (assets/config.yaml; mappings merged key by key, anything else
//     replaced) and the result goes through config.Parse, strict decoding and
//     validation included. Any other block must be a file foreignYAML names
//     (Prometheus's config) or a list fragment, and parse as YAML.
//   - The safe shell lines run, against the built binary, with HOME, the
//     config and cache dirs in a temp dir and no provider key in the
//     environment. Safe means offline and writing nothing outside that temp
//     dir: in a ```sh block, `localrouter` or `./bin/localrouter` with
//     --version, -version, check or setup … --print; and curl lines that call
//     http://127.0.0.1:8080 and use no variable, pipe or redirection, sent to
//     a LocalRouter started on the template config (as after `make run`),
//     on a free port put in place of 8080, with --fail-with-body added so
//     that an HTTP error fails the line; where the page shows the answer
//     (a text block after, starting "HTTP/"), the status, the headers that do
//     not vary and a JSON body must be what the request got. Everything else
//     (make, systemctl, docker, servers, clients) is not run.
//   - Every relative link and #anchor (there, in CONTRIBUTING.md and in
//     CHANGELOG.md) resolves to a file in the repository and a heading in it,
//     anchors as GitHub makes them.
//   - README.md is at most 450 lines and links every docs/ page; README_zh.md
//     links every docs/zh/ page; each Chinese page (README_zh.md, docs/zh/*)
//     has the same sequence of ## and ### headings as its English one, and
//     docs/zh/ has the same pages as docs/.
//   - A repository path in inline code (`proxy/deps_test.go`) exists, and
//     the architecture's tree lists every package and nothing that is gone.
//   - docs/config.md and docs/zh/config.md name every key the loader
//     accepts, each in one row; the front pages' clients table names every
//     client `localrouter setup` lists, and each line runs with --print.
//
// Markdown is read line by line rather than with a Markdown library: what
// counts here (fences, ATX headings, inline links) is line-shaped, and the
// anchors must be GitHub's own.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/localrouter/localrouter/config"
)

// foreignYAML names, by a top-level key only they have, the other programs'
// YAML files the docs show; add one here when a page shows another. A
// sequence is taken for a fragment of such a file's list (Continue's
// models, for one): LocalRouter's config is never a list.
var foreignYAML = map[string]string{
	"scrape_configs": "Prometheus's prometheus.yml",
}

// mdFile is one Markdown file of the docs, read line by line.
type mdFile struct {
	name     string // slash path from the repository root
	lines    []string
	blocks   []mdBlock
	headings []mdHeading
	links    []mdLink
	codes    []mdLink // inline code spans, outside fenced blocks
}

type mdBlock struct {
	lang string
	line int // of the opening fence, 1-based
	text string
}

type mdHeading struct {
	level  int
	text   string
	anchor string
	line   int
}

type mdLink struct {
	target string
	line   int
}

var (
	fenceRE   = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")
	headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	codeRE    = regexp.MustCompile("`+[^`]*`+")
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
)

func parseMarkdown(name string, data []byte) *mdFile {
	f := &mdFile{name: name, lines: strings.Split(string(data), "\n")}
	seen := map[string]int{}
	var fence, indent string
	var block *mdBlock
	var body []string
	for i, l := range f.lines {
		if m := fenceRE.FindStringSubmatch(l); m != nil {
			if block == nil {
				fence, indent = m[2], m[1]
				block = &mdBlock{lang: m[3], line: i + 1}
				body = nil
				continue
			}
			// A closing fence is only fence characters, at least as many.
			if c := strings.TrimSpace(l); len(c) >= len(fence) && strings.Trim(c, fence[:1]) == "" {
				block.text = strings.Join(body, "\n") + "\n"
				f.blocks = append(f.blocks, *block)
				block = nil
				continue
			}
		}
		if block != nil {
			body = append(body, strings.TrimPrefix(l, indent))
			continue
		}
		if m := headingRE.FindStringSubmatch(l); m != nil {
			a := githubAnchor(m[2])
			if n, ok := seen[a]; ok {
				seen[a] = n + 1
				a = fmt.Sprintf("%s-%d", a, n+1)
			} else {
				seen[a] = 0
			}
			f.headings = append(f.headings, mdHeading{level: len(m[1]), text: m[2], anchor: a, line: i + 1})
		}
		for _, c := range codeRE.FindAllString(l, -1) {
			f.codes = append(f.codes, mdLink{target: strings.Trim(c, "`"), line: i + 1})
		}
		for _, m := range linkRE.FindAllStringSubmatch(codeRE.ReplaceAllString(l, ""), -1) {
			f.links = append(f.links, mdLink{target: m[1], line: i + 1})
		}
	}
	return f
}

// githubAnchor is the id GitHub gives a heading: lower case, letters,
// digits, marks, '-' and '_' kept, spaces turned into '-', the rest dropped.
func githubAnchor(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// docFiles reads README*.md, CONTRIBUTING.md, CHANGELOG.md and every
// Markdown file under docs/.
func docFiles(t *testing.T) map[string]*mdFile {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(repoRoot, "README*.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Their links point into the docs too.
	names = append(names, filepath.Join(repoRoot, "CONTRIBUTING.md"), filepath.Join(repoRoot, "CHANGELOG.md"))
	err = filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*mdFile{}
	for _, n := range names {
		rel, err := filepath.Rel(repoRoot, n)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		files[rel] = parseMarkdown(rel, readRepoFile(t, rel))
	}
	if len(files) < 3 {
		t.Fatalf("found only %d docs files", len(files))
	}
	return files
}

func sortedNames(files map[string]*mdFile) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func TestDocsLinksResolve(t *testing.T) {
	files := docFiles(t)
	checked := 0
	for _, name := range sortedNames(files) {
		f := files[name]
		for _, l := range f.links {
			if strings.Contains(l.target, ":") { // http:, https:, mailto:
				continue
			}
			target, anchor, _ := strings.Cut(l.target, "#")
			dest := name
			if target != "" {
				dest = path.Clean(path.Join(path.Dir(name), target))
				if dest == ".." || strings.HasPrefix(dest, "../") {
					t.Errorf("%s:%d: %s leaves the repository", name, l.line, l.target)
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(dest))); err != nil {
					t.Errorf("%s:%d: %s: no such file %s", name, l.line, l.target, dest)
					continue
				}
			}
			checked++
			if anchor == "" {
				continue
			}
			g, ok := files[dest]
			if !ok {
				t.Errorf("%s:%d: %s: an anchor into %s, which is not a docs page", name, l.line, l.target, dest)
				continue
			}
			if !slices.ContainsFunc(g.headings, func(h mdHeading) bool { return h.anchor == anchor }) {
				t.Errorf("%s:%d: %s: %s has no heading #%s", name, l.line, l.target, dest, anchor)
			}
		}
	}
	t.Logf("%d relative links resolved", checked)
	if checked < 100 {
		t.Errorf("checked only %d links; want the docs' hundreds", checked)
	}
}

func TestDocsFrontPage(t *testing.T) {
	files := docFiles(t)
	en, zh := files["README.md"], files["README_zh.md"]
	if en == nil || zh == nil {
		t.Fatal("README.md or README_zh.md is missing")
	}
	n := len(en.lines)
	if en.lines[n-1] == "" { // the newline ending the last line
		n--
	}
	if n > 450 {
		t.Errorf("README.md has %d lines, want at most 450: move reference text to docs/", n)
	}
	linked := func(f *mdFile) map[string]bool {
		m := map[string]bool{}
		for _, l := range f.links {
			target, _, _ := strings.Cut(l.target, "#")
			if target != "" && !strings.Contains(target, ":") {
				m[path.Clean(path.Join(path.Dir(f.name), target))] = true
			}
		}
		return m
	}
	enLinks, zhLinks := linked(en), linked(zh)
	pages := 0
	for _, name := range sortedNames(files) {
		switch {
		case strings.HasPrefix(name, "docs/zh/"):
			if !zhLinks[name] {
				t.Errorf("README_zh.md does not link %s", name)
			}
			if _, ok := files["docs/"+strings.TrimPrefix(name, "docs/zh/")]; !ok {
				t.Errorf("%s has no English page docs/%s", name, strings.TrimPrefix(name, "docs/zh/"))
			}
		case strings.HasPrefix(name, "docs/"):
			pages++
			if !enLinks[name] {
				t.Errorf("README.md does not link %s", name)
			}
			zname := "docs/zh/" + strings.TrimPrefix(name, "docs/")
			if g, ok := files[zname]; !ok {
				t.Errorf("%s has no Chinese page %s", name, zname)
			} else if a, b := sectionLevels(files[name]), sectionLevels(g); !slices.Equal(a, b) {
				t.Errorf("%s has %d ##/### headings, %s %d: keep them in step", name, len(a), zname, len(b))
			}
		}
	}
	if pages < 10 {
		t.Errorf("docs/ has %d pages, want the reference's 10 at least", pages)
	}
	a, b := sectionLevels(en), sectionLevels(zh)
	if !slices.Equal(a, b) {
		t.Errorf("README.md's ##/### headings %v, README_zh.md's %v: keep the sections in step", headingTexts(en), headingTexts(zh))
	}
}

// sectionLevels lists the levels of a page's ## and ### headings in order.
func sectionLevels(f *mdFile) []int {
	var levels []int
	for _, h := range f.headings {
		if h.level == 2 || h.level == 3 {
			levels = append(levels, h.level)
		}
	}
	return levels
}

func headingTexts(f *mdFile) []string {
	var s []string
	for _, h := range f.headings {
		if h.level == 2 || h.level == 3 {
			s = append(s, strings.Repeat("#", h.level)+" "+h.text)
		}
	}
	return s
}

// configKeys are the top-level keys of LocalRouter's config file.
func configKeys() map[string]bool {
	keys := map[string]bool{}
	ct := reflect.TypeFor[config.Config]()
	for i := range ct.NumField() {
		if k := yamlName(ct.Field(i)); k != "" {
			keys[k] = true
		}
	}
	return keys
}

func TestDocsYAMLBlocksLoad(t *testing.T) {
	// A snippet must load for anyone, whatever keys the caller exports.
	for _, v := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"} {
		t.Setenv(v, "")
	}
	var template yaml.Node
	if err := yaml.Unmarshal(readRepoFile(t, "assets/config.yaml"), &template); err != nil {
		t.Fatalf("assets/config.yaml: %v", err)
	}
	keys := configKeys()
	files := docFiles(t)
	configs, others := 0, 0
	for _, name := range sortedNames(files) {
		for _, b := range files[name].blocks {
			if b.lang != "yaml" && b.lang != "yml" {
				continue
			}
			where := fmt.Sprintf("%s:%d", name, b.line)
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil {
				t.Errorf("%s: yaml block does not parse: %v", where, err)
				continue
			}
			if len(doc.Content) == 0 {
				t.Errorf("%s: empty yaml block", where)
				continue
			}
			root := doc.Content[0]
			if root.Kind == yaml.SequenceNode {
				others++
				continue
			}
			if root.Kind != yaml.MappingNode {
				t.Errorf("%s: yaml block is neither a mapping nor a list", where)
				continue
			}
			isConfig, foreign := false, ""
			for i := 0; i < len(root.Content); i += 2 {
				k := root.Content[i].Value
				if keys[k] {
					isConfig = true
				}
				if f, ok := foreignYAML[k]; ok {
					foreign = f
				}
			}
			switch {
			case isConfig:
				configs++
				var merged yaml.Node
				if err := copyNode(&merged, &template); err != nil {
					t.Fatal(err)
				}
				mergeNode(merged.Content[0], root)
				data, err := yaml.Marshal(&merged)
				if err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				if _, err := config.Parse(data, where); err != nil {
					t.Errorf("%s: this config snippet, pasted over the template, does not load:\n%s\n%v", where, b.text, err)
				}
			case foreign != "":
				others++
			default:
				t.Errorf("%s: a yaml block that is neither LocalRouter's config (no key of %v at the top) nor a file in foreignYAML", where, slices.Sorted(maps.Keys(keys)))
			}
		}
	}
	t.Logf("%d config snippets loaded, %d other yaml blocks parsed", configs, others)
	if configs < 10 {
		t.Errorf("found %d config snippets (and %d other yaml blocks); the docs have more", configs, others)
	}
}

// TestDocsConfigReferenceNamesEveryKey keeps docs/config.md a reference: a
// key the loader accepts and the page does not name is a key no reader can
// find. Section keys are named in full (`routing.sessions`), a provider
// entry's on their own (`base_url`).
func TestDocsConfigReferenceNamesEveryKey(t *testing.T) {
	for _, name := range []string{"docs/config.md", "docs/zh/config.md"} {
		page := string(readRepoFile(t, name))
		named := func(key string) bool { return strings.Contains(page, "`"+key+"`") }
		ct := reflect.TypeFor[config.Config]()
		n := 0
		for i := range ct.NumField() {
			f := ct.Field(i)
			top := yamlName(f)
			if top == "" {
				continue
			}
			var keys []string
			switch ft := f.Type; {
			case ft.Kind() == reflect.Struct:
				for j := range ft.NumField() {
					if k := yamlName(ft.Field(j)); k != "" {
						keys = append(keys, top+"."+k)
					}
				}
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				for j := range ft.Elem().NumField() {
					if k := yamlName(ft.Elem().Field(j)); k != "" {
						keys = append(keys, k)
					}
				}
			default:
				keys = append(keys, top)
			}
			for _, k := range keys {
				n++
				if !named(k) {
					t.Errorf("%s does not name the config key %s", name, k)
				}
			}
		}
		if n < 30 {
			t.Errorf("found %d config keys; the config has more", n)
		}
		// A key described twice is described two ways, sooner or later.
		rows := map[string]int{}
		for i, l := range strings.Split(page, "\n") {
			if m := keyRowRE.FindStringSubmatch(l); m != nil {
				if prev, ok := rows[m[1]]; ok {
					t.Errorf("%s:%d: %s has a row already, at line %d", name, i+1, m[1], prev)
				}
				rows[m[1]] = i + 1
			}
		}
	}
}

// keyRowRE is a reference table's row for one key.
var keyRowRE = regexp.MustCompile("^\\| `([a-z_.<>]+)` \\|")

func yamlName(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" {
		return ""
	}
	return k
}

// copyNode deep-copies src into dst through YAML, so the template is not
// changed by a merge.
func copyNode(dst, src *yaml.Node) error {
	data, err := yaml.Marshal(src)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(data, dst)
}

// mergeNode merges the mapping src into dst: a key both hold as a mapping is
// merged, any other value of src replaces dst's or is added.
func mergeNode(dst, src *yaml.Node) {
	for i := 0; i < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		found := false
		for j := 0; j < len(dst.Content); j += 2 {
			if dst.Content[j].Value != k.Value {
				continue
			}
			found = true
			if dv := dst.Content[j+1]; dv.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				mergeNode(dv, v)
			} else {
				dst.Content[j+1] = v
			}
		}
		if !found {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

// shellLine is one command of a ```sh block, continuation lines joined and
// comments dropped.
type shellLine struct {
	where string
	cmd   string
	shown string // the answer the page shows for it: a text block next, starting "HTTP/"
}

func shellLines(files map[string]*mdFile) []shellLine {
	var lines []shellLine
	for _, name := range sortedNames(files) {
		blocks := files[name].blocks
		for i, b := range blocks {
			if b.lang != "sh" && b.lang != "bash" && b.lang != "shell" {
				continue
			}
			shown := ""
			if i+1 < len(blocks) && blocks[i+1].lang == "text" && strings.HasPrefix(blocks[i+1].text, "HTTP/") {
				shown = blocks[i+1].text
			}
			sc := bufio.NewScanner(strings.NewReader(b.text))
			n, cur, start := b.line, "", 0
			for sc.Scan() {
				n++
				l := sc.Text()
				if cur == "" {
					start = n
				}
				if strings.HasSuffix(l, "\\") {
					cur += strings.TrimSuffix(l, "\\") + " "
					continue
				}
				cur += l
				if inQuote(cur) { // a quoted argument goes on on the next line
					cur += "\n"
					continue
				}
				if c := stripComment(cur); c != "" {
					lines = append(lines, shellLine{where: fmt.Sprintf("%s:%d", name, start), cmd: c, shown: shown})
				}
				cur = ""
			}
		}
	}
	return lines
}

// inQuote reports whether l ends inside a quoted string.
func inQuote(l string) bool {
	var q rune
	for _, r := range l {
		switch {
		case q != 0:
			if r == q {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		case r == '#' && q == 0:
			return false
		}
	}
	return q != 0
}

// stripComment drops a trailing # comment outside quotes.
func stripComment(l string) string {
	var q rune
	for i, r := range l {
		switch {
		case q != 0:
			if r == q {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		case r == '#' && (i == 0 || l[i-1] == ' '):
			return strings.TrimSpace(l[:i])
		}
	}
	return strings.TrimSpace(l)
}

var (
	binLineRE  = regexp.MustCompile(`^(?:\./bin/)?localrouter (--version|-version|check(?: --config \S+)?|setup \S+(?: --model \S+)? --print(?: --model \S+)?)$`)
	curlLineRE = regexp.MustCompile(`^curl .*http://127\.0\.0\.1:8080/`)
)

func TestDocsShellLinesRun(t *testing.T) {
	files := docFiles(t)
	var bins, curls []shellLine
	for _, l := range shellLines(files) {
		switch {
		case binLineRE.MatchString(l.cmd):
			bins = append(bins, l)
		case curlLineRE.MatchString(l.cmd) && !strings.ContainsAny(l.cmd, "$|><`"):
			curls = append(curls, l)
		}
	}
	t.Logf("running %d localrouter and %d curl lines", len(bins), len(curls))
	if len(bins) < 2 || len(curls) < 4 {
		t.Fatalf("found %d localrouter and %d curl lines to run; the docs have more", len(bins), len(curls))
	}

	// A user's shell: the binary on PATH and at ./bin/localrouter, a home of
	// its own, no keys.
	env := userEnv(t)
	home := strings.TrimPrefix(env[0], "HOME=")
	work := filepath.Join(home, "work")
	for _, d := range []string{filepath.Join(work, "bin"), filepath.Join(home, "path")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(binary, filepath.Join(d, "localrouter")); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			env[i] = "PATH=" + filepath.Join(home, "path") + string(os.PathListSeparator) + strings.TrimPrefix(e, "PATH=")
		}
	}
	sh := func(t *testing.T, l shellLine, cmdline string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", cmdline)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %s: %v\n%s", l.where, l.cmd, err, out)
		}
		return string(out)
	}
	for _, l := range bins {
		t.Run(l.where, func(t *testing.T) { sh(t, l, l.cmd) })
	}
	if shown := slices.IndexFunc(curls, func(l shellLine) bool { return l.shown != "" }); shown < 0 {
		t.Errorf("no curl line is followed by the answer it gets; the README's first request is")
	}

	// The first request of the README, on the config make run creates.
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the docs' curl lines need curl (Debian: apt-get install curl): %v", err)
	}
	tmpl := strings.Replace(string(readRepoFile(t, "assets/config.yaml")), "port: 8080", "port: PORT", 1)
	path, port := writeConfig(t, tmpl)
	p := startAt(t, path, port, env)
	addr := strings.TrimPrefix(p.url, "http://")
	for _, l := range curls {
		t.Run(l.where, func(t *testing.T) {
			cmd := strings.Replace(l.cmd, "curl ", "curl --fail-with-body --silent --show-error ", 1)
			out := sh(t, l, strings.ReplaceAll(cmd, "127.0.0.1:8080", addr))
			if l.shown != "" {
				compareAnswer(t, l.where, l.shown, out)
			}
		})
	}
}

// compareAnswer holds what a page shows a curl -i line get to what it got:
// the status line, every header shown but those that vary (Date, the
// lengths, the overhead) and a JSON body, its "created" time aside.
func compareAnswer(t *testing.T, where, shown, got string) {
	t.Helper()
	split := func(s string) (head []string, body string) {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		h, b, _ := strings.Cut(s, "\n\n")
		return strings.Split(h, "\n"), strings.TrimSpace(b)
	}
	wantHead, wantBody := split(shown)
	gotHead, gotBody := split(got)
	if wantHead[0] != gotHead[0] {
		t.Errorf("%s: the page shows %q, the request got %q", where, wantHead[0], gotHead[0])
	}
	for _, h := range wantHead[1:] {
		name, _, _ := strings.Cut(h, ":")
		switch strings.ToLower(name) {
		case "date", "content-length", "x-localrouter-overhead":
			continue
		}
		if !slices.Contains(gotHead, h) {
			t.Errorf("%s: the page shows the header %q; the request got:\n%s", where, h, strings.Join(gotHead, "\n"))
		}
	}
	if !strings.HasPrefix(wantBody, "{") {
		return
	}
	var want, gotJSON map[string]any
	if err := json.Unmarshal([]byte(wantBody), &want); err != nil {
		t.Fatalf("%s: the page's answer is not JSON: %v", where, err)
	}
	if err := json.Unmarshal([]byte(gotBody), &gotJSON); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v\n%s", where, err, gotBody)
	}
	delete(want, "created")
	delete(gotJSON, "created")
	if diff := cmp.Diff(want, gotJSON); diff != "" {
		t.Errorf("%s: the answer differs from the page's (-page +got):\n%s", where, diff)
	}
}

// TestDocsFrontPageClients holds the front pages' clients table to the
// command: every client `localrouter setup` lists has its line there, and
// each line, run with --print in an empty home, succeeds.
func TestDocsFrontPageClients(t *testing.T) {
	env := userEnv(t)
	list, err := run(t, env, "setup")
	if err != nil {
		t.Fatalf("localrouter setup: %v\n%s", err, list)
	}
	var clients []string
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); strings.HasPrefix(l, "  ") && len(f) > 1 {
			clients = append(clients, f[0])
		}
	}
	if len(clients) < 11 {
		t.Fatalf("localrouter setup lists %d clients, want the 11 of issue 15:\n%s", len(clients), list)
	}
	setupRE := regexp.MustCompile("`localrouter setup ([a-z-]+)`")
	files := docFiles(t)
	for _, name := range []string{"README.md", "README_zh.md"} {
		shown := map[string]bool{}
		for _, l := range files[name].lines {
			for _, m := range setupRE.FindAllStringSubmatch(l, -1) {
				shown[m[1]] = true
			}
		}
		for _, c := range clients {
			if !shown[c] {
				t.Errorf("%s has no `localrouter setup %s` line", name, c)
			}
		}
		for c := range shown {
			if !slices.Contains(clients, c) {
				t.Errorf("%s shows `localrouter setup %s`, a client the command does not know", name, c)
			}
		}
	}
	for _, c := range clients {
		if out, err := run(t, env, "setup", c, "--print"); err != nil {
			t.Errorf("localrouter setup %s --print: %v\n%s", c, err, out)
		}
	}
}

// createdPaths are repository paths the docs tell the reader to make.
var createdPaths = map[string]bool{
	"packaging/config": true, // docs/docker.md: mkdir -p packaging/config
}

// TestDocsPathsExist: a file or folder of the repository named in inline
// code (`proxy/deps_test.go`, `assets/config.yaml`) exists, so a page
// cannot go on naming a file after it moved.
func TestDocsPathsExist(t *testing.T) {
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	tops := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			tops[e.Name()] = true
		}
	}
	pathRE := regexp.MustCompile(`^[a-z_]+(/[A-Za-z0-9_.-]+)+/?$`)
	files := docFiles(t)
	n := 0
	for _, name := range sortedNames(files) {
		for _, c := range files[name].codes {
			p := strings.TrimSuffix(c.target, "/")
			if !pathRE.MatchString(c.target) || strings.Contains(p, "...") || !tops[strings.Split(p, "/")[0]] || createdPaths[p] {
				continue
			}
			n++
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(p))); err != nil {
				t.Errorf("%s:%d: `%s`: no such file or folder in the repository", name, c.line, c.target)
			}
		}
	}
	t.Logf("%d repository paths named in the docs exist", n)
	if n < 50 {
		t.Errorf("found %d repository paths in the docs; they name more", n)
	}
}

// TestDocsArchitectureListsPackages keeps the architecture's tree in
// docs/development.md (and its Chinese page) whole: each entry exists, and
// each package of the program is an entry. Tools (packaging/, internal/
// generators) and tests/ need none.
func TestDocsArchitectureListsPackages(t *testing.T) {
	var pkgs []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
			case strings.HasPrefix(d.Name(), "."), d.Name() == "testdata", d.Name() == "internal",
				rel == "packaging", rel == "tests", rel == "dist", rel == "bin", rel == "docs":
				return filepath.SkipDir
			}
			return nil
		}
		if dir := path.Dir(rel); dir != "." && strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") && !slices.Contains(pkgs, dir) {
			pkgs = append(pkgs, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found %d packages; the module has more", len(pkgs))
	}
	files := docFiles(t)
	for _, name := range []string{"docs/development.md", "docs/zh/development.md"} {
		f := files[name]
		entries := map[string]bool{}
		for _, b := range architectureBlock(t, f).lines() {
			if b == "" || strings.HasPrefix(b, " ") {
				continue // a description's next line
			}
			e := strings.TrimSuffix(strings.Fields(b)[0], "/")
			entries[e] = true
			if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(e))); err != nil {
				t.Errorf("%s: the architecture lists %s, which does not exist", name, e)
			}
		}
		for _, p := range pkgs {
			if !entries[p] {
				t.Errorf("%s: the architecture does not list the package %s", name, p)
			}
		}
	}
}

// architectureBlock is the first fenced block after the Architecture
// heading (## 架构 in Chinese).
func architectureBlock(t *testing.T, f *mdFile) mdBlock {
	t.Helper()
	var at int
	for _, h := range f.headings {
		if h.level == 2 && (h.text == "Architecture" || h.text == "架构") {
			at = h.line
		}
	}
	for _, b := range f.blocks {
		if at > 0 && b.line > at {
			return b
		}
	}
	t.Fatalf("%s has no block under an Architecture heading", f.name)
	return mdBlock{}
}

func (b mdBlock) lines() []string { return strings.Split(b.text, "\n") }

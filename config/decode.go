package config

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The decoder walks the yaml.Node tree itself instead of calling
// Node.Decode: Node.Decode cannot be made strict (KnownFields exists only on
// yaml.Decoder, which reads text, and re-encoding the expanded tree would
// lose the line numbers), and yaml.v3's type errors quote the offending
// value, which may be an API key. Walking the tree also gives every error
// its field path, line and column, and tells an absent field from a false
// or zero one.

// nodeInfo is where a field's value was found in the file.
type nodeInfo struct {
	line, col int
	// expanded is whether ${VAR} expansion changed the value, which
	// messages mention: the problem may be in the environment.
	expanded bool
}

type decoder struct {
	file  string
	errs  []*fieldError
	nodes map[string]nodeInfo

	// merged caches the pairs of each mapping used as a merge source, so
	// that merges of merges cost linear rather than exponential time.
	merged map[*yaml.Node][]pair
	// steps counts decoded values: aliases let a small file name the same
	// nodes over and over (a "billion laughs"), so decoding stops at
	// maxSteps, far beyond any real config.
	steps int
}

const maxSteps = 100_000

// pair is one key and value of a mapping, after merge keys are applied.
type pair struct {
	key     string
	keyNode *yaml.Node
	valNode *yaml.Node
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	byteSizeType  = reflect.TypeFor[ByteSize]()
	providersType = reflect.TypeFor[[]Provider]()
	aliasesType   = reflect.TypeFor[[]Alias]()
)

// parseDocument parses data as a single YAML document and returns its root
// node, or nil for a file with no content (empty, or only comments).
func parseDocument(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, syntaxError(data, name, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, syntaxError(data, name, err)
		}
		return nil, &fieldError{file: name, line: next.Line, col: next.Column, msg: "only one YAML document is allowed"}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

var yamlLine = regexp.MustCompile(`(?s)^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems are the messages of yaml.v3's parser, as opposed to its
// scanner. For these it reports a 0-based line, of the problem or of the
// start of the enclosing collection, and none at all for line 0 (see
// yaml.v3 decode.go, parser.fail; go-yaml/yaml#205).
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// readerProblems are the messages of yaml.v3's reader, which checks the
// encoding of the input. They come with no line.
var readerProblems = map[string]bool{
	"control characters are not allowed": true,
	"incomplete UTF-8 octet sequence":    true,
	"invalid leading UTF-8 octet":        true,
	"invalid length of a UTF-8 sequence": true,
	"invalid trailing UTF-8 octet":       true,
	"invalid Unicode character":          true,
	"incomplete UTF-16 character":        true,
	"incomplete UTF-16 surrogate pair":   true,
	"expected low surrogate area":        true,
	"unexpected low surrogate area":      true,
}

// unknownAnchor is yaml.v3's one parse error that quotes the file: the
// name of an anchor, which is as likely as any word to be part of a key
// ("api_key: *sk-…" is an alias).
var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// quotedChar is how yaml.v3's messages name a single character: "did not
// find expected ',' or ']'".
var quotedChar = regexp.MustCompile(`'.'`)

// syntaxError restates a yaml.v3 parse error in this package's shape,
// "config FILE:LINE: message", with a 1-based line and no text of the file.
func syntaxError(data []byte, name string, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &fieldError{file: name, msg: "not valid YAML"}
	}
	line, _ := strconv.Atoi(m[1]) // 0 when there is no line
	col := 0
	msg := m[2]
	if a := unknownAnchor.FindStringSubmatch(msg); a != nil {
		line, col = findAlias(data, a[1])
		return &fieldError{file: name, line: line, col: col, msg: "an alias (*name) refers to an anchor (&name) that is not defined before it"}
	}
	if strings.ContainsAny(quotedChar.ReplaceAllString(msg, ""), "'\"`") {
		// Not one of yaml.v3's fixed messages, which quote at most a
		// character of their own; it may quote the file.
		msg = "not valid YAML"
	}
	switch {
	case readerProblems[msg]:
		line, col = badChar(data)
	case parserProblems[msg]:
		line++
	case line == 0:
		// yaml.v3 leaves out the line when it is the first: see
		// parserProblems.
		line = 1
	}
	lines := bytes.Split(data, []byte("\n"))
	if strings.Contains(msg, "tab character") {
		// yaml.v3 names the line of the construct it was scanning; the tab
		// that broke it is on that line or a later one.
		for l := max(line, 1); l <= len(lines); l++ {
			if bytes.Contains(lines[l-1], []byte("\t")) {
				line = l
				break
			}
		}
	}
	if line >= 1 && line <= len(lines) {
		if i := bytes.IndexByte(lines[line-1], '\t'); i >= 0 {
			msg += " (YAML indents with spaces, not tabs)"
			col = utf8.RuneCount(lines[line-1][:i]) + 1
		}
	}
	return &fieldError{file: name, line: line, col: col, msg: msg}
}

// badChar returns the line and column of the first character in data that
// is not valid UTF-8 or that YAML does not allow, as yaml.v3's reader
// checks, or 1, 1 if there is none (a UTF-16 file).
func badChar(data []byte) (line, col int) {
	line, col = 1, 1
	for i, r := range string(data) {
		switch {
		case r == utf8.RuneError && !bytes.HasPrefix(data[i:], []byte("\uFFFD")),
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			0x7F <= r && r < 0xA0 && r != 0x85, r == 0xFFFE, r == 0xFFFF:
			return line, col
		case r == '\n':
			line, col = line+1, 1
		default:
			col++
		}
	}
	return 1, 1
}

// findAlias returns the line and column of the first use of the alias
// *name in data, or zeros if there is none to be found.
func findAlias(data []byte, name string) (line, col int) {
	alias := []byte("*" + name)
	for off := 0; ; {
		i := bytes.Index(data[off:], alias)
		if i < 0 {
			return 0, 0
		}
		i += off
		off = i + 1
		// "*ab" must not match the start of "*abc": yaml.v3 reads an
		// anchor name as letters, digits, "_" and "-".
		if end := i + len(alias); end < len(data) && isAnchorChar(data[end]) {
			continue
		}
		start := bytes.LastIndexByte(data[:i], '\n') + 1
		return bytes.Count(data[:i], []byte("\n")) + 1, utf8.RuneCount(data[start:i]) + 1
	}
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &fieldError{file: d.file, field: field, msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.line, e.col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// document decodes the root node into c.
func (d *decoder) document(root *yaml.Node, c *Config) {
	root = resolve(root)
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "the file must be a mapping of settings, got %s", kindName(root))
		return
	}
	d.structure(root, "", reflect.ValueOf(c).Elem())
}

// value decodes n into v and reports whether it set v. A null value, or one
// that ${VAR} expansion left empty, is absent: v keeps its default.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) bool {
	if d.steps++; d.steps > maxSteps {
		if d.steps == maxSteps+1 {
			d.errorf(n, path, "too many values: aliases repeat too much of the file")
		}
		return false
	}
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if v.Type() == providersType {
		return d.providers(n, path, v)
	}
	if v.Type() == aliasesType {
		return d.aliases(n, path, v)
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.structure(n, path, v)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !d.value(n, path, p.Elem()) {
			return false
		}
		v.Set(p)
		return true
	case reflect.Slice:
		return d.sequence(n, path, v)
	case reflect.Map:
		return d.mapping(n, path, v)
	}
	s, ok := d.scalar(n, path, v)
	if !ok {
		return false
	}
	// Messages describe what the value must be, never what it is: see
	// fieldError.
	note := ""
	if s != n.Value {
		note = "; checked after ${VAR} expansion"
	}
	switch {
	case v.Type() == durationType:
		t, err := parseDuration(s)
		if err != nil {
			d.errorf(n, path, `must be a duration, like "60s", "1m30s" or "500ms"%s`, note)
			return false
		}
		v.SetInt(int64(t))
	case v.Type() == byteSizeType:
		b, err := parseByteSize(s)
		if err != nil {
			d.errorf(n, path, "must be a size (%v)%s", err, note)
			return false
		}
		v.SetInt(int64(b))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(s, 10, 0)
		if err != nil {
			d.errorf(n, path, "must be a whole number%s", note)
			return false
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, path, "must be a number%s", note)
			return false
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			d.errorf(n, path, "must be true or false%s", note)
			return false
		}
		v.SetBool(b)
	default:
		// Only reachable if a field of a new type is added to Config
		// without teaching the decoder about it.
		panic(fmt.Sprintf("config: no decoder for %s (%s)", path, v.Type()))
	}
	return true
}

// scalar returns n's value with ${VAR} expanded, and whether there is one.
func (d *decoder) scalar(n *yaml.Node, path string, v reflect.Value) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be %s, got %s", typeName(v.Type()), kindName(n))
		return "", false
	}
	s, changed := expand(n.Value, os.LookupEnv)
	if changed {
		info := d.nodes[path]
		if info.line == 0 {
			info.line, info.col = n.Line, n.Column
		}
		info.expanded = true
		d.nodes[path] = info
		if s == "" {
			return "", false
		}
	}
	return s, true
}

// structure decodes the mapping n into the struct v, by yaml tags.
func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value) bool {
	pairs, ok := d.pairs(n, path)
	if !ok {
		return false
	}
	fields := fieldIndex(v.Type())
	for _, p := range pairs {
		if d.steps > maxSteps {
			break
		}
		i, ok := fields[p.key]
		if !ok {
			if path == "" {
				d.errorf(p.keyNode, "", "unknown field %q", p.key)
			} else {
				d.errorf(p.keyNode, "", "unknown field %q in %s", p.key, path)
			}
			continue
		}
		fpath := joinPath(path, p.key)
		d.nodes[fpath] = at(p.keyNode)
		d.value(p.valNode, fpath, v.Field(i))
	}
	return true
}

// fieldIndex maps the YAML key of each field of the struct type t to the
// field's index, naming untagged fields as yaml.v3 does (lower case).
func fieldIndex(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

// sequence decodes the list n into the slice v.
func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) bool {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be %s, got %s", typeName(v.Type()), kindName(n))
		return false
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		if d.steps > maxSteps {
			break
		}
		ipath := fmt.Sprintf("%s[%d]", path, i)
		d.nodes[ipath] = at(item)
		e := reflect.New(v.Type().Elem()).Elem()
		if isNull(resolve(item)) {
			d.errorf(item, ipath, "must not be empty")
			continue
		}
		if d.value(item, ipath, e) {
			s = reflect.Append(s, e)
		}
	}
	v.Set(s)
	return true
}

// mapping decodes the mapping n into the map v, whose keys are strings.
func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) bool {
	pairs, ok := d.pairs(n, path)
	if !ok {
		return false
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, p := range pairs {
		if d.steps > maxSteps {
			break
		}
		kpath := joinPath(path, p.key)
		d.nodes[kpath] = at(p.keyNode)
		e := reflect.New(v.Type().Elem()).Elem()
		if !d.value(p.valNode, kpath, e) {
			continue // an unset ${VAR} drops the header rather than sending it empty
		}
		m.SetMapIndex(reflect.ValueOf(p.key).Convert(v.Type().Key()), e)
	}
	v.Set(m)
	return true
}

// providers decodes the mapping of name to entry n into v, a []Provider, in
// file order. A mapping rather than a list makes names unique by
// construction and reads like the rest of the file.
func (d *decoder) providers(n *yaml.Node, path string, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of provider name to settings, got %s", kindName(n))
		return false
	}
	pairs, _ := d.pairs(n, path)
	list := make([]Provider, 0, len(pairs))
	for _, pr := range pairs {
		if d.steps > maxSteps {
			break
		}
		ppath := joinPath(path, pr.key)
		d.nodes[ppath] = at(pr.keyNode)
		p := newProvider(pr.key)
		d.value(pr.valNode, ppath, reflect.ValueOf(&p).Elem())
		list = append(list, p)
	}
	v.Set(reflect.ValueOf(list))
	return true
}

// aliases decodes the mapping of glob to target n into v, an []Alias, in
// file order: the first matching glob wins, so order is meaning.
func (d *decoder) aliases(n *yaml.Node, path string, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of model-name glob to target, got %s", kindName(n))
		return false
	}
	pairs, _ := d.pairs(n, path)
	list := make([]Alias, 0, len(pairs))
	for _, pr := range pairs {
		apath := joinPath(path, pr.key)
		d.nodes[apath] = at(pr.valNode)
		var target string
		if d.value(pr.valNode, apath, reflect.ValueOf(&target).Elem()) {
			list = append(list, Alias{Glob: pr.key, Target: target})
		}
	}
	v.Set(reflect.ValueOf(list))
	return true
}

// pairs returns the keys and values of the mapping n with YAML merge keys
// ("<<: *base") applied: explicit keys win over merged ones, and earlier
// merge sources over later ones. It reports duplicate and non-string keys.
func (d *decoder) pairs(n *yaml.Node, path string) ([]pair, bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, got %s", kindName(n))
		return nil, false
	}
	if d.merged == nil {
		d.merged = map[*yaml.Node][]pair{}
	}
	return d.mergePairs(n, path, map[*yaml.Node]bool{}), true
}

func (d *decoder) mergePairs(n *yaml.Node, path string, visiting map[*yaml.Node]bool) []pair {
	visiting[n] = true
	defer delete(visiting, n)

	explicit := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if isMergeKey(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "a key must be a string, got %s", kindName(k))
			continue
		}
		if first, dup := explicit[k.Value]; dup {
			d.errorf(k, path, "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		explicit[k.Value] = k
	}

	var out []pair
	added := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if !isMergeKey(k) {
			if explicit[k.Value] == k {
				added[k.Value] = true
				out = append(out, pair{key: k.Value, keyNode: k, valNode: val})
			}
			continue
		}
		val = resolve(val)
		sources := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			sources = val.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src.Kind != yaml.MappingNode {
				d.errorf(src, path, "<< must merge a mapping or a list of mappings, got %s", kindName(src))
				continue
			}
			if visiting[src] {
				d.errorf(src, path, "<< merges a mapping into itself")
				continue
			}
			ps, ok := d.merged[src]
			if !ok {
				ps = d.mergePairs(src, path, visiting)
				d.merged[src] = ps
			}
			for _, p := range ps {
				if explicit[p.key] == nil && !added[p.key] {
					added[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func isAnchorChar(b byte) bool {
	return '0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || b == '_' || b == '-'
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge"
}

// kindName describes n for "got …" in messages. It never includes n's text:
// the node may hold a secret.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!str":
			return "a string"
		}
	}
	return "a value"
}

// typeName describes t for "must be …" in messages.
func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration (like "60s")`
	case t == byteSizeType:
		return `a size (like "32MiB")`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	}
	return "a mapping"
}

// parseDuration is time.ParseDuration that also takes whole days ("90d"),
// the unit retention is thought of in.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n < 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// parseBool accepts YAML 1.2's true and false and, like yaml.v3 does for
// bool fields, YAML 1.1's yes/no/on/off.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// at returns where n is in the file.
func at(n *yaml.Node) nodeInfo {
	return nodeInfo{line: n.Line, col: n.Column}
}

// joinPath appends key to the field path path. A key with a line break or
// another unprintable character is quoted, so that a message stays on its
// one line.
func joinPath(path, key string) string {
	key = pathKey(key)
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathKey(key string) string {
	if strings.IndexFunc(key, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 || !utf8.ValidString(key) {
		return strconv.Quote(key)
	}
	return key
}

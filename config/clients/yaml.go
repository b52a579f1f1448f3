package clients

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"gopkg.in/yaml.v3"
)

// editYAML applies ops to a YAML document through yaml.v3's node tree,
// which carries the user's comments, key order and scalar styles through
// a re-encode; the blank lines yaml.v3 drops are put back. When nothing
// changes the file's own bytes come back.
func editYAML(name string, data []byte, ops []op) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	var probe map[string]any // what the tool reads: keys are strings
	if root.Kind != yaml.MappingNode || root.Decode(&probe) != nil {
		return nil, fmt.Errorf("setup: %s:%d: the document is not a mapping of named keys", name, root.Line)
	}
	changed := false
	for _, o := range ops {
		c, err := yamlApply(name, root, o)
		if err != nil {
			return nil, err
		}
		changed = changed || c
	}
	if !changed {
		return data, nil
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(yamlIndent(data))
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("setup: %s: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("setup: %s: %w", name, err)
	}
	return keepBlankLines(data, b.Bytes()), nil
}

// keepBlankLines puts back the blank lines of old that yaml.v3's encoding,
// out, dropped: out's changes are applied to old, except for removing
// blank lines. Blank lines are content inside a block scalar (|, >), so the
// result is kept only if it reads as the same document as out.
func keepBlankLines(old, out []byte) []byte {
	edits := udiff.Lines(string(old), string(out))
	for i, e := range edits {
		gone := string(old[e.Start:e.End])
		lead := blankPrefix(gone)
		if lead == gone {
			// Only blank lines went: they separated what follows.
			if len(blankSuffix(e.New)) < len(lead) {
				e.New += lead
			}
		} else {
			if len(blankPrefix(e.New)) < len(lead) {
				e.New = lead + e.New
			}
			if trail := blankSuffix(gone); len(blankSuffix(e.New)) < len(trail) {
				e.New += trail
			}
		}
		edits[i] = e
	}
	merged, err := udiff.ApplyBytes(old, edits)
	if err != nil {
		return out
	}
	var a, b any
	if yaml.Unmarshal(merged, &a) != nil || yaml.Unmarshal(out, &b) != nil || !reflect.DeepEqual(a, b) {
		return out
	}
	return merged
}

// blankPrefix is the run of blank lines s starts with.
func blankPrefix(s string) string {
	n := 0
	for {
		i := strings.IndexByte(s[n:], '\n')
		if i < 0 || strings.TrimSpace(s[n:n+i]) != "" {
			return s[:n]
		}
		n += i + 1
	}
}

// blankSuffix is the run of blank lines s ends with.
func blankSuffix(s string) string {
	end := len(s)
	for end > 0 {
		i := strings.LastIndexByte(s[:end-1], '\n')
		if strings.TrimSpace(s[i+1:end]) != "" {
			break
		}
		end = i + 1
	}
	return s[end:]
}

func yamlError(name string, err error) error {
	pe := &ParseError{Path: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); scanErr == nil {
		pe.Line = line
		pe.Msg = strings.TrimSpace(strings.SplitN(pe.Msg, ":", 2)[1])
	}
	// yaml.v3's parser names the 0-based line of the list or mapping the
	// problem is in, and no line for the first (go-yaml/yaml#205; the
	// config package reads them the same way).
	if strings.HasPrefix(pe.Msg, "unknown anchor") {
		pe.Msg = "an alias (*name) refers to an anchor (&name) that is not defined before it" // not the name: it may be a secret
	}
	if strings.HasPrefix(pe.Msg, "did not find expected") || strings.HasPrefix(pe.Msg, "found ") {
		pe.Line++
	}
	if pe.Line == 0 {
		pe.Line = 1
	}
	return pe
}

// yamlApply applies o under root and reports whether anything changed.
func yamlApply(name string, root *yaml.Node, o op) (bool, error) {
	cur := root
	for i, key := range o.path {
		if cur.Kind != yaml.MappingNode {
			return false, fmt.Errorf("setup: %s:%d: %q is not a mapping; fix or remove it and run setup again", name, cur.Line, strings.Join(o.path[:i], "."))
		}
		j := mappingIndex(cur, key)
		if j < 0 {
			if o.del {
				return false, nil
			}
			cur.Content = append(cur.Content, yamlNode(key), yamlNode(nest(o, o.path[i+1:])))
			return true, nil
		}
		if o.del && i == len(o.path)-1 {
			cur.Content = append(cur.Content[:j], cur.Content[j+2:]...)
			return true, nil
		}
		cur = cur.Content[j+1]
	}
	if o.ifAbsent {
		return false, nil
	}
	if o.match == nil {
		return yamlReplace(cur, o.value), nil
	}
	if cur.Kind != yaml.SequenceNode {
		return false, fmt.Errorf("setup: %s:%d: %q is not a list", name, cur.Line, strings.Join(o.path, "."))
	}
	for _, el := range cur.Content {
		if o.match(yamlPlain(el)) {
			return yamlReplace(el, o.value), nil
		}
	}
	cur.Content = append(cur.Content, yamlNode(o.value))
	return true, nil
}

func mappingIndex(m *yaml.Node, key string) int {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			return j
		}
	}
	return -1
}

// yamlReplace sets n to value unless it holds it already, keeping the
// comments on the line and above it.
func yamlReplace(n *yaml.Node, value any) bool {
	if reflect.DeepEqual(yamlPlain(n), plain(value)) {
		return false
	}
	head, line, foot := n.HeadComment, n.LineComment, n.FootComment
	*n = *yamlNode(value)
	n.HeadComment, n.LineComment, n.FootComment = head, line, foot
	return true
}

func yamlPlain(n *yaml.Node) any {
	var v any
	if n.Decode(&v) != nil {
		return nil
	}
	return plain(v)
}

// yamlNode builds the node for a value made of obj, []any, []string and
// scalars.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case obj:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, m := range v {
			n.Content = append(n.Content, yamlNode(m.K), yamlNode(m.V))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case []string:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	default:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	}
}

// yamlIndent is the indentation of the file's first indented line that
// starts a key or an entry, else 2.
func yamlIndent(data []byte) int {
	for _, l := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimLeft(l, " ")
		if n := len(l) - len(t); n > 0 && len(t) > 0 && t[0] != '#' {
			if n > 8 {
				break
			}
			return n
		}
	}
	return 2
}

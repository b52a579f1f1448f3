package clients

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// editTOML applies ops to a TOML document: a one-key path is a root key,
// a longer one a key of the [table] its other keys name, each a string.
// go-toml's encoder would drop every comment, so its unstable parser only
// locates the keys and LocalRouter edits the lines it owns in place; the
// rest of the file stays byte for byte. go-toml's decoder checks the file
// before and the result after.
func editTOML(name string, data []byte, ops []op) ([]byte, error) {
	if err := checkTOML(name, data); err != nil {
		return nil, err
	}
	doc, err := scanTOML(data)
	if err != nil {
		return nil, checkTOML(name, data) // the decoder has the better message
	}
	var edits []edit
	added := map[string][]string{} // new tables' lines, by table
	var order []string
	rootAdded := false
	for _, o := range ops {
		table, key := o.path[:len(o.path)-1], o.path[len(o.path)-1]
		for _, k := range doc.keys {
			inline := len(k.path) < len(o.path) && slices.Equal(k.path, o.path[:len(k.path)])
			dotted := len(table) > 0 && len(k.path) > len(table) && slices.Equal(k.path[:len(table)], table) && len(k.table) < len(table)
			if inline || dotted {
				return nil, fmt.Errorf("setup: %s:%d: %s is set inline or with a dotted key; move it to a [%s] table or remove it", name, k.line, strings.Join(k.path, "."), strings.Join(table, "."))
			}
		}
		var line string
		if !o.del {
			q, _ := marshalJSON(o.value) // a JSON string is a TOML basic string
			line = key + " = " + string(q) + "\n"
		}
		if k := doc.find(o.path); k != nil {
			switch {
			case o.del:
				edits = append(edits, edit{k.lineStart, k.lineEnd, ""})
			case k.isString && k.value == o.value:
			case k.valueEnd > k.valueStart:
				q, _ := marshalJSON(o.value)
				edits = append(edits, edit{k.valueStart, k.valueEnd, string(q)})
			default:
				edits = append(edits, edit{k.lineStart, k.lineEnd, line})
			}
			continue
		}
		if o.del {
			continue
		}
		if len(table) == 0 {
			rootAdded = true
			at, text := doc.rootLast, line
			if at > 0 && data[at-1] != '\n' {
				text = "\n" + text
			}
			edits = append(edits, edit{at, at, text})
			continue
		}
		if at, ok := doc.tableEnd(table); ok {
			text := line
			if at > 0 && data[at-1] != '\n' {
				text = "\n" + text
			}
			edits = append(edits, edit{at, at, text})
			continue
		}
		t := strings.Join(table, ".")
		if _, seen := added[t]; !seen {
			order = append(order, t)
		}
		added[t] = append(added[t], line)
	}
	for _, t := range order {
		text := "[" + t + "]\n" + strings.Join(added[t], "")
		if len(bytes.TrimSpace(data)) > 0 || rootAdded {
			text = "\n" + text
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			text = "\n" + text
		}
		edits = append(edits, edit{len(data), len(data), text})
	}
	out := applyEdits(data, edits)
	if err := checkTOML(name, out); err != nil {
		return nil, fmt.Errorf("setup: the edit broke %s (a LocalRouter bug; nothing written): %w", name, err)
	}
	return out, nil
}

// checkTOML decodes data, so a file LocalRouter cannot read whole is
// refused with its line.
func checkTOML(name string, data []byte) error {
	var m map[string]any
	err := toml.Unmarshal(data, &m)
	if err == nil {
		return nil
	}
	pe := &ParseError{Path: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		pe.Line, pe.Column = de.Position()
	}
	return pe
}

type tomlKey struct {
	path                 []string
	table                []string // the [table] it is written under
	line                 int
	lineStart, lineEnd   int // the whole line, its newline included
	valueStart, valueEnd int // the value's bytes; equal when unknown
	isString             bool
	value                string
}

type tomlTable struct {
	path []string
	end  int // after the table's last key line, or its header line
}

type tomlDoc struct {
	keys   []tomlKey
	tables []tomlTable
	// rootLast is the end of the last root key's line: new root keys go
	// there, or at the very top when there is none.
	rootLast int
}

func (d *tomlDoc) find(path []string) *tomlKey {
	for i := range d.keys {
		if slices.Equal(d.keys[i].path, path) {
			return &d.keys[i]
		}
	}
	return nil
}

func (d *tomlDoc) tableEnd(path []string) (int, bool) {
	for _, t := range d.tables {
		if slices.Equal(t.path, path) {
			return t.end, true
		}
	}
	return 0, false
}

func scanTOML(data []byte) (*tomlDoc, error) {
	doc := &tomlDoc{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	cur := -1 // index in doc.tables of the table being read
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			first := e.Child()
			cur = -1
			if e.Kind == unstable.Table {
				doc.tables = append(doc.tables, tomlTable{path: table, end: lineEnd(data, int(first.Raw.Offset))})
				cur = len(doc.tables) - 1
			}
		case unstable.KeyValue:
			full := append(slices.Clone(table), keyParts(e.Key())...)
			start := int(e.Raw.Offset)
			k := tomlKey{path: full, table: table, line: 1 + bytes.Count(data[:start], []byte("\n")),
				lineStart: bytes.LastIndexByte(data[:start], '\n') + 1, lineEnd: lineEnd(data, start+int(e.Raw.Length))}
			if v := e.Value(); v.Kind == unstable.String && v.Raw.Length > 0 {
				k.isString, k.value = true, string(v.Data)
				k.valueStart, k.valueEnd = int(v.Raw.Offset), int(v.Raw.Offset+v.Raw.Length)
			}
			doc.keys = append(doc.keys, k)
			if len(table) == 0 {
				doc.rootLast = k.lineEnd
			}
			if cur >= 0 {
				doc.tables[cur].end = k.lineEnd
			}
		}
	}
	return doc, p.Error()
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// lineEnd is the offset after the newline ending the line at offset.
func lineEnd(data []byte, offset int) int {
	if i := bytes.IndexByte(data[offset:], '\n'); i >= 0 {
		return offset + i + 1
	}
	return len(data)
}

// edit replaces data[from:to] with text.
type edit struct {
	from, to int
	text     string
}

// applyEdits applies edits that do not overlap; insertions at one offset
// keep their order.
func applyEdits(data []byte, edits []edit) []byte {
	idx := make([]int, len(edits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if edits[idx[a]].from != edits[idx[b]].from {
			return edits[idx[a]].from > edits[idx[b]].from
		}
		return idx[a] > idx[b]
	})
	out := data
	for _, i := range idx {
		out = splice(out, edits[i].from, edits[i].to, edits[i].text)
	}
	return out
}

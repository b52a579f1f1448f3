package clients

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/tailscale/hujson"
)

// editJSON applies ops to a JSON or JSONC document. hujson keeps every
// comment, blank line and trailing comma; LocalRouter splices its own bytes
// in at the offsets hujson reports instead of re-encoding the file, so
// what it does not own stays byte for byte as the user wrote it.
func editJSON(name string, data []byte, ops []op) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}\n")
	}
	if _, err := hujson.Parse(data); err != nil {
		return nil, jsonError(name, err)
	}
	for _, o := range ops {
		v, err := hujson.Parse(data)
		if err != nil {
			return nil, jsonError(name, err)
		}
		e := jsonEditor{name: name, data: data, unit: jsonIndentUnit(data)}
		if data, err = e.apply(&v, o); err != nil {
			return nil, err
		}
	}
	if _, err := hujson.Parse(data); err != nil {
		return nil, fmt.Errorf("setup: the edit broke %s (a LocalRouter bug; nothing written): %w", name, jsonError(name, err))
	}
	return data, nil
}

// jsonError turns hujson's "hujson: line L, column C: msg" into a
// ParseError naming the file.
func jsonError(name string, err error) error {
	var line, col int
	msg := err.Error()
	if _, scanErr := fmt.Sscanf(msg, "hujson: line %d, column %d:", &line, &col); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[i+2+j+2:]
			}
		}
	}
	if strings.HasPrefix(msg, "invalid literal") {
		// hujson quotes the literal, which may be a key typed without quotes.
		msg = "invalid value: a string needs double quotes and valid escapes; other values are true, false, null or a number"
	}
	return &ParseError{Path: name, Line: line, Column: col, Msg: msg}
}

type jsonEditor struct {
	name string
	data []byte
	unit string // one level of indentation, as the file has it
}

func (e *jsonEditor) apply(root *hujson.Value, o op) ([]byte, error) {
	if o.del {
		return nil, fmt.Errorf("setup: %s: removing a JSON key is not supported", e.name)
	}
	cur := root
	for i, key := range o.path {
		obj, ok := cur.Value.(*hujson.Object)
		if !ok {
			return nil, e.notObject(cur, o.path[:i])
		}
		next := member(obj, key)
		if next == nil {
			return e.insertMember(cur, obj, key, nest(o, o.path[i+1:]))
		}
		cur = next
	}
	if o.ifAbsent {
		return e.data, nil
	}
	if o.match == nil {
		return e.replace(cur, o.value)
	}
	arr, ok := cur.Value.(*hujson.Array)
	if !ok {
		return nil, fmt.Errorf("setup: %s:%d: %q is not a list", e.name, e.line(cur.StartOffset), strings.Join(o.path, "."))
	}
	for i := range arr.Elements {
		if el := &arr.Elements[i]; o.match(e.plainAt(el)) {
			return e.replace(el, o.value)
		}
	}
	return e.insertElement(cur, arr, o.value)
}

// nest is o's value under the keys left to create.
func nest(o op, keys []string) any {
	v := o.value
	if o.match != nil {
		v = []any{v}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		v = obj{{keys[i], v}}
	}
	return v
}

func member(obj *hujson.Object, key string) *hujson.Value {
	for i := range obj.Members {
		m := &obj.Members[i]
		if lit, ok := m.Name.Value.(hujson.Literal); ok && lit.String() == key {
			return &m.Value
		}
	}
	return nil
}

func (e *jsonEditor) notObject(v *hujson.Value, path []string) error {
	where := "the document"
	if len(path) > 0 {
		where = fmt.Sprintf("%q", strings.Join(path, "."))
	}
	return fmt.Errorf("setup: %s:%d: %s is not an object; fix or remove it and run setup again", e.name, e.line(v.StartOffset), where)
}

// plainAt decodes the value v spans in the file.
func (e *jsonEditor) plainAt(v *hujson.Value) any {
	std, err := hujson.Standardize(bytes.Clone(e.data[v.StartOffset:v.EndOffset]))
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(std, &out) != nil {
		return nil
	}
	return out
}

// replace writes value over v unless v already holds it, so a second run
// leaves the user's own formatting of an equal value alone.
func (e *jsonEditor) replace(v *hujson.Value, value any) ([]byte, error) {
	if reflect.DeepEqual(e.plainAt(v), plain(value)) {
		return e.data, nil
	}
	text, err := marshalIndent(value, e.indentOf(v.StartOffset), e.unit)
	if err != nil {
		return nil, err
	}
	return splice(e.data, v.StartOffset, v.EndOffset, string(text)), nil
}

func (e *jsonEditor) insertMember(cv *hujson.Value, obj *hujson.Object, key string, value any) ([]byte, error) {
	var last, first *hujson.Value
	if n := len(obj.Members); n > 0 {
		first, last = &obj.Members[0].Name, &obj.Members[n-1].Value
	}
	k, _ := marshalJSON(key)
	return e.insert(cv, first, last, string(k)+": ", value)
}

func (e *jsonEditor) insertElement(cv *hujson.Value, arr *hujson.Array, value any) ([]byte, error) {
	var last, first *hujson.Value
	if n := len(arr.Elements); n > 0 {
		first, last = &arr.Elements[0], &arr.Elements[n-1]
	}
	return e.insert(cv, first, last, "", value)
}

// insert adds lead+value as the last entry of the object or array cv,
// indented like its siblings; first and last are its first and last
// entries, nil when it has none.
func (e *jsonEditor) insert(cv, first, last *hujson.Value, lead string, value any) ([]byte, error) {
	oneLine := !bytes.ContainsRune(e.data[cv.StartOffset:cv.EndOffset], '\n')
	if last != nil && oneLine {
		text, err := marshalJSON(value)
		if err != nil {
			return nil, err
		}
		at := last.EndOffset
		if last.AfterExtra != nil { // trailing comma
			at += len(last.AfterExtra) + 1
			return splice(e.data, at, at, " "+lead+string(text)), nil
		}
		return splice(e.data, at, at, ", "+lead+string(text)), nil
	}
	indent := e.indentOf(cv.StartOffset) + e.unit
	if first != nil {
		indent = e.indentOf(first.StartOffset)
	}
	text, err := marshalIndent(value, indent, e.unit)
	if err != nil {
		return nil, err
	}
	entry := "\n" + indent + lead + string(text)
	if last == nil {
		at := cv.StartOffset + 1
		if oneLine {
			entry += "\n" + e.indentOf(cv.StartOffset)
		}
		return splice(e.data, at, at, entry), nil
	}
	from := last.EndOffset
	if last.AfterExtra != nil {
		from += len(last.AfterExtra) + 1
	}
	// After what follows the last entry on its line (a comma, a // comment),
	// unless a block comment starts there.
	at := from
	if nl := bytes.IndexByte(e.data[from:], '\n'); nl >= 0 && !bytes.Contains(e.data[from:from+nl], []byte("/*")) {
		at = from + nl
	}
	out := splice(e.data, at, at, entry)
	if last.AfterExtra == nil {
		out = splice(out, last.EndOffset, last.EndOffset, ",")
	}
	return out, nil
}

// indentOf is the leading white space of the line holding offset.
func (e *jsonEditor) indentOf(offset int) string {
	return lineIndent(e.data, offset)
}

func (e *jsonEditor) line(offset int) int { return 1 + bytes.Count(e.data[:offset], []byte("\n")) }

func lineIndent(data []byte, offset int) string {
	start := bytes.LastIndexByte(data[:offset], '\n') + 1
	end := start
	for end < offset && (data[end] == ' ' || data[end] == '\t') {
		end++
	}
	return string(data[start:end])
}

// jsonIndentUnit is the indentation of the file's first indented line,
// else two spaces.
func jsonIndentUnit(data []byte) string {
	for _, l := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimLeft(l, " \t")
		if len(t) < len(l) && len(t) > 0 && (t[0] == '"' || t[0] == '{' || t[0] == '[') {
			return string(l[:len(l)-len(t)])
		}
	}
	return "  "
}

// splice replaces data[from:to] with s in a new slice.
func splice(data []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(s))
	out = append(out, data[:from]...)
	out = append(out, s...)
	return append(out, data[to:]...)
}

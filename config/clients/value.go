package clients

import (
	"bytes"
	"encoding/json"
)

// obj is a JSON/YAML object whose keys keep the order written here, so a
// new block reads as the tool's own docs show it rather than sorted.
type obj []kv

type kv struct {
	K string
	V any
}

// MarshalJSON writes the members in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalJSON(m.K)
		if err != nil {
			return nil, err
		}
		v, err := marshalJSON(m.V)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalJSON is json.Marshal without HTML escaping: a URL's & stays &.
func marshalJSON(v any) ([]byte, error) {
	return marshalIndent(v, "", "")
}

func marshalIndent(v any, prefix, indent string) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent(prefix, indent)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// plain turns v into what encoding/json decodes (map[string]any, []any,
// float64, string, bool, nil), so a value found in a file and one about to
// be written compare with reflect.DeepEqual.
func plain(v any) any {
	b, err := marshalJSON(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

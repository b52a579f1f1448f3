package google

import (
	"encoding/json"
	"strings"
)

// Tool parameters and response schemas are sent as Gemini's "parameters" /
// "responseSchema" (its OpenAPI 3.0 Schema subset) rather than as
// "parametersJsonSchema": every Gemini model accepts the subset, while the
// JSON Schema fields exist only on newer models and still reject some
// keywords. The reduction below removes or rewrites what Gemini refuses
// (protocol-pitfalls §1 Gemini 3 and §2.6, CCR #5):
//   - keywords outside the subset ($schema, additionalProperties, $id, …);
//   - string "format" other than "enum" and "date-time";
//   - "properties": {} ("should be non-empty for OBJECT type");
//   - type arrays (["string","null"]) → a single type plus nullable, or anyOf;
//   - "const" → a one-value enum; non-string enums are dropped;
//   - local "$ref"s into $defs/definitions are inlined (bounded depth).

// maxSchemaDepth bounds recursion on hostile or cyclic schemas.
const maxSchemaDepth = 32

// reduceSchema returns raw reduced to Gemini's subset, or nil when nothing
// is left to send (no schema, or an object without properties).
func reduceSchema(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	r := reducer{defs: map[string]any{}, active: map[string]bool{}, budget: maxSchemaNodes}
	for _, k := range []string{"definitions", "$defs"} {
		if d, ok := root[k].(map[string]any); ok {
			for name, s := range d {
				r.defs["#/"+k+"/"+name] = s
			}
		}
	}
	out := r.schema(root, 0)
	if out == nil {
		return nil
	}
	if out["type"] == "OBJECT" && out["properties"] == nil && out["anyOf"] == nil {
		return nil // a function without parameters
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}

type reducer struct {
	defs   map[string]any
	active map[string]bool // refs being expanded: a cycle stops there
	budget int             // nodes left to emit
}

// maxSchemaNodes bounds the output of a schema whose refs fan out.
const maxSchemaNodes = 4096

func (r *reducer) schema(s map[string]any, depth int) map[string]any {
	r.budget--
	if depth > maxSchemaDepth || r.budget < 0 {
		return map[string]any{"type": "STRING"}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, ok := r.defs[ref].(map[string]any)
		if !ok || r.active[ref] {
			// Unresolvable or recursive: Gemini has no refs, so the
			// value is left open (an object without declared properties).
			out := map[string]any{"type": "OBJECT"}
			if d, ok := s["description"].(string); ok {
				out["description"] = d
			}
			return out
		}
		r.active[ref] = true
		out := r.schema(target, depth+1)
		delete(r.active, ref)
		if d, ok := s["description"].(string); ok {
			out["description"] = d
		}
		return out
	}
	out := map[string]any{}
	nullable := false
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			if str, ok := e.(string); ok {
				types = append(types, str)
			}
		}
	}
	var kept []string
	for _, t := range types {
		if t == "null" {
			nullable = true
			continue
		}
		if g := geminiType(t); g != "" {
			kept = append(kept, g)
		}
	}
	if len(kept) == 1 {
		out["type"] = kept[0]
	} else if len(kept) > 1 {
		var alts []any
		for _, t := range kept {
			alts = append(alts, r.withType(s, t, depth))
		}
		out["anyOf"] = alts
	}
	for _, k := range []string{"title", "description", "pattern"} {
		if v, ok := s[k].(string); ok {
			out[k] = v
		}
	}
	for _, k := range []string{"minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum", "minProperties", "maxProperties"} {
		if v, ok := s[k].(float64); ok {
			out[k] = v
		}
	}
	if v, ok := s["nullable"].(bool); ok && v {
		nullable = true
	}
	if f, ok := s["format"].(string); ok && formatAllowed(out["type"], f) {
		out["format"] = f
	}
	if c, ok := s["const"].(string); ok {
		out["enum"] = []any{c}
		if out["type"] == nil {
			out["type"] = "STRING"
		}
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		all := true
		for _, v := range e {
			if _, ok := v.(string); !ok {
				all = false
			}
		}
		if all {
			out["enum"] = e
			if out["type"] == nil {
				out["type"] = "STRING"
			}
		}
	}
	if _, ok := out["enum"]; ok && out["type"] != nil && out["type"] != "STRING" {
		delete(out, "enum") // Gemini enums are strings only
	}
	if len(kept) <= 1 {
		r.children(s, out, depth)
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		alts, ok := s[k].([]any)
		if !ok {
			continue
		}
		var red []any
		for _, a := range alts {
			m, ok := a.(map[string]any)
			if !ok {
				continue
			}
			if m["type"] == "null" && len(m) == 1 {
				nullable = true
				continue
			}
			red = append(red, r.schema(m, depth+1))
		}
		switch {
		case len(red) == 1 && out["type"] == nil:
			for k, v := range red[0].(map[string]any) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		case len(red) > 0:
			out["anyOf"] = red
		}
	}
	if allOf, ok := s["allOf"].([]any); ok && len(allOf) == 1 && out["type"] == nil {
		if m, ok := allOf[0].(map[string]any); ok {
			for k, v := range r.schema(m, depth+1) {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	}
	if out["type"] == nil && out["anyOf"] == nil {
		// Gemini requires a type; a schema that allows anything is sent
		// as a string, the one type every value can be written as.
		out["type"] = "STRING"
	}
	if nullable {
		out["nullable"] = true
	}
	return out
}

// withType reduces s as if its type were the single Gemini type t.
func (r *reducer) withType(s map[string]any, t string, depth int) map[string]any {
	out := map[string]any{"type": t}
	if t == "OBJECT" || t == "ARRAY" {
		r.children(s, out, depth)
	}
	return out
}

// children reduces properties, required and items into out.
func (r *reducer) children(s, out map[string]any, depth int) {
	if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
		red := map[string]any{}
		for name, p := range props {
			if m, ok := p.(map[string]any); ok {
				red[name] = r.schema(m, depth+1)
			} else {
				red[name] = map[string]any{}
			}
		}
		out["properties"] = red
		if out["type"] == nil {
			out["type"] = "OBJECT"
		}
		if req, ok := s["required"].([]any); ok {
			var keep []any
			for _, n := range req {
				if name, ok := n.(string); ok {
					if _, ok := red[name]; ok {
						keep = append(keep, name)
					}
				}
			}
			if len(keep) > 0 {
				out["required"] = keep
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		out["items"] = r.schema(items, depth+1)
		if out["type"] == nil {
			out["type"] = "ARRAY"
		}
	} else if out["type"] == "ARRAY" {
		// Gemini requires items for an array; tuple forms and a missing
		// items both become "any string", the most permissive it allows.
		out["items"] = map[string]any{"type": "STRING"}
	}
}

func geminiType(t string) string {
	switch strings.ToLower(t) {
	case "string":
		return "STRING"
	case "number":
		return "NUMBER"
	case "integer":
		return "INTEGER"
	case "boolean":
		return "BOOLEAN"
	case "array":
		return "ARRAY"
	case "object":
		return "OBJECT"
	}
	return ""
}

// formatAllowed reports whether Gemini accepts format f on type t.
func formatAllowed(t any, f string) bool {
	switch t {
	case "STRING":
		return f == "enum" || f == "date-time"
	case "NUMBER":
		return f == "float" || f == "double"
	case "INTEGER":
		return f == "int32" || f == "int64"
	}
	return false
}

package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/assets"
	"gopkg.in/yaml.v3"
)

// fuzzSecret is planted in FuzzParse's inputs, as text in the seeds and as
// the value of $LR_FUZZ_SECRET, which seeds refer to.
const fuzzSecret = "sk-fuzz-Zq8XwV3mKp7Rt2Ly"

// FuzzParse checks that Parse never panics; that every error names the
// file, and a line when the problem has one, on one line of its own and
// without a piece of a value from the input; and that an accepted config,
// written out again, parses back to the same Config.
func FuzzParse(f *testing.F) {
	f.Add(assets.ConfigTemplate)
	for _, tt := range errorCases {
		f.Add([]byte(tt.yaml))
	}
	for _, s := range []string{
		"", "~\n", "server: {port: '${PORT:-8080}'}\n",
		"providers:\n  a: &a {api_key: k}\n  b: {<<: [*a, {timeout: 5s}]}\n",
		"a: &a [*a]\n", "server: &s {<<: *s}\n",
		"OPENAI_API_KEY=" + fuzzSecret + "\n",
		"server:\n  port: " + fuzzSecret + "\n",
		"server:\n  port: x${LR_FUZZ_SECRET}\n  max_body: ${LR_FUZZ_SECRET}\n",
		"server:\n  api_key: *" + fuzzSecret + "\n",
		"routing:\n  default: ${LR_FUZZ_SECRET}\n  rules: [{when: x, use: '" + fuzzSecret + "/m'}]\n",
		"providers:\n  x: {type: '${LR_FUZZ_SECRET}', base_url: '" + fuzzSecret + "://h', timeout: " + fuzzSecret + "}\n",
		"providers:\n  \"a\\nb\": {headers: {\"X\\tY\": v}, models: [\"\\x01\", '${LR_FUZZ_SECRET}']}\n",
		"server:\n\tapi_key: " + fuzzSecret + "\n",
		// Strings that YAML writers get wrong: line breaks other than \n,
		// a BOM, edge spaces, a trailing newline, comment and flow marks.
		`routing: {local_model: "a\u0085b\u2028c\u2029d\re", remote_model: "\ufeffx"}`,
		`routing: {rules: [{when: " a #b ", use: "local"}, {when: "x\n\n", use: remote}]}`,
		`providers: {"a: b": {models: ["- x", "[y]", "&z", "~", "null", "0x1", "1e3", "<<"]}}`,
		"routing:\n  fim_model: {local: 'q:1.5b', remote: d/c}\n  embedding_model: {remote: '${LR_FUZZ_SECRET}'}\n",
	} {
		f.Add([]byte(s))
	}
	f.Setenv("LR_FUZZ_SECRET", fuzzSecret)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			checkFuzzError(t, data, err)
			return
		}
		out, stable := marshalConfig(c)
		if !stable {
			return // a value holds a ${VAR} reference again; see marshalConfig
		}
		back, err := Parse(out, "again.yaml")
		if err != nil {
			t.Fatalf("Parse accepted the input but rejects it written out again: %v\n%s", err, out)
		}
		if got, want := exported(back), exported(c); !reflect.DeepEqual(got, want) {
			t.Fatalf("the config written out parses back differently:\ngot  %+v\nwant %+v\n%s", got, want, out)
		}
	})
}

// checkFuzzError checks one error of Parse on the fuzz input data.
func checkFuzzError(t *testing.T, data []byte, err error) {
	t.Helper()
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "config fuzz.yaml") {
			t.Fatalf("error line %q does not name the file:\n%s", line, msg)
		}
	}
	for _, e := range unjoin(err) {
		var fe *fieldError
		if !errors.As(e, &fe) {
			t.Fatalf("got %T, want *fieldError: %v", e, e)
		}
		if fe.line == 0 && !errors.Is(fe, errEmpty) {
			t.Errorf("error has no line: %v", fe)
		}
	}
	var keys []string // read only if needed: keys may be shown, values not
	for i := 0; i+8 <= len(fuzzSecret); i++ {
		w := fuzzSecret[i : i+8]
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			continue
		}
		if keys == nil {
			keys = mappingKeys(data)
		}
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(strings.ToLower(k), strings.ToLower(w)) }) {
			t.Fatalf("error shows %q of a value:\n%s", w, msg)
		}
	}
}

// mappingKeys returns every mapping key in data, which yaml.v3 must parse.
func mappingKeys(data []byte) []string {
	keys := []string{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				keys = append(keys, c.Value)
			}
			walk(c)
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return keys
		}
		walk(&doc)
	}
}

// marshalConfig writes c as YAML that Parse reads back to c, Secrets
// included (their own marshalling redacts them). It reports false when a
// string holds a ${VAR} reference: Parse expands once, so such a value (the
// expansion of "${UNSET:-${HOME}") has no written form.
func marshalConfig(c *Config) ([]byte, bool) {
	stable := true
	var node func(v reflect.Value) *yaml.Node
	scalar := func(tag, s string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
	}
	node = func(v reflect.Value) *yaml.Node {
		switch {
		case v.Type() == durationType:
			return scalar("!!str", fmt.Sprint(v.Interface()))
		case v.Type() == byteSizeType:
			return scalar("!!int", strconv.FormatInt(v.Int(), 10))
		case v.Type() == providersType:
			m := &yaml.Node{Kind: yaml.MappingNode}
			for _, p := range v.Interface().([]Provider) {
				m.Content = append(m.Content, scalar("!!str", p.Name), node(reflect.ValueOf(p)))
			}
			return m
		case v.Type() == aliasesType:
			m := &yaml.Node{Kind: yaml.MappingNode}
			for _, a := range v.Interface().([]Alias) {
				if _, changed := expand(a.Glob, os.LookupEnv); changed {
					stable = false
				}
				m.Content = append(m.Content, scalar("!!str", a.Glob), node(reflect.ValueOf(a.Target)))
			}
			return m
		}
		switch v.Kind() {
		case reflect.String:
			if _, changed := expand(v.String(), os.LookupEnv); changed {
				stable = false
			}
			return scalar("!!str", v.String())
		case reflect.Int:
			return scalar("!!int", strconv.FormatInt(v.Int(), 10))
		case reflect.Bool:
			return scalar("!!bool", strconv.FormatBool(v.Bool()))
		case reflect.Pointer:
			return node(v.Elem())
		case reflect.Slice:
			s := &yaml.Node{Kind: yaml.SequenceNode}
			for i := range v.Len() {
				s.Content = append(s.Content, node(v.Index(i)))
			}
			return s
		case reflect.Map:
			m := &yaml.Node{Kind: yaml.MappingNode}
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				m.Content = append(m.Content, scalar("!!str", k.String()), node(v.MapIndex(k)))
			}
			return m
		case reflect.Struct:
			m := &yaml.Node{Kind: yaml.MappingNode}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				fv := v.Field(i)
				if !f.IsExported() || name == "-" || isNil(fv) {
					continue // nil means absent, the default
				}
				m.Content = append(m.Content, scalar("!!str", name), node(fv))
			}
			return m
		}
		panic(fmt.Sprintf("marshalConfig: no encoding for %s", v.Type()))
	}
	out, err := yaml.Marshal(node(reflect.ValueOf(c).Elem()))
	if err != nil {
		panic(err)
	}
	return out, stable
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return v.IsNil()
	}
	return false
}

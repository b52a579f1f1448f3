package clients

import "strings"

// op is one setting LocalRouter owns in a client's file.
type op struct {
	// path is the keys from the document's root to the setting.
	path []string
	// value is what the setting becomes; nil with del set removes it.
	value any
	del   bool
	// match, when set, makes path a list: value replaces the first element
	// match accepts (a plain value, see plain), or is appended.
	match func(elem any) bool
	// ifAbsent leaves a value the file has alone (a document's name).
	ifAbsent bool
}

func set(value any, path ...string) op { return op{path: path, value: value} }

func del(path ...string) op { return op{path: path, del: true} }

// upsert owns the element of the list at path that match accepts.
func upsert(match func(any) bool, value any, path ...string) op {
	return op{path: path, value: value, match: match}
}

// namePrefix returns a matcher for list elements whose key k starts with p.
func namePrefix(k, p string) func(any) bool {
	return func(e any) bool {
		m, ok := e.(map[string]any)
		s, _ := m[k].(string)
		return ok && strings.HasPrefix(s, p)
	}
}

// field returns a matcher for list elements whose key k is v.
func field(k string, v any) func(any) bool {
	return func(e any) bool {
		m, ok := e.(map[string]any)
		return ok && m[k] == v
	}
}

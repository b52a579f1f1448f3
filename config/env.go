package config

import "strings"

// expand replaces ${VAR} and ${VAR:-default} in s using lookup; the default
// applies when VAR is unset or empty, as in the shell. "$$", a lone "$" and
// anything that is not a well-formed reference stay as they are, so values
// such as passwords with a "$" in them survive. It reports whether any
// reference was replaced. Defaults cannot nest: the first "}" ends one.
func expand(s string, lookup func(string) (string, bool)) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "$$") {
			b.WriteString("$$")
			i += 2
			continue
		}
		if strings.HasPrefix(s[i:], "${") {
			if end := strings.IndexByte(s[i+2:], '}'); end >= 0 {
				ref := s[i+2 : i+2+end]
				name, def, hasDef := strings.Cut(ref, ":-")
				if isEnvName(name) {
					v, _ := lookup(name)
					if hasDef && v == "" {
						v = def
					}
					b.WriteString(v)
					changed = true
					i += 2 + end + 1
					continue
				}
			}
		}
		b.WriteByte('$')
		i++
	}
	return b.String(), changed
}

// isEnvName reports whether s is a shell-style variable name.
func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

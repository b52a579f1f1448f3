package config

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// fieldError is one problem in a config, located as precisely as known.
type fieldError struct {
	file  string // the name given to Parse; "" when there is none
	line  int    // 1-based; 0 when no line is known
	field string // dotted path like "server.port"; "" when msg names the place itself
	msg   string
}

func (e *fieldError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	switch {
	case e.file != "" && e.line > 0:
		b.WriteString(" " + e.file + ":" + strconv.Itoa(e.line))
	case e.file != "":
		b.WriteString(" " + e.file)
	case e.line > 0:
		b.WriteString(" line " + strconv.Itoa(e.line))
	}
	b.WriteString(": ")
	if e.field != "" {
		b.WriteString(e.field + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// joinErrors orders errs by line, drops repeats (an aliased node is decoded
// once per alias) and redacts secrets as a last line of defence, then joins
// what is left. It returns nil for no errors.
func joinErrors(errs []*fieldError, secrets []string) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		li, lj := errs[i].line, errs[j].line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0 // located problems first
		}
		return li < lj
	})
	// Messages never quote a secret field, so this only catches a key
	// pasted into the wrong field. Short values are left out: a header
	// value like "1" would otherwise garble every message.
	var long []string
	for _, s := range secrets {
		if len(s) >= 8 {
			long = append(long, s)
		}
	}
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		e.msg = redact(e.msg, long)
		if s := e.Error(); !seen[s] {
			seen[s] = true
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

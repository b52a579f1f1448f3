package config

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// fieldError is one problem in a config, located as precisely as known.
//
// msg never holds text from the file other than keys: the file may be
// something else than a config (LOCALROUTER_CONFIG_PATH set to a .env or a
// key file), and the error is logged and shown on the unauthenticated
// /health. The place and the field say where to look instead.
type fieldError struct {
	file  string // the name given to Parse; "" when there is none
	line  int    // 1-based; 0 when no line is known
	col   int    // 1-based; 0 when no column is known
	field string // dotted path like "server.port"; "" when msg names the place itself
	msg   string
	err   error // what errors.Is finds, like errEmpty; usually nil
}

func (e *fieldError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	pos := ""
	if e.line > 0 {
		pos = strconv.Itoa(e.line)
		if e.col > 0 {
			pos += ":" + strconv.Itoa(e.col)
		}
	}
	switch {
	case e.file != "" && pos != "":
		b.WriteString(" " + e.file + ":" + pos)
	case e.file != "":
		b.WriteString(" " + e.file)
	case pos != "":
		b.WriteString(" line " + pos)
	}
	b.WriteString(": ")
	if e.field != "" {
		b.WriteString(e.field + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

func (e *fieldError) Unwrap() error { return e.err }

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

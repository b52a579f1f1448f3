package config

import (
	"strings"
	"testing"
	"time"
)

func TestUsageDefaults(t *testing.T) {
	c, err := Parse([]byte("usage: {path: /x/usage.db}\n"), "u.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Usage.Enabled || c.Usage.Retention != 90*24*time.Hour || c.Usage.Path != "/x/usage.db" {
		t.Errorf("usage = %+v, want enabled, 90 days, the path given", c.Usage)
	}
}

func TestUsageErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"negative retention": {"usage: {retention: -1h}\n", "u.yaml:1:9: usage.retention: must be 0 (keep forever) or more"},
		"days are whole":     {"usage: {retention: 1.5d}\n", "usage.retention: must be a duration"},
		"price not a number": {"usage:\n  prices:\n    gpt-4o: {input: cheap}\n", "usage.prices.gpt-4o.input: must be a number"},
		"price infinite":     {"usage:\n  prices:\n    gpt-4o: {input: .inf}\n", "usage.prices.gpt-4o.input: must be a number"},
		"negative price":     {"usage:\n  prices:\n    gpt-4o: {input: 1, output: -2}\n", "usage.prices.gpt-4o: must not be negative"},
		"unknown field":      {"usage: {keep: 3}\n", `unknown field "keep" in usage`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "u.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

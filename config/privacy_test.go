package config

import (
	"strings"
	"testing"
)

func TestPrivacy(t *testing.T) {
	const base = "providers:\n  ollama:\n    type: openai\n    base_url: http://127.0.0.1:11434/v1\n    local: true\n"
	c, err := Parse([]byte(base+"routing:\n  rules:\n    - when: 'client == \"codex\"'\n      use: private\nprivacy:\n  patterns: ['ACME-[0-9]{6}']\n"), "ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Privacy.Patterns; len(got) != 1 || got[0] != "ACME-[0-9]{6}" {
		t.Errorf("got patterns %q", got)
	}
	if c.Routing.Rules[0].Use != "private" {
		t.Errorf("got use %q, want private", c.Routing.Rules[0].Use)
	}
	_, err = Parse([]byte(base+"privacy:\n  patterns: ['ok', '(unclosed']\n"), "bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "privacy.patterns[1]: is not a regular expression") {
		t.Errorf("got %v, want privacy.patterns[1] refused", err)
	}
}

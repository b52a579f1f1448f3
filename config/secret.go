package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Secret is a value that must never reach a log, an error, an HTTP response
// or the tray: an API key or an upstream header. Every way of printing it
// gives "[redacted]" (or "" when it is empty, so a missing key still shows
// as missing); string(s) is the real value.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format makes every fmt verb print String, flags and width included.
// String alone is not enough: %#v prints the raw value as Go syntax, and %d
// reports a bad verb by printing the raw value too.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(s.String())
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// MarshalText implements encoding.TextMarshaler, which yaml.v3 and other
// text encoders use.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// Secrets returns every non-empty secret value in c (server and provider API
// keys, strategy and provider header values), each once, longest first.
func (c *Config) Secrets() []string {
	seen := map[string]bool{}
	var out []string
	add := func(s Secret) {
		if s != "" && !seen[string(s)] {
			seen[string(s)] = true
			out = append(out, string(s))
		}
	}
	add(c.Server.APIKey)
	for _, v := range c.RemoteStrategy.Headers {
		add(v)
	}
	for _, p := range c.Providers {
		add(p.APIKey)
		for _, v := range p.Headers {
			add(v)
		}
	}
	// Longest first, so a key that contains another is replaced whole
	// rather than leaving its tail behind; ties sorted to keep it stable.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Redact returns s with every secret of c replaced by "[redacted]".
func (c *Config) Redact(s string) string {
	return redact(s, c.Secrets())
}

func redact(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, v := range secrets {
		pairs = append(pairs, v, redacted)
	}
	// strings.Replacer tries the pairs in argument order at each position,
	// so the longest-first order of secrets carries over.
	return strings.NewReplacer(pairs...).Replace(s)
}

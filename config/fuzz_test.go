package config

import (
	"testing"

	"github.com/localrouter/localrouter/assets"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// passes Validate.
func FuzzParse(f *testing.F) {
	f.Add(assets.ConfigTemplate)
	for _, tt := range errorCases {
		f.Add([]byte(tt.yaml))
	}
	for _, s := range []string{
		"", "~\n", "server: {port: '${PORT:-8080}'}\n",
		"providers:\n  a: &a {api_key: k}\n  b: {<<: [*a, {timeout: 5s}]}\n",
		"a: &a [*a]\n", "server: &s {<<: *s}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Parse accepted a config that Validate rejects: %v", err)
		}
		_ = c.Addr()
		_ = c.Redact(string(data))
	})
}

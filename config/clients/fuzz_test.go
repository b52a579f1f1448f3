package clients

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEdit feeds any bytes to every client's editor: it never panics, and
// when it accepts a file the result parses with the real parser, holds the
// settings LocalRouter owns, and a second edit changes nothing.
func FuzzEdit(f *testing.F) {
	for _, g := range goldens {
		for _, name := range []string{"before", "broken"} {
			if b, err := os.ReadFile(filepath.Join("testdata", g.client, name+"."+g.ext)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"env": {}, "a": [1,], /* c */}`))
	f.Add([]byte("[model_providers]\nlocalrouter = {}\n"))
	f.Add([]byte("models: [ {name: LocalRouter} ]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, g := range goldens {
			c, _ := find(g.client)
			ops := c.ops(testTarget())
			out, err := c.edit("f", data, ops)
			if err != nil {
				continue
			}
			if _, err := g.decode(out); err != nil {
				t.Fatalf("%s: accepted %q and wrote %q, which does not parse: %v", g.client, data, out, err)
			}
			again, err := c.edit("f", out, ops)
			if err != nil {
				t.Fatalf("%s: refused its own output %q: %v", g.client, out, err)
			}
			if !bytes.Equal(again, out) {
				t.Fatalf("%s: a second edit of %q changed %q into %q", g.client, data, out, again)
			}
		}
	})
}

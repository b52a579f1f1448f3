// Command genicons draws LocalRouter's tray icons into assets/icons:
//
//	go generate ./assets        (runs: go run ./internal/genicons -out icons)
//
// -preview FILE also writes a sheet of every icon at 16–24 px on a light and
// a dark panel, for checking legibility by eye (-zoom N enlarges it).
package main

import (
	"flag"
	"fmt"
	"image/png"
	"os"

	"github.com/localrouter/localrouter/assets/internal/iconart"
)

func main() {
	out := flag.String("out", "", "directory to write the icon files into")
	preview := flag.String("preview", "", "also write a preview sheet to this PNG file")
	zoom := flag.Int("zoom", 1, "enlarge the preview sheet N times")
	flag.Parse()
	if *out == "" && *preview == "" {
		fmt.Fprintln(os.Stderr, "usage: genicons -out DIR [-preview FILE.png [-zoom N]]")
		os.Exit(2)
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fail(err)
		}
		if err := iconart.Write(*out); err != nil {
			fail(err)
		}
	}
	if *preview != "" {
		f, err := os.Create(*preview)
		if err != nil {
			fail(err)
		}
		if err := png.Encode(f, iconart.Preview(*zoom)); err != nil {
			fail(err)
		}
		if err := f.Close(); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genicons:", err)
	os.Exit(1)
}

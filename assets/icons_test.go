package assets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/localrouter/localrouter/assets/internal/iconart"
)

var states = []string{"local", "remote", "mock", "error"}

func decodePNG(t *testing.T, what string, b []byte) image.Image {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s: not a PNG (starts %q)", what, b[:min(8, len(b))])
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return img
}

func wantSize(t *testing.T, what string, img image.Image, n int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != n || b.Dy() != n {
		t.Errorf("%s: %d×%d, want %d×%d", what, b.Dx(), b.Dy(), n, n)
	}
}

// hasAlpha reports whether img has both transparent and opaque pixels.
func hasAlpha(img image.Image) (transparent, opaque bool) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			transparent = transparent || a == 0
			opaque = opaque || a == 0xffff
		}
	}
	return
}

type icoEntry struct {
	w, h int
	img  image.Image
}

// parseICO checks an ICO's ICONDIR and ICONDIRENTRYs and decodes every
// entry, which must be a PNG whose size matches its directory entry.
func parseICO(t *testing.T, what string, b []byte) []icoEntry {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 6 {
		t.Fatalf("%s: %d bytes, too short for an ICONDIR", what, len(b))
	}
	if r, typ := le.Uint16(b[0:]), le.Uint16(b[2:]); r != 0 || typ != 1 {
		t.Fatalf("%s: ICONDIR reserved=%d type=%d, want 0 and 1", what, r, typ)
	}
	n := int(le.Uint16(b[4:]))
	if len(b) < 6+16*n {
		t.Fatalf("%s: %d entries do not fit in %d bytes", what, n, len(b))
	}
	var out []icoEntry
	end := 6 + 16*n
	for i := range n {
		e := b[6+16*i : 6+16*(i+1)]
		w, h := int(e[0]), int(e[1])
		if w == 0 {
			w = 256
		}
		if h == 0 {
			h = 256
		}
		planes, bpp := le.Uint16(e[4:]), le.Uint16(e[6:])
		size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if planes != 1 || bpp != 32 {
			t.Errorf("%s entry %d: planes=%d bpp=%d, want 1 and 32", what, i, planes, bpp)
		}
		if off != end || off+size > len(b) {
			t.Fatalf("%s entry %d: data at %d+%d, want it at %d within %d bytes", what, i, off, size, end, len(b))
		}
		end = off + size
		ew := fmt.Sprintf("%s entry %d", what, i)
		img := decodePNG(t, ew, b[off:off+size])
		if img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Errorf("%s: directory says %d×%d, PNG is %v", ew, w, h, img.Bounds().Size())
		}
		out = append(out, icoEntry{w, h, img})
	}
	if end != len(b) {
		t.Errorf("%s: %d trailing bytes", what, len(b)-end)
	}
	return out
}

func TestTrayIconLinux(t *testing.T) {
	for _, s := range states {
		what := s + "/linux"
		img := decodePNG(t, what, TrayIcon(s, "linux"))
		wantSize(t, what, img, 32)
		if tr, op := hasAlpha(img); !tr || !op {
			t.Errorf("%s: transparent pixels %v, opaque pixels %v; want both", what, tr, op)
		}
	}
}

// TestTrayIconLinuxThroughSystray converts the Linux icon to a
// StatusNotifierItem pixmap the way fyne.io/systray v1.12.2 does (the low
// byte of each premultiplied 16-bit channel) and checks that the tray host
// gets the drawn pixels exactly, edges included, while a correct decoder
// sees them within about one level once composited (see iconart.ForSystray).
func TestTrayIconLinuxThroughSystray(t *testing.T) {
	for _, s := range states {
		img, _, err := image.Decode(bytes.NewReader(TrayIcon(s, "linux")))
		if err != nil {
			t.Fatal(err)
		}
		want := iconart.Colour(s, iconart.LinuxSize)
		var partial int
		for y := range 32 {
			for x := range 32 {
				w := want.NRGBAAt(x, y)
				r, g, b, a := img.At(x, y).RGBA()
				got := color.NRGBA{byte(r), byte(g), byte(b), byte(a)} // systray's argbForImage
				if w.A == 0 {
					w = color.NRGBA{}
				}
				if got != w {
					t.Fatalf("%s (%d,%d): systray would send %v, want %v", s, x, y, got, w)
				}
				if w.A != 0 && w.A != 0xff {
					partial++
				}
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				for i, d := range []int{int(c.R) - int(w.R), int(c.G) - int(w.G), int(c.B) - int(w.B)} {
					if d < 0 {
						d = -d
					}
					if d*int(w.A) > 2*255 {
						t.Errorf("%s (%d,%d) channel %d: a correct decoder reads %v for %v", s, x, y, i, c, w)
					}
				}
			}
		}
		if partial == 0 {
			t.Errorf("%s: no anti-aliased edge pixels: the check above proves nothing", s)
		}
	}
}

func TestTrayIconWindows(t *testing.T) {
	for _, s := range states {
		what := s + "/windows"
		entries := parseICO(t, what, TrayIcon(s, "windows"))
		var sizes []int
		for _, e := range entries {
			if e.w != e.h {
				t.Errorf("%s: entry %d×%d is not square", what, e.w, e.h)
			}
			if tr, op := hasAlpha(e.img); !tr || !op {
				t.Errorf("%s %d px: transparent pixels %v, opaque pixels %v; want both", what, e.w, tr, op)
			}
			sizes = append(sizes, e.w)
		}
		if want := []int{16, 20, 24, 32, 40, 48}; !slices.Equal(sizes, want) {
			t.Errorf("%s: entry sizes %v, want %v", what, sizes, want)
		}
	}
}

func TestTrayIconDarwinIsTemplate(t *testing.T) {
	for _, s := range states {
		what := s + "/darwin"
		img := decodePNG(t, what, TrayIcon(s, "darwin"))
		wantSize(t, what, img, 32)
		b := img.Bounds()
		var opaque int
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				if r != 0 || g != 0 || bl != 0 {
					t.Fatalf("%s: pixel (%d,%d) = %v, want black or transparent", what, x, y, img.At(x, y))
				}
				if a == 0xffff {
					opaque++
				}
			}
		}
		if opaque < 32*32/5 {
			t.Errorf("%s: only %d opaque pixels: the glyph is too thin for a menu bar", what, opaque)
		}
	}
}

func TestTrayIconFallbacks(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		for _, s := range []string{"", "bogus", "Local"} {
			if !bytes.Equal(TrayIcon(s, goos), TrayIcon("error", goos)) {
				t.Errorf("TrayIcon(%q, %q) is not the error icon", s, goos)
			}
		}
	}
	for _, goos := range []string{"", "freebsd", "openbsd", "netbsd", "plan9"} {
		for _, s := range states {
			if !bytes.Equal(TrayIcon(s, goos), TrayIcon(s, "linux")) {
				t.Errorf("TrayIcon(%q, %q) is not the PNG", s, goos)
			}
		}
	}
	// Callers get their own copy.
	b := TrayIcon("local", "linux")
	b[0] = 0
	if TrayIcon("local", "linux")[0] != 0x89 {
		t.Error("modifying a returned icon changed the next one")
	}
}

// TestTrayIconsDiffer checks that the states differ in shape, not only in
// colour: compared by alpha alone, any two icons differ in a tenth of their
// pixels or more (the Windows ones at 16 px, the smallest entry).
func TestTrayIconsDiffer(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		imgs := map[string]image.Image{}
		for _, s := range states {
			if goos == "windows" {
				imgs[s] = parseICO(t, s, TrayIcon(s, goos))[0].img
			} else {
				imgs[s] = decodePNG(t, s, TrayIcon(s, goos))
			}
		}
		for i, a := range states {
			for _, b := range states[i+1:] {
				px := imgs[a].Bounds().Dx() * imgs[a].Bounds().Dy()
				if n := alphaDiff(imgs[a], imgs[b]); n < px/10 {
					t.Errorf("%s: %s and %s differ in only %d of %d pixels of alpha", goos, a, b, n, px)
				}
			}
		}
	}
}

// alphaDiff counts the pixels whose alpha differs by more than half.
func alphaDiff(a, b image.Image) int {
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			_, _, _, aa := a.At(x, y).RGBA()
			_, _, _, ba := b.At(x, y).RGBA()
			if d := int(aa) - int(ba); d > 0x8000 || d < -0x8000 {
				n++
			}
		}
	}
	return n
}

// TestIconsUpToDate runs the generator into a temporary directory and
// compares its files byte for byte with assets/icons and with what is
// embedded, so the committed icons cannot drift from their source.
func TestIconsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := iconart.Write(dir); err != nil {
		t.Fatal(err)
	}
	list := func(d string) []string {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return names
	}
	gen, committed := list(dir), list("icons")
	if !slices.Equal(gen, committed) {
		t.Fatalf("assets/icons holds %v, the generator writes %v: run go generate ./assets", committed, gen)
	}
	for _, name := range gen {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("icons", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("assets/icons/%s differs from the generator's output: run go generate ./assets", name)
		}
		emb, err := icons.ReadFile("icons/" + name)
		if err != nil {
			t.Errorf("icons/%s is not embedded: %v", name, err)
		} else if !bytes.Equal(emb, want) {
			t.Errorf("embedded icons/%s differs from the generator's output", name)
		}
	}
}

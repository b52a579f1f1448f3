// Command appicon draws LocalRouter's application icon (the one desktop menus,
// the Windows executable and the macOS bundle show; the tray has its own
// per-state icons in assets/) and writes it under the packaging folder:
//
//	linux/icons/hicolor/<n>x<n>/apps/localrouter.png   n = 16 … 512
//	macos/LocalRouter.icns                             PNG entries 16 … 512
//
// packaging/windows/winres.json points at the hicolor PNGs. Run it from the
// repository root after changing the drawing:
//
//	go run ./packaging/appicon
//
// tests/packaging_test.go fails when the committed files differ from what
// this program draws. Standard library only; the output is deterministic.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// Sizes are the hicolor sizes written, in pixels.
var Sizes = []int{16, 24, 32, 48, 64, 128, 256, 512}

func main() {
	out := flag.String("out", "packaging", "the packaging folder to write into")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "appicon:", err)
		os.Exit(1)
	}
}

func write(out string) error {
	pngs := map[int][]byte{}
	for _, n := range Sizes {
		b, err := encode(draw(n))
		if err != nil {
			return err
		}
		pngs[n] = b
		p := filepath.Join(out, "linux", "icons", "hicolor", fmt.Sprintf("%dx%d", n, n), "apps", "localrouter.png")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	p := filepath.Join(out, "macos", "LocalRouter.icns")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, icns(pngs), 0o644)
}

func encode(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// icns packs PNGs into an Apple icon file: "icns", the total length, then
// one (type, length, data) entry per image, lengths big-endian and counting
// their own 8-byte header. Every type below accepts PNG data (macOS 10.7+).
func icns(pngs map[int][]byte) []byte {
	entries := []struct {
		typ  string
		size int
	}{
		{"icp4", 16}, {"icp5", 32}, {"ic11", 32}, // 16, 32, 16@2x
		{"ic12", 64}, {"ic07", 128}, {"ic08", 256}, // 32@2x, 128, 256
		{"ic13", 256}, {"ic09", 512}, {"ic14", 512}, // 128@2x, 512, 256@2x
	}
	var body bytes.Buffer
	for _, e := range entries {
		data := pngs[e.size]
		body.WriteString(e.typ)
		binary.Write(&body, binary.BigEndian, uint32(8+len(data)))
		body.Write(data)
	}
	var b bytes.Buffer
	b.WriteString("icns")
	binary.Write(&b, binary.BigEndian, uint32(8+body.Len()))
	b.Write(body.Bytes())
	return b.Bytes()
}

// The drawing, in units of the icon's side (0..1, y down): a dark rounded
// square; a route comes in at the bottom and forks to a green node (the
// local side) and a blue one (the remote side).
var (
	bgTop    = rgb(0x33, 0x41, 0x55)
	bgBottom = rgb(0x0f, 0x17, 0x2a)
	white    = rgb(0xf8, 0xfa, 0xfc)
	green    = rgb(0x34, 0xd3, 0x99) // local
	blue     = rgb(0x60, 0xa5, 0xfa) // remote
)

type vec struct{ x, y float64 }

var (
	source = vec{0.5, 0.80}
	fork   = vec{0.5, 0.56}
	left   = vec{0.27, 0.31}
	right  = vec{0.73, 0.31}
)

const (
	margin    = 0.06  // empty border around the square
	corner    = 0.22  // corner radius of the square
	lineWidth = 0.085 // route stroke
	nodeR     = 0.105 // radius of the two end nodes
	ringW     = 0.045 // white ring around the end nodes
	sourceR   = 0.07  // radius of the source dot
)

// sample returns the colour at (x, y) as premultiplied RGBA in 0..1.
func sample(x, y float64) (r, g, b, a float64) {
	p := vec{x, y}
	if sdRoundBox(p, vec{0.5, 0.5}, 0.5-margin, corner) > 0 {
		return 0, 0, 0, 0
	}
	t := (y - margin) / (1 - 2*margin)
	c := mix(bgTop, bgBottom, t)
	route := math.Min(sdSegment(p, source, fork), math.Min(sdSegment(p, fork, left), sdSegment(p, fork, right)))
	if route < lineWidth/2 || dist(p, source) < sourceR {
		c = white
	}
	for _, n := range []struct {
		at  vec
		col [3]float64
	}{{left, green}, {right, blue}} {
		d := dist(p, n.at)
		switch {
		case d < nodeR:
			c = n.col
		case d < nodeR+ringW:
			c = white
		}
	}
	return c[0], c[1], c[2], 1
}

// draw renders the icon at n×n pixels with 8×8 samples per pixel.
func draw(n int) *image.NRGBA {
	const ss = 8
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for py := 0; py < n; py++ {
		for px := 0; px < n; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(n)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(n)
					sr, sg, sb, sa := sample(x, y)
					r, g, b, a = r+sr*sa, g+sg*sa, b+sb*sa, a+sa
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: to8(r / a), G: to8(g / a), B: to8(b / a), A: to8(a / ss / ss),
			})
		}
	}
	return img
}

func rgb(r, g, b uint8) [3]float64 {
	return [3]float64{float64(r) / 255, float64(g) / 255, float64(b) / 255}
}

func mix(a, b [3]float64, t float64) [3]float64 {
	t = math.Max(0, math.Min(1, t))
	return [3]float64{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

func to8(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(1, v)) * 255)) }

func dist(a, b vec) float64 { return math.Hypot(a.x-b.x, a.y-b.y) }

// sdSegment is the distance from p to the segment ab.
func sdSegment(p, a, b vec) float64 {
	px, py := p.x-a.x, p.y-a.y
	bx, by := b.x-a.x, b.y-a.y
	h := math.Max(0, math.Min(1, (px*bx+py*by)/(bx*bx+by*by)))
	return math.Hypot(px-bx*h, py-by*h)
}

// sdRoundBox is the signed distance from p to a square of half-side half
// centred on c with corners rounded by radius r (negative inside).
func sdRoundBox(p, c vec, half, r float64) float64 {
	qx := math.Abs(p.x-c.x) - half + r
	qy := math.Abs(p.y-c.y) - half + r
	return math.Hypot(math.Max(qx, 0), math.Max(qy, 0)) + math.Min(math.Max(qx, qy), 0) - r
}

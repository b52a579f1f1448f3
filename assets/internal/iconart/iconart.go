// Package iconart draws LocalRouter's tray icons and encodes them as the files
// under assets/icons (written by `go generate ./assets`, see
// assets/internal/genicons). It uses the standard library only.
//
// Each state has a silhouette that differs from the others even in one
// colour: local is a laptop, remote a cloud, mock a ghost, error a
// warning triangle. The colour icons fill the silhouette with the state's
// colour inside a dark outline, so they read on light panels (the outline)
// and on dark ones (the fill); the macOS template icons are the black
// silhouette with the inner details cut out. The Linux PNG is stored with
// 16-bit channels to get anti-aliased edges through fyne.io/systray intact
// (see ForSystray).
package iconart

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// States are the tray states that have an icon.
var States = []string{"local", "remote", "mock", "error"}

// Sizes of the generated images, in pixels.
const (
	// LinuxSize is the side of the colour PNG handed to the StatusNotifierItem
	// host, which scales it to the panel (16–24 px usually, 2:1 for 16).
	LinuxSize = 32
	// TemplateSize is the side of the macOS template PNG: fyne.io/systray
	// shows it at 16×16 points, so 32 px is exact on Retina displays and a
	// clean 2:1 reduction otherwise.
	TemplateSize = 32
)

// ICOSizes are the entries of each Windows .ico. fyne.io/systray loads it
// with LoadImage(LR_DEFAULTSIZE), which picks the system's large-icon size
// (32 px at 100 %, 40 at 125 %, 48 at 150 %) and the shell scales that to the
// tray; the small sizes serve other users of the file.
var ICOSizes = []int{16, 20, 24, 32, 40, 48}

// File names under assets/icons.
func PNGName(state string) string      { return state + ".png" }
func ICOName(state string) string      { return state + ".ico" }
func TemplateName(state string) string { return state + "-template.png" }

var (
	outlineColor = color.NRGBA{0x1c, 0x20, 0x26, 0xff}
	detailColor  = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	black        = color.NRGBA{0, 0, 0, 0xff}
	clear        = color.NRGBA{}
)

// glyph is one state's drawing in design units (a 32×32 box).
type glyph struct {
	body   shape       // the silhouette
	detail shape       // drawn white in colour, cut out of the template; may be nil
	fill   color.NRGBA // the state's colour
}

func glyphFor(state string) glyph {
	switch state {
	case "local":
		// A laptop: screen with a bezel around the display, on a wider base.
		screen := roundRect(5, 6, 27, 22.5, 2.5)
		base := roundRect(1, 21.5, 31, 26, 1.75)
		return glyph{
			body:   union(screen, base),
			detail: roundRect(8.5, 9.5, 23.5, 19, 1),
			fill:   color.NRGBA{0x2d, 0xa4, 0x4e, 0xff},
		}
	case "remote":
		// A cloud: three puffs on a flat bottom.
		puffs := union(
			circle(9, 19.5, 6.5),
			circle(17, 14, 9),
			circle(24, 19, 6.5),
			roundRect(2.5, 17, 30.5, 26, 4.5),
		)
		return glyph{
			body: intersect(puffs, halfPlaneAbove(26)),
			fill: color.NRGBA{0x2f, 0x81, 0xf7, 0xff},
		}
	case "mock":
		// A ghost: no real model is answering.
		head := circle(16, 14, 10)
		skirt := roundRect(6, 14, 26, 28, 0.5)
		feet := union(circle(12.67, 28.6, 2.4), circle(19.33, 28.6, 2.4))
		body := subtract(union(head, skirt), feet)
		eyes := union(capsule(12.3, 12, 12.3, 15.5, 2.1), capsule(19.7, 12, 19.7, 15.5, 2.1))
		return glyph{
			body:   body,
			detail: eyes,
			fill:   color.NRGBA{0xa3, 0x71, 0xf7, 0xff},
		}
	default: // "error"
		// A warning triangle with an exclamation mark.
		tri := grow(polygon(16, 5.5, 28.5, 26, 3.5, 26), 1.75)
		bang := union(capsule(16, 12, 16, 18.5, 1.8), circle(16, 23, 1.9))
		return glyph{
			body:   tri,
			detail: bang,
			fill:   color.NRGBA{0xe5, 0x48, 0x4d, 0xff},
		}
	}
}

// layer paints col wherever in is inside; later layers cover earlier ones.
type layer struct {
	in  shape
	col color.NRGBA
}

// outlineWidth is the outline's width in design units for a size-px image:
// one pixel at 16 and 20 px, growing slowly above.
func outlineWidth(size int) float64 {
	px := math.Max(1, float64(size)/20)
	return px * 32 / float64(size)
}

func colourLayers(g glyph, size int) []layer {
	ls := []layer{
		{grow(g.body, outlineWidth(size)), outlineColor},
		{g.body, g.fill},
	}
	if g.detail != nil {
		ls = append(ls, layer{g.detail, detailColor})
	}
	return ls
}

func templateLayers(g glyph) []layer {
	ls := []layer{{g.body, black}}
	if g.detail != nil {
		ls = append(ls, layer{g.detail, clear})
	}
	return ls
}

// supersample is the number of samples per pixel along each axis.
const supersample = 8

// rasterize renders the layers into a size×size image, anti-aliased by
// averaging supersample² samples per pixel (premultiplied, integer sums).
func rasterize(ls []layer, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	den := float64(2 * supersample * size)
	n := supersample * supersample
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var sa, sr, sg, sb int
			for j := 0; j < supersample; j++ {
				y := float64(32*(2*(py*supersample+j)+1)) / den
				for i := 0; i < supersample; i++ {
					x := float64(32*(2*(px*supersample+i)+1)) / den
					c := clear
					for _, l := range ls {
						if l.in(x, y) < 0 {
							c = l.col
						}
					}
					a := int(c.A)
					sa += a
					sr += int(c.R) * a
					sg += int(c.G) * a
					sb += int(c.B) * a
				}
			}
			if sa == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8((sr + sa/2) / sa),
				G: uint8((sg + sa/2) / sa),
				B: uint8((sb + sa/2) / sa),
				A: uint8((sa + n/2) / n),
			})
		}
	}
	return img
}

// Colour renders state's colour icon at size px.
func Colour(state string, size int) *image.NRGBA {
	return rasterize(colourLayers(glyphFor(state), size), size)
}

// Template renders state's macOS template icon (black and alpha) at size px.
func Template(state string, size int) *image.NRGBA {
	return rasterize(templateLayers(glyphFor(state)), size)
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// EncodeICO writes a Windows icon file holding one PNG-compressed entry per
// image (supported since Windows Vista). Images must be at most 256 px.
func EncodeICO(imgs []image.Image) ([]byte, error) {
	const dirLen, entryLen = 6, 16
	var head, body bytes.Buffer
	le := binary.LittleEndian
	head.Write(le.AppendUint16(nil, 0))                 // reserved
	head.Write(le.AppendUint16(nil, 1))                 // type: icon
	head.Write(le.AppendUint16(nil, uint16(len(imgs)))) // count
	offset := dirLen + entryLen*len(imgs)
	for _, img := range imgs {
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if w < 1 || h < 1 || w > 256 || h > 256 {
			return nil, fmt.Errorf("ico: image %d×%d out of range", w, h)
		}
		data := encodePNG(img)
		head.WriteByte(byte(w)) // 256 is written as 0
		head.WriteByte(byte(h))
		head.WriteByte(0)                    // colours in palette: none
		head.WriteByte(0)                    // reserved
		head.Write(le.AppendUint16(nil, 1))  // colour planes
		head.Write(le.AppendUint16(nil, 32)) // bits per pixel
		head.Write(le.AppendUint32(nil, uint32(len(data))))
		head.Write(le.AppendUint32(nil, uint32(offset)))
		body.Write(data)
		offset += len(data)
	}
	return append(head.Bytes(), body.Bytes()...), nil
}

// Files returns every file of assets/icons by name.
func Files() map[string][]byte {
	files := map[string][]byte{}
	for _, s := range States {
		files[PNGName(s)] = encodePNG(ForSystray(Colour(s, LinuxSize)))
		files[TemplateName(s)] = encodePNG(Template(s, TemplateSize))
		var imgs []image.Image
		for _, n := range ICOSizes {
			imgs = append(imgs, Colour(s, n))
		}
		ico, err := EncodeICO(imgs)
		if err != nil {
			panic(err) // the sizes above are all in range
		}
		files[ICOName(s)] = ico
	}
	return files
}

// Write writes Files into dir, which must exist.
func Write(dir string) error {
	files := Files()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

package iconart

import (
	"image"
	"image/color"
	"image/draw"
)

// Preview backgrounds: a light and a dark panel.
var (
	lightPanel = color.NRGBA{0xee, 0xee, 0xee, 0xff}
	darkPanel  = color.NRGBA{0x2b, 0x2b, 0x2b, 0xff}
)

// Preview renders a sheet for checking legibility by eye: one row per state;
// on a light and on a dark panel, the Linux PNG as a host scales it to 16, 22
// and 24 px, the ICO's native 16, 20 and 24 px entries, and the template at
// 16, 22 and 24 px (black on light, white on dark, as macOS shows it).
// zoom > 1 enlarges the sheet with nearest-neighbour pixels.
func Preview(zoom int) *image.NRGBA {
	const cell, gap = 28, 8
	sizes := []int{16, 22, 24}
	icoSizes := []int{16, 20, 24}
	cols := 2 * (len(sizes) + len(icoSizes) + len(sizes))
	w := cols*cell + 5*gap
	h := len(States) * cell
	sheet := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for row, s := range States {
		x := 0
		for _, bg := range []color.NRGBA{lightPanel, darkPanel} {
			var icons []image.Image
			big := Colour(s, LinuxSize)
			for _, n := range sizes {
				icons = append(icons, resample(big, n))
			}
			for _, n := range icoSizes {
				icons = append(icons, Colour(s, n))
			}
			for _, n := range sizes {
				t := resample(Template(s, TemplateSize), n)
				if bg == darkPanel {
					t = recolour(t, color.NRGBA{0xff, 0xff, 0xff, 0xff})
				}
				icons = append(icons, t)
			}
			for i, ic := range icons {
				if i == len(sizes) || i == len(sizes)+len(icoSizes) {
					x += gap
				}
				r := image.Rect(x, row*cell, x+cell, (row+1)*cell)
				draw.Draw(sheet, r, image.NewUniform(bg), image.Point{}, draw.Src)
				b := ic.Bounds()
				off := image.Pt(x+(cell-b.Dx())/2, row*cell+(cell-b.Dy())/2)
				draw.Draw(sheet, b.Add(off), ic, b.Min, draw.Over)
				x += cell
			}
			x += gap
		}
	}
	if zoom <= 1 {
		return sheet
	}
	big := image.NewNRGBA(image.Rect(0, 0, w*zoom, h*zoom))
	for y := 0; y < h*zoom; y++ {
		for x := 0; x < w*zoom; x++ {
			big.SetNRGBA(x, y, sheet.NRGBAAt(x/zoom, y/zoom))
		}
	}
	return big
}

// recolour keeps img's alpha and paints every pixel c.
func recolour(img *image.NRGBA, c color.NRGBA) *image.NRGBA {
	out := image.NewNRGBA(img.Bounds())
	for i := 0; i < len(img.Pix); i += 4 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = c.R, c.G, c.B, img.Pix[i+3]
	}
	return out
}

// resample scales a square image to n×n by area averaging (premultiplied),
// roughly what a tray host does with an icon larger than its slot.
func resample(src *image.NRGBA, n int) *image.NRGBA {
	s := src.Bounds().Dx()
	dst := image.NewNRGBA(image.Rect(0, 0, n, n))
	scale := float64(s) / float64(n)
	// weights[d] lists (source index, weight) covering destination index d.
	type tap struct {
		i int
		w float64
	}
	weights := make([][]tap, n)
	for d := range n {
		lo, hi := float64(d)*scale, float64(d+1)*scale
		for i := int(lo); i < s && float64(i) < hi; i++ {
			a := max(lo, float64(i))
			b := min(hi, float64(i+1))
			if b > a {
				weights[d] = append(weights[d], tap{i, (b - a) / scale})
			}
		}
	}
	for dy := range n {
		for dx := range n {
			var r, g, b, a float64
			for _, ty := range weights[dy] {
				for _, tx := range weights[dx] {
					c := src.NRGBAAt(tx.i, ty.i)
					w := tx.w * ty.w * float64(c.A) / 255
					r += w * float64(c.R)
					g += w * float64(c.G)
					b += w * float64(c.B)
					a += w
				}
			}
			if a <= 0 {
				continue
			}
			dst.SetNRGBA(dx, dy, color.NRGBA{
				R: uint8(r/a + 0.5), G: uint8(g/a + 0.5), B: uint8(b/a + 0.5), A: uint8(a*255 + 0.5),
			})
		}
	}
	return dst
}

package iconart

import (
	"image"
	"image/color"
)

// ForSystray returns img as a 16-bit image that fyne.io/systray (v1.12.2)
// hands to a Linux/BSD tray host unchanged.
//
// systray turns the PNG into the StatusNotifierItem's ARGB32 pixmap with
// byte(c) for each c of color.RGBA(), i.e. the low byte of a 16-bit
// premultiplied value, while hosts read the pixmap as straight (not
// premultiplied) 8-bit ARGB. For opaque pixels that low byte is the colour;
// for the anti-aliased edge pixels it is noise, which xfce4-panel shows as
// green and pink fringes. So each semi-transparent pixel gets the 16-bit
// colour whose premultiplied value has the wanted 8-bit straight colour in
// its low byte and, as nearly as possible, the right premultiplied value in
// its high byte. Systray then sends exactly img's pixels, and any correct
// decoder sees colours off by about 255/alpha levels, i.e. at most about one
// level once composited. Opaque and transparent pixels are exact either way.
func ForSystray(img *image.NRGBA) *image.NRGBA64 {
	b := img.Bounds()
	out := image.NewNRGBA64(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.NRGBAAt(x, y)
			a16 := uint32(c.A) * 0x101
			out.SetNRGBA64(x, y, color.NRGBA64{
				R: channel16(c.R, a16), G: channel16(c.G, a16), B: channel16(c.B, a16), A: uint16(a16),
			})
		}
	}
	return out
}

// channel16 is the straight 16-bit value v for a channel whose 8-bit
// straight value should be c8 at alpha a16, such that the premultiplied
// value color.NRGBA64.RGBA computes, v*a16/0xffff, has c8 as its low byte.
func channel16(c8 uint8, a16 uint32) uint16 {
	if a16 == 0 {
		return 0
	}
	if a16 == 0xffff {
		return uint16(c8) * 0x101
	}
	ideal := uint32(c8) * 0x101 * a16 / 0xffff // the true premultiplied value
	best, bestDist := uint32(0), uint32(1<<31)
	for h := int(ideal>>8) - 1; h <= int(ideal>>8)+1; h++ {
		if h < 0 {
			continue
		}
		p := uint32(h)<<8 | uint32(c8)
		if p > a16 {
			continue
		}
		d := max(p, ideal) - min(p, ideal)
		if d < bestDist {
			best, bestDist = p, d
		}
	}
	// The smallest v with v*a16/0xffff >= best; since a16 <= 0xffff each
	// step of v moves the quotient by at most one, so it lands on best.
	v := (best*0xffff + a16 - 1) / a16
	return uint16(min(v, 0xffff))
}

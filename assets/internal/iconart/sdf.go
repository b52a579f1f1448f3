package iconart

import "math"

// A shape is a signed distance field in design units (a 32×32 box, y down):
// negative inside, positive outside, zero on the edge. Offsetting a shape by
// r (grow) is d-r, which is how outlines are made.
//
// Floating-point note: the generated PNGs are compared byte for byte with the
// committed ones (assets/icons_test.go), on every architecture. Go may fuse
// x*y+z into one FMA instruction on arm64, ppc64 and s390x, which rounds
// differently from amd64 and can flip a sample that lies on an edge. Every
// product below that is added to something is therefore wrapped in an
// explicit float64(...) conversion, which the language spec says prevents
// fusion; only math.Sqrt (correctly rounded everywhere) is used from math,
// no trigonometry.
type shape func(x, y float64) float64

// mul is a product that is never fused into a following addition.
func mul(a, b float64) float64 { return float64(a * b) }

func length(x, y float64) float64 { return math.Sqrt(mul(x, x) + mul(y, y)) }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func circle(cx, cy, r float64) shape {
	return func(x, y float64) float64 { return length(x-cx, y-cy) - r }
}

// roundRect is the rectangle [x0,x1]×[y0,y1] with corners rounded by r.
func roundRect(x0, y0, x1, y1, r float64) shape {
	cx, cy := (x0+x1)/2, (y0+y1)/2
	hx, hy := (x1-x0)/2, (y1-y0)/2
	return func(x, y float64) float64 {
		qx := math.Abs(x-cx) - hx + r
		qy := math.Abs(y-cy) - hy + r
		return length(math.Max(qx, 0), math.Max(qy, 0)) + math.Min(math.Max(qx, qy), 0) - r
	}
}

// capsule is the segment a–b thickened by r on every side (round caps).
func capsule(ax, ay, bx, by, r float64) shape {
	ex, ey := bx-ax, by-ay
	ee := mul(ex, ex) + mul(ey, ey)
	return func(x, y float64) float64 {
		wx, wy := x-ax, y-ay
		h := clamp((mul(wx, ex)+mul(wy, ey))/ee, 0, 1)
		return length(wx-mul(ex, h), wy-mul(ey, h)) - r
	}
}

// polygon is the exact signed distance to a simple polygon given by its
// vertices (x0, y0, x1, y1, ...).
func polygon(v ...float64) shape {
	n := len(v) / 2
	return func(x, y float64) float64 {
		d := mul(x-v[0], x-v[0]) + mul(y-v[1], y-v[1])
		s := 1.0
		for i, j := 0, n-1; i < n; j, i = i, i+1 {
			vix, viy := v[2*i], v[2*i+1]
			vjx, vjy := v[2*j], v[2*j+1]
			ex, ey := vjx-vix, vjy-viy
			wx, wy := x-vix, y-viy
			h := clamp((mul(wx, ex)+mul(wy, ey))/(mul(ex, ex)+mul(ey, ey)), 0, 1)
			bx, by := wx-mul(ex, h), wy-mul(ey, h)
			d = math.Min(d, mul(bx, bx)+mul(by, by))
			c1 := y >= viy
			c2 := y < vjy
			c3 := mul(ex, wy) > mul(ey, wx)
			if (c1 && c2 && c3) || (!c1 && !c2 && !c3) {
				s = -s
			}
		}
		return s * math.Sqrt(d)
	}
}

func union(s ...shape) shape {
	return func(x, y float64) float64 {
		d := s[0](x, y)
		for _, t := range s[1:] {
			d = math.Min(d, t(x, y))
		}
		return d
	}
}

func intersect(a, b shape) shape {
	return func(x, y float64) float64 { return math.Max(a(x, y), b(x, y)) }
}

func subtract(a, b shape) shape {
	return func(x, y float64) float64 { return math.Max(a(x, y), -b(x, y)) }
}

// grow offsets a shape outwards by r (inwards for a negative r).
func grow(a shape, r float64) shape {
	return func(x, y float64) float64 { return a(x, y) - r }
}

// halfPlaneAbove is y <= y0 (everything from the line y0 up).
func halfPlaneAbove(y0 float64) shape {
	return func(_, y float64) float64 { return y - y0 }
}

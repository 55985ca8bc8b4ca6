package synth

import "math"

// gradients are 256 unit vectors at equal angles; a lattice point's gradient
// is picked by a hash of its coordinates, so the noise needs no table of its
// own and is defined everywhere (rotated coordinates leave [0, res)).
var gradients = func() (g [256][2]float64) {
	for k := range g {
		a := 2 * math.Pi * float64(k) / 256
		g[k] = [2]float64{math.Cos(a), math.Sin(a)}
	}
	return g
}()

func grad(key uint64, ix, iy int64) *[2]float64 {
	h := mix64(key ^ uint64(ix)*0x9e3779b97f4a7c15 ^ uint64(iy)*0xc2b2ae3d27d4eb4f)
	return &gradients[h>>56]
}

// perlin is 2D gradient noise at (x, y), lattice spacing 1, scaled by sqrt(2)
// as DRAEM's rand_perlin_2d_np is (so it spans about [-1, 1]), with the
// quintic fade 6t^5 - 15t^4 + 10t^3.
func perlin(key uint64, x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int64(x0), int64(y0)
	g00 := grad(key, ix, iy)
	g10 := grad(key, ix+1, iy)
	g01 := grad(key, ix, iy+1)
	g11 := grad(key, ix+1, iy+1)
	n00 := g00[0]*fx + g00[1]*fy
	n10 := g10[0]*(fx-1) + g10[1]*fy
	n01 := g01[0]*fx + g01[1]*(fy-1)
	n11 := g11[0]*(fx-1) + g11[1]*(fy-1)
	u := fx * fx * fx * (fx*(fx*6-15) + 10)
	v := fy * fy * fy * (fy*(fy*6-15) + 10)
	a := n00 + u*(n10-n00)
	b := n01 + u*(n11-n01)
	return math.Sqrt2 * (a + v*(b-a))
}

// field is Perlin noise laid over a W x H image: resX x resY lattice cells
// across it, rotated by an angle about the image centre.
type field struct {
	key      uint64
	sx, sy   float64 // lattice cells per pixel along x and y
	cos, sin float64
	cx, cy   float64 // image centre
}

func newField(key uint64, W, H int, resX, resY, angle float64) field {
	return field{
		key: key, sx: resX / float64(W), sy: resY / float64(H),
		cos: math.Cos(angle), sin: math.Sin(angle),
		cx: float64(W) / 2, cy: float64(H) / 2,
	}
}

// at is the noise at pixel (x, y)'s centre.
func (f *field) at(x, y int) float64 {
	dx, dy := float64(x)+0.5-f.cx, float64(y)+0.5-f.cy
	rx := f.cos*dx - f.sin*dy + f.cx
	ry := f.sin*dx + f.cos*dy + f.cy
	return perlin(f.key, rx*f.sx, ry*f.sy)
}

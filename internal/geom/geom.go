// Package geom holds the resampling arithmetic shared by preprocessing, the
// feature aggregation, the anomaly maps, ground-truth masks and the ONNX
// Resize operator, so that each convention is written once:
//
//   - CropOffset: torchvision's center-crop offset;
//   - Taps / HalfPixelTaps: linear interpolation taps with the
//     align_corners=false ("half pixel") source coordinate of torch's
//     interpolate and ONNX Resize;
//   - NearestPIL: the source index of PIL's NEAREST resize.
package geom

import "math"

// CropOffset is the offset of a center crop of c samples from an axis of n,
// as torchvision's center_crop: round((n - c) / 2) with Python's rounding
// (halves to even). When c > n torchvision pads with zeros first; the
// offset is then negative: -((c - n) / 2).
func CropOffset(n, c int) int {
	if c > n {
		return -((c - n) / 2)
	}
	d := n - c
	k := d / 2
	if d%2 == 1 && k%2 == 1 { // k + 0.5 rounds to the even neighbour
		k++
	}
	return k
}

// Tap is one output sample of linear interpolation: I0 and I1 are the two
// source samples (equal at the edges) and W is the weight of I1, so the
// value is s[I0] + (s[I1]-s[I0])*W, or (1-W)*s[I0] + W*s[I1].
type Tap struct {
	I0, I1 int
	W      float32
}

// LinearTap returns the tap of source coordinate c on an axis of n samples
// (sample i centred at coordinate i), clamped to [0, n-1].
func LinearTap(c float64, n int) Tap {
	c = min(max(c, 0), float64(n-1))
	i0 := int(math.Floor(c))
	return Tap{I0: i0, I1: min(i0+1, n-1), W: float32(c - float64(i0))}
}

// HalfPixelTaps returns the taps of out output samples over n source
// samples whose source coordinate is (o + 0.5) * scale - 0.5 - shift: with
// scale = n/out and shift 0 this is torch's interpolate(mode="bilinear",
// align_corners=False) and ONNX Resize's half_pixel; shift moves the output
// window (a crop offset in source samples).
func HalfPixelTaps(n, out int, scale, shift float64) []Tap {
	t := make([]Tap, out)
	for o := range t {
		t[o] = LinearTap((float64(o)+0.5)*scale-0.5-shift, n)
	}
	return t
}

// NearestPIL returns, for each of out output samples, the source index that
// PIL's Image.resize(..., NEAREST) samples from an axis of n: the output
// centre mapped back, floor((x + 0.5) * n/out), computed as PIL does (start
// at 0.5*scale, add scale per sample, in float64, truncate) so that ties at
// exact integers fall the same way.
func NearestPIL(n, out int) []int {
	idx := make([]int, out)
	scale := float64(n) / float64(out)
	xo := scale * 0.5
	for x := range idx {
		idx[x] = min(max(int(xo), 0), n-1)
		xo += scale
	}
	return idx
}

// BilinearRows fills rows [ylo, yhi) of dst (len(xs) wide) by bilinear
// interpolation of src (rows sw wide) at the taps xs (along x) and ys
// (along y): out = a + (b-a)*wy with a, b the two source rows interpolated
// along x as s[I0] + (s[I1]-s[I0])*wx.
func BilinearRows(dst, src []float32, sw int, xs, ys []Tap, ylo, yhi int) {
	ow := len(xs)
	for y := ylo; y < yhi; y++ {
		ty := ys[y]
		r0, r1 := src[ty.I0*sw:(ty.I0+1)*sw], src[ty.I1*sw:(ty.I1+1)*sw]
		out := dst[y*ow : (y+1)*ow]
		for x, tx := range xs {
			a := r0[tx.I0] + (r0[tx.I1]-r0[tx.I0])*tx.W
			b := r1[tx.I0] + (r1[tx.I1]-r1[tx.I0])*tx.W
			out[x] = a + (b-a)*ty.W
		}
	}
}

package pni

import (
	"math"

	"github.com/x/pni/internal/kernels"
)

// resizeBilinear resamples the h x w grid src to oh x ow with bilinear
// interpolation and align_corners=false (torch.nn.functional.interpolate's
// convention: source coordinate (dst+0.5)*scale-0.5, clamped at the edges).
func resizeBilinear(src []float32, h, w, oh, ow int) []float32 {
	dst := make([]float32, oh*ow)
	xs0, xs1, xw := axisWeights(ow, w, float64(w)/float64(ow))
	ys0, ys1, yw := axisWeights(oh, h, float64(h)/float64(oh))
	for y := 0; y < oh; y++ {
		r0, r1 := src[ys0[y]*w:(ys0[y]+1)*w], src[ys1[y]*w:(ys1[y]+1)*w]
		out := dst[y*ow : (y+1)*ow]
		for x := range out {
			a := r0[xs0[x]] + (r0[xs1[x]]-r0[xs0[x]])*xw[x]
			b := r1[xs0[x]] + (r1[xs1[x]]-r1[xs0[x]])*xw[x]
			out[x] = a + (b-a)*yw[y]
		}
	}
	return dst
}

// axisWeights gives, for each of the on output samples along an axis of n
// input samples, the two input indices and the weight of the second.
func axisWeights(on, n int, scale float64) (i0, i1 []int, wt []float32) {
	i0, i1, wt = make([]int, on), make([]int, on), make([]float32, on)
	for x := 0; x < on; x++ {
		f := (float64(x)+0.5)*scale - 0.5
		if f < 0 {
			f = 0
		}
		a := int(f)
		if a > n-1 {
			a = n - 1
		}
		i0[x], i1[x], wt[x] = a, min(a+1, n-1), float32(f-float64(a))
	}
	return i0, i1, wt
}

// gaussianBlur filters the h x w image in place with a Gaussian of the given
// sigma, as scipy.ndimage.gaussian_filter(sigma, truncate=4, mode="reflect")
// does (the kernel radius is int(4*sigma+0.5); reflection repeats the edge
// sample: d c b a | a b c d).
func gaussianBlur(img []float32, h, w int, sigma float64) {
	if sigma <= 0 {
		return
	}
	r := int(4*sigma + 0.5)
	k := make([]float64, 2*r+1)
	sum := 0.0
	for i := -r; i <= r; i++ {
		v := math.Exp(-0.5 * float64(i*i) / (sigma * sigma))
		k[i+r] = v
		sum += v
	}
	for i := range k {
		k[i] /= sum
	}
	// Rows: each row is extended by reflection into line, then filtered.
	kernels.Parallel(h, func(lo, hi int) {
		line := make([]float64, w+2*r)
		for y := lo; y < hi; y++ {
			row := img[y*w : (y+1)*w]
			for i := range line {
				line[i] = float64(row[reflect(i-r, w)])
			}
			for i := range row {
				s := 0.0
				for j, kv := range k {
					s += kv * line[i+j]
				}
				row[i] = float32(s)
			}
		}
	})
	// Columns: every output row is a weighted sum of whole input rows
	// (reflected at the edges), accumulated row by row; the input is read
	// from a copy because the output overwrites it.
	src := make([]float32, len(img))
	copy(src, img)
	kernels.Parallel(h, func(lo, hi int) {
		acc := make([]float64, w)
		for y := lo; y < hi; y++ {
			clear(acc)
			for j, kv := range k {
				in := src[reflect(y+j-r, h)*w:][:w]
				for x, v := range in {
					acc[x] += kv * float64(v)
				}
			}
			out := img[y*w : (y+1)*w]
			for x, v := range acc {
				out[x] = float32(v)
			}
		}
	})
}

// reflect maps i into [0, n) by half-sample symmetric reflection.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * n
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - 1 - i
	}
	return i
}

// toOriginal resamples a map computed on the network input (the resized
// image, center-cropped to cw x ch) back to the original image's size ow x oh.
// Pixels outside the crop take the value of the nearest map edge.
func toOriginal(m []float32, mw, mh, resW, resH, ow, oh int) []float32 {
	offX, offY := float64(resW-mw)/2, float64(resH-mh)/2
	offX, offY = math.RoundToEven(offX), math.RoundToEven(offY) // torchvision CenterCrop
	dst := make([]float32, ow*oh)
	sx, sy := float64(resW)/float64(ow), float64(resH)/float64(oh)
	kernels.Parallel(oh, func(ylo, yhi int) {
		resampleRows(m, dst, mw, mh, ow, ylo, yhi, sx, sy, offX, offY)
	})
	return dst
}

// resampleRows fills rows [ylo, yhi) of toOriginal's output.
func resampleRows(m, dst []float32, mw, mh, ow, ylo, yhi int, sx, sy, offX, offY float64) {
	clampf := func(v float64, hi int) float64 { return math.Max(0, math.Min(v, float64(hi-1))) }
	x0s, x1s, wxs := make([]int, ow), make([]int, ow), make([]float32, ow)
	for x := range ow {
		fx := clampf((float64(x)+0.5)*sx-0.5-offX, mw)
		x0s[x] = int(fx)
		x1s[x] = min(x0s[x]+1, mw-1)
		wxs[x] = float32(fx - float64(x0s[x]))
	}
	for y := ylo; y < yhi; y++ {
		fy := clampf((float64(y)+0.5)*sy-0.5-offY, mh)
		y0 := int(fy)
		y1 := min(y0+1, mh-1)
		wy := float32(fy - float64(y0))
		r0, r1 := m[y0*mw:(y0+1)*mw], m[y1*mw:(y1+1)*mw]
		out := dst[y*ow : (y+1)*ow]
		for x, x0 := range x0s {
			x1, wx := x1s[x], wxs[x]
			a := r0[x0] + (r0[x1]-r0[x0])*wx
			b := r1[x0] + (r1[x1]-r1[x0])*wx
			out[x] = a + (b-a)*wy
		}
	}
}

package pni

import (
	"math"

	"github.com/x/pni/internal/geom"

	"github.com/x/pni/internal/kernels"
)

// resizeBilinear resamples the h x w grid src to oh x ow with bilinear
// interpolation and align_corners=false (torch.nn.functional.interpolate's
// convention: source coordinate (dst+0.5)*scale-0.5, clamped at the edges).
func resizeBilinear(src []float32, h, w, oh, ow int) []float32 {
	dst := make([]float32, oh*ow)
	xs := geom.HalfPixelTaps(w, ow, float64(w)/float64(ow), 0)
	ys := geom.HalfPixelTaps(h, oh, float64(h)/float64(oh), 0)
	geom.BilinearRows(dst, src, w, xs, ys, 0, oh)
	return dst
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
				line[i] = float64(row[mirror(i-r, w)])
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
				in := src[mirror(y+j-r, h)*w:][:w]
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

// mirror maps i into [0, n) by half-sample symmetric reflection.
func mirror(i, n int) int {
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

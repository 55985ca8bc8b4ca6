package backbone

import (
	"math"

	"github.com/x/pni/internal/kernels"
)

// This file is the antialiased bilinear resize of PIL (Image.resize with
// Image.BILINEAR, which torchvision's Resize uses on PIL images) and of
// torch.nn.functional.interpolate(mode="bilinear", antialias=True), written
// from the algorithm Pillow documents in libImaging/Resample.c: a separable
// triangle filter whose support widens with the downscale factor, applied
// horizontally then vertically. It works on real values, as torch does on a
// float image; PIL on an 8-bit image also rounds to 8 bits after each pass,
// which moves a pixel by at most one level.

// pilAxis holds the resampling weights of one axis: output pixel i reads the
// n[i] input pixels from start[i] with weights w[i*ksize:].
type pilAxis struct {
	start, n []int
	w        []float32
	ksize    int
}

// newPILAxis computes the weights that resize inSize pixels to outSize
// (Pillow's precompute_coeffs for the bilinear filter over the whole axis).
func newPILAxis(inSize, outSize int) *pilAxis {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := filterScale // the bilinear filter's support is 1
	ksize := int(math.Ceil(support))*2 + 1
	ax := &pilAxis{start: make([]int, outSize), n: make([]int, outSize), w: make([]float32, outSize*ksize), ksize: ksize}
	ss := 1 / filterScale
	wts := make([]float64, ksize)
	for i := range outSize {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0) // int() truncates toward zero, as C's cast
		hi := min(int(center+support+0.5), inSize)
		n := hi - lo
		sum := 0.0
		for x := range n {
			v := math.Abs((float64(x+lo) - center + 0.5) * ss)
			v = max(1-v, 0)
			wts[x] = v
			sum += v
		}
		for x := range n {
			if sum != 0 {
				wts[x] /= sum
			}
			ax.w[i*ksize+x] = float32(wts[x])
		}
		ax.start[i], ax.n[i] = lo, n
	}
	return ax
}

// window is the part of the resized image that is kept: columns x0..x0+w and
// rows y0..y0+h of a rw x rh resize.
type window struct{ rw, rh, x0, y0, w, h int }

// resampleF resizes one plane (sw pixels wide, row-major) with the axes'
// weights ax (sw -> win.rw) and ay (source height -> win.rh) and returns the
// window's w x h pixels. Only the rows and columns the window needs are
// computed.
func resampleF(src []float32, sw int, win window, ax, ay *pilAxis) []float32 {
	rowLo := ay.start[win.y0]
	rowHi := ay.start[win.y0+win.h-1] + ay.n[win.y0+win.h-1]
	w := win.w
	tmp := make([]float32, (rowHi-rowLo)*w)
	kernels.Parallel(rowHi-rowLo, func(a, b int) {
		for r := a; r < b; r++ {
			in := src[(rowLo+r)*sw : (rowLo+r+1)*sw]
			out := tmp[r*w : (r+1)*w]
			for x := range out {
				ox := win.x0 + x
				k := ax.w[ox*ax.ksize : ox*ax.ksize+ax.n[ox]]
				px := in[ax.start[ox] : ax.start[ox]+len(k)]
				s := float32(0)
				for t, c := range k {
					s += px[t] * c
				}
				out[x] = s
			}
		}
	})
	dst := make([]float32, win.h*w)
	kernels.Parallel(win.h, func(a, b int) {
		for y := a; y < b; y++ {
			oy := win.y0 + y
			out := dst[y*w : (y+1)*w]
			lo := ay.start[oy] - rowLo
			for t, c := range ay.w[oy*ay.ksize : oy*ay.ksize+ay.n[oy]] {
				row := tmp[(lo+t)*w : (lo+t+1)*w]
				for x, v := range row {
					out[x] += v * c
				}
			}
		}
	})
	return dst
}

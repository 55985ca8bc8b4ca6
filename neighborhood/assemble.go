package neighborhood

import "github.com/x/pni/internal/kernels"

// offsets returns the (dy, dx) offsets of the p×p window minus its centre in
// raster order: dy from −p/2 to p/2, and within each dy, dx from −p/2 to p/2.
func offsets(p int) [][2]int {
	h := p / 2
	offs := make([][2]int, 0, p*p-1)
	for dy := -h; dy <= h; dy++ {
		for dx := -h; dx <= h; dx++ {
			if dy == 0 && dx == 0 {
				continue
			}
			offs = append(offs, [2]int{dy, dx})
		}
	}
	return offs
}

// assemble writes, for each entry k of rows (k = image·h·w + y·w + x into the
// grid of images h×w×r), the concatenation of the standardised r-dim features
// of k's neighbours at offs ((v − mean)·scale; mean/scale nil mean identity),
// zeros for neighbours outside the grid. out receives len(rows) rows of
// len(offs)·r values.
func assemble(grid []float32, h, w, r int, offs [][2]int, mean, scale []float32, rows []int32, out []float32) {
	hw := h * w
	in := len(offs) * r
	kernels.Parallel(len(rows), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			k := int(rows[i])
			img, pos := k/hw, k%hw
			y, x := pos/w, pos%w
			base := img * hw
			dst := out[i*in : (i+1)*in]
			for o, d := range offs {
				seg := dst[o*r : (o+1)*r]
				yy, xx := y+d[0], x+d[1]
				if yy < 0 || yy >= h || xx < 0 || xx >= w {
					clear(seg)
					continue
				}
				src := grid[(base+yy*w+xx)*r : (base+yy*w+xx+1)*r]
				if mean == nil {
					copy(seg, src)
					continue
				}
				for j, v := range src {
					seg[j] = (v - mean[j]) * scale[j]
				}
			}
		}
	})
}

package position

import (
	"math"
	"slices"
	"sort"

	"github.com/x/pni/internal/errs"

	"github.com/x/pni/internal/kernels"
)

// ErrInvalidArgument matches (errors.Is) every error this package returns for
// bad arguments; it is the same value as pni.ErrInvalidArgument.
var ErrInvalidArgument = errs.ErrInvalidArgument

func badInput(format string, a ...any) error { return errs.Arg("position: "+format, a...) }

// Hist is p(c|x): for each grid position x (row-major over H x W), a sparse distribution over K bank elements.
//
// Row x holds the elements with a non-zero count at x: Idx[Off[x]:Off[x+1]] (sorted ascending)
// and their probabilities P[Off[x]:Off[x+1]] (summing to 1, or an empty row when no image was
// added).
type Hist struct {
	H, W, K, Radius int
	Off             []int32 // len H*W+1
	Idx             []int32
	P               []float32
}

// Builder accumulates counts image by image.
//
// Memory: it keeps each added image's H*W assignments (4 bytes per position per image: 2.9 MB for
// 200 images at a 60x60 grid) and applies the box at Build, instead of a dense H*W*K count table
// (98 MB at 60x60 with K = 6800, and 1 GB for a 10% bank at that grid). Build then needs one
// K-entry scratch counter per core.
type Builder struct {
	h, w, k, radius int
	assign          []int32 // images x (h*w)
	images          int
}

// NewBuilder returns a Builder for an h x w grid, k bank elements and box radius radius (>= 0;
// 0 counts each assignment only at its own position).
func NewBuilder(h, w, k, radius int) (*Builder, error) {
	switch {
	case h <= 0 || w <= 0:
		return nil, badInput("grid %dx%d; both sides must be positive", h, w)
	case k <= 0:
		return nil, badInput("k = %d bank elements; it must be positive", k)
	case k > math.MaxInt32:
		return nil, badInput("k = %d bank elements does not fit int32 indices", k)
	case radius < 0:
		return nil, badInput("radius = %d; use 0 or more (see DefaultRadius)", radius)
	case int64(h)*int64(w) > math.MaxInt32/4:
		return nil, badInput("grid %dx%d is too large", h, w)
	}
	return &Builder{h: h, w: w, k: k, radius: radius}, nil
}

// Add counts one image's H*W nearest-element indices (values in [0,K)): at x and every position within the
// (2r+1)^2 box around x (clipped to the grid), as the released code does.
// On error nothing is counted.
func (b *Builder) Add(assign []int32) error {
	hw := b.h * b.w
	if len(assign) != hw {
		return badInput("got %d assignments, want H*W = %d*%d = %d (one per grid position, row-major)",
			len(assign), b.h, b.w, hw)
	}
	for i, c := range assign {
		if c < 0 || int(c) >= b.k {
			return badInput("assignment %d at position %d is outside [0,%d)", c, i, b.k)
		}
	}
	b.assign = append(b.assign, assign...)
	b.images++
	return nil
}

// Images returns the number of images added so far.
func (b *Builder) Images() int { return b.images }

// Build returns the histogram of the images added so far: each position normalised to sum 1; sparse; Idx
// sorted per row. With no image added every row is empty. The Builder can keep accumulating
// afterwards.
//
// The count of element c at position x is the number of (image, position y) pairs with y in the
// (2r+1)^2 box around x (clipped to the grid) and assignment c at y; x's total is
// images * (number of grid positions in its clipped box).
func (b *Builder) Build() *Hist {
	h, w, k, rad := b.h, b.w, b.k, b.radius
	hw := h * w
	rows := make([][]int32, hw)   // per position: sorted distinct elements
	counts := make([][]int32, hw) // their counts
	kernels.Parallel(hw, func(lo, hi int) {
		cnt := make([]int32, k)
		var touched []int32
		for x := lo; x < hi; x++ {
			py, px := x/w, x%w
			y0, y1 := max(py-rad, 0), min(py+rad, h-1)
			x0, x1 := max(px-rad, 0), min(px+rad, w-1)
			touched = touched[:0]
			for img := 0; img < b.images; img++ {
				a := b.assign[img*hw : (img+1)*hw]
				for yy := y0; yy <= y1; yy++ {
					for _, c := range a[yy*w+x0 : yy*w+x1+1] {
						if cnt[c] == 0 {
							touched = append(touched, c)
						}
						cnt[c]++
					}
				}
			}
			slices.Sort(touched)
			rows[x] = slices.Clone(touched)
			cs := make([]int32, len(touched))
			for i, c := range touched {
				cs[i] = cnt[c]
				cnt[c] = 0
			}
			counts[x] = cs
		}
	})
	hist := &Hist{H: h, W: w, K: k, Radius: rad, Off: make([]int32, hw+1)}
	total := 0
	for x := range rows {
		total += len(rows[x])
		hist.Off[x+1] = int32(total)
	}
	hist.Idx = make([]int32, 0, total)
	hist.P = make([]float32, 0, total)
	for x := range rows {
		sum := int64(0)
		for _, c := range counts[x] {
			sum += int64(c)
		}
		for i, c := range counts[x] {
			hist.Idx = append(hist.Idx, rows[x][i])
			hist.P = append(hist.P, float32(float64(c)/float64(sum)))
		}
	}
	return hist
}

// Row returns position pos's elements (ascending) and their probabilities; both are views into
// the Hist. It returns nil slices for a position outside the grid.
func (h *Hist) Row(pos int) (idx []int32, p []float32) {
	if pos < 0 || pos+1 >= len(h.Off) {
		return nil, nil
	}
	lo, hi := h.Off[pos], h.Off[pos+1]
	return h.Idx[lo:hi], h.P[lo:hi]
}

// Prob returns p(c|x) for position pos (binary search in the row): 0 for an element absent from
// the row, and for a position outside the grid.
func (h *Hist) Prob(pos int, c int32) float32 {
	idx, p := h.Row(pos)
	i := sort.Search(len(idx), func(i int) bool { return idx[i] >= c })
	if i < len(idx) && idx[i] == c {
		return p[i]
	}
	return 0
}

// DefaultRadius returns the box radius for a grid gridW positions wide: r = 4 at a 60-wide grid
// (the released code's value), scaled: round(4*gridW/60), min 1 (-> 2 at 28).
func DefaultRadius(gridW int) int {
	return max(1, int(math.Round(4*float64(gridW)/60)))
}

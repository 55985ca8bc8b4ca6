package coreset

import (
	"context"
	"math"

	"github.com/x/pni/internal/knn"
)

// Stream selects a greedy coreset of a large training set in two levels, so
// that Fit never holds every patch feature and the work grows linearly with
// the number of images:
//
//  1. Add runs the greedy on one image's projected rows as they arrive and
//     keeps its first Oversample x Ratio x rows (the image's farthest-point
//     order: its most distinct patches) as candidates; the caller keeps only
//     their features.
//  2. Select runs the greedy over all the candidates to k rows. When there
//     are more than MaxUnion candidates, it runs on consecutive groups of
//     images of at most MaxUnion candidates each, every group taking its
//     share of k (proportional to its images' rows), and interleaves the
//     groups' orders by rank, so that the result's prefixes (C_dist) draw
//     on every group.
//
// The exact greedy (Greedy.Select over every row) is the reference; the
// package tests and the README report the k-center radius of both.
type Stream struct {
	// R is the projected row length.
	R int
	// Ratio is the coreset's share of all rows (as Size's ratio).
	Ratio float64
	// Oversample multiplies the candidates kept per image (0 means
	// DefaultOversample).
	Oversample float64
	// MaxUnion bounds the candidates one final greedy runs on (0 means
	// DefaultMaxUnion).
	MaxUnion int
	// Seed fixes the start rows of every greedy.
	Seed int64

	z      []float32 // candidates' projected rows
	images []int     // candidates per image (cumulative: images[i] = candidates of images 0..i)
	rows   []int     // rows per image
}

// Defaults of Stream's zero fields.
const (
	DefaultOversample = 3
	DefaultMaxUnion   = 1 << 17
)

// Add runs the first level on one image's n projected rows z (n x R) and
// returns the indices of the rows kept as candidates (in the image's greedy
// order). The caller keeps their full features in the same order.
func (s *Stream) Add(ctx context.Context, z []float32, n int) ([]int, error) {
	if s.R <= 0 || !(s.Ratio > 0 && s.Ratio <= 1) {
		return nil, badInput("Stream: R = %d, Ratio = %v: want R > 0 and a ratio in (0, 1]", s.R, s.Ratio)
	}
	over := s.Oversample
	if over <= 0 {
		over = DefaultOversample
	}
	m := min(n, int(math.Ceil(over*s.Ratio*float64(n))))
	var keep []int
	if m >= n {
		if err := checkArgs(len(z), n, s.R, n, "r"); err != nil {
			return nil, err
		}
		keep = make([]int, n)
		for i := range keep {
			keep[i] = i
		}
	} else {
		var err error
		g := Greedy{Seed: s.Seed + int64(len(s.rows))}
		if keep, err = g.SelectProjected(ctx, z, n, s.R, m); err != nil {
			return nil, err
		}
	}
	for _, i := range keep {
		s.z = append(s.z, z[i*s.R:(i+1)*s.R]...)
	}
	prev := 0
	if len(s.images) > 0 {
		prev = s.images[len(s.images)-1]
	}
	s.images = append(s.images, prev+len(keep))
	s.rows = append(s.rows, n)
	return keep, nil
}

// Candidates returns the number of candidates kept so far.
func (s *Stream) Candidates() int { return len(s.z) / max(s.R, 1) }

// Select runs the second level: the greedy over the candidates to k of
// them (k <= Candidates()), returned as candidate indices (the order in
// which Add kept them, image after image) in greedy order. progress, when
// not nil, is called with (selected, k).
func (s *Stream) Select(ctx context.Context, k int, progress func(done, total int)) ([]int, error) {
	nc := s.Candidates()
	if k <= 0 || k > nc {
		return nil, badInput("Stream.Select: k = %d with %d candidates; want 1 <= k <= candidates", k, nc)
	}
	maxU := s.MaxUnion
	if maxU <= 0 {
		maxU = DefaultMaxUnion
	}
	// Groups of consecutive images with at most maxU candidates each.
	type group struct{ lo, hi, rows int } // candidate range, rows of its images
	var groups []group
	start, startCand, rows := 0, 0, 0
	for i := range s.rows {
		end := s.images[i]
		if end-startCand > maxU && i > start {
			groups = append(groups, group{startCand, s.images[i-1], rows})
			start, startCand, rows = i, s.images[i-1], 0
		}
		rows += s.rows[i]
	}
	groups = append(groups, group{startCand, nc, rows})
	total := 0
	for _, g := range groups {
		total += g.rows
	}
	// Each group's share of k, by rows (largest remainders), capped by its candidates.
	shares := make([]int, len(groups))
	left := k
	for i, g := range groups {
		shares[i] = min(g.hi-g.lo, int(float64(k)*float64(g.rows)/float64(total)))
		left -= shares[i]
	}
	for left > 0 {
		moved := false
		for i, g := range groups {
			if left > 0 && shares[i] < g.hi-g.lo {
				shares[i]++
				left--
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	orders := make([][]int, len(groups))
	done := 0
	for i, g := range groups {
		n := g.hi - g.lo
		gs := Greedy{Seed: s.Seed, Progress: func(d, _ int) {
			if progress != nil {
				progress(done+d, k)
			}
		}}
		ord, err := gs.SelectProjected(ctx, s.z[g.lo*s.R:g.hi*s.R], n, s.R, shares[i])
		if err != nil {
			return nil, err
		}
		for j := range ord {
			ord[j] += g.lo
		}
		orders[i] = ord
		done += shares[i]
	}
	if len(orders) == 1 {
		return orders[0], nil
	}
	// Interleave by rank so that every prefix draws on every group.
	out := make([]int, 0, k)
	for rank := 0; len(out) < k; rank++ {
		for _, ord := range orders {
			if rank < len(ord) {
				out = append(out, ord[rank])
			}
		}
	}
	return out, nil
}

// Radius returns the k-center radius of the centres (rows of z, n x r,
// selected by idx): the largest distance of any row to its nearest
// centre. It is the quantity the greedy minimises (within a factor 2), and
// how the package compares selections. The nearest centres are found by
// an exact search.
func Radius(z []float32, n, r int, idx []int) (float32, error) {
	if len(idx) == 0 || len(z) < n*r {
		return 0, badInput("Radius: %d centres over %d rows of %d values (%d given)", len(idx), n, r, len(z))
	}
	cz := make([]float32, 0, len(idx)*r)
	for _, c := range idx {
		if c < 0 || c >= n {
			return 0, badInput("Radius: centre %d outside [0, %d)", c, n)
		}
		cz = append(cz, z[c*r:(c+1)*r]...)
	}
	ix, err := knn.Build(cz, len(idx), r, knnDim)
	if err != nil {
		return 0, err
	}
	nn := make([]int32, n)
	d2 := make([]float32, n)
	ix.Search(z[:n*r], n, nil, nn, d2)
	var worst float32
	for _, v := range d2 {
		worst = max(worst, v)
	}
	return float32(math.Sqrt(float64(worst))), nil
}

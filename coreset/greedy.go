package coreset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"github.com/x/pni/internal/kernels"
)

// ErrInvalidInput is wrapped by every error this package returns for bad arguments
// (non-positive sizes, k > n, short slices, non-finite values); test with errors.Is.
var ErrInvalidInput = errors.New("coreset: invalid input")

// Sampler selects k of the n rows of x (row length d), returning their indices.
// Greedy is the implementation the pni root package uses.
type Sampler interface {
	Select(ctx context.Context, x []float32, n, d, k int) ([]int, error)
}

var _ Sampler = Greedy{}

// Greedy is PatchCore's (approximate) greedy k-center / farthest-point sampler.
//
// The metric is the float32 Euclidean distance computed by dist (vek32.Distance: AVX2 when the
// CPU has it, its pure-Go loop otherwise). Let mind(p) be the distance from row p to the nearest
// chosen row. The order is:
//
//   - first: the row with the largest mean distance (accumulated in float64) to StartPoints
//     distinct rows drawn at random from Seed (as patchcore-inspection's
//     ApproximateGreedyCoresetSampler; there, that mean also stays in the running minimum as a
//     virtual extra centre; here it is used only to pick the first row);
//   - then: repeatedly the not-yet-chosen row with the largest mind, ties broken towards the
//     lowest row index (so once every remaining row is a duplicate of a chosen one, mind is 0
//     and the remaining rows follow in index order).
//
// The result is exactly the order of the naive O(n·k) loop with the same distance function; the
// implementation avoids that loop's cost by keeping, for every row, its nearest chosen centre,
// and per centre its member list and radius (largest member mind): a new centre c can only lower
// mind for members of a centre c_j with ||c - c_j|| < 2·radius_j (triangle inequality; a relative
// margin of 1e-3 absorbs float32 rounding), so only those clusters are scanned, spread over all
// cores. A tournament tree over the clusters' farthest members gives the next argmax.
//
// The zero value is ready to use (128-d projection, 10 start points, seed 0).
type Greedy struct {
	// ProjDim is the dimension of the Gaussian random projection the greedy runs on:
	// 0 means 128; a negative value means exact (no projection: distances in the input's d dims).
	ProjDim int
	// StartPoints is the number of random rows whose mean distance picks the first row: 0 means 10.
	// It is clipped to n.
	StartPoints int
	// Seed fixes the projection (NewProjection(d, ProjDim, Seed)) and the start rows.
	Seed int64
	// Progress, when not nil, is called with (rows selected so far, k), at most about 100 times,
	// from the calling goroutine. With a projection, the projection runs before the first call.
	Progress func(done, total int)
}

// DefaultProjDim and DefaultStartPoints are the values used for Greedy's zero fields.
const (
	DefaultProjDim     = 128
	DefaultStartPoints = 10
)

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, a...)...)
}

func checkArgs(xlen, n, d, k int, what string) error {
	switch {
	case d <= 0:
		return badInput("row length %s = %d; it must be positive", what, d)
	case n <= 0:
		return badInput("n = %d rows; pass at least one row", n)
	case k <= 0:
		return badInput("k = %d; ask for at least one row (see Size)", k)
	case k > n:
		return badInput("k = %d is more than the n = %d rows; use k <= n", k, n)
	case xlen < n*d:
		return badInput("feature slice has %d values, fewer than n*%s = %d*%d; pass n rows of %d values",
			xlen, what, n, d, d)
	}
	return nil
}

// Select returns the first k indices of the greedy order over the n rows of x (row length d): each next
// index is the point farthest from all chosen so far (ties -> lowest index). Deterministic given Seed.
// Unless ProjDim < 0, the rows are first projected to ProjDim dims with NewProjection(d, ProjDim, Seed)
// (in blocks, holding only the n x ProjDim projected rows besides x).
func (g Greedy) Select(ctx context.Context, x []float32, n, d, k int) ([]int, error) {
	if err := checkArgs(len(x), n, d, k, "d"); err != nil {
		return nil, err
	}
	if g.ProjDim < 0 {
		return g.SelectProjected(ctx, x, n, d, k)
	}
	r := g.ProjDim
	if r == 0 {
		r = DefaultProjDim
	}
	p := NewProjection(d, r, g.Seed)
	z := make([]float32, n*r)
	for lo := 0; lo < n; lo += projBlock {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p.applyBlock(x, lo, min(lo+projBlock, n), z)
	}
	return g.SelectProjected(ctx, z, n, r, k)
}

// SelectProjected runs the same greedy on already-projected rows z (n x r) — lets the caller stream features
// through a Projection without holding all D-dim rows. ProjDim is ignored.
func (g Greedy) SelectProjected(ctx context.Context, z []float32, n, r, k int) ([]int, error) {
	if err := checkArgs(len(z), n, r, k, "r"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	z = z[:n*r]
	for i, v := range z {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, badInput("row %d has a non-finite value (%v); remove or fix it", i/r, v)
		}
	}
	s := g.StartPoints
	if s <= 0 {
		s = DefaultStartPoints
	}
	first := startRow(z, n, r, min(s, n), g.Seed)
	st := newGreedyState(z, n, r, k)
	return st.run(ctx, first, g.Progress)
}

// dist is the metric of the greedy order: the float32 Euclidean distance between a and b.
func dist(a, b []float32) float32 { return vek32Distance(a, b) }

// startRow returns the row with the largest mean distance to s distinct rows drawn from seed
// (ties -> lowest index).
func startRow(z []float32, n, r, s int, seed int64) int {
	src := rand.NewPCG(uint64(seed), startStream)
	// Partial Fisher-Yates over [0,n) with an unbiased bounded draw.
	perm := make(map[int]int, s)
	get := func(i int) int {
		if v, ok := perm[i]; ok {
			return v
		}
		return i
	}
	starts := make([]int, s)
	for i := 0; i < s; i++ {
		j := i + int(boundedUint64(src, uint64(n-i)))
		vi, vj := get(i), get(j)
		perm[i], perm[j] = vj, vi
		starts[i] = vj
	}
	mean := make([]float64, n)
	kernels.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			zi := z[i*r : (i+1)*r]
			sum := 0.0
			for _, p := range starts {
				sum += float64(dist(zi, z[p*r:(p+1)*r]))
			}
			mean[i] = sum / float64(s)
		}
	})
	best := 0
	for i, m := range mean {
		if m > mean[best] {
			best = i
		}
	}
	return best
}

// boundedUint64 returns a uniform value in [0,bound) (Lemire's method with rejection).
func boundedUint64(src *rand.PCG, bound uint64) uint64 {
	thresh := -bound % bound
	for {
		hi, lo := bits.Mul64(src.Uint64(), bound)
		if lo >= thresh {
			return hi
		}
	}
}

// pruneFactor: cluster j is skipped when dist(c, c_j) >= pruneFactor * radius_j. 2 is the
// triangle-inequality bound; the 1e-3 margin covers float32 rounding of the computed distances
// (relative error well below 1e-5 for sums of squares of a few thousand terms).
const pruneFactor = 2 * (1 + 1e-3)

// greedyState is the accelerated exact greedy.
type greedyState struct {
	z    []float32
	n, r int
	k    int

	mind []float32 // distance to the nearest chosen row; -1 once chosen
	cen  []int32   // cen[j]: row of the j-th chosen centre
	mem  [][]int32 // mem[j]: unchosen rows whose nearest centre is j
	rad  []float32 // rad[j]: largest mind among mem[j] (-1 if empty)
	arg  []int32   // arg[j]: lowest row index attaining rad[j] (-1 if empty)
	tree []int32   // tournament tree over cluster slots; tree[1] is the winner
	leaf int       // number of leaves (power of two >= k)

	workers int
	wk      []workerBuf
}

type workerBuf struct {
	moved   []int32 // rows that moved to the new centre
	touched []int32 // clusters scanned
	_       [64]byte
}

func newGreedyState(z []float32, n, r, k int) *greedyState {
	leaf := 1
	for leaf < k {
		leaf <<= 1
	}
	st := &greedyState{
		z: z, n: n, r: r, k: k,
		mind: make([]float32, n),
		cen:  make([]int32, 0, k),
		mem:  make([][]int32, 0, k),
		rad:  make([]float32, 0, k),
		arg:  make([]int32, 0, k),
		tree: make([]int32, 2*leaf),
		leaf: leaf,
	}
	for i := range st.tree {
		st.tree[i] = -1
	}
	st.workers = max(1, runtime.GOMAXPROCS(0))
	st.wk = make([]workerBuf, st.workers)
	return st
}

// better reports whether cluster a's farthest row beats cluster b's (-1 = none).
func (st *greedyState) better(a, b int32) bool {
	if b < 0 {
		return a >= 0
	}
	if a < 0 {
		return false
	}
	ra, rb := st.rad[a], st.rad[b]
	if ra != rb {
		return ra > rb
	}
	return st.arg[a] < st.arg[b]
}

func (st *greedyState) update(j int) {
	i := st.leaf + j
	st.tree[i] = int32(j)
	for i > 1 {
		i >>= 1
		l, r := st.tree[2*i], st.tree[2*i+1]
		if st.better(r, l) {
			st.tree[i] = r
		} else {
			st.tree[i] = l
		}
	}
}

// clusterMax returns the largest mind among rows and the lowest row attaining it.
func (st *greedyState) clusterMax(rows []int32) (float32, int32) {
	best, arg := float32(-1), int32(-1)
	for _, q := range rows {
		v := st.mind[q]
		if v > best || (v == best && q < arg) {
			best, arg = v, q
		}
	}
	return best, arg
}

func (st *greedyState) run(ctx context.Context, first int, progress func(done, total int)) ([]int, error) {
	k, r, z := st.k, st.r, st.z
	order := make([]int, 0, k)
	step := max(1, k/100)
	report := func(done int) {
		if progress != nil && (done%step == 0 || done == k) {
			progress(done, k)
		}
	}

	// First centre: every row is scanned.
	c := first
	st.mind[c] = -1
	zc := z[c*r : (c+1)*r]
	all := make([]int32, 0, st.n-1)
	for q := 0; q < st.n; q++ {
		if q != c {
			all = append(all, int32(q))
		}
	}
	kernels.Parallel(len(all), func(lo, hi int) {
		for _, q := range all[lo:hi] {
			st.mind[q] = dist(z[int(q)*r:(int(q)+1)*r], zc)
		}
	})
	st.addCluster(c, all)
	order = append(order, c)
	report(1)

	var next atomic.Int64
	for t := 1; t < k; t++ {
		if t&15 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		w := st.tree[1]
		c = int(st.arg[w])
		st.mind[c] = -1
		order = append(order, c)
		zc = z[c*r : (c+1)*r]
		home := w // c's cluster: always scanned, to drop c from it

		nc := int32(len(st.cen))
		next.Store(0)
		const chunk = 64
		kernels.Parallel(st.workers, func(lo, hi int) {
			for wi := lo; wi < hi; wi++ {
				buf := &st.wk[wi]
				buf.moved, buf.touched = buf.moved[:0], buf.touched[:0]
				for {
					j0 := int32(next.Add(chunk)) - chunk
					if j0 >= nc {
						break
					}
					for j := j0; j < min(j0+chunk, nc); j++ {
						rj := st.rad[j]
						if j != home {
							if rj <= 0 {
								continue // empty, or all members at distance 0: nothing can move
							}
							cj := int(st.cen[j])
							if dist(z[cj*r:(cj+1)*r], zc) >= pruneFactor*rj {
								continue
							}
						}
						st.scan(j, c, zc, buf)
					}
				}
			}
		})
		var moved []int32
		nm := 0
		for i := range st.wk {
			nm += len(st.wk[i].moved)
		}
		moved = make([]int32, 0, nm)
		for i := range st.wk {
			moved = append(moved, st.wk[i].moved...)
			for _, j := range st.wk[i].touched {
				st.update(int(j))
			}
		}
		st.addCluster(c, moved)
		report(t + 1)
	}
	return order, nil
}

// scan recomputes the distances of cluster j's members to the new centre c, moving those that
// get strictly closer into buf.moved, and refreshes the cluster's radius.
func (st *greedyState) scan(j int32, c int, zc []float32, buf *workerBuf) {
	r, z := st.r, st.z
	rows := st.mem[j]
	keep := rows[:0]
	best, arg := float32(-1), int32(-1)
	for _, q := range rows {
		if int(q) == c {
			continue
		}
		d := dist(z[int(q)*r:(int(q)+1)*r], zc)
		m := st.mind[q]
		if d < m {
			st.mind[q] = d
			buf.moved = append(buf.moved, q)
			continue
		}
		keep = append(keep, q)
		if m > best || (m == best && q < arg) {
			best, arg = m, q
		}
	}
	st.mem[j] = keep
	st.rad[j], st.arg[j] = best, arg
	buf.touched = append(buf.touched, j)
}

// addCluster appends centre c with its member rows and enters it in the tournament.
func (st *greedyState) addCluster(c int, rows []int32) {
	best, arg := st.clusterMax(rows)
	st.cen = append(st.cen, int32(c))
	st.mem = append(st.mem, rows)
	st.rad = append(st.rad, best)
	st.arg = append(st.arg, arg)
	st.update(len(st.cen) - 1)
}

package coreset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
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

// greedyState is the accelerated exact greedy. Each chosen centre j owns a cluster: the unchosen
// rows whose nearest centre it is, stored contiguously (index, current distance md, and a copy of
// the row) and sorted by md descending, then by index ascending. The head of a cluster is thus its
// farthest member, and a scan for a new centre reads a prefix of the cluster sequentially.
type greedyState struct {
	z    []float32 // input rows; read only to build the first cluster
	n, r int
	k    int

	cl   []cluster
	cz   []float32 // rows of the chosen centres, in order (k x r)
	rad  []float32 // rad[j]: md of cluster j's head (-1 if empty)
	arg  []int32   // arg[j]: row index of cluster j's head (-1 if empty)
	tree []int32   // tournament tree over clusters; tree[1] is the cluster holding the farthest row
	leaf int       // number of leaves (power of two >= k)

	workers int
	wk      []workerBuf
}

type cluster struct {
	// Members are [start, len(idx)), sorted by md descending, then index ascending. A member
	// that moved to a newer centre is left in place as a tombstone (idx < 0, md kept, so md stays
	// sorted for the binary search of the scan cut-off); start always points at a live member
	// (or len(idx)), and the arrays are compacted when tombstones and the dead head outnumber the
	// live members.
	start int
	dead  int       // tombstones in [start, len(idx))
	idx   []int32   // row indices; < 0: tombstone
	md    []float32 // distance to this cluster's centre (= to the nearest chosen row)
	dat   []float32 // row copies, r values each
}

func (c *cluster) live() int { return len(c.idx) - c.start - c.dead }

// skipDead advances start past tombstones.
func (c *cluster) skipDead() {
	for c.start < len(c.idx) && c.idx[c.start] < 0 {
		c.start++
		c.dead--
	}
}

// compact drops tombstones and the dead head once they outnumber the live members, into
// right-sized arrays (so the memory of large early clusters is released).
func (c *cluster) compact(r int) {
	waste := c.start + c.dead
	if waste <= 32 || waste <= c.live() {
		return
	}
	n := c.live()
	idx, md, dat := make([]int32, 0, n), make([]float32, 0, n), make([]float32, 0, n*r)
	for i := c.start; i < len(c.idx); i++ {
		if c.idx[i] >= 0 {
			idx = append(idx, c.idx[i])
			md = append(md, c.md[i])
			dat = append(dat, c.dat[i*r:(i+1)*r]...)
		}
	}
	c.idx, c.md, c.dat, c.start, c.dead = idx, md, dat, 0, 0
}

type workerBuf struct {
	idx     []int32   // rows that moved to the new centre
	md      []float32 // their new distances
	dat     []float32 // their row copies
	touched []int32   // clusters that lost members
	_       [64]byte
}

func newGreedyState(z []float32, n, r, k int) *greedyState {
	leaf := 1
	for leaf < k {
		leaf <<= 1
	}
	st := &greedyState{
		z: z, n: n, r: r, k: k,
		cl:   make([]cluster, 0, k),
		cz:   make([]float32, 0, k*r),
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

// better reports whether cluster a's head beats cluster b's (-1 = none): larger distance, then
// lower row index.
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

// update refreshes cluster j's head and its path in the tournament tree.
func (st *greedyState) update(j int) {
	cl := &st.cl[j]
	if cl.live() == 0 {
		st.rad[j], st.arg[j] = -1, -1
	} else {
		st.rad[j], st.arg[j] = cl.md[cl.start], cl.idx[cl.start]
	}
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

func (st *greedyState) run(ctx context.Context, first int, progress func(done, total int)) ([]int, error) {
	k, r, z := st.k, st.r, st.z
	order := make([]int, 0, k)
	step := max(1, k/100)
	report := func(done int) {
		if progress != nil && (done%step == 0 || done == k) {
			progress(done, k)
		}
	}

	// First centre: every other row joins its cluster.
	c := first
	zc := z[c*r : (c+1)*r]
	st.cz = append(st.cz, zc...)
	idx := make([]int32, 0, st.n-1)
	for q := 0; q < st.n; q++ {
		if q != c {
			idx = append(idx, int32(q))
		}
	}
	md := make([]float32, len(idx))
	kernels.Parallel(len(idx), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			q := int(idx[i])
			md[i] = dist(z[q*r:(q+1)*r], zc)
		}
	})
	st.addCluster(idx, md, func(i int) []float32 { q := int(idx[i]); return z[q*r : (q+1)*r] })
	st.z = nil
	order = append(order, c)
	report(1)

	var next atomic.Int64
	for t := 1; t < k; t++ {
		if t&15 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// The next centre is the head of the winning cluster: take it out.
		home := int(st.tree[1])
		hc := &st.cl[home]
		c = int(hc.idx[hc.start])
		order = append(order, c)
		st.cz = append(st.cz, hc.dat[hc.start*r:(hc.start+1)*r]...)
		hc.start++
		hc.skipDead()
		zc = st.cz[t*r : (t+1)*r]

		nc := int64(t) // clusters 0..t-1 exist
		next.Store(0)
		const chunk = 16
		kernels.Parallel(st.workers, func(lo, hi int) {
			for wi := lo; wi < hi; wi++ {
				buf := &st.wk[wi]
				buf.idx, buf.md, buf.dat, buf.touched = buf.idx[:0], buf.md[:0], buf.dat[:0], buf.touched[:0]
				for {
					j0 := next.Add(chunk) - chunk
					if j0 >= nc {
						break
					}
					for j := int(j0); j < int(min(j0+chunk, nc)); j++ {
						rj := st.rad[j]
						if j == home {
							if cl := &st.cl[j]; cl.live() > 0 {
								rj = cl.md[cl.start]
							} else {
								rj = -1
							}
							buf.touched = append(buf.touched, int32(j)) // its head left
						}
						if rj <= 0 {
							continue // empty, or all members at distance 0: nothing can move
						}
						dcc := dist(st.cz[j*r:(j+1)*r], zc)
						if dcc >= pruneFactor*rj {
							continue
						}
						st.scan(j, zc, dcc, buf, j == home)
					}
				}
			}
		})
		nm := 0
		for i := range st.wk {
			nm += len(st.wk[i].idx)
		}
		idx := make([]int32, 0, nm)
		md := make([]float32, 0, nm)
		dat := make([]float32, 0, nm*r)
		for i := range st.wk {
			w := &st.wk[i]
			idx = append(idx, w.idx...)
			md = append(md, w.md...)
			dat = append(dat, w.dat...)
			for _, j := range w.touched {
				st.update(int(j))
			}
		}
		st.addCluster(idx, md, func(i int) []float32 { return dat[i*r : (i+1)*r] })
		report(t + 1)
	}
	return order, nil
}

// scan recomputes, for the members of cluster j that could get closer to the new centre (row zc),
// their distance to it, and moves those that get strictly closer into buf. A member q with
// dist(c, c_j) >= pruneFactor*md[q] cannot get closer (triangle inequality:
// dist(q,c) >= dist(c,c_j) - md[q] >= md[q]); members are sorted by md descending, so only the
// prefix before the first such member (found by binary search) is read.
func (st *greedyState) scan(j int, zc []float32, dcc float32, buf *workerBuf, touched bool) {
	r := st.r
	cl := &st.cl[j]
	md := cl.md
	lo, hi := cl.start, len(md)
	for lo < hi { // first i with pruneFactor*md[i] <= dcc
		mid := int(uint(lo+hi) >> 1)
		if pruneFactor*md[mid] > dcc {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	moved := 0
	for i := cl.start; i < lo; i++ {
		q := cl.idx[i]
		if q < 0 {
			continue
		}
		row := cl.dat[i*r : (i+1)*r]
		if d := dist(row, zc); d < md[i] {
			buf.idx = append(buf.idx, q)
			buf.md = append(buf.md, d)
			buf.dat = append(buf.dat, row...)
			cl.idx[i] = -1
			moved++
		}
	}
	if moved == 0 {
		return
	}
	cl.dead += moved
	cl.skipDead()
	cl.compact(r)
	if !touched {
		buf.touched = append(buf.touched, int32(j))
	}
}

// addCluster appends the cluster of the newest centre with members idx at distances md (row i of
// the members is row(i)), sorting them by distance descending, then index ascending.
func (st *greedyState) addCluster(idx []int32, md []float32, row func(i int) []float32) {
	r := st.r
	perm := make([]int32, len(idx))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		ma, mb := md[a], md[b]
		switch {
		case ma > mb:
			return -1
		case ma < mb:
			return 1
		}
		return int(idx[a] - idx[b])
	})
	cl := cluster{
		idx: make([]int32, len(idx)),
		md:  make([]float32, len(idx)),
		dat: make([]float32, len(idx)*r),
	}
	for i, p := range perm {
		cl.idx[i], cl.md[i] = idx[p], md[p]
		copy(cl.dat[i*r:(i+1)*r], row(int(p)))
	}
	st.cl = append(st.cl, cl)
	st.rad = append(st.rad, -1)
	st.arg = append(st.arg, -1)
	st.update(len(st.cl) - 1)
}

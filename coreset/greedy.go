package coreset

import (
	"cmp"
	"context"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/x/pni/internal/errs"

	"github.com/x/pni/internal/kernels"
)

// ErrInvalidArgument matches (errors.Is) every error this package returns for
// bad arguments; it is the same value as pni.ErrInvalidArgument.
var ErrInvalidArgument = errs.ErrInvalidArgument

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
// The result is exactly the order of the naive O(n·k) loop with the same distance function and
// tie rule (tests compare them bit for bit, including duplicate rows and exact ties). The
// implementation avoids that loop's n x ProjDim memory pass per selected row: rows are grouped by
// their nearest centre, a new centre is only queued on the clusters it could affect (triangle
// inequality, with a 1e-3 relative margin for float32 rounding), and a cluster's rows are compared
// with its queued centres only when the cluster holds the current farthest candidate (see
// greedyState). The registration pass, large resolutions and pairs of resolutions are spread over
// all cores.
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

func badInput(format string, a ...any) error { return errs.Arg("coreset: "+format, a...) }

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
	r := cmp.Or(g.ProjDim, DefaultProjDim)
	p, err := NewProjection(d, r, g.Seed)
	if err != nil {
		return nil, err
	}
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
		s = DefaultStartPoints // negative too
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

// pruneFactor: a new centre c cannot bring a row p of cluster j closer when
// dist(c, c_j) >= pruneFactor * md(p) (triangle inequality: dist(p,c) >= dist(c,c_j) - md(p) >= md(p)).
// 2 is the exact bound; the 1e-3 margin covers float32 rounding of the computed distances
// (relative error well below 1e-5 for sums of squares of a few thousand terms).
const pruneFactor = 2 * (1 + 1e-3)

// maxPending bounds a cluster's pending list: a longer one is resolved right away.
// parallelWork is the rows x pending-centres size from which a resolution is spread over the
// cores. Variables so the tests can exercise every path.
var (
	maxPending   = 256
	parallelWork = 4096
	pairResolve  = true // resolve the runner-up alongside the winner on a second core
)

// greedyState is the accelerated exact greedy ("lazy" farthest-point sampling).
//
// Each chosen centre j owns a cluster: rows assigned to it, each with md, its distance to the
// nearest centre among those it has been checked against, stored contiguously (index, md, row
// copy). A new centre c is not compared with any row when it arrives: it is only appended to the
// pending list of every cluster j with dist(c, c_j) < pruneFactor*rad_j (rad_j: the largest md in
// j), the only clusters whose rows it could bring closer. So md is an upper bound of a row's true
// distance to the chosen set, exact for rows of clusters with no pending centre. The next centre
// is found from a tournament tree over the clusters' heads (largest md, then lowest index): while
// the winning cluster has pending centres, those are resolved — its rows are compared with them
// (skipping rows with dist(c, c_j) >= pruneFactor*md), rows that get strictly closer move to the
// nearest of them — and the tree is consulted again. A winner with no pending centre holds the true
// farthest row: every other cluster's head is an upper bound. Rows of clusters that never win again
// are never read again, and a resolution compares each row read with several centres at once.
// A pending list reaching maxPending is resolved at once, which bounds their memory.
type greedyState struct {
	z    []float32 // input rows; read only to build the first cluster
	n, r int
	k    int

	cl   []cluster
	cz   []float32 // rows of the chosen centres, in order (k x r)
	rad  []float32 // rad[j]: largest md in cluster j (-1 if empty)
	arg  []int32   // arg[j]: lowest row index attaining rad[j] (-1 if empty)
	tree []int32   // tournament tree over clusters; tree[1] is the cluster holding the largest head
	leaf int       // number of leaves (power of two >= k)

	workers int
	cand    [][]pending  // per worker: clusters the newest centre may affect, with distances (scratch)
	best    [2][]float32 // per row of a resolving cluster: new distance (scratch)
	bestU   [2][]int32   // per row of a resolving cluster: new centre, -1 if none (scratch)
}

type pending struct {
	u   int32   // centre
	dcc float32 // dist(c_u, this cluster's centre)
}

type cluster struct {
	idx  []int32   // row indices (unordered)
	md   []float32 // distances (see greedyState)
	dat  []float32 // row copies, r values each
	pend []pending // centres not yet compared with the rows, ascending
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
	st.cand = make([][]pending, st.workers)
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

// fix refreshes cluster j's path in the tournament tree after rad[j] or arg[j] changed.
func (st *greedyState) fix(j int) {
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

// rehead recomputes cluster j's head from its rows and fixes the tree.
func (st *greedyState) rehead(j int) {
	cl := &st.cl[j]
	best, arg := float32(-1), int32(-1)
	for i, m := range cl.md {
		if q := cl.idx[i]; m > best || (m == best && q < arg) {
			best, arg = m, q
		}
	}
	st.rad[j], st.arg[j] = best, arg
	st.fix(j)
}

// removeAt deletes row i of cluster j by moving the last row into its place.
func (st *greedyState) removeAt(j, i int) {
	cl, r := &st.cl[j], st.r
	last := len(cl.idx) - 1
	if i != last {
		cl.idx[i], cl.md[i] = cl.idx[last], cl.md[last]
		copy(cl.dat[i*r:(i+1)*r], cl.dat[last*r:(last+1)*r])
	}
	cl.idx, cl.md, cl.dat = cl.idx[:last], cl.md[:last], cl.dat[:last*r]
}

// push appends row q (distance m, data row) to cluster u.
func (st *greedyState) push(u int, q int32, m float32, row []float32) {
	cl := &st.cl[u]
	cl.idx = append(cl.idx, q)
	cl.md = append(cl.md, m)
	cl.dat = append(cl.dat, row...)
	if m > st.rad[u] || (m == st.rad[u] && q < st.arg[u]) {
		st.rad[u], st.arg[u] = m, q
		st.fix(u)
	}
}

// resolve compares the rows of cluster j with its pending centres, moves the rows that get
// strictly closer to the nearest of them, and clears the list. (Which of several equally near
// centres a row joins does not change any distance, hence not the order.)
func (st *greedyState) resolve(j int) {
	n := len(st.cl[j].idx)
	best, bestU := st.scratch(0, n)
	if n*len(st.cl[j].pend) >= parallelWork && st.workers > 1 {
		kernels.Parallel(n, func(lo, hi int) { st.compare(j, lo, hi, best, bestU) })
	} else {
		st.compare(j, 0, n, best, bestU)
	}
	st.apply(j, best, bestU)
}

// resolve2 resolves clusters a and b (a != b), comparing on two cores at once.
func (st *greedyState) resolve2(a, b int) {
	na, nb := len(st.cl[a].idx), len(st.cl[b].idx)
	ba, ua := st.scratch(0, na)
	bb, ub := st.scratch(1, nb)
	kernels.Parallel(2, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			if w == 0 {
				st.compare(a, 0, na, ba, ua)
			} else {
				st.compare(b, 0, nb, bb, ub)
			}
		}
	})
	st.apply(a, ba, ua)
	st.apply(b, bb, ub)
}

// scratch returns the i-th pair of per-row scratch slices, of length n.
func (st *greedyState) scratch(i, n int) ([]float32, []int32) {
	if cap(st.best[i]) < n {
		st.best[i], st.bestU[i] = make([]float32, n+n/4), make([]int32, n+n/4)
	}
	return st.best[i][:n], st.bestU[i][:n]
}

// compare computes, for rows [lo,hi) of cluster j, the smallest distance to its pending centres
// when smaller than md (best, and a centre attaining it in bestU), else md and -1. With b the best
// distance so far, centre u cannot improve row p when dcc_u >= (md+b)*(1+1e-3) (triangle
// inequality: dist(p,u) >= dcc_u - md >= b; margin for rounding as in pruneFactor), so it is
// skipped.
func (st *greedyState) compare(j, lo, hi int, best []float32, bestU []int32) {
	cl, r := &st.cl[j], st.r
	pend := cl.pend
	dmin := pend[0].dcc
	for _, p := range pend[1:] {
		dmin = min(dmin, p.dcc)
	}
	for i := lo; i < hi; i++ {
		m := cl.md[i]
		b, bu := m, int32(-1)
		if pruneFactor*m > dmin {
			row := cl.dat[i*r : (i+1)*r]
			for _, p := range pend {
				if p.dcc >= (m+b)*(pruneFactor/2) {
					continue
				}
				u := int(p.u)
				if d := dist(row, st.cz[u*r:(u+1)*r]); d < b {
					b, bu = d, p.u
				}
			}
		}
		best[i], bestU[i] = b, bu
	}
}

// apply moves the rows compare marked, clears the pending list and refreshes the head.
func (st *greedyState) apply(j int, best []float32, bestU []int32) {
	cl, r := &st.cl[j], st.r
	cl.pend = cl.pend[:0]
	// From the end, so removeAt's swap only brings in rows already applied.
	moved := false
	for i := len(best) - 1; i >= 0; i-- {
		if u := bestU[i]; u >= 0 {
			st.push(int(u), cl.idx[i], best[i], cl.dat[i*r:(i+1)*r])
			st.removeAt(j, i)
			moved = true
		}
	}
	if moved {
		if n := len(cl.idx); cap(cl.idx) > 64 && cap(cl.idx) > 4*n {
			// Release the memory of clusters that shrank (early clusters are large).
			cl.idx, cl.md, cl.dat = slices.Clone(cl.idx), slices.Clone(cl.md), slices.Clone(cl.dat)
		}
		st.rehead(j)
	}
}

// runnerUp returns the best cluster other than the winner w (-1 if none).
func (st *greedyState) runnerUp(w int) int32 {
	best := int32(-1)
	for i := st.leaf + w; i > 1; i >>= 1 {
		if s := st.tree[i^1]; st.better(s, best) {
			best = s
		}
	}
	return best
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

	// First centre: every other row joins its cluster, with its exact distance.
	c := first
	st.cz = append(st.cz, z[c*r:(c+1)*r]...)
	cl := cluster{idx: make([]int32, 0, st.n-1)}
	for q := 0; q < st.n; q++ {
		if q != c {
			cl.idx = append(cl.idx, int32(q))
		}
	}
	cl.md = make([]float32, len(cl.idx))
	cl.dat = make([]float32, len(cl.idx)*r)
	zc := st.cz[:r]
	kernels.Parallel(len(cl.idx), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			q := int(cl.idx[i])
			row := z[q*r : (q+1)*r]
			copy(cl.dat[i*r:(i+1)*r], row)
			cl.md[i] = dist(row, zc)
		}
	})
	st.z = nil
	st.cl = append(st.cl, cl)
	st.rad, st.arg = append(st.rad, -1), append(st.arg, -1)
	st.rehead(0)
	order = append(order, c)
	report(1)

	for t := 1; t < k; t++ {
		if t&15 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// Resolve winners until the winner's head is exact.
		// With several cores, the runner-up is resolved alongside when it has pending centres too
		// (resolving a cluster early never changes the result).
		w := int(st.tree[1])
		for len(st.cl[w].pend) > 0 {
			if ru := st.runnerUp(w); pairResolve && st.workers > 1 && ru >= 0 && len(st.cl[ru].pend) > 0 &&
				len(st.cl[w].idx)*len(st.cl[w].pend) < parallelWork {
				st.resolve2(w, int(ru))
			} else {
				st.resolve(w)
			}
			w = int(st.tree[1])
		}
		// Take the farthest row out of its cluster: it is the next centre.
		hc := &st.cl[w]
		pos := slices.Index(hc.idx, st.arg[w])
		c = int(hc.idx[pos])
		order = append(order, c)
		st.cz = append(st.cz, hc.dat[pos*r:(pos+1)*r]...)
		st.removeAt(w, pos)
		st.rehead(w)
		zc = st.cz[t*r : (t+1)*r]

		// Register the new centre with every cluster whose rows it could bring closer. The radii
		// are read before any resolution below; rows a resolution moves have been compared with
		// the new centre already, so a radius growing meanwhile needs no new check.
		st.cl = append(st.cl, cluster{})
		st.rad, st.arg = append(st.rad, -1), append(st.arg, -1)
		st.fix(t)
		nw := st.workers
		kernels.Parallel(nw, func(lo, hi int) {
			for w := lo; w < hi; w++ {
				cand := st.cand[w][:0]
				for j := w * t / nw; j < (w+1)*t/nw; j++ {
					rj := st.rad[j]
					if rj <= 0 {
						continue // empty, or every row at distance 0: nothing can get closer
					}
					if d := dist(st.cz[j*r:(j+1)*r], zc); d < pruneFactor*rj {
						cand = append(cand, pending{int32(j), d})
					}
				}
				st.cand[w] = cand
			}
		})
		for w := 0; w < nw; w++ {
			for _, p := range st.cand[w] {
				j := int(p.u)
				st.cl[j].pend = append(st.cl[j].pend, pending{int32(t), p.dcc})
				if len(st.cl[j].pend) >= maxPending {
					st.resolve(j)
				}
			}
		}
		report(t + 1)
	}
	return order, nil
}

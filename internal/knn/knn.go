// Package knn finds exact nearest neighbours in a memory bank quickly: a PCA
// projection of the bank gives, for every query, a lower bound of its squared
// distance to every bank row (distances shrink under an orthogonal
// projection); exact distances are computed only for the rows whose bound is
// below the best exact distance found so far. The answer is the brute-force
// answer; the work is a projected matrix product plus a few exact dot products
// per query.
package knn

import (
	"fmt"
	"math"
	"sync"

	"github.com/viterin/vek/vek32"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/linalg"
)

// Index is a bank of K rows of dimension D with their PCA projection to R
// dimensions. It is read-only after Build and safe for concurrent searches.
type Index struct {
	K, D, R  int
	Data     []float32         // K x D, not copied
	Norm     []float32         // K squared norms of Data rows
	Mean     []float32         // D
	Basis    []float32         // D x R, orthonormal columns
	Proj     []float32         // K x R: (Data - Mean) · Basis
	ProjNorm []float32         // K
	maxNorm  float32           // largest of Norm
	aug      *kernels.PackedBT // K x (R+1): [-2·Proj | ProjNorm], packed once for the bound products
	meanProj []float32         // Mean·Basis
	lbPool   sync.Pool         // *[]float32 scratch for the bounds of one block of queries
}

// Build computes the PCA basis of data (k rows of dimension d) and projects
// the bank. r is clamped to [1, min(k, d)].
func Build(data []float32, k, d, r int) (*Index, error) {
	if k <= 0 || d <= 0 || len(data) < k*d {
		return nil, fmt.Errorf("knn: bad bank %d x %d (%d values)", k, d, len(data))
	}
	r = max(1, min(r, k, d))
	ix := &Index{K: k, D: d, R: r, Data: data[:k*d]}
	ix.Norm = make([]float32, k)
	kernels.SqNorms(ix.Data, d, ix.Norm)
	ix.maxNorm = vek32.Max(ix.Norm)
	mean := make([]float64, d)
	for i := 0; i < k; i++ {
		for j, v := range ix.Data[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	ix.Mean = make([]float32, d)
	for j := range mean {
		ix.Mean[j] = float32(mean[j] / float64(k))
	}
	// Covariance via the float32 kernels: Xcᵀ·Xc, accumulated in blocks.
	cov := make([]float32, d*d)
	const blk = 1024
	xt := make([]float32, d*blk)
	for lo := 0; lo < k; lo += blk {
		hi := min(lo+blk, k)
		n := hi - lo
		for i := 0; i < n; i++ {
			row := ix.Data[(lo+i)*d : (lo+i+1)*d]
			for j, v := range row {
				xt[j*n+i] = v - ix.Mean[j]
			}
		}
		kernels.GemmTB(d, d, n, xt[:d*n], xt[:d*n], cov, lo > 0)
	}
	ix.Basis = linalg.TopEigenvectors(cov, d, r)
	ix.meanProj = make([]float32, r)
	kernels.Gemm(1, r, d, ix.Mean, ix.Basis, ix.meanProj, false)
	ix.Proj = ix.project(ix.Data, k)
	ix.ProjNorm = make([]float32, k)
	kernels.SqNorms(ix.Proj, r, ix.ProjNorm)
	// aug = [-2·Proj | ProjNorm]: one product with [q | 1] gives
	// ||p||² - 2q·p, the bound less its per-query constant ||q||².
	aug := make([]float32, k*(r+1))
	for i := 0; i < k; i++ {
		row := aug[i*(r+1) : (i+1)*(r+1)]
		for j, v := range ix.Proj[i*r : (i+1)*r] {
			row[j] = -2 * v
		}
		row[r] = ix.ProjNorm[i]
	}
	ix.aug = kernels.PackBT(aug, k, r+1)
	return ix, nil
}

// project returns (x - Mean) · Basis for n rows.
// It is computed as x·Basis - Mean·Basis, without a centred copy of x.
func (ix *Index) project(x []float32, n int) []float32 {
	out := make([]float32, n*ix.R)
	kernels.Gemm(n, ix.R, ix.D, x, ix.Basis, out, false)
	for i := 0; i < n; i++ {
		vek32.Sub_Inplace(out[i*ix.R:(i+1)*ix.R], ix.meanProj)
	}
	return out
}

// Allow reports, for query row i, which bank rows may be chosen: a slice of K
// booleans, or nil for all. scratch is a K-long buffer that belongs to the
// calling goroutine until the next call; Allow may fill it and return it (its
// contents on entry are unspecified), so that masks are built one row at a
// time instead of all at once. Allow is called once per query row, possibly
// from several goroutines at once (each with its own scratch).
type Allow func(i int, scratch []bool) []bool

// boundSlack, times ||q||² + max ||c||², is the margin by which a row's
// computed bound may exceed the best computed exact distance and the row still
// be checked: it absorbs the float32 rounding of both (squared distances are
// computed as ||q||² + ||c||² - 2q·c, whose rounding error scales with the
// norms, not with the distance). On real 1024-d features (bank rows queried
// against the bank itself, the worst case: distances near zero) the bound never
// exceeded the exact distance by more than 1.8e-7 of that scale; the margin is
// 550 times that (a tighter one checks no fewer rows on that data).
const boundSlack = 1e-4

// searchBlock is the largest number of query rows whose bounds are computed
// by one product (the bound buffer holds up to searchBlock x K floats). The
// queries are split into equal blocks. Smaller blocks (64, 128) were no
// faster on a 784 x 16.4k search.
const searchBlock = 256

// Search finds, for each of the n query rows of q (dimension D), the allowed
// bank row at the smallest Euclidean distance: idx[i] and its squared distance
// dist[i]. A row with nothing allowed gets idx -1 and dist +Inf.
func (ix *Index) Search(q []float32, n int, allow Allow, idx []int32, dist []float32) {
	block := searchBlock
	if n > 0 {
		nb := (n + block - 1) / block
		block = (n + nb - 1) / nb
	}
	lbp, _ := ix.lbPool.Get().(*[]float32)
	if lbp == nil || len(*lbp) < block*ix.K {
		buf := make([]float32, block*ix.K)
		lbp = &buf
	}
	defer ix.lbPool.Put(lbp)
	lb := *lbp
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		rows := hi - lo
		qs := q[lo*ix.D : hi*ix.D]
		qp := ix.project(qs, rows)
		r1 := ix.R + 1
		qa := make([]float32, rows*r1)
		qn := make([]float32, rows)
		for i := 0; i < rows; i++ {
			row := qp[i*ix.R : (i+1)*ix.R]
			copy(qa[i*r1:], row)
			qa[i*r1+ix.R] = 1
			qn[i] = kernels.Dot(row, row)
		}
		kernels.GemmPackedBT(rows, qa, ix.aug, lb[:rows*ix.K])
		kernels.Parallel(rows, func(a, b int) {
			cand := make([]int32, 0, 64)
			var scratch []bool
			if allow != nil {
				scratch = make([]bool, ix.K)
			}
			for i := a; i < b; i++ {
				var ok []bool
				if allow != nil {
					ok = allow(lo+i, scratch)
				}
				idx[lo+i], dist[lo+i], cand = ix.refine(qs[i*ix.D:(i+1)*ix.D], lb[i*ix.K:(i+1)*ix.K], qn[i], ok, cand)
			}
		})
	}
}

// refine finds the exact nearest allowed row given the lower bounds lb + off:
// the row with the smallest bound first, then every allowed row whose bound
// could still beat the best exact distance. The slack covers the float32
// rounding of squared distances computed as ||q||² + ||c||² - 2q·c. ok (nil
// for all) marks the allowed rows; lb is not written. cand is scratch for the
// candidate indices; the possibly grown slice is returned for reuse.
//
// Ties go to the smaller index: the result is the smallest exact distance over
// the seed and the candidates, the smallest index among equal distances.
func (ix *Index) refine(q []float32, lb []float32, off float32, ok []bool, cand []int32) (int32, float32, []int32) {
	seed := kernels.MinIndex(lb, ok) // first smallest allowed bound below +Inf
	if seed < 0 {                    // nothing allowed
		return -1, float32(math.Inf(1)), cand
	}
	qn := kernels.Dot(q, q)
	exact := func(c int) float32 {
		return max(qn+ix.Norm[c]-2*kernels.Dot(q, ix.Data[c*ix.D:(c+1)*ix.D]), 0)
	}
	best, bi := exact(seed), seed
	cand = kernels.AppendLessEqual(cand[:0], lb, best-off+boundSlack*(qn+ix.maxNorm)+1e-6, ok)
	for _, c32 := range cand {
		c := int(c32)
		if c == seed {
			continue
		}
		if d := exact(c); d < best || (d == best && c < bi) {
			best, bi = d, c
		}
	}
	return int32(bi), best, cand
}

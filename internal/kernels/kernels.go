// Package kernels holds the float32 numeric kernels the rest of pni is built on:
// matrix products and convolutions (cache-blocked, an AVX2+FMA assembly
// micro-kernel, spread over all cores), squared Euclidean distances computed
// as ||a||² + ||b||² − 2·a·b, and nearest-row searches built on them. Vector
// dot products use github.com/viterin/vek.
//
// Contract: all matrices are dense and row-major; slices must be at least as long
// as the shapes say (a shorter slice is an internal bug and panics). Every kernel
// is safe for concurrent use: none keeps state between calls.
//
// Further guarantees every kernel keeps:
//
//   - Outputs are written only inside the ranges the shapes give (C[0:m*n],
//     out[0:m*n], idx[0:m], dist[0:m], the conv output tensor); inputs are
//     never written. Outputs must not alias inputs.
//   - Results match the plain-loop references in reference.go (gemmRef,
//     gemmTBRef, nearestRef, conv2DRef) up to float32 rounding: the fast paths
//     sum in a different order (blocks of 256 along the inner dimension, fused
//     multiply-adds), so expect relative differences of order k·2⁻²⁴, not bit
//     equality. NaN and Inf propagate as IEEE arithmetic says (a zero in A does
//     not mask a NaN in B).
//   - Products (Gemm, GemmTB, Conv2D, SqDists, Nearest) are cache-blocked in the
//     BLIS/GotoBLAS way: A is packed into 6-row panels, B into 16-column panels
//     (for Conv2D the im2col matrix is packed straight from the image, so no
//     im2col buffer exists), and a 6×16 register-tile micro-kernel runs over
//     them (4×16 and 2×16 ones for the last rows of an M that is not a
//     multiple of 6). The micro-kernels are AVX2+FMA assembly on amd64 CPUs
//     that have both (chosen once at init through golang.org/x/sys/cpu) and
//     portable Go otherwise or under the noasm build tag.
//   - Stride-1 3×3 convolutions with prepacked weights (Conv2DPacked) run
//     Winograd F(2×2,3×3) (winograd.go): 16 products of 4×4-transformed
//     weights and input tiles, 2.25 times fewer multiply-adds than the
//     direct sum and no im2col gather; their rounding differs from the
//     direct sum's by a small multiple of it.
//   - Work is split over runtime.GOMAXPROCS(0) parts along one output
//     dimension, each packing its own blocks; the parts run on the calling
//     goroutine and on persistent workers (pool.go) that poll briefly for
//     the next part before they block, because a forward pass is hundreds
//     of short regions and waking an idle CPU for each costs more than the
//     polling. Kernels called from inside Parallel nest correctly (a waiting
//     caller runs queued parts). Small problems run on the calling
//     goroutine.
//   - Packing buffers come from sync.Pools: in steady state a call allocates
//     only a few small closures, never anything proportional to the data
//     (SqDists and Nearest allocate the n or m norms they are not given).
//     Nearest never materialises the m×n distance matrix.
//   - Weights that are reused across calls can be packed once with
//     PackConvWeights and passed to Conv2DPacked, which gives bit-identical
//     results to Conv2D (except on the Winograd path) without re-packing
//     them on every call.
//
// Files: kernels.go (API, Nearest), gemm.go (packing, blocking, parallel
// split), conv.go (Conv2D, implicit im2col), kern_generic.go (portable
// micro-kernel, the reference for the assembly), kern_amd64.go/.s (AVX2+FMA
// micro-kernel; build tags amd64 && !noasm && !gccgo), packedb.go (a right
// operand packed once for repeated products), mask.go, mask_generic.go and
// mask_amd64.go/.s (MinIndex and AppendLessEqual scans, AVX2 blocks),
// winograd.go (Winograd F(2×2,3×3); its eight-tile transforms are in
// kern_amd64.s too), pool.go (the workers of parallel regions), reference.go
// (plain loops the tests compare against).
package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/viterin/vek/vek32"
)

// Parallel splits [0,n) into contiguous chunks, one per available CPU, and
// runs fn on each (the first on the calling goroutine, the others on the
// package's workers), returning when all are done. Small n runs inline.
func Parallel(n int, fn func(lo, hi int)) {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	chunk := (n + p - 1) / p
	parts := make([][2]int, 0, p)
	for lo := 0; lo < n; lo += chunk {
		parts = append(parts, [2]int{lo, min(lo+chunk, n)})
	}
	runSplit(parts, fn)
}

// smallProduct reports whether an m×n×k product is too small to be worth
// packing; such products run the plain loops.
func smallProduct(m, n, k int) bool {
	return m*n*k <= 8*8*8
}

// Gemm computes C = A·B, or C += A·B when acc is true, for A m×k, B k×n and
// C m×n, all row-major.
func Gemm(m, n, k int, a, b, c []float32, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	a, b, c = a[:m*k], b[:k*n], c[:m*n]
	if smallProduct(m, n, k) {
		gemmRef(m, n, k, a, b, c, acc)
		return
	}
	gemmPar(m, n, k, packRowsA(a, k), packRowsB(b, n), c, n, &epilogue{acc: acc})
}

// GemmTB computes C = A·Bᵀ, or C += A·Bᵀ when acc is true, for A m×k, B n×k and
// C m×n, all row-major.
func GemmTB(m, n, k int, a, b, c []float32, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	a, b, c = a[:m*k], b[:n*k], c[:m*n]
	if smallProduct(m, n, k) {
		gemmTBRef(m, n, k, a, b, c, acc)
		return
	}
	gemmPar(m, n, k, packRowsA(a, k), packColsB(b, k), c, n, &epilogue{acc: acc})
}

// Dot returns Σ a[i]·b[i]; a and b must have the same length.
func Dot(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	return vek32.Dot(a, b)
}

// SqNorms writes ||x_i||² for each of the len(out) rows of x (row length d) into out.
func SqNorms(x []float32, d int, out []float32) {
	if d == 0 {
		clear(out)
		return
	}
	x = x[:len(out)*d]
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := x[i*d : (i+1)*d]
			out[i] = vek32.Dot(r, r)
		}
	}
	if len(out)*d < 1<<16 {
		body(0, len(out))
		return
	}
	Parallel(len(out), body)
}

// SqDists writes out[i*n+j] = ||a_i − b_j||² for the m rows of a and the n rows
// of b (row length d), clamped at 0. an and bn are the rows' squared norms; nil
// means compute them.
func SqDists(a []float32, m int, b []float32, n, d int, an, bn, out []float32) {
	if m == 0 || n == 0 {
		return
	}
	if an == nil {
		an = make([]float32, m)
		SqNorms(a, d, an)
	}
	if bn == nil {
		bn = make([]float32, n)
		SqNorms(b, d, bn)
	}
	an, bn, out = an[:m], bn[:n], out[:m*n]
	GemmTB(m, n, d, a, b, out, false)
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := out[i*n : (i+1)*n]
			ai := an[i]
			for j, dv := range row {
				v := ai + bn[j] - 2*dv
				if v < 0 {
					v = 0
				}
				row[j] = v
			}
		}
	}
	if m*n < 1<<16 {
		body(0, m)
		return
	}
	Parallel(m, body)
}

// Blocking of Nearest: the bank is packed once per chunk of nnChunk rows and
// shared read-only by the workers, which take query blocks of nnRows rows and
// sweep the chunk nnCols bank rows at a time.
const (
	nnChunk = 8192
	nnRows  = 96
	nnCols  = 512
)

type nearestScratch struct {
	a    []float32 // packed query block, all depth blocks
	dots []float32 // nnRows × nnCols partial products
}

var nearestPool = sync.Pool{New: func() any { return new(nearestScratch) }}

var bankPool sync.Pool // *[]float32 packed bank chunks

// Nearest finds, for each of the m rows of a, the row of b (n rows, length d)
// at the smallest Euclidean distance: idx[i] is its index and dist[i] the squared
// distance (ties go to the lower index). bn holds b's squared norms (nil means
// compute them).
//
// The distance is ||a_i||² + ||b_j||² − 2·a_i·b_j clamped at 0, as SqDists
// computes it. With n == 0 every idx is -1 and every dist 0. Work is split
// over all CPUs; memory use is O(n·d) at most (a packed copy of up to 8192
// bank rows) and never O(m·n).
func Nearest(a []float32, m int, b []float32, n, d int, bn []float32, idx []int32, dist []float32) {
	if m == 0 {
		return
	}
	idx, dist = idx[:m], dist[:m]
	if n == 0 {
		for i := range idx {
			idx[i], dist[i] = -1, 0
		}
		return
	}
	a, b = a[:m*d], b[:n*d]
	if bn == nil {
		bn = make([]float32, n)
		SqNorms(b, d, bn)
	}
	bn = bn[:n]
	if d == 0 || n < nr || m < mr {
		nearestDot(a, m, b, n, d, bn, idx, dist)
		return
	}
	t := runtime.GOMAXPROCS(0)
	for b0 := 0; b0 < n; b0 += nnChunk {
		nb := min(nnChunk, n-b0)
		nbPad := (nb + nr - 1) / nr * nr
		need := nbPad * d
		bp := pooledFloats(&bankPool, need)
		packB := packColsB(b, d)
		panels := nbPad / nr
		Parallel(panels, func(lo, hi int) {
			for pc := 0; pc < d; pc += kcBlock {
				kc := min(kcBlock, d-pc)
				packB((*bp)[pc*nbPad+lo*nr*kc:], b0+lo*nr, min(hi*nr, nb)-lo*nr, pc, kc)
			}
		})
		blocks := (m + nnRows - 1) / nnRows
		var next atomic.Int64
		worker := func() {
			s := nearestPool.Get().(*nearestScratch)
			defer nearestPool.Put(s)
			for {
				q := int(next.Add(1)) - 1
				if q >= blocks {
					return
				}
				nearestBlock(s, a, m, q*nnRows, d, (*bp)[:need], b0, nb, nbPad, bn, idx, dist)
			}
		}
		w := min(t, blocks)
		runSplit(make([][2]int, w), func(int, int) { worker() })
		bankPool.Put(bp)
	}
}

// pooledFloats returns a buffer of length need from pool (a pool of
// *[]float32), or a new one when the pool's is missing or too short. The
// contents are stale.
func pooledFloats(pool *sync.Pool, need int) *[]float32 {
	if v, ok := pool.Get().(*[]float32); ok && cap(*v) >= need {
		*v = (*v)[:need]
		return v
	}
	s := make([]float32, need)
	return &s
}

// nearestBlock updates idx/dist for query rows [q0, q0+nnRows) against the
// packed bank chunk bp (rows [b0, b0+nb) of the bank).
func nearestBlock(s *nearestScratch, a []float32, m, q0, d int, bp []float32, b0, nb, nbPad int, bn []float32, idx []int32, dist []float32) {
	rows := min(nnRows, m-q0)
	rowsPad := (rows + mr - 1) / mr * mr
	if cap(s.a) < rowsPad*d {
		s.a = make([]float32, nnRows*d)
	}
	if s.dots == nil {
		s.dots = make([]float32, nnRows*nnCols)
	}
	ap := s.a[:rowsPad*d]
	packA := packRowsA(a, d)
	for pc := 0; pc < d; pc += kcBlock {
		kc := min(kcBlock, d-pc)
		packA(ap[pc*rowsPad:], q0, rows, pc, kc)
	}
	var an [nnRows]float32
	var best [nnRows]float32
	var bi [nnRows]int
	for r := 0; r < rows; r++ {
		ar := a[(q0+r)*d : (q0+r+1)*d]
		an[r] = vek32.Dot(ar, ar)
		if b0 == 0 {
			bi[r] = -1
		} else {
			best[r], bi[r] = dist[q0+r], int(idx[q0+r])
		}
	}
	ep := &epilogue{}
	for c0 := 0; c0 < nb; c0 += nnCols {
		cols := min(nnCols, nb-c0)
		for pc := 0; pc < d; pc += kcBlock {
			kc := min(kcBlock, d-pc)
			macroKernel(rows, cols, kc, ap[pc*rowsPad:], bp[pc*nbPad+c0*kc:], s.dots, nnCols, ep, 0, pc == 0, pc+kc >= d)
		}
		for r := 0; r < rows; r++ {
			row := s.dots[r*nnCols : r*nnCols+cols]
			bnr := bn[b0+c0 : b0+c0+cols]
			ar, bv, bj := an[r], best[r], bi[r]
			for j, dv := range row {
				v := ar + bnr[j] - 2*dv
				if v < 0 {
					v = 0
				}
				if bj < 0 || v < bv {
					bv, bj = v, b0+c0+j
				}
			}
			best[r], bi[r] = bv, bj
		}
	}
	for r := 0; r < rows; r++ {
		idx[q0+r], dist[q0+r] = int32(bi[r]), best[r]
	}
}

// nearestDot is Nearest for banks or query sets too small to block: one Dot
// per pair, split over query rows, or over the bank when there are fewer
// query rows than CPUs.
func nearestDot(a []float32, m int, b []float32, n, d int, bn []float32, idx []int32, dist []float32) {
	if t := runtime.GOMAXPROCS(0); m < t && n*(d+1) >= 1<<16 {
		parts := splitAligned(n, t, 1)
		type res struct {
			v float32
			j int
		}
		best := make([]res, len(parts))
		for i := 0; i < m; i++ {
			ai := a[i*d : (i+1)*d]
			an := Dot(ai, ai)
			runSplit(parts, func(lo, hi int) {
				bv, bj := float32(0), -1
				for j := lo; j < hi; j++ {
					v := an + bn[j] - 2*Dot(ai, b[j*d:(j+1)*d])
					if v < 0 {
						v = 0
					}
					if bj < 0 || v < bv {
						bv, bj = v, j
					}
				}
				for q := range parts {
					if parts[q][0] == lo {
						best[q] = res{bv, bj}
					}
				}
			})
			r := best[0]
			for _, o := range best[1:] {
				if o.v < r.v {
					r = o
				}
			}
			idx[i], dist[i] = int32(r.j), r.v
		}
		return
	}
	body := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ai := a[i*d : (i+1)*d]
			an := Dot(ai, ai)
			best, bi := float32(0), -1
			for j := 0; j < n; j++ {
				v := an + bn[j] - 2*Dot(ai, b[j*d:(j+1)*d])
				if v < 0 {
					v = 0
				}
				if bi < 0 || v < best {
					best, bi = v, j
				}
			}
			idx[i], dist[i] = int32(bi), best
		}
	}
	if m*n*(d+1) < 1<<16 {
		body(0, m)
		return
	}
	Parallel(m, body)
}

// Package kernels holds the float32 numeric kernels the rest of pni is built on:
// matrix products (blocked, SIMD through github.com/viterin/vek, spread over all
// cores), squared Euclidean distances computed as ||a||² + ||b||² − 2·a·b, and
// nearest-row searches built on them.
//
// Contract: all matrices are dense and row-major; slices must be at least as long
// as the shapes say (a shorter slice is an internal bug and panics). Every kernel
// is safe for concurrent use: none keeps state between calls.
package kernels

import (
	"runtime"
	"sync"

	"github.com/viterin/vek/vek32"
)

// Parallel splits [0,n) into contiguous chunks and runs fn on each chunk, one
// goroutine per available CPU, returning when all are done. Small n runs inline.
func Parallel(n int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p > n {
		p = n
	}
	if p <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + p - 1) / p
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}

// Gemm computes C = A·B, or C += A·B when acc is true, for A m×k, B k×n and
// C m×n, all row-major.
func Gemm(m, n, k int, a, b, c []float32, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	c = c[:m*n]
	if !acc {
		clear(c)
	}
	if k == 0 {
		return
	}
	a, b = a[:m*k], b[:k*n]
	Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ci := c[i*n : (i+1)*n]
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if av == 0 {
					continue
				}
				row := b[p*n : (p+1)*n]
				for j, bv := range row {
					ci[j] += av * bv
				}
			}
		}
	})
}

// GemmTB computes C = A·Bᵀ, or C += A·Bᵀ when acc is true, for A m×k, B n×k and
// C m×n, all row-major.
func GemmTB(m, n, k int, a, b, c []float32, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	c = c[:m*n]
	a, b = a[:m*k], b[:n*k]
	Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ai := a[i*k : (i+1)*k]
			for j := 0; j < n; j++ {
				d := float32(0)
				if k > 0 {
					d = vek32.Dot(ai, b[j*k:(j+1)*k])
				}
				if acc {
					c[i*n+j] += d
				} else {
					c[i*n+j] = d
				}
			}
		}
	})
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
	for i := range out {
		r := x[i*d : (i+1)*d]
		out[i] = Dot(r, r)
	}
}

// SqDists writes out[i*n+j] = ||a_i − b_j||² for the m rows of a and the n rows
// of b (row length d), clamped at 0. an and bn are the rows' squared norms; nil
// means compute them.
func SqDists(a []float32, m int, b []float32, n, d int, an, bn, out []float32) {
	if an == nil {
		an = make([]float32, m)
		SqNorms(a, d, an)
	}
	if bn == nil {
		bn = make([]float32, n)
		SqNorms(b, d, bn)
	}
	GemmTB(m, n, d, a, b, out, false)
	for i := 0; i < m; i++ {
		row := out[i*n : (i+1)*n]
		for j := range row {
			v := an[i] + bn[j] - 2*row[j]
			if v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}

// Nearest finds, for each of the m rows of a, the row of b (n rows, length d)
// at the smallest Euclidean distance: idx[i] is its index and dist[i] the squared
// distance (ties go to the lower index). bn holds b's squared norms (nil means
// compute them).
func Nearest(a []float32, m int, b []float32, n, d int, bn []float32, idx []int32, dist []float32) {
	if bn == nil {
		bn = make([]float32, n)
		SqNorms(b, d, bn)
	}
	const block = 256
	for lo := 0; lo < m; lo += block {
		hi := min(lo+block, m)
		rows := hi - lo
		out := make([]float32, rows*n)
		SqDists(a[lo*d:hi*d], rows, b, n, d, nil, bn, out)
		for i := 0; i < rows; i++ {
			row := out[i*n : (i+1)*n]
			best, bi := float32(0), -1
			for j, v := range row {
				if bi < 0 || v < best {
					best, bi = v, j
				}
			}
			idx[lo+i], dist[lo+i] = int32(bi), best
		}
	}
}

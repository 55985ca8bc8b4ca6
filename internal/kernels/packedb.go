package kernels

import (
	"fmt"
)

// PackedBT is a matrix B (n×k, row-major) packed once as the right-hand
// operand Bᵀ of repeated products C = A·Bᵀ (see GemmPackedBT). Packing is
// what a product with a wide, thin B spends much of its time on; a search
// index multiplies the same bank by many query blocks. A PackedBT is
// read-only and safe for concurrent use.
type PackedBT struct {
	n, k int
	nPad int       // n rounded up to a multiple of the panel width
	data []float32 // depth block pc at pc*nPad, panel jp of it at jp*kc*nr
}

// PackBT packs the n×k row-major matrix b for GemmPackedBT.
func PackBT(b []float32, n, k int) *PackedBT {
	nPad := (n + nr - 1) / nr * nr
	pb := &PackedBT{n: n, k: k, nPad: nPad, data: make([]float32, k*nPad)}
	if n == 0 || k == 0 {
		return pb
	}
	pack := packColsB(b[:n*k], k)
	panels := nPad / nr
	Parallel(panels, func(lo, hi int) {
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			pack(pb.data[pc*nPad+lo*nr*kc:], lo*nr, min(hi*nr, n)-lo*nr, pc, kc)
		}
	})
	return pb
}

// Rows returns n, the number of rows of the packed B (columns of C).
func (pb *PackedBT) Rows() int { return pb.n }

// packer hands out views of the prepacked blocks; j0 is always a multiple of
// the panel width (blocks and worker splits are panel-aligned).
func (pb *PackedBT) packer() packFn {
	return func(_ []float32, j0, _, p0, kc int) []float32 {
		return pb.data[p0*pb.nPad+j0/nr*kc*nr:]
	}
}

// GemmPackedBT computes C = A·Bᵀ for A m×k (row-major), B packed by PackBT
// (n×k) and C m×n (row-major), splitting the columns of C over the CPUs. It
// panics when a is shorter than m×k or c shorter than m×n.
func GemmPackedBT(m int, a []float32, pb *PackedBT, c []float32) {
	n, k := pb.n, pb.k
	if m == 0 || n == 0 {
		return
	}
	if len(a) < m*k || len(c) < m*n {
		panic(fmt.Sprintf("kernels: GemmPackedBT: A has %d values, C %d, want %d and %d", len(a), len(c), m*k, m*n))
	}
	a, c = a[:m*k], c[:m*n]
	ep := &epilogue{}
	if k == 0 {
		epilogueOnly(m, n, 0, c, n, ep)
		return
	}
	packA, packB := packRowsA(a, k), pb.packer()
	runSplit(splitAligned(n, partsFor(float64(m)*float64(n)*float64(k+1)), nr), func(lo, hi int) {
		gemmSerial(m, hi-lo, k, 0, lo, packA, packB, c[lo:], n, ep)
	})
}

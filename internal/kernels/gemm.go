package kernels

import (
	"runtime"
	"sync"
)

// Register tile and cache blocking (BLIS/GotoBLAS style). A kc×16 packed B
// micro-panel (16 KiB) stays in L1 while the mc×kc packed A block (96 KiB)
// streams from L2; the kc×nc packed B block (2 MiB) lives in L2/L3.
const (
	mr      = 6    // rows of the register tile
	nr      = 16   // columns of the register tile
	kcBlock = 256  // depth of a packed block
	mcBlock = 96   // rows of a packed A block (multiple of mr)
	ncBlock = 2048 // columns of a packed B block (multiple of nr)
)

// packFn fills dst with a packed block. For A: rows [i0,i0+n) and depth
// [p0,p0+kc) in panels of mr rows (dst[ip*kc*mr + p*mr + r]), rows past the end
// zero. For B: columns [i0,i0+n) and depth [p0,p0+kc) in panels of nr columns
// (dst[jp*kc*nr + p*nr + j]), columns past the end zero. It returns the
// packed block: dst, or for prepacked operands (ConvWeights) a view of the
// prepacked copy, in which case dst is untouched.
type packFn func(dst []float32, i0, n, p0, kc int) []float32

// epilogue is what happens to C beyond the product: bias (indexed by C row,
// added once), ReLU (after the last depth block) and whether the product is
// added to C's existing contents.
type epilogue struct {
	bias []float32
	relu bool
	acc  bool
}

type gemmScratch struct {
	a, b []float32
}

var scratchPool = sync.Pool{New: func() any {
	return &gemmScratch{
		a: make([]float32, mcBlock*kcBlock),
		b: make([]float32, kcBlock*ncBlock),
	}
}}

// packRowsA packs rows of a row-major matrix (row stride ld) as A panels.
func packRowsA(a []float32, ld int) packFn {
	return func(dst []float32, i0, n, p0, kc int) []float32 {
		for ip := 0; ip*mr < n; ip++ {
			d := dst[ip*kc*mr : (ip+1)*kc*mr]
			rows := min(mr, n-ip*mr)
			base := (i0+ip*mr)*ld + p0
			if rows == mr {
				r0 := a[base : base+kc]
				r1 := a[base+ld : base+ld+kc]
				r2 := a[base+2*ld : base+2*ld+kc]
				r3 := a[base+3*ld : base+3*ld+kc]
				r4 := a[base+4*ld : base+4*ld+kc]
				r5 := a[base+5*ld : base+5*ld+kc]
				for p := range r0 {
					q := (*[mr]float32)(d[p*mr : p*mr+mr])
					q[0], q[1], q[2], q[3], q[4], q[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
				}
				continue
			}
			clear(d)
			for r := 0; r < rows; r++ {
				src := a[base+r*ld : base+r*ld+kc]
				for p, v := range src {
					d[p*mr+r] = v
				}
			}
		}
		return dst
	}
}

// packRowsB packs a row-major k×n matrix (row stride ld) as B panels.
func packRowsB(b []float32, ld int) packFn {
	return func(dst []float32, j0, n, p0, kc int) []float32 {
		for jp := 0; jp*nr < n; jp++ {
			d := dst[jp*kc*nr : (jp+1)*kc*nr]
			cols := min(nr, n-jp*nr)
			js := j0 + jp*nr
			if cols == nr {
				for p := 0; p < kc; p++ {
					// Through a value: no overlap, so no memmove call.
					v := *(*[nr]float32)(b[(p0+p)*ld+js : (p0+p)*ld+js+nr])
					*(*[nr]float32)(d[p*nr : p*nr+nr]) = v
				}
				continue
			}
			clear(d)
			for p := 0; p < kc; p++ {
				copy(d[p*nr:p*nr+cols], b[(p0+p)*ld+js:(p0+p)*ld+js+cols])
			}
		}
		return dst
	}
}

// packRowsBPre is packRowsB with row r's values mapped to
// max(v·scale[r] + shift[r], 0) (see Pre).
func packRowsBPre(b []float32, ld int, scale, shift []float32) packFn {
	return func(dst []float32, j0, n, p0, kc int) []float32 {
		for jp := 0; jp*nr < n; jp++ {
			d := dst[jp*kc*nr : (jp+1)*kc*nr]
			cols := min(nr, n-jp*nr)
			js := j0 + jp*nr
			if cols == nr && kc > 0 {
				// Bounds checked here; packPre16 reads kc rows of nr.
				_, _ = b[p0*ld+js:(p0+kc-1)*ld+js+nr], d[:kc*nr]
				_, _ = scale[p0:p0+kc], shift[p0:p0+kc]
				packPre16(kc, &b[p0*ld+js], ld, &scale[p0], &shift[p0], &d[0])
				continue
			}
			clear(d)
			for p := 0; p < kc; p++ {
				applyPre(d[p*nr:p*nr+cols], b[(p0+p)*ld+js:(p0+p)*ld+js+cols], scale[p0+p], shift[p0+p])
			}
		}
		return dst
	}
}

// packColsB packs Bᵀ for a row-major n×k matrix b (row stride ld): column j
// of the packed block is row j of b.
func packColsB(b []float32, ld int) packFn {
	return func(dst []float32, j0, n, p0, kc int) []float32 {
		for jp := 0; jp*nr < n; jp++ {
			d := dst[jp*kc*nr : (jp+1)*kc*nr]
			cols := min(nr, n-jp*nr)
			if cols < nr {
				clear(d)
			}
			for j := 0; j < cols; j++ {
				src := b[(j0+jp*nr+j)*ld+p0 : (j0+jp*nr+j)*ld+p0+kc]
				for p, v := range src {
					d[p*nr+j] = v
				}
			}
		}
		return dst
	}
}

// macroKernel multiplies a packed mc×kc A block by a packed kc×nc B block into
// C (row stride ldc). first/last say whether this is the first/last depth
// block (bias is added on the first, ReLU applied on the last); row0 is the
// C row of the block (for the bias).
func macroKernel(mc, nc, kc int, ap, bp, c []float32, ldc int, ep *epilogue, row0 int, first, last bool) {
	flags := 0
	if !first || ep.acc {
		flags |= kernLoad
	}
	if last && ep.relu {
		flags |= kernReLU
	}
	useBias := first && ep.bias != nil
	var tmp [mr * nr]float32
	for jp := 0; jp*nr < nc; jp++ {
		cols := min(nr, nc-jp*nr)
		bpp := &bp[jp*kc*nr]
		for ip := 0; ip*mr < mc; ip++ {
			rows := min(mr, mc-ip*mr)
			app := &ap[ip*kc*mr]
			if rows == mr && cols == nr {
				var bias *float32
				if useBias {
					bias = &ep.bias[row0+ip*mr]
				}
				kern6x16(kc, app, bpp, &c[ip*mr*ldc+jp*nr], ldc, bias, flags)
				continue
			}
			if cols == nr && (rows == 4 || rows == 2) {
				// The last rows of an M that is not a multiple of mr.
				var bias *float32
				if useBias {
					bias = &ep.bias[row0+ip*mr]
				}
				k := kern4x16
				if rows == 2 {
					k = kern2x16
				}
				k(kc, app, bpp, &c[ip*mr*ldc+jp*nr], ldc, bias, flags)
				continue
			}
			kern6x16(kc, app, bpp, &tmp[0], nr, nil, 0)
			for r := 0; r < rows; r++ {
				crow := c[(ip*mr+r)*ldc+jp*nr : (ip*mr+r)*ldc+jp*nr+cols]
				trow := tmp[r*nr : r*nr+cols]
				var bv float32
				if useBias {
					bv = ep.bias[row0+ip*mr+r]
				}
				for j := range crow {
					s := bv + trow[j]
					if flags&kernLoad != 0 {
						s += crow[j]
					}
					if flags&kernReLU != 0 && s < 0 {
						s = 0
					}
					crow[j] = s
				}
			}
		}
	}
}

// gemmSerial computes the m×n block C = A·B (+ epilogue) on one goroutine,
// with A rows [i0,i0+m) and B columns [j0,j0+n) drawn through the packers; c
// starts at C[i0, j0].
func gemmSerial(m, n, k, i0, j0 int, packA, packB packFn, c []float32, ldc int, ep *epilogue) {
	if m <= 0 || n <= 0 {
		return
	}
	if k == 0 {
		epilogueOnly(m, n, i0, c, ldc, ep)
		return
	}
	s := scratchPool.Get().(*gemmScratch)
	defer scratchPool.Put(s)
	for jc := 0; jc < n; jc += ncBlock {
		nc := min(ncBlock, n-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			bp := packB(s.b, j0+jc, nc, pc, kc)
			for ic := 0; ic < m; ic += mcBlock {
				mc := min(mcBlock, m-ic)
				ap := packA(s.a, i0+ic, mc, pc, kc)
				macroKernel(mc, nc, kc, ap, bp, c[ic*ldc+jc:], ldc, ep, i0+ic, pc == 0, pc+kc >= k)
			}
		}
	}
}

// epilogueOnly applies the epilogue to C when the inner dimension is empty.
func epilogueOnly(m, n, i0 int, c []float32, ldc int, ep *epilogue) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		var bv float32
		if ep.bias != nil {
			bv = ep.bias[i0+i]
		}
		for j := range row {
			s := bv
			if ep.acc {
				s += row[j]
			}
			if ep.relu && s < 0 {
				s = 0
			}
			row[j] = s
		}
	}
}

// gemmPar runs gemmSerial over the m×n output split between the available
// CPUs: along n in multiples of nr when n is wide enough, else along m in
// multiples of mr. Each worker packs its own blocks, so there is no nested
// parallelism and no shared mutable state.
func gemmPar(m, n, k int, packA, packB packFn, c []float32, ldc int, ep *epilogue) {
	if m <= 0 || n <= 0 {
		return
	}
	t := partsFor(float64(m) * float64(n) * float64(k+1))
	if t <= 1 {
		gemmSerial(m, n, k, 0, 0, packA, packB, c, ldc, ep)
		return
	}
	splitN := n >= 128*t || (n+nr-1)/nr >= (m+mr-1)/mr
	var parts [][2]int
	if splitN {
		parts = splitAligned(n, t, nr)
	} else {
		nPad := (n + nr - 1) / nr * nr
		if k*nPad <= sharedBMax {
			gemmSharedB(m, n, k, t, packA, packB, c, ldc, ep)
			return
		}
		parts = splitAligned(m, t, mr)
	}
	runSplit(parts, func(lo, hi int) {
		runPart(splitN, lo, hi, m, n, k, packA, packB, c, ldc, ep)
	})
}

func runPart(splitN bool, lo, hi, m, n, k int, packA, packB packFn, c []float32, ldc int, ep *epilogue) {
	if splitN {
		gemmSerial(m, hi-lo, k, 0, lo, packA, packB, c[lo:], ldc, ep)
	} else {
		gemmSerial(hi-lo, n, k, lo, 0, packA, packB, c[lo*ldc:], ldc, ep)
	}
}

// partsFor is how many parts a product of work multiply-adds is split
// into: one per CPU, but at least ~0.5M multiply-adds each.
func partsFor(work float64) int {
	return max(min(runtime.GOMAXPROCS(0), int(work/(1<<19))), 1)
}

// splitAligned splits [0,n) into at most t non-empty contiguous parts whose
// boundaries are multiples of align.
func splitAligned(n, t, align int) [][2]int {
	units := (n + align - 1) / align
	t = min(t, units)
	parts := make([][2]int, 0, t)
	lo := 0
	for i := 0; i < t; i++ {
		hiU := units * (i + 1) / t
		hi := min(hiU*align, n)
		if hi > lo {
			parts = append(parts, [2]int{lo, hi})
		}
		lo = hi
	}
	return parts
}

// sharedBMax bounds the packed size (in floats) of a B matrix that
// gemmSharedB packs whole.
const sharedBMax = 1 << 22

var sharedBPool sync.Pool // *[]float32

// gemmSharedB is the row-split parallel product for narrow outputs: B is
// packed once, whole, by all workers together (each its own panels), then
// every worker multiplies its rows by it. Splitting rows with per-worker
// packing would pack B once per worker, which for a convolution is the whole
// im2col gather.
func gemmSharedB(m, n, k, t int, packA, packB packFn, c []float32, ldc int, ep *epilogue) {
	nPad := (n + nr - 1) / nr * nr
	need := k * nPad
	bp := pooledFloats(&sharedBPool, need)
	defer sharedBPool.Put(bp)
	b := *bp
	panels := nPad / nr
	runSplit(splitAligned(panels, t, 1), func(lo, hi int) {
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			packB(b[pc*nPad+lo*nr*kc:], lo*nr, min(hi*nr, n)-lo*nr, pc, kc)
		}
	})
	runSplit(splitAligned(m, t, mr), func(lo, hi int) {
		s := scratchPool.Get().(*gemmScratch)
		defer scratchPool.Put(s)
		for ic := lo; ic < hi; ic += mcBlock {
			mc := min(mcBlock, hi-ic)
			for pc := 0; pc < k; pc += kcBlock {
				kc := min(kcBlock, k-pc)
				ap := packA(s.a, ic, mc, pc, kc)
				macroKernel(mc, n, kc, ap, b[pc*nPad:], c[ic*ldc:], ldc, ep, ic, pc == 0, pc+kc >= k)
			}
		}
	})
}

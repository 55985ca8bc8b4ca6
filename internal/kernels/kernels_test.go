package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// boundary sizes around the register tile (6×16), the unroll (4) and the
// cache blocks (96 rows, 256 depth, 512/2048 columns).
var sizes = []int{1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257}

type shape struct{ m, n, k int }

func gemmShapes() []shape {
	var s []shape
	for _, v := range sizes {
		s = append(s, shape{v, 17, 33}, shape{13, v, 65}, shape{7, 31, v}, shape{v, v, 9})
		if v <= 129 {
			s = append(s, shape{v, v, v})
		}
	}
	return append(s,
		shape{0, 5, 3}, shape{5, 0, 3}, shape{5, 6, 0}, shape{6, 16, 0},
		shape{2, 3, 4}, shape{5, 7, 6}, shape{97, 65, 513}, shape{193, 300, 257},
		shape{6, 2100, 20}, shape{300, 20, 520}, shape{1, 4000, 3}, shape{1000, 1, 3})
}

func runGemmCase(t *testing.T, rng *rand.Rand, s shape, acc, tb bool) {
	t.Helper()
	m, n, k := s.m, s.n, s.k
	a, b, c := randGuarded(rng, m*k), randGuarded(rng, k*n), randGuarded(rng, m*n)
	a0, b0, c0 := clone(a.data), clone(b.data), clone(c.data)
	want := clone(c0)
	bound := make([]float32, m*n)
	if tb {
		gemmTBRef(m, n, k, a0, b0, want, acc)
		gemmTBRef(m, n, k, absOf(a0), absOf(b0), bound, false)
		GemmTB(m, n, k, a.data, b.data, c.data, acc)
	} else {
		gemmRef(m, n, k, a0, b0, want, acc)
		gemmRef(m, n, k, absOf(a0), absOf(b0), bound, false)
		Gemm(m, n, k, a.data, b.data, c.data, acc)
	}
	if acc {
		for i := range bound {
			bound[i] += float32(math.Abs(float64(c0[i])))
		}
	}
	name := fmt.Sprintf("m=%d n=%d k=%d acc=%v tb=%v", m, n, k, acc, tb)
	a.check(t, name+" a")
	b.check(t, name+" b")
	c.check(t, name+" c")
	sameBits(t, name+" a", a.data, a0)
	sameBits(t, name+" b", b.data, b0)
	closeTo(t, name, c.data, want, bound, k)
}

func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Run(kernName, f)
	if kernName != "generic 6x16" {
		saved, saved4, saved2 := kern6x16, kern4x16, kern2x16
		savedPre, savedIn, savedOut, savedG := packPre16, winoIn8, winoOut8, gather2x16
		kern6x16, kern4x16, kern2x16 = kern6x16Go, kern4x16Go, kern2x16Go
		packPre16, winoIn8, winoOut8, gather2x16 = packPre16Go, winoIn8Go, winoOut8Go, gather2x16Go
		defer func() {
			kern6x16, kern4x16, kern2x16 = saved, saved4, saved2
			packPre16, winoIn8, winoOut8, gather2x16 = savedPre, savedIn, savedOut, savedG
		}()
		t.Run("generic 6x16", f)
	}
}

func TestGemm(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, s := range gemmShapes() {
			for _, acc := range []bool{false, true} {
				runGemmCase(t, rng, s, acc, false)
			}
		}
	})
}

func TestGemmTB(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range gemmShapes() {
			for _, acc := range []bool{false, true} {
				runGemmCase(t, rng, s, acc, true)
			}
		}
	})
}

// TestGemmSerialBlocks drives one goroutine across several column and row
// blocks (n > ncBlock, m > mcBlock) and through misaligned sub-blocks.
func TestGemmSerialBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []shape{{100, ncBlock + 17, 300}, {mcBlock*2 + 1, 40, kcBlock*2 + 3}} {
		m, n, k := s.m, s.n, s.k
		a, b := randGuarded(rng, m*k), randGuarded(rng, k*n)
		c := newGuarded(m * n)
		want, bound := make([]float32, m*n), make([]float32, m*n)
		gemmRef(m, n, k, a.data, b.data, want, false)
		gemmRef(m, n, k, absOf(a.data), absOf(b.data), bound, false)
		gemmSerial(m, n, k, 0, 0, packRowsA(a.data, k), packRowsB(b.data, n), c.data, n, &epilogue{})
		c.check(t, "c")
		closeTo(t, fmt.Sprint(s), c.data, want, bound, k)
	}
}

// TestKernelAsmVsGo checks the selected micro-kernel against the portable one
// (within a tight tolerance: FMA rounds once, so bit equality is not
// expected) for every flag combination, with and without bias, at kc around
// the 4-step unroll, with a C row stride wider than the tile and NaN guards.
func TestKernelAsmVsGo(t *testing.T) {
	if kernName == "generic 6x16" {
		t.Skip("no assembly micro-kernel on this CPU/build")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, kc := range []int{1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257} {
		for flags := 0; flags < 4; flags++ {
			for _, withBias := range []bool{false, true} {
				a, b := randGuarded(rng, kc*mr), randGuarded(rng, kc*nr)
				const ldc = 21
				c := randGuarded(rng, (mr-1)*ldc+nr)
				c2 := clone(c.data)
				bias := randGuarded(rng, mr)
				var bp *float32
				if withBias {
					bp = &bias.data[0]
				}
				kern6x16(kc, &a.data[0], &b.data[0], &c.data[0], ldc, bp, flags)
				kern6x16Go(kc, &a.data[0], &b.data[0], &c2[0], ldc, bp, flags)
				c.check(t, "c")
				for i := range c2 {
					if d := math.Abs(float64(c.data[i] - c2[i])); d > 1e-5*float64(kc) {
						t.Fatalf("kc=%d flags=%d bias=%v: c[%d]=%v want %v", kc, flags, withBias, i, c.data[i], c2[i])
					}
				}
			}
		}
	}
}

func TestGemmNaNPropagates(t *testing.T) {
	m, n, k := 7, 19, 11
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	b[3*n+5] = float32(math.NaN()) // row 3 of B, column 5; A is all zeros
	Gemm(m, n, k, a, b, c, false)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if isNaN := math.IsNaN(float64(c[i*n+j])); isNaN != (j == 5) {
				t.Fatalf("c[%d,%d] = %v", i, j, c[i*n+j])
			}
		}
	}
}

func TestDotSqNorms(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, d := range append([]int{0}, sizes...) {
		x := randGuarded(rng, 5*d)
		y := randGuarded(rng, d)
		if got, want := Dot(x.data[:d], y.data), dotRef(x.data[:d], y.data); math.Abs(float64(got-want)) > 1e-5*float64(d+1) {
			t.Fatalf("Dot d=%d: %v want %v", d, got, want)
		}
		out := newGuarded(5)
		SqNorms(x.data, d, out.data)
		out.check(t, "norms")
		for i := 0; i < 5; i++ {
			r := x.data[i*d : (i+1)*d]
			if want := dotRef(r, r); math.Abs(float64(out.data[i]-want)) > 1e-5*float64(d+1) {
				t.Fatalf("SqNorms d=%d row %d: %v want %v", d, i, out.data[i], want)
			}
		}
	}
}

func TestSqDists(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range []shape{{1, 1, 1}, {7, 17, 9}, {65, 129, 257}, {6, 16, 0}} {
		m, n, d := s.m, s.n, s.k
		a, b := randGuarded(rng, m*d), randGuarded(rng, n*d)
		out := newGuarded(m * n)
		SqDists(a.data, m, b.data, n, d, nil, nil, out.data)
		out.check(t, "out")
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want float64
				for p := 0; p < d; p++ {
					x := float64(a.data[i*d+p] - b.data[j*d+p])
					want += x * x
				}
				if got := float64(out.data[i*n+j]); math.Abs(got-want) > 1e-5*float64(d+1) || got < 0 {
					t.Fatalf("%v: out[%d,%d] = %v want %v", s, i, j, got, want)
				}
			}
		}
	}
}

func TestNearest(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, s := range []shape{
			{1, 1, 1}, {5, 3, 4}, {7, 16, 3}, {6, 17, 257}, {97, 600, 33}, {200, 1030, 300},
			{13, nnChunk + 37, 9}, {3, 40, 0}, {1, 3000, 40}, {5, 1000, 70},
		} {
			m, n, d := s.m, s.n, s.k
			a, b := randGuarded(rng, m*d), randGuarded(rng, n*d)
			// Plant exact copies: query 0 equals bank row n-1 (distance 0).
			if d > 0 && n > 1 {
				copy(a.data[:d], b.data[(n-1)*d:])
			}
			a0, b0 := clone(a.data), clone(b.data)
			idx := make([]int32, m+2)
			dist := newGuarded(m)
			idx[m], idx[m+1] = -7, -7
			Nearest(a.data, m, b.data, n, d, nil, idx[:m], dist.data)
			dist.check(t, "dist")
			sameBits(t, "a", a.data, a0)
			sameBits(t, "b", b.data, b0)
			if idx[m] != -7 || idx[m+1] != -7 {
				t.Fatal("idx written past m")
			}
			wi, wd := make([]int32, m), make([]float32, m)
			nearestRef(a0, m, b0, n, d, wi, wd)
			for i := 0; i < m; i++ {
				tol := 1e-5 * float32(d+1)
				if math.Abs(float64(dist.data[i]-wd[i])) > float64(tol) {
					t.Fatalf("%v row %d: dist %v want %v", s, i, dist.data[i], wd[i])
				}
				if idx[i] != wi[i] {
					// Accept only a genuine near-tie.
					j := int(idx[i])
					var dd float32
					for p := 0; p < d; p++ {
						x := a0[i*d+p] - b0[j*d+p]
						dd += x * x
					}
					if math.Abs(float64(dd-wd[i])) > float64(tol) {
						t.Fatalf("%v row %d: idx %d (d=%v) want %d (d=%v)", s, i, j, dd, wi[i], wd[i])
					}
				}
			}
			if d > 0 && n > 1 && (idx[0] != int32(n-1) || dist.data[0] > 1e-4) {
				t.Fatalf("%v: planted copy not found: idx %d dist %v", s, idx[0], dist.data[0])
			}
		}
	})
}

func TestNearestTiesAndEmpty(t *testing.T) {
	// Bank of 40 rows where rows 3, 20 and 33 are the same point.
	d, n := 5, 40
	b := make([]float32, n*d)
	for j := 0; j < n; j++ {
		for p := 0; p < d; p++ {
			b[j*d+p] = float32(j*10 + p)
		}
	}
	for _, j := range []int{20, 33} {
		copy(b[j*d:(j+1)*d], b[3*d:4*d])
	}
	a := make([]float32, 12*d)
	for i := 0; i < 12; i++ {
		copy(a[i*d:], b[3*d:4*d])
		a[i*d] += 0.25
	}
	idx, dist := make([]int32, 12), make([]float32, 12)
	Nearest(a, 12, b, n, d, nil, idx, dist)
	for i := range idx {
		if idx[i] != 3 || math.Abs(float64(dist[i])-0.0625) > 1e-3 {
			t.Fatalf("row %d: idx %d dist %v, want 3 and 0.0625", i, idx[i], dist[i])
		}
	}
	Nearest(a, 12, nil, 0, d, nil, idx, dist)
	for i := range idx {
		if idx[i] != -1 || dist[i] != 0 {
			t.Fatalf("empty bank row %d: idx %d dist %v", i, idx[i], dist[i])
		}
	}
}

func TestParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000} {
		var mu sync.Mutex
		seen := make([]int, n)
		Parallel(n, func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, v := range seen {
			if v != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, v)
			}
		}
	}
}

func TestSplitAligned(t *testing.T) {
	for _, n := range []int{1, 5, 16, 17, 100, 3136} {
		for _, tt := range []int{1, 2, 3, 8} {
			parts := splitAligned(n, tt, 16)
			lo := 0
			for _, p := range parts {
				if p[0] != lo || p[1] <= p[0] || (p[1] != n && p[1]%16 != 0) {
					t.Fatalf("n=%d t=%d: bad parts %v", n, tt, parts)
				}
				lo = p[1]
			}
			if lo != n {
				t.Fatalf("n=%d t=%d: parts %v do not cover", n, tt, parts)
			}
		}
	}
}

// TestConcurrentCalls runs Gemm, GemmTB, Nearest and Conv2D from many
// goroutines at once (run with -race) and checks every result.
func TestConcurrentCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	m, n, k := 70, 90, 130
	a, b := randGuarded(rng, m*k).data, randGuarded(rng, k*n).data
	want := make([]float32, m*n)
	gemmRef(m, n, k, a, b, want, false)
	bound := make([]float32, m*n)
	gemmRef(m, n, k, absOf(a), absOf(b), bound, false)
	p := ConvParams{N: 2, C: 8, H: 13, W: 11, M: 12, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		PadT: 1, PadL: 1, PadB: 1, PadR: 1, DilH: 1, DilW: 1, Group: 1}
	oh, ow := p.OutSize()
	in, w := randGuarded(rng, p.N*p.C*p.H*p.W).data, randGuarded(rng, p.M*p.C*9).data
	cwant := make([]float32, p.N*p.M*oh*ow)
	conv2DRef(p, in, w, nil, cwant, true)
	cbound := make([]float32, len(cwant))
	conv2DRef(p, absOf(in), absOf(w), nil, cbound, false)
	workers := 4 * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for it := 0; it < 5; it++ {
				c := make([]float32, m*n)
				if g%2 == 0 {
					Gemm(m, n, k, a, b, c, false)
				} else {
					out := make([]float32, len(cwant))
					Conv2D(p, in, w, nil, out, true)
					for i := range out {
						if math.Abs(float64(out[i]-cwant[i])) > 1e-5*float64(cbound[i])+1e-6 {
							errs <- fmt.Sprintf("conv goroutine %d: out[%d]=%v want %v", g, i, out[i], cwant[i])
							return
						}
					}
					continue
				}
				for i := range c {
					if math.Abs(float64(c[i]-want[i])) > 1e-5*float64(bound[i])+1e-6 {
						errs <- fmt.Sprintf("gemm goroutine %d: c[%d]=%v want %v", g, i, c[i], want[i])
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*rng.Float32() - 1
	}
	return x
}

// meter reports GFLOP/s of wall time and, because the benchmark machines are
// shared, GFLOP per CPU-second (the rate one core sustains while it is
// actually scheduled, which other processes' load does not dilute).
type meter struct {
	b   *testing.B
	cpu time.Duration
}

// start resets the benchmark timer and the CPU clock.
func start(b *testing.B) meter {
	b.ReportAllocs()
	b.ResetTimer()
	return meter{b: b, cpu: processCPUTime()}
}

// report records the metrics for flops floating-point operations per op.
func (m meter) report(flops float64) {
	total := flops * float64(m.b.N) / 1e9
	m.b.ReportMetric(total/m.b.Elapsed().Seconds(), "GFLOP/s")
	if cpu := processCPUTime() - m.cpu; cpu > 0 {
		m.b.ReportMetric(total/cpu.Seconds(), "GFLOP/cpu-s")
	}
}

// BenchmarkGemm: 256×3136×2304 is the im2col product of a 3×3 conv with 256
// channels at 56×56; 1024×784×256 a 1×1 expansion at 28×28.
func BenchmarkGemm(b *testing.B) {
	for _, s := range []shape{{256, 3136, 2304}, {1024, 784, 256}, {256, 196, 1024}, {64, 64, 64}} {
		b.Run(fmt.Sprintf("m=%d/n=%d/k=%d", s.m, s.n, s.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), make([]float32, s.m*s.n)
			b.SetBytes(int64(4 * (s.m*s.k + s.k*s.n + s.m*s.n)))
			mt := start(b)
			for i := 0; i < b.N; i++ {
				Gemm(s.m, s.n, s.k, a, bb, c, false)
			}
			mt.report(2 * float64(s.m) * float64(s.n) * float64(s.k))
		})
	}
}

func BenchmarkGemmTB(b *testing.B) {
	s := shape{784, 4096, 1024}
	rng := rand.New(rand.NewPCG(2, 2))
	a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.n*s.k), make([]float32, s.m*s.n)
	mt := start(b)
	for i := 0; i < b.N; i++ {
		GemmTB(s.m, s.n, s.k, a, bb, c, false)
	}
	mt.report(2 * float64(s.m) * float64(s.n) * float64(s.k))
}

func BenchmarkConv2D(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    ConvParams
	}{
		{"3x3/c=256/56x56", cp(1, 256, 56, 56, 256, 3, 3, 1, 1, 1, 1)},
		{"1x1/c=1024-256/14x14", cp(1, 1024, 14, 14, 256, 1, 1, 1, 0, 1, 1)},
		{"3x3/c=64/56x56", cp(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1)},
		{"7x7s2/c=3-64/224x224", cp(1, 3, 224, 224, 64, 7, 7, 2, 3, 1, 1)},
		{"3x3s2/c=256/28x28", cp(1, 256, 28, 28, 256, 3, 3, 2, 1, 1, 1)},
		{"3x3/c=128-32/56x56", cp(1, 128, 56, 56, 32, 3, 3, 1, 1, 1, 1)}, // DenseNet-201 growth layers
		{"3x3/c=128-32/14x14", cp(1, 128, 14, 14, 32, 3, 3, 1, 1, 1, 1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.p
			oh, ow := p.OutSize()
			rng := rand.New(rand.NewPCG(3, 3))
			kk := p.C / p.Group * p.KH * p.KW
			in, w, bias := randSlice(rng, p.N*p.C*p.H*p.W), randSlice(rng, p.M*kk), randSlice(rng, p.M)
			out := make([]float32, p.N*p.M*oh*ow)
			mt := start(b)
			for i := 0; i < b.N; i++ {
				Conv2D(p, in, w, bias, out, true)
			}
			mt.report(2 * float64(p.N*p.M*oh*ow) * float64(kk))
		})
		b.Run(bc.name+"/packed", func(b *testing.B) {
			p := bc.p
			oh, ow := p.OutSize()
			rng := rand.New(rand.NewPCG(3, 3))
			kk := p.C / p.Group * p.KH * p.KW
			in, w, bias := randSlice(rng, p.N*p.C*p.H*p.W), randSlice(rng, p.M*kk), randSlice(rng, p.M)
			pw := PackConvWeights(p, w)
			out := make([]float32, p.N*p.M*oh*ow)
			mt := start(b)
			for i := 0; i < b.N; i++ {
				Conv2DPacked(p, pw, in, bias, out, true)
			}
			mt.report(2 * float64(p.N*p.M*oh*ow) * float64(kk))
		})
	}
}

func BenchmarkNearest(b *testing.B) {
	m, n, d := 784, 16384, 1024
	rng := rand.New(rand.NewPCG(4, 4))
	a, bank := randSlice(rng, m*d), randSlice(rng, n*d)
	bn := make([]float32, n)
	SqNorms(bank, d, bn)
	idx, dist := make([]int32, m), make([]float32, m)
	mt := start(b)
	for i := 0; i < b.N; i++ {
		Nearest(a, m, bank, n, d, bn, idx, dist)
	}
	mt.report(2 * float64(m) * float64(n) * float64(d))
}

// BenchmarkKernel times the register-tile micro-kernel alone on L1-resident
// panels: the single-core ceiling of every product here.
func BenchmarkKernel(b *testing.B) {
	const kc = 256
	rng := rand.New(rand.NewPCG(5, 5))
	a, bb, c := randSlice(rng, kc*mr), randSlice(rng, kc*nr), make([]float32, mr*nr)
	mt := start(b)
	for i := 0; i < b.N; i++ {
		kern6x16(kc, &a[0], &bb[0], &c[0], nr, nil, kernLoad)
	}
	mt.report(2 * mr * nr * kc)
}

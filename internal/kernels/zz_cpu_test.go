package kernels

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPU(t *testing.T) {
	const kc = 256
	rng := rand.New(rand.NewPCG(5, 5))
	a, bb, c := randSlice(rng, kc*mr), randSlice(rng, kc*nr), make([]float32, mr*nr)
	t0 := cpuTime()
	w0 := time.Now()
	const N = 200000
	for i := 0; i < N; i++ {
		kern6x16(kc, &a[0], &bb[0], &c[0], nr, nil, kernLoad)
	}
	dt := cpuTime() - t0
	t.Logf("kernel: %.1f GFLOP per CPU-second (wall %.1f)", 2*mr*nr*kc*float64(N)/dt.Seconds()/1e9, 2*mr*nr*kc*float64(N)/time.Since(w0).Seconds()/1e9)
	for _, s := range []shape{{256, 3136, 2304}, {1024, 784, 256}, {256, 196, 1024}} {
		a, bb, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), make([]float32, s.m*s.n)
		Gemm(s.m, s.n, s.k, a, bb, c, false)
		t0 := cpuTime()
		w0 := time.Now()
		for i := 0; i < 3; i++ {
			Gemm(s.m, s.n, s.k, a, bb, c, false)
		}
		dt := cpuTime() - t0
		fl := 3 * 2 * float64(s.m*s.n*s.k)
		t.Logf("gemm %v: %.1f GFLOP per CPU-second, wall %.1f GFLOP/s", s, fl/dt.Seconds()/1e9, fl/time.Since(w0).Seconds()/1e9)
	}
}

func TestZZCPU2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, p := range []ConvParams{cp(1, 256, 56, 56, 256, 3, 3, 1, 1, 1, 1), cp(1, 1024, 14, 14, 256, 1, 1, 1, 0, 1, 1), cp(1, 256, 28, 28, 256, 3, 3, 2, 1, 1, 1), cp(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1)} {
		oh, ow := p.OutSize()
		kk := p.C / p.Group * p.KH * p.KW
		in, w, bias := randSlice(rng, p.N*p.C*p.H*p.W), randSlice(rng, p.M*kk), randSlice(rng, p.M)
		out := make([]float32, p.N*p.M*oh*ow)
		Conv2D(p, in, w, bias, out, true)
		t0 := cpuTime()
		w0 := time.Now()
		for i := 0; i < 3; i++ {
			Conv2D(p, in, w, bias, out, true)
		}
		dt := cpuTime() - t0
		fl := 3 * 2 * float64(p.M*oh*ow*kk)
		t.Logf("conv %v: %.1f GFLOP per CPU-second, wall %.1f GFLOP/s", p, fl/dt.Seconds()/1e9, fl/time.Since(w0).Seconds()/1e9)
	}
	m, n, d := 784, 16384, 1024
	a, bank := randSlice(rng, m*d), randSlice(rng, n*d)
	idx, dist := make([]int32, m), make([]float32, m)
	t0 := cpuTime()
	w0 := time.Now()
	Nearest(a, m, bank, n, d, nil, idx, dist)
	dt := cpuTime() - t0
	fl := 2 * float64(m*n*d)
	t.Logf("nearest: %.1f GFLOP per CPU-second, wall %.1f GFLOP/s", fl/dt.Seconds()/1e9, fl/time.Since(w0).Seconds()/1e9)
}

package coreset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// benchMixture is clustered data like real patch features: a mixture of 64 low-rank Gaussians
// (rank 8, plus isotropic noise), fixed seed. Generated once per process.
var benchData = struct {
	once sync.Once
	x    []float32
}{}

const benchN, benchD = 164000, 1024

func benchMixture() []float32 {
	benchData.once.Do(func() {
		benchData.x = mixtureRank(rand.New(rand.NewPCG(2024, 1)), benchN, benchD, 64, 8)
	})
	return benchData.x
}

// mixtureRank is mixture with a chosen rank.
func mixtureRank(rng *rand.Rand, n, d, comps, rank int) []float32 {
	means := gaussian(rng, comps, d)
	basis := gaussian(rng, comps*rank, d)
	x := make([]float32, n*d)
	for i := 0; i < n; i++ {
		c := rng.IntN(comps)
		row := x[i*d : (i+1)*d]
		copy(row, means[c*d:(c+1)*d])
		for j := 0; j < rank; j++ {
			g := float32(rng.NormFloat64() * 0.5)
			b := basis[(c*rank+j)*d : (c*rank+j+1)*d]
			for t := range row {
				row[t] += g * b[t]
			}
		}
		for t := range row {
			row[t] += float32(rng.NormFloat64() * 0.05)
		}
	}
	return x
}

// BenchmarkGreedy164kx1024 is the lead's budget case: 164k rows of 1024 dims, 10% (k = 16400),
// default 128-d projection included. Skipped with -short (about 10-20 s on 2 cores, plus a few
// seconds to generate the 672 MB of data; about 1.2 GB of memory in all).
func BenchmarkGreedy164kx1024(b *testing.B) {
	if testing.Short() {
		b.Skip("164k x 1024 greedy takes tens of seconds; run without -short")
	}
	x := benchMixture()
	k := Size(0.1, benchN)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := (Greedy{Seed: 1}).Select(context.Background(), x, benchN, benchD, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGreedyProjected164k is the greedy part alone, on the 128-d projected rows.
func BenchmarkGreedyProjected164k(b *testing.B) {
	if testing.Short() {
		b.Skip("164k-row greedy; run without -short")
	}
	x := benchMixture()
	z := make([]float32, benchN*DefaultProjDim)
	newProj(benchD, DefaultProjDim, 1).Apply(x, benchN, z)
	for _, ratio := range []float64{0.01, 0.1} {
		k := Size(ratio, benchN)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (Greedy{Seed: 1}).SelectProjected(context.Background(), z, benchN, DefaultProjDim, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGreedySmall compares the accelerated greedy with the naive loop on 20k x 128 rows.
func BenchmarkGreedySmall(b *testing.B) {
	n, d, k := 20000, 128, 2000
	z := mixtureRank(rand.New(rand.NewPCG(1, 1)), n, d, 32, 8)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (Greedy{ProjDim: -1}).SelectProjected(context.Background(), z, n, d, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.ReportAllocs()
		first := startRow(z, n, d, DefaultStartPoints, 0)
		for b.Loop() {
			naiveOrder(z, n, d, k, first)
		}
	})
}

// BenchmarkProjection projects 16384 rows of 1024 dims to 128.
func BenchmarkProjection(b *testing.B) {
	n, d, r := 16384, 1024, 128
	x := gaussian(rand.New(rand.NewPCG(1, 1)), n, d)
	p := newProj(d, r, 1)
	out := make([]float32, n*r)
	b.SetBytes(int64(n * d * 4))
	b.ReportAllocs()
	for b.Loop() {
		p.Apply(x, n, out)
	}
}

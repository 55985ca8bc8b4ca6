package neighborhood

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchData returns n images of 28×28 random reduced features (R=64) and
// random targets in [0, classes).
func benchData(n, h, w, r, classes int) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(1, 1))
	grid := make([]float32, n*h*w*r)
	for i := range grid {
		grid[i] = float32(rng.NormFloat64())
	}
	targets := make([]int32, n*h*w)
	for i := range targets {
		targets[i] = int32(rng.IntN(classes))
	}
	return grid, targets
}

// BenchmarkEpoch trains one epoch over a 200-image category at a 28×28 grid
// (156,800 rows), R=64, p=5 (1536 inputs), 2048 classes, default hidden
// widths and batch size, without validation.
func BenchmarkEpoch(b *testing.B) {
	if testing.Short() {
		b.Skip("one epoch takes tens of seconds; skipped with -short")
	}
	const n, h, w, r, classes = 200, 28, 28, 64, 2048
	grid, targets := benchData(n, h, w, r, classes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := Train(context.Background(), nil, grid, n, h, w, targets, classes, Config{Epochs: 1, ValFraction: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(m.Report.Epochs[0].Elapsed.Seconds(), "s/epoch")
	}
}

// BenchmarkStep times one training step (assembly, forward, backward, Adam)
// for several hidden widths and batch sizes at p=5, R=64, 2048 classes; an
// epoch over 156,800 rows costs 156800/batch steps (reported as s/epoch).
func BenchmarkStep(b *testing.B) {
	const h, w, r, classes = 28, 28, 64, 2048
	grid, targets := benchData(4, h, w, r, classes)
	for _, hidden := range [][]int{{256, 256}, {512}, {512, 512}, {1024, 1024}} {
		for _, bsz := range []int{128, 256, 512} {
			b.Run(fmt.Sprintf("hidden=%v/batch=%d", hidden, bsz), func(b *testing.B) {
				offs := offsets(5)
				sizes := append(append([]int{len(offs) * r}, hidden...), classes)
				nt := initNet(sizes, rand.New(rand.NewPCG(1, 2)))
				opt := newAdam(nt, 1e-3)
				ws := newWorkspace(sizes, bsz, true)
				rows := make([]int32, bsz)
				tg := make([]int32, bsz)
				for i := range rows {
					rows[i] = int32(i * 7 % (4 * h * w))
					tg[i] = targets[rows[i]]
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					assemble(grid, h, w, r, offs, nil, nil, rows, ws.acts[0])
					forward(sizes, nt.wt, nt.b, ws, bsz)
					lossGrad(sizes, ws, bsz, tg, true)
					backward(nt, ws, bsz)
					opt.step(nt, ws)
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*156800/float64(bsz), "s/epoch")
			})
		}
	}
}

// BenchmarkPredict28 predicts one 28×28 image (R=64, p=5, default hidden,
// 2048 classes).
func BenchmarkPredict28(b *testing.B) {
	const h, w, r, classes = 28, 28, 64, 2048
	grid, targets := benchData(2, h, w, r, classes)
	m, err := Train(context.Background(), nil, grid, 2, h, w, targets, classes, Config{Epochs: 1, ValFraction: -1})
	if err != nil {
		b.Fatal(err)
	}
	img := grid[:h*w*r]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.PredictReduced(img, h, w); err != nil {
			b.Fatal(err)
		}
	}
}

package neighborhood

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchData returns n images of h×w random reduced features (dimension r) and
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

// BenchmarkEpoch trains one epoch with the default configuration (hidden
// widths, batch size, MaxRowsPerEpoch, validation of 10% of the images) over
// a 200-image category with R=64 and 2048 classes: at a 28×28 grid with p=5
// (1536 inputs) and at a 60×60 grid with p=9 (5120 inputs).
func BenchmarkEpoch(b *testing.B) {
	if testing.Short() {
		b.Skip("one epoch takes seconds to tens of seconds; skipped with -short")
	}
	for _, tc := range []struct{ grid, p int }{{28, 5}, {60, 9}} {
		b.Run(fmt.Sprintf("grid=%d/p=%d", tc.grid, tc.p), func(b *testing.B) {
			const n, r, classes = 200, 64, 2048
			grid, targets := benchData(n, tc.grid, tc.grid, r, classes)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m, err := Train(context.Background(), nil, grid, n, tc.grid, tc.grid, targets, classes,
					Config{Window: tc.p, Epochs: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(m.report.Epochs[0].Elapsed.Seconds(), "s/epoch")
			}
		})
	}
}

// BenchmarkStep times one training step (assembly, forward, backward, Adam)
// at R=64, 2048 classes, for several windows, hidden widths and batch sizes;
// an epoch of DefaultMaxRowsPerEpoch rows costs DefaultMaxRowsPerEpoch/batch
// steps (reported as s/epoch, without validation).
func BenchmarkStep(b *testing.B) {
	const h, w, r, classes = 28, 28, 64, 2048
	grid, targets := benchData(4, h, w, r, classes)
	type tc struct {
		p      int
		hidden []int
	}
	for _, c := range []tc{{5, []int{256, 256}}, {5, []int{512}}, {5, []int{512, 512}}, {5, []int{1024, 1024}}, {9, []int{512, 512}}} {
		for _, bsz := range []int{128, 256, 512} {
			b.Run(fmt.Sprintf("p=%d/hidden=%v/batch=%d", c.p, c.hidden, bsz), func(b *testing.B) {
				offs := offsets(c.p)
				sizes := append(append([]int{len(offs) * r}, c.hidden...), classes)
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
					forward(sizes, nt.w, nt.b, ws, bsz)
					lossGrad(sizes, ws, bsz, tg, true)
					backward(nt, ws, bsz)
					opt.step(nt, ws)
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*DefaultMaxRowsPerEpoch/float64(bsz), "s/epoch")
			})
		}
	}
}

// BenchmarkPredict28 predicts one 28×28 image (R=64, p=5, default hidden,
// 2048 classes).
func BenchmarkPredict28(b *testing.B) { benchPredict(b, 28, 5) }

// BenchmarkPredict60 predicts one 60×60 image (R=64, p=9, default hidden,
// 2048 classes).
func BenchmarkPredict60(b *testing.B) { benchPredict(b, 60, 9) }

func benchPredict(b *testing.B, g, p int) {
	h, w := g, g
	const r, classes = 64, 2048
	grid, targets := benchData(2, h, w, r, classes)
	m, err := Train(context.Background(), nil, grid, 2, h, w, targets, classes,
		Config{Window: p, Epochs: 1, ValFraction: -1, MaxRowsPerEpoch: 256})
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

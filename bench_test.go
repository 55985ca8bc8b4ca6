package pni

import (
	"context"
	"image"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/procstat"
	"github.com/x/pni/internal/testenv"
	"github.com/x/pni/refine"
)

var sharedDir = testenv.SharedDir

func bottleImages(tb testing.TB, dir string, n int) []image.Image {
	tb.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "data", "mvtec_ad", "bottle", "train", "good", "*.png"))
	sort.Strings(paths)
	if len(paths) < n {
		tb.Fatalf("want %d bottle images, found %d", n, len(paths))
	}
	imgs := make([]image.Image, n)
	for i := range imgs {
		img, err := imageio.Load(paths[i])
		if err != nil {
			tb.Fatal(err)
		}
		imgs[i] = img
	}
	return imgs
}

// benchScore times Score end to end (preprocessing, backbone, nearest
// neighbours over a memory bank of realistic size, map) on one bottle image,
// and reports it as a multiple of the backbone's features alone
// (x-features: preprocessing, network and aggregation).
// The bank is the whole of nTrain images' patches, which at 224 (21 images x
// 784) is the size of a 10% coreset of a 209-image category (16.4k) and at 480
// (2 images x 3600) about a 1% coreset of a 200-image one.
func benchScore(b *testing.B, nTrain int, ratio float64, opts ...Option) {
	dir := sharedDir(b)
	imgs := bottleImages(b, dir, nTrain+1)
	// The preset comes first: it resets the ratio and the parts.
	opts = append(opts, WithBackbone(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")),
		WithCoresetRatio(ratio), WithNeighborhood(false))
	m, err := Fit(context.Background(), imgs[:nTrain], opts...)
	if err != nil {
		b.Fatal(err)
	}
	// The features alone run between the timed Score calls, so that the
	// ratio of the two, reported as x-features, compares them under the same
	// machine load.
	var backboneTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Score(context.Background(), imgs[nTrain]); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t0 := time.Now()
		mb := m.members[0]
		if _, err := mb.bb.Features(context.Background(), imgs[nTrain], mb.preprocess()); err != nil {
			b.Fatal(err)
		}
		backboneTime += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(m.Info().EmbSize), "bank")
	b.ReportMetric(b.Elapsed().Seconds()/backboneTime.Seconds(), "x-features")
}

func BenchmarkScore224(b *testing.B) {
	b.Run("patchcore", func(b *testing.B) { benchScore(b, 21, 1, WithPreset(PresetMVTec), WithPosition(false)) })
	b.Run("position", func(b *testing.B) { benchScore(b, 21, 1, WithPreset(PresetMVTec)) })
}

func BenchmarkScore480(b *testing.B) {
	b.Run("patchcore", func(b *testing.B) { benchScore(b, 2, 1, WithPreset(PresetDefault), WithPosition(false)) })
	b.Run("position", func(b *testing.B) { benchScore(b, 2, 1, WithPreset(PresetDefault)) })
}

// benchModel480 loads n bottle images and fits a model on the first two at
// the default preset with the whole of their patches as the bank (7200, about
// a 1% coreset of a 200-image category); the rest are for scoring.
func benchModel480(b *testing.B, n int) ([]image.Image, *Model) {
	b.Helper()
	dir := sharedDir(b)
	imgs := bottleImages(b, dir, n)
	m, err := Fit(context.Background(), imgs[:2], WithPreset(PresetDefault),
		WithBackbone(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")), WithCoresetRatio(1))
	if err != nil {
		b.Fatal(err)
	}
	return imgs, m
}

// BenchmarkRefine480 times Refine alone (the image and the calibrated map
// at the net's working size through the shipped net, the blend, the maps
// back at the original size, the decision and the regions) on a bottle
// image scored by a model at the default preset; beside BenchmarkScore480
// it gives the cost refinement adds to a score.
func BenchmarkRefine480(b *testing.B) {
	imgs, m := benchModel480(b, 3)
	net, err := refine.Default()
	if err != nil {
		b.Fatal(err)
	}
	if err := m.SetRefiner(net, 0, false); err != nil {
		b.Fatal(err)
	}
	r, err := m.Score(context.Background(), imgs[2])
	if err != nil {
		b.Fatal(err)
	}
	w, h := net.Size()
	b.ReportMetric(float64(w*h), "net-pixels")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Refine(context.Background(), imgs[2], r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScoreParallel measures throughput: concurrent Score calls on
// GOMAXPROCS goroutines (the model is safe for concurrent use), reported as
// images per second, at the default preset with a bank of about a 1%
// coreset of a 200-image category.
func BenchmarkScoreParallel(b *testing.B) {
	imgs, m := benchModel480(b, 4)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			img := imgs[2+int(next.Add(1))%2]
			if _, err := m.Score(context.Background(), img); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkFitRefiner times Fit with WithRefinement at its defaults on 24
// bottle images at the default preset: the model, the cross-fitted
// training samples (two fold models, three samples per image) and the
// net's training. It reports the whole Fit, the refine stage, the training
// alone and per epoch, and the process's peak resident memory; -benchmem
// gives the allocations. A 200-image category costs about ten times the
// model and sample stages (they are linear in the images) and the training
// per epoch ten times as much.
func BenchmarkFitRefiner(b *testing.B) {
	dir := sharedDir(b)
	imgs := bottleImages(b, dir, 24)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		m, err := Fit(context.Background(), imgs, WithPreset(PresetDefault),
			WithBackbone(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")), WithRefinement(RefinementConfig{}))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "fit-s")
		for _, st := range m.FitTimes() {
			if st.Stage == StageRefine {
				b.ReportMetric(st.Seconds, "refine-s")
			}
		}
		rep, ok := m.RefinementReport()
		if !ok {
			b.Fatal("no refinement report")
		}
		b.ReportMetric(rep.TrainSeconds, "train-s")
		b.ReportMetric(rep.SecondsPerEpoch, "s/epoch")
		b.ReportMetric(float64(len(rep.Epochs)), "epochs")
		b.ReportMetric(float64(rep.TrainSamples+rep.ValSamples), "samples")
	}
	runtime.GC()
	b.ReportMetric(procstat.PeakRSSMB(), "peak-MB")
}

package onnx

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/x/pni/internal/tensor"
	"github.com/x/pni/internal/testenv"
)

var (
	sharedDir = testenv.SharedDir
	readF32   = testenv.ReadF32
	maxRelErr = testenv.MaxRelErr
)

func loadResNet(tb testing.TB) (*Model, string) {
	dir := sharedDir(tb)
	data, err := os.ReadFile(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx"))
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	m, err := Decode(data)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("decoded ResNet-50 in %v", time.Since(start))
	return m, dir
}

func TestResNet50Layer23(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-50 parity runs a 6 GFLOP network; skipped in -short mode")
	}
	m, dir := loadResNet(t)
	ref := filepath.Join(dir, "models", "reference", "bottle_broken_large_000")
	in := tensor.FromData(readF32(t, ref+".input.f32"), 1, 3, 224, 224)
	l2, l3 := readF32(t, ref+".layer2.f32"), readF32(t, ref+".layer3.f32")
	if got := m.Inputs(); len(got) != 1 || got[0] != "image" {
		t.Fatalf("Inputs() = %v", got)
	}
	if m.Opset() != 13 {
		t.Errorf("Opset() = %d, want 13", m.Opset())
	}
	if m.Metadata()["layers"] != "layer2,layer3" {
		t.Errorf("Metadata()[layers] = %q", m.Metadata()["layers"])
	}
	keep := append([]float32(nil), in.Data...)
	start := time.Now()
	out, err := m.Run(context.Background(), map[string]*tensor.Tensor{"image": in}, "layer2", "layer3")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("layer2+layer3: %v", time.Since(start))
	checkOut(t, out["layer2"], []int{1, 512, 28, 28}, l2, 1e-3)
	checkOut(t, out["layer3"], []int{1, 1024, 14, 14}, l3, 1e-3)
	// A second run, layer3 alone, reuses pooled buffers: no state may leak.
	start = time.Now()
	out, err = m.Run(context.Background(), map[string]*tensor.Tensor{"image": in}, "layer3")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("layer3: %v", time.Since(start))
	checkOut(t, out["layer3"], []int{1, 1024, 14, 14}, l3, 1e-3)
	for i := range keep {
		if keep[i] != in.Data[i] {
			t.Fatal("Run modified its input")
		}
	}
}

func checkOut(t *testing.T, got *tensor.Tensor, shape []int, want []float32, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatal("missing output")
	}
	if !sameShape(got.Shape, shape) {
		t.Fatalf("shape %v, want %v", got.Shape, shape)
	}
	if e := maxRelErr(got.Data, want); e > tol {
		t.Fatalf("max abs error / max|ref| = %.3g > %.3g", e, tol)
	} else {
		t.Logf("shape %v: relative max error %.3g", shape, e)
	}
}

// BenchmarkResNet50Layer3 runs the shared ResNet-50 from a 1x3x224x224 image
// to layer3 (layer2 is computed on the way) and reports ms/op and GFLOP/s,
// the FLOPs counted from the convolution shapes (about 6.25 GFLOP).
func BenchmarkResNet50Layer3(b *testing.B) {
	m, dir := loadResNet(b)
	in := tensor.FromData(readF32(b, filepath.Join(dir, "models", "reference", "bottle_broken_large_000.input.f32")), 1, 3, 224, 224)
	inputs := map[string]*tensor.Tensor{"image": in}
	var flops int64
	if _, err := m.run(context.Background(), &flops, inputs, []string{"layer3"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Run(context.Background(), inputs, "layer3"); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/op")
	b.ReportMetric(float64(flops)/sec/1e9, "GFLOP/s")
	b.ReportMetric(float64(flops)/1e9, "GFLOP")
}

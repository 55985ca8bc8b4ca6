package backbone

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sharedDir returns the shared data directory ($PNI_SHARED, else ../shared
// relative to the repository root). When it is missing the test is skipped,
// or fails under CI=true.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("PNI_SHARED")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared data not found at %s (set PNI_SHARED): %v", dir, err)
		}
		tb.Skipf("shared data not found at %s (set PNI_SHARED to run this test): %v", dir, err)
	}
	return dir
}

// sharedModelPath is the shared ResNet-50 backbone.
func sharedModelPath(tb testing.TB) string {
	return filepath.Join(sharedDir(tb), "models", "resnet50-imagenet-l23.onnx")
}

func readF32(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(b)%4 != 0 {
		tb.Fatalf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// relErr returns max|got-want| / max|want|.
func relErr(got, want []float32) float64 {
	var d, ref float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		ref = math.Max(ref, math.Abs(float64(want[i])))
	}
	if ref == 0 {
		return d
	}
	return d / ref
}

func loadTiny(tb testing.TB, opts *Options) *Model {
	tb.Helper()
	m, err := Load(filepath.Join("testdata", "tiny.onnx"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

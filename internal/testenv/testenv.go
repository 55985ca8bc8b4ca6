// Package testenv gives pni's tests the shared data directory and small
// helpers for reference files. The shared data (../shared beside the
// repository, or $PNI_SHARED) is never copied into the repository; tests that
// need it skip when it is missing, and fail under CI=true, where a skip would
// pass silently.
package testenv

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedDir returns the shared data directory: $PNI_SHARED, else ../shared
// relative to the repository root. When it (or its ResNet-50) is missing the
// test is skipped, or fails under CI=true.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("PNI_SHARED")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0) // <root>/internal/testenv/testenv.go
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared data not found at %s (set PNI_SHARED): %v", dir, err)
		}
		tb.Skipf("shared data not found at %s (set PNI_SHARED to run this test): %v", dir, err)
	}
	return dir
}

// ModelPath is the shared ResNet-50 backbone's path.
func ModelPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(SharedDir(tb), "models", "resnet50-imagenet-l23.onnx")
}

// ReadF32 reads a raw little-endian float32 file.
func ReadF32(tb testing.TB, path string) []float32 {
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

// MaxRelErr returns max|got-want| / max|want| (the absolute error when want is all zero).
func MaxRelErr(got, want []float32) float64 {
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

// Long skips the test unless PNI_LONG=1: the long real-data accuracy runs
// (full shared sets at every preset) are opt-in, so that a plain
// `go test ./...` finishes well inside Go's default 10-minute timeout.
// .ci/run runs them with PNI_LONG=1.
func Long(tb testing.TB) {
	tb.Helper()
	if os.Getenv("PNI_LONG") != "1" {
		tb.Skip("long real-data run: set PNI_LONG=1 to run it")
	}
}

// Gray returns a w x h gray image of value v.
func Gray(w, h int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

// Gradient returns a w x h RGB test image whose pixel (x, y) is
// (10x, 20y, 100) (the channels wrap at 256).
func Gradient(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(10 * x), uint8(20 * y), 100, 255})
		}
	}
	return m
}

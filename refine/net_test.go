package refine

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/testenv"
)

// TestTinyRefinerTorch runs the PyTorch-made net (testdata/gen_tiny_refiner.py)
// on its fixture input and compares with PyTorch's output.
func TestTinyRefinerTorch(t *testing.T) {
	n, err := Load(filepath.Join("testdata", "tiny_refiner.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := n.Size(); w != 48 || h != 64 {
		t.Fatalf("size %dx%d, want 48x64 from the metadata", w, h)
	}
	img := testenv.ReadF32(t, filepath.Join("testdata", "tiny_refiner.image.f32"))
	amap := testenv.ReadF32(t, filepath.Join("testdata", "tiny_refiner.map.f32"))
	want := testenv.ReadF32(t, filepath.Join("testdata", "tiny_refiner.refined.f32"))
	got, err := n.Run(context.Background(), img, amap)
	if err != nil {
		t.Fatal(err)
	}
	var maxd float64
	for i := range want {
		maxd = math.Max(maxd, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max |Go - torch| = %.3g", maxd)
	if maxd > 1e-5 {
		t.Errorf("max |Go - torch| = %.3g > 1e-5", maxd)
	}
	if _, err := n.Run(context.Background(), img[1:], amap); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("short image: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	var fe *FormatError
	if _, err := Load(filepath.Join("testdata", "bad_refiner.onnx")); !errors.As(err, &fe) {
		t.Errorf("wrong output shape: %v", err)
	} else {
		t.Log(err)
	}
	for name, data := range map[string][]byte{"empty": nil, "garbage": []byte("not onnx")} {
		if _, err := LoadBytes(data); !errors.As(err, &fe) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A backbone is not a refinement net: one input, two outputs.
	bb, err := os.ReadFile(filepath.Join("..", "testdata", "tiny_backbone.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBytes(bb); !errors.As(err, &fe) {
		t.Errorf("a backbone: %v", err)
	} else {
		t.Log(err)
	}
	// Unsupported operators stay reachable.
	un, err := os.ReadFile(filepath.Join("..", "backbone", "testdata", "unsupported.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadBytes(un)
	var ue *onnx.UnsupportedError
	if !errors.As(err, &fe) || !errors.As(err, &ue) {
		t.Errorf("unsupported op: %v", err)
	}
	if _, err := Load("testdata/missing.onnx"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	for _, s := range []string{"", "12", "4x4", "10x99999", "axb"} {
		if _, _, err := parseSize(s); err == nil {
			t.Errorf("size %q accepted", s)
		}
	}
}

// FuzzLoadBytes checks that no input makes the loader panic.
func FuzzLoadBytes(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "tiny_refiner.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := LoadBytes(data)
		if err == nil && n == nil {
			t.Fatal("nil net without an error")
		}
	})
}

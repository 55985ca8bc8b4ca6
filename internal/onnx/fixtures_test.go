package onnx

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// fixture is one entry of testdata/manifest.json (see gen_fixtures.py).
type fixture struct {
	Name    string `json:"name"`
	Model   string `json:"model"`
	Note    string `json:"note"`
	Inputs  []fixtureTensor
	Outputs []fixtureTensor
}

type fixtureTensor struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
}

func loadManifest(tb testing.TB) []fixture {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		tb.Fatal(err)
	}
	return fs
}

func (f *fixture) load(tb testing.TB) (*Model, map[string]*tensor.Tensor) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", f.Model))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		tb.Fatalf("%s: Decode: %v", f.Name, err)
	}
	ins := map[string]*tensor.Tensor{}
	for _, in := range f.Inputs {
		ins[in.Name] = tensor.FromData(readF32(tb, filepath.Join("testdata", in.File)), in.Shape...)
	}
	return m, ins
}

// TestFixtures runs every PyTorch-exported fixture and compares each output
// with PyTorch's: max abs error <= 1e-4 * max|ref|. Outputs are requested all
// together, then one at a time (which changes what is fused and freed).
func TestFixtures(t *testing.T) {
	for _, f := range loadManifest(t) {
		t.Run(f.Name, func(t *testing.T) {
			m, ins := f.load(t)
			var names []string
			for _, o := range f.Outputs {
				names = append(names, o.Name)
			}
			check := func(out map[string]*tensor.Tensor, o fixtureTensor) {
				t.Helper()
				got := out[o.Name]
				if got == nil {
					t.Fatalf("output %q missing", o.Name)
				}
				if !sameShape(got.Shape, o.Shape) {
					t.Fatalf("output %q: shape %v, want %v", o.Name, got.Shape, o.Shape)
				}
				want := readF32(t, filepath.Join("testdata", o.File))
				e := maxRelErr(got.Data, want)
				t.Logf("%s: %d values, rel err %.2g", o.Name, len(want), e)
				if e > 1e-4 {
					t.Errorf("output %q: max abs error / max|ref| = %.3g", o.Name, e)
				}
			}
			out, err := m.Run(context.Background(), ins, names...)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range f.Outputs {
				check(out, o)
			}
			for _, o := range f.Outputs {
				out, err := m.Run(context.Background(), ins, o.Name)
				if err != nil {
					t.Fatal(err)
				}
				check(out, o)
			}
		})
	}
}

package nn

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/tensor"
)

// TestExportONNX exports random-weight UNets, decodes them with
// internal/onnx and compares its output with Forward (1e-5 of max |pred|)
// at sizes other than the working one, and checks the metadata.
//
// With PNI_NN_EXPORT_DIR set, it also writes each model with an input and
// Go's output there for testdata/check_onnx.py (offline: onnx.checker and
// an independent evaluation of the graph in PyTorch).
func TestExportONNX(t *testing.T) {
	dir := os.Getenv("PNI_NN_EXPORT_DIR")
	for _, cfg := range []Config{
		{InChannels: 4, Base: 4, Depth: 2},
		{InChannels: 4, Base: 8, Depth: 3, StridedDown: true},
		{InChannels: 4, Base: 8, Depth: 4},
	} {
		t.Run(cfg.String(), func(t *testing.T) {
			u, err := NewUNet(cfg, 42)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for _, c := range u.Convs() {
				for i := range c.Bias {
					c.Bias[i] = float32(r.NormFloat64() * 0.1)
				}
			}
			m := 1 << cfg.Depth
			data, err := u.ExportONNX(ExportOptions{Width: 10 * m, Height: 8 * m, Metadata: map[string]string{"note": "test"}})
			if err != nil {
				t.Fatal(err)
			}
			model, err := onnx.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(model.Inputs(), []string{ONNXImage, ONNXMap}) || !reflect.DeepEqual(model.Outputs(), []string{ONNXOutput}) {
				t.Errorf("inputs %v outputs %v", model.Inputs(), model.Outputs())
			}
			wantMeta := map[string]string{
				MetaSize: itoa(10*m) + "x" + itoa(8*m), MetaImage: "image", MetaMap: "map", MetaOutput: "refined",
				MetaConfig: cfg.String(), MetaSeed: "42", MetaParams: itoa(u.NumParams()), "note": "test",
			}
			if got := model.Metadata(); !reflect.DeepEqual(got, wantMeta) {
				t.Errorf("metadata %v, want %v", got, wantMeta)
			}
			for _, sz := range [][3]int{{1, 2 * m, 3 * m}, {2, 3 * m, m}} {
				n, h, w := sz[0], sz[1], sz[2]
				x := randTensor(r, n, 4, h, w)
				img, mp := tensor.New(n, 3, h, w), tensor.New(n, 1, h, w)
				for i := 0; i < n; i++ {
					for c := 0; c < 3; c++ {
						copy(img.Data[(i*3+c)*h*w:], x.Plane(i, c))
					}
					copy(mp.Data[i*h*w:], x.Plane(i, 3))
				}
				want := u.Forward(x)
				out, err := model.Run(context.Background(), map[string]*tensor.Tensor{ONNXImage: img, ONNXMap: mp})
				if err != nil {
					t.Fatal(err)
				}
				got := out[ONNXOutput]
				if !reflect.DeepEqual(got.Shape, []int{n, 1, h, w}) {
					t.Fatalf("output shape %v", got.Shape)
				}
				e := maxRel(got.Data, want.Data)
				t.Logf("%dx%dx%d: executor vs Forward rel err %.2g", n, h, w, e)
				if e > 1e-5 {
					t.Errorf("%v: relative error %.3g", sz, e)
				}
				if dir != "" && n == 2 {
					base := filepath.Join(dir, "unet_"+itoa(cfg.Base)+"_"+itoa(cfg.Depth))
					if err := os.WriteFile(base+".onnx", data, 0o644); err != nil {
						t.Fatal(err)
					}
					writeF32(t, base+".image.f32", img.Data)
					writeF32(t, base+".map.f32", mp.Data)
					writeF32(t, base+".refined.f32", want.Data)
					if err := os.WriteFile(base+".shape", []byte(itoa(n)+" "+itoa(h)+" "+itoa(w)+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestExportONNXErrors(t *testing.T) {
	u, _ := NewUNet(Config{InChannels: 4, Base: 2, Depth: 2}, 1)
	for _, o := range []ExportOptions{{Width: 0, Height: 8}, {Width: 8, Height: 6}, {Width: 2, Height: 8},
		{Width: 8, Height: 8, Metadata: map[string]string{MetaSize: "1x1"}}} {
		if _, err := u.ExportONNX(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	v, _ := NewUNet(Config{InChannels: 3, Base: 2, Depth: 2}, 1)
	if _, err := v.ExportONNX(ExportOptions{Width: 8, Height: 8}); err == nil {
		t.Error("3 input channels accepted")
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

func writeF32(tb testing.TB, path string, d []float32) {
	tb.Helper()
	b := make([]byte, 0, 4*len(d))
	for _, v := range d {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

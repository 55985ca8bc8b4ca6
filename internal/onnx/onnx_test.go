package onnx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/x/pni/internal/tensor"
)

func fixtureByName(tb testing.TB, name string) fixture {
	for _, f := range loadManifest(tb) {
		if f.Name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %q", name)
	return fixture{}
}

// Gemm at batch 1 must give the same result on every run (onnx-go's gorgonia
// backend adds the bias again on each run).
func TestGemmRepeatable(t *testing.T) {
	f := fixtureByName(t, "gemm")
	m, ins := f.load(t)
	want := readF32(t, filepath.Join("testdata", f.Outputs[0].File))
	for i := 0; i < 3; i++ {
		out, err := m.Run(context.Background(), ins, "y")
		if err != nil {
			t.Fatal(err)
		}
		if e := maxRelErr(out["y"].Data, want); e > 1e-4 {
			t.Fatalf("run %d: relative error %.3g", i, e)
		}
	}
}

// Run never modifies its inputs, even where the first op could work in place.
func TestRunKeepsInputs(t *testing.T) {
	for _, f := range loadManifest(t) {
		m, ins := f.load(t)
		saved := map[string][]float32{}
		for k, v := range ins {
			saved[k] = slices.Clone(v.Data)
		}
		if _, err := m.Run(context.Background(), ins); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for k, v := range ins {
			if !slices.Equal(saved[k], v.Data) {
				t.Errorf("%s: input %q modified by Run", f.Name, k)
			}
		}
	}
}

// Returned tensors belong to the caller: changing one must not change the
// next run's result.
func TestOutputsAreOwned(t *testing.T) {
	f := fixtureByName(t, "mini_resnet")
	m, ins := f.load(t)
	names := []string{f.Outputs[0].Name, f.Outputs[1].Name, f.Outputs[2].Name}
	first, err := m.Run(context.Background(), ins, names...)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string][]float32{}
	for k, v := range first {
		keep[k] = slices.Clone(v.Data)
		for i := range v.Data {
			v.Data[i] = -1e9
		}
	}
	second, err := m.Run(context.Background(), ins, names...)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range second {
		if !slices.Equal(v.Data, keep[k]) {
			t.Errorf("output %q differs after the caller scribbled on the previous result", k)
		}
	}
}

// Only what the requested outputs need is computed: "sub" depends on input a
// alone, so b may be omitted; "add" needs b.
func TestRunComputesOnlyWhatIsNeeded(t *testing.T) {
	f := fixtureByName(t, "broadcast_arith")
	m, ins := f.load(t)
	only := map[string]*tensor.Tensor{"a": ins["a"]}
	if _, err := m.Run(context.Background(), only, "sub"); err != nil {
		t.Fatalf("sub without b: %v", err)
	}
	_, err := m.Run(context.Background(), only, "add")
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("add without b: got %v, want an error naming input b", err)
	}
}

func TestRunErrors(t *testing.T) {
	f := fixtureByName(t, "conv_group_dilated")
	m, ins := f.load(t)
	ctx := context.Background()
	if _, err := m.Run(ctx, ins, "no_such_value"); err == nil || !strings.Contains(err.Error(), "no_such_value") {
		t.Errorf("unknown output: %v", err)
	}
	if _, err := m.Run(ctx, map[string]*tensor.Tensor{"x": ins["x"], "bogus": ins["x"]}); err == nil {
		t.Error("unknown input accepted")
	}
	bad := map[string]*tensor.Tensor{"x": tensor.New(1, 3, 11, 13)} // 3 channels, model wants 8
	_, err := m.Run(ctx, bad)
	var re *RunError
	if !errors.As(err, &re) || re.Op != "Conv" {
		t.Errorf("wrong channel count: got %v, want a *RunError from Conv", err)
	}
	if _, err := m.Run(ctx, map[string]*tensor.Tensor{"x": {Shape: []int{1, 8, 11, 13}, Data: make([]float32, 3)}}); err == nil {
		t.Error("inconsistent tensor accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Run(cctx, ins); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
	// The model still works after failed runs (pooled buffers intact).
	out, err := m.Run(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	if e := maxRelErr(out["y"].Data, readF32(t, filepath.Join("testdata", f.Outputs[0].File))); e > 1e-4 {
		t.Errorf("after failures: relative error %.3g", e)
	}
}

func TestUnsupportedOp(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "unsupported_op.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(data)
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want *UnsupportedError", err)
	}
	if ue.Op != "Hardmax" || ue.Node != "my_hardmax" || ue.Opset != 13 {
		t.Errorf("got %+v, want op Hardmax, node my_hardmax, opset 13", ue)
	}
	for _, s := range []string{"Hardmax", "my_hardmax", "13"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

func TestUnsupportedAttribute(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "unsupported_attr.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(data)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Op != "Resize" || ue.Node != "cubic_up" || !strings.Contains(ue.Detail, "cubic") {
		t.Fatalf("got %v, want *UnsupportedError for Resize mode=cubic in node cubic_up", err)
	}
}

func TestDecodeMetadata(t *testing.T) {
	f := fixtureByName(t, "broadcast_arith")
	m, _ := f.load(t)
	if got := m.Inputs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Inputs() = %v", got)
	}
	if got := m.Outputs(); !slices.Equal(got, []string{"add", "sub", "mul", "div", "rsub"}) {
		t.Errorf("Outputs() = %v", got)
	}
	if m.Opset() != 13 {
		t.Errorf("Opset() = %d", m.Opset())
	}
	// The wire scanner reads metadata_props, the opset and node names.
	data, err := os.ReadFile(filepath.Join("testdata", "unsupported_op.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	wm, err := scanModel(data)
	if err != nil {
		t.Fatal(err)
	}
	if wm.metadata["purpose"] != "unsupported-op test" || wm.opset != 13 || len(wm.nodes) != 2 || wm.nodes[1].name != "my_hardmax" {
		t.Errorf("scanModel: %+v", wm)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "mini_resnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("this is not an onnx file"),
		"truncated": good[:len(good)/2],
		"one byte":  good[:1],
	}
	for name, data := range cases {
		_, err := Decode(data)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want *FormatError", name, err)
		}
	}
}

// Run is safe for concurrent use (run with -race).
func TestConcurrentRuns(t *testing.T) {
	f := fixtureByName(t, "mini_resnet")
	m, ins := f.load(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				o := f.Outputs[(g+i)%len(f.Outputs)]
				out, err := m.Run(context.Background(), ins, o.Name)
				if err != nil {
					errs <- err
					return
				}
				if e := maxRelErr(out[o.Name].Data, readF32(t, filepath.Join("testdata", o.File))); e > 1e-4 {
					errs <- errors.New(o.Name + ": wrong result under concurrency")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.onnx"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	maxElements = 1 << 16 // keep hostile shapes cheap while fuzzing
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			if !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// Run whatever decoded on a small input: errors are fine, panics not.
		ins := map[string]*tensor.Tensor{}
		for _, name := range m.Inputs() {
			ins[name] = tensor.New(1, 2, 4, 5)
		}
		_, _ = m.Run(context.Background(), ins)
	})
}

// The plan fuses Conv+BatchNormalization+Relu into one step when only the
// Relu output is requested, and keeps them apart when the Conv output is.
func TestFusionPlan(t *testing.T) {
	f := fixtureByName(t, "conv_bn_relu")
	m, _ := f.load(t)
	p, err := m.planFor([]string{"r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.steps) != 1 || !p.steps[0].foldBN || !p.steps[0].relu {
		t.Errorf("r alone: %d steps (foldBN=%v relu=%v), want 1 fused step", len(p.steps), p.steps[0].foldBN, p.steps[0].relu)
	}
	p, err = m.planFor([]string{"r", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.steps) != 3 {
		t.Errorf("r and c: %d steps, want 3 (Conv, BatchNormalization, Relu)", len(p.steps))
	}
	p, err = m.planFor([]string{"bn", "r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.steps) != 2 || !p.steps[0].foldBN || p.steps[0].relu {
		t.Errorf("bn and r: want Conv+BN folded, then Relu; got %d steps", len(p.steps))
	}
}

// BenchmarkMiniResNet measures the graph overhead (planning, pooling, small
// ops) on the tiny ResNet block fixture.
func BenchmarkMiniResNet(b *testing.B) {
	f := fixtureByName(b, "mini_resnet")
	m, ins := f.load(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := m.Run(context.Background(), ins, "out"); err != nil {
			b.Fatal(err)
		}
	}
}

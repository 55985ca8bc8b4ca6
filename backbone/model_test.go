package backbone

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/x/pni/internal/tensor"
)

func TestParseTriple(t *testing.T) {
	for _, c := range []struct {
		in   string
		want [3]float32
		ok   bool
	}{
		{"0.485,0.456,0.406", [3]float32{0.485, 0.456, 0.406}, true},
		{"[0.485, 0.456, 0.406]", [3]float32{0.485, 0.456, 0.406}, true},
		{" ( 1e-1 ,2, -3.5 ) ", [3]float32{0.1, 2, -3.5}, true},
		{"0.5 0.25 0.125", [3]float32{0.5, 0.25, 0.125}, true},
		{"[1,2]", [3]float32{}, false},
		{"1,2,3,4", [3]float32{}, false},
		{"a,b,c", [3]float32{}, false},
		{"", [3]float32{}, false},
		{"[1,2,3", [3]float32{}, false},
	} {
		got, err := ParseTriple(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseTriple(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestLoadTinyMetadataAndOptions(t *testing.T) {
	m := loadTiny(t, nil)
	if m.Mean() != [3]float32{0.5, 0.4, 0.3} || m.Std() != [3]float32{0.25, 0.2, 0.125} {
		t.Errorf("mean/std from metadata = %v / %v", m.Mean(), m.Std())
	}
	if m.InputName() != "image" || m.Layers() != [2]string{"layer2", "layer3"} {
		t.Errorf("input %q layers %v", m.InputName(), m.Layers())
	}
	m = loadTiny(t, &Options{Mean: [3]float32{0.1, 0.2, 0.3}})
	if m.Mean() != [3]float32{0.1, 0.2, 0.3} || m.Std() != [3]float32{0.25, 0.2, 0.125} {
		t.Errorf("explicit mean: %v / %v", m.Mean(), m.Std())
	}
	if _, err := Load(filepath.Join("testdata", "tiny.onnx"), &Options{Std: [3]float32{1, 0, 1}}); err == nil {
		t.Error("Std with a zero component accepted")
	}
	if _, err := Load(filepath.Join("testdata", "tiny.onnx"), &Options{Layers: []string{"layer2"}}); err == nil {
		t.Error("a single layer accepted")
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "does-not-exist.onnx"), nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	var fe *FormatError
	if _, err := LoadBytes([]byte("this is not a protobuf at all \xff\xff\xff"), nil); !errors.As(err, &fe) {
		t.Errorf("garbage: got %T %v, want *FormatError", err, err)
	}
	if _, err := LoadBytes(nil, nil); !errors.As(err, &fe) {
		t.Errorf("empty: got %T %v, want *FormatError", err, err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "tiny.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{10, len(data) / 3, len(data) - 7} {
		if _, err := LoadBytes(data[:n], nil); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		} else {
			t.Logf("truncated to %d: %v", n, err)
		}
	}
	var me *MissingLayerError
	_, err = LoadBytes(data, &Options{Layers: []string{"layer2", "layer4"}})
	if !errors.As(err, &me) || len(me.Missing) != 1 || me.Missing[0] != "layer4" || !strings.Contains(err.Error(), `"layer3"`) {
		t.Errorf("missing layer: %v", err)
	} else {
		t.Log(err)
	}
}

// TestTinyFeaturesTorch runs the tiny model (testdata/gen_tiny.py) and
// compares the features of each of its two input images with torch's
// forward pass + aggregation.
func TestTinyFeaturesTorch(t *testing.T) {
	m := loadTiny(t, nil)
	in := readF32(t, filepath.Join("testdata", "tiny_input.f32")) // 2 x 3 x 21 x 26
	want := readF32(t, filepath.Join("testdata", "tiny_features.f32"))
	const per, feats = 3 * 21 * 26, 3 * 4 * 1024
	for i := range 2 {
		f, err := m.featuresTensor(context.Background(), tensor.FromData(in[i*per:(i+1)*per], 1, 3, 21, 26))
		if err != nil {
			t.Fatal(err)
		}
		if f.H != 3 || f.W != 4 || f.D != 1024 {
			t.Fatalf("H,W,D = %d,%d,%d, want 3,4,1024", f.H, f.W, f.D)
		}
		if e := relErr(f.Data, want[i*feats:(i+1)*feats]); e > 1e-4 {
			t.Errorf("image %d: max err / max|ref| = %.3g", i, e)
		} else {
			t.Logf("image %d: max err / max|ref| = %.3g", i, e)
		}
	}
}

// TestTinyGridSize checks the measured grid against ResNet's arithmetic,
// ceil(ceil(ceil(n/2)/2)/2) = ceil(n/8), on sizes around multiples of 8.
func TestTinyGridSize(t *testing.T) {
	m := loadTiny(t, nil)
	for _, s := range [][2]int{{1, 1}, {7, 8}, {9, 15}, {16, 17}, {224, 225}, {31, 33}, {4096, 9}, {1025, 4095}} {
		gh, gw, err := m.gridSize(s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		if gh != (s[0]+7)/8 || gw != (s[1]+7)/8 {
			t.Errorf("gridSize(%d, %d) = %d, %d; want %d, %d", s[0], s[1], gh, gw, (s[0]+7)/8, (s[1]+7)/8)
		}
	}
	if _, _, err := m.gridSize(0, 5); err == nil {
		t.Error("gridSize(0, 5) gave no error")
	}
	if _, _, err := m.gridSize(MaxInputSide+1, 5); err == nil {
		t.Error("gridSize above MaxInputSide gave no error")
	}
}

func testImages(n, w, h int) []image.Image {
	imgs := make([]image.Image, n)
	for i := range imgs {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetNRGBA(x, y, color.NRGBA{R: uint8(x*7 + i*31), G: uint8(y * 5), B: uint8((x ^ y) * 3), A: 255})
			}
		}
		imgs[i] = img
	}
	return imgs
}

// TestTinyFeaturesImages checks that Features equals inputTensor +
// featuresTensor, its geometry, and its argument errors.
func TestTinyFeaturesImages(t *testing.T) {
	m := loadTiny(t, nil)
	ctx := context.Background()
	imgs := testImages(2, 50, 40)
	p := Preprocess{ResizeW: 40, ResizeH: 36, CropW: 33}
	for i, img := range imgs {
		f, err := m.Features(ctx, img, p)
		if err != nil {
			t.Fatal(err)
		}
		if f.H != 5 || f.W != 5 || f.D != 1024 {
			t.Fatalf("H,W,D = %d,%d,%d", f.H, f.W, f.D)
		}
		in, err := m.inputTensor(img, p)
		if err != nil {
			t.Fatal(err)
		}
		one, err := m.featuresTensor(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(f.Data, one.Data); e != 0 {
			t.Errorf("image %d: Features vs input+features err %.3g", i, e)
		}
	}
	g, err := m.Geometry(50, 40, p)
	if err != nil || g != (Geometry{SrcW: 50, SrcH: 40, ResizedW: 40, ResizedH: 36, CropX: 4, CropY: 0, InputW: 33, InputH: 36, GridW: 5, GridH: 5}) {
		t.Errorf("Geometry = %+v, %v", g, err)
	}
	for name, err := range map[string]error{
		"nil image": func() error { _, err := m.Features(ctx, nil, p); return err }(),
		"empty image": func() error {
			_, err := m.Features(ctx, image.NewGray(image.Rect(0, 0, 0, 0)), Preprocess{})
			return err
		}(),
		"1-channel input": func() error { _, err := m.featuresTensor(ctx, tensor.New(1, 1, 8, 8)); return err }(),
		"batch of two":    func() error { _, err := m.featuresTensor(ctx, tensor.New(2, 3, 8, 8)); return err }(),
		"oversized input": func() error { _, err := m.featuresTensor(ctx, tensor.New(1, 3, MaxInputSide+1, 8)); return err }(),
		"crop too large":  func() error { _, err := m.Features(ctx, imgs[0], Preprocess{CropW: 60, CropH: 10}); return err }(),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Features(cctx, imgs[0], p); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestTinyConcurrent calls Features from many goroutines at once; each must
// get the same result as a sequential call.
func TestTinyConcurrent(t *testing.T) {
	m := loadTiny(t, nil)
	ctx := context.Background()
	p := Preprocess{ResizeW: 48, ResizeH: 48}
	var imgs []image.Image
	var want []*Features
	for i := range 4 {
		img := testImages(1, 20+i*9, 30)[0]
		f, err := m.Features(ctx, img, p)
		if err != nil {
			t.Fatal(err)
		}
		imgs, want = append(imgs, img), append(want, f)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := g % 4
			f, err := m.Features(ctx, imgs[k], p)
			if err != nil {
				errs <- err
				return
			}
			if e := relErr(f.Data, want[k].Data); e != 0 {
				errs <- errors.New("concurrent result differs from the sequential one")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestResNet50Parity runs the shared ResNet-50 on the reference input and
// compares layer2/layer3 with PyTorch's (models/reference), and
// the aggregated features with the aggregation of the reference layers.
func TestResNet50Parity(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-50 forward pass skipped in -short mode")
	}
	dir := sharedDir(t)
	m, err := Load(filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mean() != ImageNetMean || m.Std() != ImageNetStd {
		t.Errorf("mean/std %v %v, want ImageNet's", m.Mean(), m.Std())
	}
	ref := filepath.Join(dir, "models", "reference", "bottle_broken_large_000")
	in := tensor.FromData(readF32(t, ref+".input.f32"), 1, 3, 224, 224)
	l2ref := tensor.FromData(readF32(t, ref+".layer2.f32"), 1, 512, 28, 28)
	l3ref := tensor.FromData(readF32(t, ref+".layer3.f32"), 1, 1024, 14, 14)
	ctx := context.Background()
	l2, l3, err := m.runLayers(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want *tensor.Tensor
	}{{"layer2", l2, l2ref}, {"layer3", l3, l3ref}} {
		if len(c.got.Shape) != 4 || c.got.Len() != c.want.Len() || c.got.Shape[1] != c.want.Shape[1] {
			t.Fatalf("%s shape %v, want %v", c.name, c.got.Shape, c.want.Shape)
		}
		e := relErr(c.got.Data, c.want.Data)
		t.Logf("%s: max abs err / max|ref| = %.3g", c.name, e)
		if e > 1e-3 {
			t.Errorf("%s: max abs err / max|ref| = %.3g > 1e-3", c.name, e)
		}
	}
	want, err := aggregateLayers(l2ref, l3ref, m.dims)
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.featuresTensor(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if f.H != 28 || f.W != 28 || f.D != 1024 {
		t.Fatalf("features H,W,D = %d,%d,%d, want 28,28,1024", f.H, f.W, f.D)
	}
	e := relErr(f.Data, want.Data)
	t.Logf("features: max abs err / max|ref| = %.3g", e)
	if e > 1e-3 {
		t.Errorf("features: max abs err / max|ref| = %.3g > 1e-3", e)
	}
	if gh, gw, err := m.gridSize(224, 224); err != nil || gh != 28 || gw != 28 {
		t.Errorf("gridSize(224, 224) = %d, %d, %v", gh, gw, err)
	}
}

// TestDenseNet201Parity runs the shared DenseNet-201 on the reference input
// and compares layer2/layer3 with torchvision's (models/reference), and the
// aggregated features with the aggregation of the reference layers (1792
// layer3 channels: PatchCore's pooling mixes three or four of them per
// output).
func TestDenseNet201Parity(t *testing.T) {
	if testing.Short() {
		t.Skip("DenseNet-201 forward pass skipped in -short mode")
	}
	dir := sharedDir(t)
	m, err := Load(filepath.Join(dir, "models", "densenet201-imagenet-l23.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "models", "reference")
	in := tensor.FromData(readF32(t, filepath.Join(ref, "bottle_broken_large_000.input.f32")), 1, 3, 224, 224)
	l2ref := tensor.FromData(readF32(t, filepath.Join(ref, "densenet201.bottle_broken_large_000.layer2.f32")), 1, 512, 28, 28)
	l3ref := tensor.FromData(readF32(t, filepath.Join(ref, "densenet201.bottle_broken_large_000.layer3.f32")), 1, 1792, 14, 14)
	ctx := context.Background()
	l2, l3, err := m.runLayers(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want *tensor.Tensor
	}{{"layer2", l2, l2ref}, {"layer3", l3, l3ref}} {
		if !slices.Equal(c.got.Shape, c.want.Shape) {
			t.Fatalf("%s shape %v, want %v", c.name, c.got.Shape, c.want.Shape)
		}
		e := relErr(c.got.Data, c.want.Data)
		t.Logf("%s: max abs err / max|ref| = %.3g", c.name, e)
		if e > 1e-3 {
			t.Errorf("%s: max abs err / max|ref| = %.3g > 1e-3", c.name, e)
		}
	}
	want, err := aggregateLayers(l2ref, l3ref, m.dims)
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.featuresTensor(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if f.H != 28 || f.W != 28 || f.D != 1024 {
		t.Fatalf("features H,W,D = %d,%d,%d, want 28,28,1024", f.H, f.W, f.D)
	}
	e := relErr(f.Data, want.Data)
	t.Logf("features: max abs err / max|ref| = %.3g", e)
	if e > 1e-3 {
		t.Errorf("features: max abs err / max|ref| = %.3g > 1e-3", e)
	}
}

// TestResNet50GridOdd checks the measured grid of the shared model at an odd
// size against ceil(n/8) (ResNet's arithmetic, verified with onnx shape
// inference: 225 x 231 -> 29 x 29).
func TestResNet50GridOdd(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-50 forward pass skipped in -short mode")
	}
	m, err := Load(sharedModelPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]int{{65, 57}, {1001, 513}} { // the second is measured by thin runs
		gh, gw, err := m.gridSize(s[0], s[1])
		if err != nil || gh != (s[0]+7)/8 || gw != (s[1]+7)/8 {
			t.Errorf("gridSize(%d, %d) = %d, %d, %v; want %d, %d", s[0], s[1], gh, gw, err, (s[0]+7)/8, (s[1]+7)/8)
		}
	}
}

// TestExportedBackbone checks a model written by scripts/export_wrn50.py:
// PNI_BACKBONE_ONNX names the .onnx file and, optionally, PNI_BACKBONE_REF
// the --reference prefix of torch's tensors. Skipped when unset (CI).
func TestExportedBackbone(t *testing.T) {
	path := os.Getenv("PNI_BACKBONE_ONNX")
	if path == "" {
		t.Skip("set PNI_BACKBONE_ONNX to a file from scripts/export_wrn50.py to run this test")
	}
	m, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mean() != ImageNetMean || m.Std() != ImageNetStd || m.InputName() != "image" {
		t.Errorf("mean %v std %v input %q", m.Mean(), m.Std(), m.InputName())
	}
	t.Logf("metadata: %v", m.Metadata())
	ctx := context.Background()
	f, err := m.Features(ctx, testImages(1, 100, 90)[0], Preprocess{ResizeW: 61, ResizeH: 45})
	if err != nil {
		t.Fatal(err)
	}
	if f.H != 6 || f.W != 8 || f.D != 1024 {
		t.Errorf("61x45 input: grid %dx%d D %d, want 6x8 (ceil(n/8)), D 1024", f.H, f.W, f.D)
	}
	ref := os.Getenv("PNI_BACKBONE_REF")
	if ref == "" {
		return
	}
	in := tensor.FromData(readF32(t, ref+".input.f32"), 1, 3, 224, 224)
	l2, l3, err := m.runLayers(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  *tensor.Tensor
		ch   int
		grid int
	}{{"layer2", l2, 512, 28}, {"layer3", l3, 1024, 14}} {
		if c.got.Shape[1] != c.ch || c.got.Shape[2] != c.grid || c.got.Shape[3] != c.grid {
			t.Fatalf("%s shape %v", c.name, c.got.Shape)
		}
		e := relErr(c.got.Data, readF32(t, ref+"."+c.name+".f32"))
		t.Logf("%s: max abs err / max|ref| = %.3g", c.name, e)
		if e > 1e-3 {
			t.Errorf("%s: max abs err / max|ref| = %.3g > 1e-3", c.name, e)
		}
	}
}

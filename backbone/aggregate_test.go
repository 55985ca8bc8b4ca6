package backbone

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// TestAggregatePatchCore compares aggregateLayers with PyTorch running
// patchcore-inspection's PatchMaker + layer3 interpolation + Preprocessing
// (MeanMapper) + Aggregator (testdata/gen_patchcore_embed.py) on random
// layers of ResNet-50's and DenseNet-201's channel counts and small ones,
// at several widths.
func TestAggregatePatchCore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "patchcore_embed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Torch string `json:"torch"`
		Cases []struct {
			Name        string `json:"name"`
			Layer2Shape []int  `json:"layer2_shape"`
			Layer2      string `json:"layer2"`
			Layer3Shape []int  `json:"layer3_shape"`
			Layer3      string `json:"layer3"`
			Outputs     []struct {
				LayerDim int    `json:"layer_dim"`
				Dim      int    `json:"dim"`
				Shape    []int  `json:"shape"`
				File     string `json:"file"`
			} `json:"outputs"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range fx.Cases {
		l2 := tensor.FromData(readF32(t, filepath.Join("testdata", c.Layer2)), c.Layer2Shape...)
		l3 := tensor.FromData(readF32(t, filepath.Join("testdata", c.Layer3)), c.Layer3Shape...)
		for _, o := range c.Outputs {
			want := readF32(t, filepath.Join("testdata", o.File))
			f, err := aggregateLayers(l2, l3, embedDims{layer: o.LayerDim, target: o.Dim})
			if err != nil {
				t.Fatalf("%s P=%d D=%d: %v", c.Name, o.LayerDim, o.Dim, err)
			}
			if f.H != o.Shape[0] || f.W != o.Shape[1] || f.D != o.Shape[2] || len(want) != len(f.Data) {
				t.Fatalf("%s P=%d D=%d: got H,W,D = %d,%d,%d, want %v", c.Name, o.LayerDim, o.Dim, f.H, f.W, f.D, o.Shape)
			}
			e := relErr(f.Data, want)
			t.Logf("%s P=%d D=%d: max |Go - torch %s| / max|torch| = %.3g", c.Name, o.LayerDim, o.Dim, fx.Torch, e)
			if e > 1e-5 {
				t.Errorf("%s P=%d D=%d: max err / max|torch| = %.3g > 1e-5", c.Name, o.LayerDim, o.Dim, e)
			}
		}
	}
}

func near(a float32, b float64) bool { return math.Abs(float64(a)-b) <= 1e-7*math.Max(1, math.Abs(b)) }

// TestEmbedMapHand checks the composed pooling weights against hand
// computations.
func TestEmbedMapHand(t *testing.T) {
	// C2 = 2, C3 = 3, P = 4, D = 2. layer2: 18 values in 4 bins
	// [floor(4.5i), ceil(4.5(i+1))) = [0,5) [4,9) [9,14) [13,18), each 1/5;
	// layer3: 27 values, [0,7) [6,14) [13,21) [20,27), 1/7 1/8 1/8 1/7. The
	// 8 pooled values in 2 bins: output 0 = mean of layer2's 4 bins, output
	// 1 = mean of layer3's. So output 0 weighs each value 1/20, the two
	// shared ones (4 and 13: both channels' centres) 2/20; output 1 weighs
	// 1/28 in the outer bins, 1/32 in the inner ones, and the shared values
	// 6, 13 and 20 twice.
	m := buildEmbedMap(2, 3, embedDims{layer: 4, target: 2})
	const a, b = 1.0 / 28, 1.0 / 32
	want := []embedOut{
		{l2: []embedTerm{
			{0, [9]float32{0.05, 0.05, 0.05, 0.05, 0.1, 0.05, 0.05, 0.05, 0.05}},
			{1, [9]float32{0.05, 0.05, 0.05, 0.05, 0.1, 0.05, 0.05, 0.05, 0.05}},
		}},
		{l3: []embedTerm{
			{0, [9]float32{a, a, a, a, a, a, a + b, b, b}},
			{1, [9]float32{b, b, b, b, 2 * b, b, b, b, b}},
			{2, [9]float32{b, b, b + a, a, a, a, a, a, a}},
		}},
	}
	checkMap(t, "C2=2 C3=3 P=4 D=2", m, want)

	// ResNet-50 at PatchCore's defaults (C2 = 512, C3 = 1024, P = D = 1024):
	// layer2's 4608 values in bins of 4.5 ([9c, 9c+5) and [9c+4, 9c+9)),
	// then pairs: output c < 512 is channel c's window with weights 0.1 and
	// 0.2 at the centre (not a 3x3 mean). layer3's 9216 values in bins of 9
	// (channel means), then pairs: output 512+c is the mean of channels 2c
	// and 2c+1's 3x3 means, weights 1/18.
	m = buildEmbedMap(512, 1024, embedDims{layer: 1024, target: 1024})
	want = make([]embedOut, 1024)
	for c := range 512 {
		w := [9]float32{0.1, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1}
		want[c] = embedOut{l2: []embedTerm{{c, w}}}
		var u [9]float32
		for k := range u {
			u[k] = 1.0 / 18
		}
		want[512+c] = embedOut{l3: []embedTerm{{2 * c, u}, {2*c + 1, u}}}
	}
	checkMap(t, "ResNet-50", m, want)

	// DenseNet-201 (C3 = 1792): layer3's 16128 values in bins of 15.75, so
	// output 512+c (pooled values 1024+2c, 1024+2c+1, i.e. values
	// [31.5c, 31.5c+31.5)) spans channels 3.5c to 3.5(c+1): three or four
	// channels. Every output's weights sum to 1.
	m = buildEmbedMap(512, 1792, embedDims{layer: 1024, target: 1024})
	for o, e := range m.outs {
		var s float64
		for _, ts := range [][]embedTerm{e.l2, e.l3} {
			for _, tm := range ts {
				for _, v := range tm.w {
					s += float64(v)
				}
			}
		}
		if math.Abs(s-1) > 1e-6 {
			t.Fatalf("DenseNet-201 output %d: weights sum to %v", o, s)
		}
		if o >= 512 {
			c := o - 512
			lo, hi := (7*c)/2, (7*(c+1)+1)/2 // channels floor(3.5c) .. ceil(3.5(c+1))-1
			if len(e.l2) != 0 || len(e.l3) != hi-lo || e.l3[0].ch != lo {
				t.Fatalf("DenseNet-201 output %d: %d layer2 terms, layer3 channels %v, want %d..%d", o, len(e.l2), channels(e.l3), lo, hi-1)
			}
		}
	}
}

func channels(ts []embedTerm) []int {
	var c []int
	for _, t := range ts {
		c = append(c, t.ch)
	}
	return c
}

func checkMap(t *testing.T, name string, m *embedMap, want []embedOut) {
	t.Helper()
	if len(m.outs) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", name, len(m.outs), len(want))
	}
	for o := range want {
		for l, pair := range [][2][]embedTerm{{m.outs[o].l2, want[o].l2}, {m.outs[o].l3, want[o].l3}} {
			got, exp := pair[0], pair[1]
			if len(got) != len(exp) {
				t.Fatalf("%s output %d layer%d: channels %v, want %v", name, o, l+2, channels(got), channels(exp))
			}
			for i := range exp {
				if got[i].ch != exp[i].ch {
					t.Fatalf("%s output %d layer%d: channels %v, want %v", name, o, l+2, channels(got), channels(exp))
				}
				for k := range 9 {
					if !near(got[i].w[k], float64(exp[i].w[k])) {
						t.Fatalf("%s output %d layer%d channel %d: weights %v, want %v", name, o, l+2, exp[i].ch, got[i].w, exp[i].w)
					}
				}
			}
		}
	}
}

// TestAggregateHand checks aggregated values computed by hand.
func TestAggregateHand(t *testing.T) {
	// The weights of TestEmbedMapHand (C2 = 2, C3 = 3, P = 4, D = 2).
	// layer2 2 x 2, channel 0 all ones, channel 1 zero: every 3x3 window
	// holds the whole grid, the centre (0.1) and three others (0.05):
	// output 0 = 0.25. layer3 1 x 1 with channels 1, 2, 3: a window holds
	// only its centre: output 1 = 1/28 + 2*(2/32) + 3/28 = 15/56, resized
	// from 1 x 1 to 2 x 2 unchanged.
	l2 := tensor.FromData([]float32{1, 1, 1, 1, 0, 0, 0, 0}, 1, 2, 2, 2)
	l3 := tensor.FromData([]float32{1, 2, 3}, 1, 3, 1, 1)
	f, err := aggregateLayers(l2, l3, embedDims{layer: 4, target: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f.H != 2 || f.W != 2 || f.D != 2 {
		t.Fatalf("shape %d,%d,%d", f.H, f.W, f.D)
	}
	for y := range 2 {
		for x := range 2 {
			if v := f.At(y, x); !near(v[0], 0.25) || !near(v[1], 15.0/56) {
				t.Errorf("At(%d,%d) = %v, want [0.25 %v]", y, x, v, 15.0/56)
			}
		}
	}

	// C2 = C3 = 1, P = 9, D = 2: each layer's 9 window values are kept,
	// then output 0 averages layer2's nine and output 1 layer3's: 3x3 means.
	// layer2 3 x 3 with a single 9 in the centre: its mean is 1 everywhere.
	// layer3 1 x 3 = [9 0 0]: means [1 1 0] (a single row: the rows above
	// and below are padding); resized 3 -> 6 along x (align_corners=false)
	// at src = (o+0.5)/2-0.5 = -0.25 (0), 0.25, 0.75, 1.25, 1.75, 2.25 (2)
	// -> 1, 1, 1, 0.75, 0.25, 0 (with a zero 3 x 6 layer2); along y 1 -> 3
	// unchanged.
	l2 = tensor.FromData([]float32{0, 0, 0, 0, 9, 0, 0, 0, 0}, 1, 1, 3, 3)
	l3 = tensor.FromData([]float32{9, 0, 0}, 1, 1, 1, 3)
	dims := embedDims{layer: 9, target: 2}
	f, err = aggregateLayers(l2, l3, dims)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 3 {
		for x, w := range []float64{1, 1, 0} { // 3 -> 3 along x: src = o
			if v := f.At(y, x); !near(v[0], 1) || !near(v[1], w) {
				t.Errorf("At(%d,%d) = %v, want [1 %v]", y, x, v, w)
			}
		}
	}
	l2 = tensor.New(1, 1, 3, 6)
	f, err = aggregateLayers(l2, l3, dims)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 3 {
		for x, w := range []float64{1, 1, 1, 0.75, 0.25, 0} {
			if v := f.At(y, x); v[0] != 0 || !near(v[1], w) {
				t.Errorf("upsampled (%d,%d): %v, want [0 %v]", y, x, v, w)
			}
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	ok2 := tensor.New(1, 4, 2, 2)
	def := embedDims{layer: 8, target: 8}
	for _, c := range []struct {
		name   string
		l2, l3 *tensor.Tensor
		dims   embedDims
		arg    bool // an invalid-argument error
	}{
		{"nil", nil, tensor.New(1, 2, 1, 1), def, false},
		{"3d", tensor.New(4, 2, 2), tensor.New(1, 2, 1, 1), def, false},
		{"batch mismatch", ok2, tensor.New(2, 2, 1, 1), def, false},
		{"batch of two", tensor.New(2, 4, 2, 2), tensor.New(2, 2, 1, 1), def, false},
		{"zero dim", tensor.New(1, 4, 0, 2), tensor.New(1, 2, 1, 1), def, false},
		{"short data", &tensor.Tensor{Shape: []int{1, 4, 2, 2}, Data: make([]float32, 3)}, tensor.New(1, 2, 1, 1), def, false},
		{"D above 9*(C2+C3)", ok2, tensor.New(1, 2, 1, 1), embedDims{layer: 8, target: 55}, true},
		{"P above 9*(C2+C3)", ok2, tensor.New(1, 2, 1, 1), embedDims{layer: 55, target: 8}, true},
		{"zero D", ok2, tensor.New(1, 2, 1, 1), embedDims{layer: 8}, true},
	} {
		_, err := aggregateLayers(c.l2, c.l3, c.dims)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if errors.Is(err, ErrInvalidArgument) != c.arg {
			t.Errorf("%s: %v; ErrInvalidArgument %v, want %v", c.name, err, !c.arg, c.arg)
		}
	}
	// The bounds themselves are accepted: 9*(4+2) = 54.
	if _, err := aggregateLayers(ok2, tensor.New(1, 2, 1, 1), embedDims{layer: 54, target: 54}); err != nil {
		t.Errorf("D = P = 54: %v", err)
	}
	// So are the defaults (1024, 1024), whatever the channel counts, as in
	// PatchCore: here both poolings repeat values.
	dims, err := resolveDims(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l2, l3 := randLayers(rand.New(rand.NewPCG(1, 2)), 4, 2, 3, 2, 1, 2)
	f, err := aggregateLayers(l2, l3, dims)
	if err != nil || f.D != 1024 {
		t.Fatalf("defaults on 4 + 2 channels: %v", err)
	}
	want := aggregateDense(l2, l3, dims)
	for i, v := range want {
		if math.Abs(float64(f.Data[i])-v) > 1e-6 {
			t.Fatalf("defaults on 4 + 2 channels: value %d is %v, dense %v", i, f.Data[i], v)
		}
	}
}

// TestOptionsDim checks Options.Dim and Options.LayerDim on the tiny model
// (512 and 1024 channels): the default D, other widths, and their errors.
func TestOptionsDim(t *testing.T) {
	ctx := context.Background()
	in := tensor.New(1, 3, 32, 40)
	for i := range in.Data {
		in.Data[i] = float32(i%17)/17 - 0.5
	}
	m := loadTiny(t, nil)
	l2, l3, err := m.runLayers(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{}, {Dim: 384}, {Dim: 2048, LayerDim: 4096}, {LayerDim: 100}} {
		m := loadTiny(t, &o)
		f, err := m.featuresTensor(ctx, in)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		dims, _ := resolveDims(o.LayerDim, o.Dim)
		want, err := aggregateLayers(l2, l3, dims)
		if err != nil {
			t.Fatal(err)
		}
		if f.H != 4 || f.W != 5 || f.D != dims.target || relErr(f.Data, want.Data) != 0 {
			t.Errorf("%+v: H,W,D = %d,%d,%d, want 4,5,%d and the layers' aggregation", o, f.H, f.W, f.D, dims.target)
		}
	}
	for _, o := range []Options{{Dim: -1}, {LayerDim: -3}} {
		if _, err := Load(filepath.Join("testdata", "tiny.onnx"), &o); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Load with %+v: %v, want ErrInvalidArgument", o, err)
		}
	}
	const total = 9 * (512 + 1024)
	for _, o := range []Options{{Dim: total + 1}, {LayerDim: total + 1}} {
		m := loadTiny(t, &o)
		_, err := m.featuresTensor(ctx, in)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Features with %+v: %v, want ErrInvalidArgument", o, err)
		} else {
			t.Log(err)
		}
	}
	if _, err := loadTiny(t, &Options{Dim: total, LayerDim: total}).featuresTensor(ctx, in); err != nil {
		t.Errorf("Dim = LayerDim = 9*(C2+C3): %v", err)
	}
}

func TestFeaturesAccessors(t *testing.T) {
	f := &Features{H: 2, W: 3, D: 4, Data: make([]float32, 2*3*4)}
	for i := range f.Data {
		f.Data[i] = float32(i)
	}
	if v := f.At(1, 2); len(v) != 4 || cap(v) != 4 || v[0] != float32((1*3+2)*4) {
		t.Errorf("At(1,2) = %v", v)
	}
	defer func() {
		if recover() == nil {
			t.Error("At out of range did not panic")
		}
	}()
	f.At(2, 0)
}

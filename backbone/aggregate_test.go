package backbone

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/x/pni/internal/tensor"
)

type aggCase struct {
	Name        string   `json:"name"`
	Layer2Shape []int    `json:"layer2_shape"`
	Layer2      []string `json:"layer2"`
	Layer3Shape []int    `json:"layer3_shape"`
	Layer3      []string `json:"layer3"`
	OutShape    []int    `json:"out_shape"`
	Out         []string `json:"out"`
}

func parseFloats(tb testing.TB, s []string) []float32 {
	out := make([]float32, len(s))
	for i, x := range s {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = float32(v)
	}
	return out
}

// TestAggregateTorch compares Aggregate with torch's avg_pool2d +
// F.interpolate + pair mean + concat (testdata/gen_aggregate.py).
func TestAggregateTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "aggregate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Torch string    `json:"torch"`
		Cases []aggCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	for _, c := range fx.Cases {
		l2 := tensor.FromData(parseFloats(t, c.Layer2), c.Layer2Shape...)
		l3 := tensor.FromData(parseFloats(t, c.Layer3), c.Layer3Shape...)
		want := parseFloats(t, c.Out)
		f, err := aggregateBatch(l2, l3)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if f.N != c.OutShape[0] || f.H != c.OutShape[1] || f.W != c.OutShape[2] || f.D != c.OutShape[3] {
			t.Fatalf("%s: got N,H,W,D = %d,%d,%d,%d, want %v", c.Name, f.N, f.H, f.W, f.D, c.OutShape)
		}
		var maxd float64
		for i := range want {
			maxd = math.Max(maxd, math.Abs(float64(f.Data[i]-want[i])))
		}
		if maxd > 1e-5 {
			t.Errorf("%s: max |Go - torch %s| = %.3g", c.Name, fx.Torch, maxd)
		}
	}
}

// TestAggregateHand checks tiny cases computed by hand.
func TestAggregateHand(t *testing.T) {
	// layer2: 1 x 1 x 2 x 2 of ones: every 3x3 window holds four ones -> 4/9.
	// layer3: 1 x 2 x 1 x 1, values 3 and 5: pair mean 4, window mean 4/9, upsampled
	// from 1x1 to 2x2 is constant 4/9.
	l2 := tensor.FromData([]float32{1, 1, 1, 1}, 1, 1, 2, 2)
	l3 := tensor.FromData([]float32{3, 5}, 1, 2, 1, 1)
	f, err := aggregateLayers(l2, l3)
	if err != nil {
		t.Fatal(err)
	}
	if f.H != 2 || f.W != 2 || f.D != 2 {
		t.Fatalf("shape %d,%d,%d", f.H, f.W, f.D)
	}
	for y := range 2 {
		for x := range 2 {
			v := f.At(y, x)
			if math.Abs(float64(v[0])-4.0/9) > 1e-6 || math.Abs(float64(v[1])-4.0/9) > 1e-6 {
				t.Errorf("At(%d,%d) = %v, want [4/9 4/9]", y, x, v)
			}
		}
	}

	// layer2 3x3 with a single 9 in the centre: its 3x3 mean is 1 everywhere.
	// layer3 1 x 2 x 1 x 2 (channels 0,1): [0 2] and [2 4] -> pair mean [1 3];
	// 3-tap horizontal window with zero padding: [(1+3)/9, (1+3)/9] = [4/9 4/9]
	// (a single row: the vertical window adds zeros). Upsampled 1x2 -> 3x3 along
	// x with align_corners=false: src x = (o+0.5)*2/3-0.5 = -1/6 (clamped 0), 0.5, 7/6
	// -> all 4/9 since both inputs are equal.
	l2 = tensor.FromData([]float32{0, 0, 0, 0, 9, 0, 0, 0, 0}, 1, 1, 3, 3)
	l3 = tensor.FromData([]float32{0, 2, 2, 4}, 1, 2, 1, 2)
	f, err = aggregateLayers(l2, l3)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 3 {
		for x := range 3 {
			v := f.At(y, x)
			if math.Abs(float64(v[0])-1) > 1e-6 || math.Abs(float64(v[1])-4.0/9) > 1e-6 {
				t.Errorf("At(%d,%d) = %v, want [1 4/9]", y, x, v)
			}
		}
	}

	// Bilinear along one axis: layer3 1 x 2 x 1 x 3 with pair mean [9 0 0]:
	// 3x3 window mean [9/9, 9/9, 0] = [1 1 0]; upsampled 3 -> 6 at
	// src = (o+0.5)/2-0.5 = -0.25(0), 0.25, 0.75, 1.25, 1.75, 2.25(clamped to 2)
	// -> 1, 1, 1, 0.75, 0.25, 0.
	l2 = tensor.New(1, 1, 1, 6)
	l3 = tensor.FromData([]float32{9, 0, 0, 9, 0, 0}, 1, 2, 1, 3)
	f, err = aggregateLayers(l2, l3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 1, 0.75, 0.25, 0}
	for x := range 6 {
		if v := f.At(0, x)[1]; math.Abs(float64(v-want[x])) > 1e-6 {
			t.Errorf("upsampled x=%d: %v, want %v", x, v, want[x])
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	ok2 := tensor.New(1, 4, 2, 2)
	for _, c := range []struct {
		name   string
		l2, l3 *tensor.Tensor
	}{
		{"nil", nil, tensor.New(1, 2, 1, 1)},
		{"3d", tensor.New(4, 2, 2), tensor.New(1, 2, 1, 1)},
		{"odd C3", ok2, tensor.New(1, 3, 1, 1)},
		{"batch mismatch", ok2, tensor.New(2, 2, 1, 1)},
		{"batch of two", tensor.New(2, 4, 2, 2), tensor.New(2, 2, 1, 1)},
		{"zero dim", tensor.New(1, 4, 0, 2), tensor.New(1, 2, 1, 1)},
		{"short data", &tensor.Tensor{Shape: []int{1, 4, 2, 2}, Data: make([]float32, 3)}, tensor.New(1, 2, 1, 1)},
	} {
		if _, err := aggregateLayers(c.l2, c.l3); err == nil {
			t.Errorf("%s: no error", c.name)
		}
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

package onnx

import (
	"slices"
	"testing"
)

// Hand-computed nearest-neighbour indices for a 4 -> 6 resize (scale 1.5)
// under each coordinate transformation and rounding mode.
func TestResizeNearestModes(t *testing.T) {
	cases := []struct {
		coord, nearest string
		want           []float32
	}{
		// half_pixel: x = (o+0.5)/1.5-0.5 = -0.17 0.5 1.17 1.83 2.5 3.17
		{"half_pixel", "round_prefer_floor", []float32{0, 0, 1, 2, 2, 3}},
		{"half_pixel", "round_prefer_ceil", []float32{0, 1, 1, 2, 3, 3}},
		{"half_pixel", "floor", []float32{0, 0, 1, 1, 2, 3}},
		{"half_pixel", "ceil", []float32{0, 1, 2, 2, 3, 3}},
		// asymmetric: x = o/1.5 = 0 0.67 1.33 2 2.67 3.33
		{"asymmetric", "floor", []float32{0, 0, 1, 2, 2, 3}},
		{"asymmetric", "round_prefer_floor", []float32{0, 1, 1, 2, 3, 3}},
		// tf_half_pixel_for_nn: x = (o+0.5)/1.5 = 0.33 1 1.67 2.33 3 3.67
		{"tf_half_pixel_for_nn", "floor", []float32{0, 1, 1, 2, 3, 3}},
		// align_corners: x = o*3/5 = 0 0.6 1.2 1.8 2.4 3
		{"align_corners", "round_prefer_floor", []float32{0, 1, 1, 2, 2, 3}},
	}
	rc := &runCtx{m: &Model{}}
	x := &value{shape: []int{1, 1, 1, 4}, f: []float32{0, 1, 2, 3}}
	sizes := &value{shape: []int{4}, i: []int64{1, 1, 1, 6}, isInt: true}
	for _, c := range cases {
		a := &resizeAttrs{mode: "nearest", coord: c.coord, nearest: c.nearest}
		out, err := runResize(rc, a, []*value{x, nil, nil, sizes})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out[0].f, c.want) {
			t.Errorf("%s/%s: got %v, want %v", c.coord, c.nearest, out[0].f, c.want)
		}
	}
}

// MaxPool with ceil_mode: PyTorch drops a last window that would start in
// the right padding. 5 wide, k=2, s=2, pad 1: windows start at -1, 1, 3 (and
// 5, which starts past the input and is dropped).
func TestPoolOut(t *testing.T) {
	if got := poolOut(5, 2, 2, 1, 1, 1, true); got != 3 {
		t.Errorf("ceil: got %d, want 3", got)
	}
	if got := poolOut(5, 2, 2, 1, 1, 1, false); got != 3 {
		t.Errorf("floor: got %d, want 3", got)
	}
	if got := poolOut(6, 3, 2, 1, 0, 0, true); got != 3 { // starts 0,2,4 (4+3 > 6 overhangs)
		t.Errorf("ceil overhang: got %d, want 3", got)
	}
	if got := poolOut(6, 3, 2, 1, 0, 0, false); got != 2 {
		t.Errorf("floor overhang: got %d, want 2", got)
	}
}

// MaxPool clips windows to the input: padding never wins, NaN propagates.
func TestMaxPoolHand(t *testing.T) {
	in := []float32{
		-5, -1, -7,
		-2, -9, -3,
		-4, -6, -8,
	}
	out := make([]float32, 4)
	maxPool(out, in, 1, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1) // k2 s2 pad1
	want := []float32{-5, -1, -2, -3}
	if !slices.Equal(out, want) {
		t.Errorf("got %v, want %v", out, want)
	}
}

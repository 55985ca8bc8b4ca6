package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// TestResidualJoin checks Convs joined with the Add after them (buildPlan):
// a residual produced after the Conv in node order (the Conv then runs at
// the Add's place), a Conv output as the Add's second operand (Winograd
// path), an Add of two Conv outputs (ResNet's downsampling join), and a
// residual that broadcasts (the Add then runs on its own), against the same
// arithmetic done here in float64. Requesting a Conv's output keeps its Add
// a step of its own; the results are the same either way.
func TestResidualJoin(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rnd := func(n int) []float32 { return uniform(r, n, -1, 1) }
	const N, C, H, W = 2, 8, 6, 5
	w1, b1 := rnd(C*C*9), rnd(C)
	w2, b2, w3, b3, w4, w5, w6 := rnd(C*C), rnd(C), rnd(C*C), rnd(C), rnd(C*C), rnd(C*C), rnd(C*C)
	conv := func(name, in string, w string, b string, k int) NodeSpec {
		ins := []string{in, w}
		if b != "" {
			ins = append(ins, b)
		}
		attrs := []AttrSpec{IntsAttr("kernel_shape", int64(k), int64(k))}
		if k == 3 {
			attrs = append(attrs, IntsAttr("pads", 1, 1, 1, 1))
		}
		return NodeSpec{Name: name, Op: "Conv", Inputs: ins, Outputs: []string{name}, Attrs: attrs}
	}
	op := func(name, kind string, ins ...string) NodeSpec {
		return NodeSpec{Name: name, Op: kind, Inputs: ins, Outputs: []string{name}}
	}
	spec := &ModelSpec{Graph: GraphSpec{
		Name: "residual",
		Nodes: []NodeSpec{
			conv("c1", "x", "w1", "b1", 3),
			conv("c2", "x", "w2", "b2", 1),
			op("s", "Neg", "x"),
			op("a1", "Add", "c2", "s"), // residual made after the Conv
			op("r1", "Relu", "a1"),
			op("a2", "Add", "r1", "c1"), // Conv output second
			conv("c3", "a2", "w3", "b3", 1),
			op("y3", "Add", "c3", "bb"), // broadcasts
			conv("c4", "a2", "w4", "", 1),
			conv("c5", "a2", "w5", "", 1),
			op("y4", "Add", "c4", "c5"), // two Conv outputs
			op("z", "Neg", "y4"),
			conv("c6", "z", "w6", "", 1),
			op("y6", "Add", "c6", "z"), // the residual is the Conv's input
		},
		Initializers: []TensorSpec{
			{Name: "w1", Dims: []int64{C, C, 3, 3}, Data: w1}, {Name: "b1", Dims: []int64{C}, Data: b1},
			{Name: "w2", Dims: []int64{C, C, 1, 1}, Data: w2}, {Name: "b2", Dims: []int64{C}, Data: b2},
			{Name: "w3", Dims: []int64{C, C, 1, 1}, Data: w3}, {Name: "b3", Dims: []int64{C}, Data: b3},
			{Name: "w4", Dims: []int64{C, C, 1, 1}, Data: w4}, {Name: "w5", Dims: []int64{C, C, 1, 1}, Data: w5},
			{Name: "w6", Dims: []int64{C, C, 1, 1}, Data: w6},
		},
		Inputs: []ValueSpec{
			{Name: "x", Dims: []DimSpec{Dim(N), Dim(C), Dim(H), Dim(W)}},
			{Name: "bb", Dims: []DimSpec{Dim(1), Dim(C), Dim(1), Dim(W)}},
		},
		Outputs: []ValueSpec{
			{Name: "y3", Dims: []DimSpec{Dim(N), Dim(C), Dim(H), Dim(W)}},
			{Name: "y4", Dims: []DimSpec{Dim(N), Dim(C), Dim(H), Dim(W)}},
			{Name: "y6", Dims: []DimSpec{Dim(N), Dim(C), Dim(H), Dim(W)}},
		},
	}}
	m := encodeDecode(t, spec)
	x, bb := rnd(N*C*H*W), rnd(C*W)

	// The same in float64.
	hw := H * W
	convRef := func(in []float64, w, b []float32, k int) []float64 {
		out := make([]float64, N*C*hw)
		for n := 0; n < N; n++ {
			for o := 0; o < C; o++ {
				for y := 0; y < H; y++ {
					for xx := 0; xx < W; xx++ {
						s := 0.0
						if b != nil {
							s = float64(b[o])
						}
						for c := 0; c < C; c++ {
							for ky := 0; ky < k; ky++ {
								for kx := 0; kx < k; kx++ {
									iy, ix := y+ky-k/2, xx+kx-k/2
									if iy >= 0 && iy < H && ix >= 0 && ix < W {
										s += float64(w[((o*C+c)*k+ky)*k+kx]) * in[(n*C+c)*hw+iy*W+ix]
									}
								}
							}
						}
						out[(n*C+o)*hw+y*W+xx] = s
					}
				}
			}
		}
		return out
	}
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	c1, c2 := convRef(x64, w1, b1, 3), convRef(x64, w2, b2, 1)
	a2 := make([]float64, len(x))
	for i := range a2 {
		a2[i] = math.Max(c2[i]-x64[i], 0) + c1[i]
	}
	c3, c4, c5 := convRef(a2, w3, b3, 1), convRef(a2, w4, nil, 1), convRef(a2, w5, nil, 1)
	want3, want4 := make([]float64, len(x)), make([]float64, len(x))
	for i := range want3 {
		want3[i] = c3[i] + float64(bb[(i/hw%C)*W+i%W])
		want4[i] = c4[i] + c5[i]
	}
	z := make([]float64, len(x))
	for i, v := range want4 {
		z[i] = -float64(float32(v))
	}
	want6 := convRef(z, w6, nil, 1)
	for i := range want6 {
		want6[i] += z[i]
	}

	ins := map[string]*tensor.Tensor{"x": tensor.FromData(x, N, C, H, W), "bb": tensor.FromData(bb, 1, C, 1, W)}
	for _, tc := range []struct {
		outs []string
		adds int
	}{
		{[]string{"y3", "y6"}, 0},
		// a1 and a2 stay; y4 joins c5 instead of the requested c4.
		{[]string{"y3", "y6", "y4", "c2", "c1", "c4"}, 2},
	} {
		outs := tc.outs
		p, err := m.planFor(outs)
		if err != nil {
			t.Fatal(err)
		}
		adds := 0
		for _, st := range p.steps {
			if st.n.op == "Add" {
				adds++
			}
		}
		if adds != tc.adds {
			t.Errorf("outputs %v: %d Add steps, want %d (joined unless a Conv output is requested)", outs, adds, tc.adds)
		}
		for run := 0; run < 2; run++ { // the second run reuses pooled buffers
			got, err := m.Run(context.Background(), ins, outs...)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				want []float64
			}{{"y3", want3}, {"y4", want4}, {"y6", want6}} {
				y, ok := got[c.name]
				if !ok {
					continue // not requested
				}
				if !slices.Equal(y.Shape, []int{N, C, H, W}) {
					t.Fatalf("%s shape %v", c.name, y.Shape)
				}
				for i, w := range c.want {
					if d := math.Abs(float64(y.Data[i]) - w); d > 1e-5*(1+math.Abs(w)) {
						t.Fatalf("outputs %v run %d: %s[%d] = %v, want %v", outs, run, c.name, i, y.Data[i], w)
					}
				}
			}
		}
	}
}

// TestResidualJoinOwnInput checks a Conv joined with an Add whose other
// operand is the Conv's own input, at a depth past one packed block (300
// channels) and with enough columns (272) for the product to pack its input
// block by block: the sum must not go to the input's buffer while the
// product still reads it.
func TestResidualJoinOwnInput(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const C, H, W = 300, 16, 17
	w, x := uniform(r, C*C, -0.1, 0.1), uniform(r, C*H*W, -1, 1)
	spec := &ModelSpec{Graph: GraphSpec{
		Name: "own",
		Nodes: []NodeSpec{
			{Name: "z", Op: "Neg", Inputs: []string{"x"}, Outputs: []string{"z"}},
			{Name: "c", Op: "Conv", Inputs: []string{"z", "w"}, Outputs: []string{"c"}, Attrs: []AttrSpec{IntsAttr("kernel_shape", 1, 1)}},
			{Name: "y", Op: "Add", Inputs: []string{"c", "z"}, Outputs: []string{"y"}},
		},
		Initializers: []TensorSpec{{Name: "w", Dims: []int64{C, C, 1, 1}, Data: w}},
		Inputs:       []ValueSpec{{Name: "x", Dims: []DimSpec{Dim(1), Dim(C), Dim(H), Dim(W)}}},
		Outputs:      []ValueSpec{{Name: "y", Dims: []DimSpec{Dim(1), Dim(C), Dim(H), Dim(W)}}},
	}}
	m := encodeDecode(t, spec)
	got, err := m.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.FromData(x, 1, C, H, W)}, "y")
	if err != nil {
		t.Fatal(err)
	}
	hw := H * W
	for o := 0; o < C; o++ {
		for p := 0; p < hw; p++ {
			want := -float64(x[o*hw+p])
			for c := 0; c < C; c++ {
				want -= float64(w[o*C+c]) * float64(x[c*hw+p])
			}
			if d := math.Abs(float64(got["y"].Data[o*hw+p]) - want); d > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("y[%d,%d] = %v, want %v", o, p, got["y"].Data[o*hw+p], want)
			}
		}
	}
}

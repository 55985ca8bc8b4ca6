package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// TestPreActivationFold checks DenseNet's pre-activation chain,
// BatchNormalization -> Relu -> 1x1 Conv on a concatenation that later
// nodes read too, against the same arithmetic done here in float64: the
// plan runs it as one Conv step when only the Conv's result is requested,
// and as three steps when the BatchNormalization's or the Relu's output is
// requested too, with the same result either way.
func TestPreActivationFold(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int, lo, hi float64) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return d
	}
	const C, M, H, W = 6, 8, 5, 7
	gamma, beta, mean, vr := rnd(C, 0.5, 1.5), rnd(C, -0.5, 0.5), rnd(C, -0.5, 0.5), rnd(C, 0.2, 2)
	wt, bias := rnd(M*C, -1, 1), rnd(M, -0.3, 0.3)
	spec := &ModelSpec{Graph: GraphSpec{
		Name: "preact",
		Nodes: []NodeSpec{
			{Name: "cat", Op: "Concat", Inputs: []string{"a", "b"}, Outputs: []string{"x"}, Attrs: []AttrSpec{IntAttr("axis", 1)}},
			{Name: "bn", Op: "BatchNormalization", Inputs: []string{"x", "g", "be", "mu", "var"}, Outputs: []string{"n"},
				Attrs: []AttrSpec{FloatAttr("epsilon", 1e-3)}},
			{Name: "relu", Op: "Relu", Inputs: []string{"n"}, Outputs: []string{"r"}},
			{Name: "conv", Op: "Conv", Inputs: []string{"r", "w", "bias"}, Outputs: []string{"c"}, Attrs: []AttrSpec{IntsAttr("kernel_shape", 1, 1)}},
			{Name: "cat2", Op: "Concat", Inputs: []string{"x", "c"}, Outputs: []string{"y"}, Attrs: []AttrSpec{IntAttr("axis", 1)}},
		},
		Initializers: []TensorSpec{
			{Name: "g", Dims: []int64{C}, Data: gamma}, {Name: "be", Dims: []int64{C}, Data: beta},
			{Name: "mu", Dims: []int64{C}, Data: mean}, {Name: "var", Dims: []int64{C}, Data: vr},
			{Name: "w", Dims: []int64{M, C, 1, 1}, Data: wt}, {Name: "bias", Dims: []int64{M}, Data: bias},
		},
		Inputs: []ValueSpec{{Name: "a", Dims: []DimSpec{Dim(1), Dim(2), Dim(H), Dim(W)}},
			{Name: "b", Dims: []DimSpec{Dim(1), Dim(C - 2), Dim(H), Dim(W)}}},
		Outputs: []ValueSpec{{Name: "y", Dims: []DimSpec{Dim(1), Dim(C + M), Dim(H), Dim(W)}}},
	}}
	data, err := Encode(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	a, b := tensor.FromData(rnd(2*H*W, -2, 2), 1, 2, H, W), tensor.FromData(rnd((C-2)*H*W, -2, 2), 1, C-2, H, W)
	x := append(append([]float32{}, a.Data...), b.Data...)
	want := make([]float64, M*H*W)
	for o := 0; o < M; o++ {
		for p := 0; p < H*W; p++ {
			s := float64(bias[o])
			for c := 0; c < C; c++ {
				n := (float64(x[c*H*W+p])-float64(mean[c]))/math.Sqrt(float64(vr[c])+1e-3)*float64(gamma[c]) + float64(beta[c])
				s += float64(wt[o*C+c]) * math.Max(n, 0)
			}
			want[o*H*W+p] = s
		}
	}
	ins := map[string]*tensor.Tensor{"a": a, "b": b}
	for _, outs := range [][]string{{"y"}, {"y", "n"}, {"y", "r"}} {
		p, err := m.planFor(outs)
		if err != nil {
			t.Fatal(err)
		}
		steps := map[string]bool{}
		for _, st := range p.steps {
			steps[st.n.op] = true
		}
		folded := !steps["BatchNormalization"] && !steps["Relu"]
		if folded != (len(outs) == 1) {
			t.Errorf("outputs %v: steps %v, want BatchNormalization and Relu folded into the Conv only when neither is requested", outs, steps)
		}
		got, err := m.Run(context.Background(), ins, outs...)
		if err != nil {
			t.Fatal(err)
		}
		y := got["y"].Data
		for i := 0; i < C*H*W; i++ {
			if y[i] != x[i] {
				t.Fatalf("outputs %v: the concatenation's copy of x changed at %d: %v, want %v", outs, i, y[i], x[i])
			}
		}
		for i, w := range want {
			if d := math.Abs(float64(y[C*H*W+i]) - w); d > 1e-5*(1+math.Abs(w)) {
				t.Fatalf("outputs %v: conv value %d = %v, want %v", outs, i, y[C*H*W+i], w)
			}
		}
	}
}

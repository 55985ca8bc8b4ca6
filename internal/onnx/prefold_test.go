package onnx

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// uniform returns n values drawn uniformly from [lo, hi).
func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return d
}

// TestPreActivationFold checks DenseNet's pre-activation chain,
// BatchNormalization -> Relu -> 1x1 Conv on a concatenation that later
// nodes read too, against the same arithmetic done here in float64: the
// plan runs it as one Conv step when only the Conv's result is requested,
// and as three steps when the BatchNormalization's or the Relu's output is
// requested too, with the same result either way.
func TestPreActivationFold(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int, lo, hi float64) []float32 { return uniform(r, n, lo, hi) }
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
	m := encodeDecode(t, spec)
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

// TestConcatChain checks Concats that append in place to their first
// input's buffer (DenseNet's dense blocks): a chain of three whose parts
// grow unevenly (so the room reserved for the chain runs out once), run
// repeatedly (pooled buffers), at batch 1 and 2, and with the middle
// Concat also requested (then it must survive the later appends intact).
// Every output is the inputs side by side, as checked here element by
// element.
func TestConcatChain(t *testing.T) {
	const H, W = 3, 4
	chans := []int{2, 1, 3, 2} // x, a1, a2, a3
	spec := &ModelSpec{Graph: GraphSpec{Name: "chain"}}
	g := &spec.Graph
	prev := "x"
	for k := 1; k < len(chans); k++ {
		a, neg, cat := fmt.Sprintf("a%d", k), fmt.Sprintf("n%d", k), fmt.Sprintf("cat%d", k)
		g.Nodes = append(g.Nodes,
			NodeSpec{Name: neg, Op: "Neg", Inputs: []string{a}, Outputs: []string{neg}},
			NodeSpec{Name: cat, Op: "Concat", Inputs: []string{prev, neg}, Outputs: []string{cat}, Attrs: []AttrSpec{IntAttr("axis", 1)}})
		prev = cat
	}
	g.Nodes = append(g.Nodes, NodeSpec{Name: "relu", Op: "Relu", Inputs: []string{prev}, Outputs: []string{"y"}})
	for k, c := range chans {
		name := "x"
		if k > 0 {
			name = fmt.Sprintf("a%d", k)
		}
		g.Inputs = append(g.Inputs, ValueSpec{Name: name, Dims: []DimSpec{SymDim("N"), Dim(int64(c)), Dim(H), Dim(W)}})
	}
	g.Outputs = []ValueSpec{{Name: "y", Dims: []DimSpec{SymDim("N"), Dim(8), Dim(H), Dim(W)}}}
	m := encodeDecode(t, spec)
	if p, err := m.planFor([]string{"y"}); err != nil {
		t.Fatal(err)
	} else {
		var left []int
		for _, st := range p.steps {
			if st.n.op == "Concat" {
				left = append(left, st.chainLeft)
			}
		}
		if !slices.Equal(left, []int{2, 1, 0}) {
			t.Errorf("chain lengths %v, want [2 1 0]", left)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 1} {
		for _, outs := range [][]string{{"y"}, {"y", "cat2"}} {
			ins := map[string]*tensor.Tensor{}
			parts := make([][]float32, len(chans))
			for k, c := range chans {
				name := "x"
				if k > 0 {
					name = fmt.Sprintf("a%d", k)
				}
				d := make([]float32, n*c*H*W)
				for i := range d {
					d[i] = float32(r.NormFloat64())
				}
				ins[name] = tensor.FromData(d, n, c, H, W)
				parts[k] = d
			}
			// want(upto) is the Concat of the first upto parts (negated after x), per image.
			want := func(upto int, relu bool) []float32 {
				var out []float32
				for b := 0; b < n; b++ {
					for k := 0; k < upto; k++ {
						blk := chans[k] * H * W
						for _, v := range parts[k][b*blk : (b+1)*blk] {
							if k > 0 {
								v = -v
							}
							if relu {
								v = max(v, 0)
							}
							out = append(out, v)
						}
					}
				}
				return out
			}
			for rep := 0; rep < 2; rep++ {
				got, err := m.Run(context.Background(), ins, outs...)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got["y"].Data, want(4, true)) {
					t.Fatalf("batch %d, outputs %v, run %d: y is not the inputs side by side", n, outs, rep)
				}
				if len(outs) > 1 && !slices.Equal(got["cat2"].Data, want(3, false)) {
					t.Fatalf("batch %d, run %d: the requested middle Concat was overwritten", n, rep)
				}
			}
		}
	}
}

// encodeDecode writes spec as an ONNX file and decodes it.
func encodeDecode(t *testing.T, spec *ModelSpec) *Model {
	t.Helper()
	data, err := Encode(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

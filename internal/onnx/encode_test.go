package onnx

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// smallSpec is a graph of every op internal/nn exports: Concat, Conv (3×3
// and 1×1), Relu, MaxPool, Resize (linear, half_pixel, scales), Add.
func smallSpec(r *rand.Rand) *ModelSpec {
	rnd := func(n int) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.NormFloat64() * 0.5)
		}
		return d
	}
	nchw := func(name string, c int64) ValueSpec {
		return ValueSpec{Name: name, Dims: []DimSpec{SymDim("N"), Dim(c), SymDim("H"), SymDim("W")}}
	}
	return &ModelSpec{
		ProducerName: "pni", ProducerVersion: "test",
		Graph: GraphSpec{
			Name: "small",
			Nodes: []NodeSpec{
				{Name: "cat", Op: "Concat", Inputs: []string{"a", "b"}, Outputs: []string{"x"}, Attrs: []AttrSpec{IntAttr("axis", 1)}},
				{Name: "conv", Op: "Conv", Inputs: []string{"x", "w", "bias"}, Outputs: []string{"c"}, Attrs: []AttrSpec{
					IntsAttr("kernel_shape", 3, 3), IntsAttr("pads", 1, 1, 1, 1), IntsAttr("strides", 1, 1)}},
				{Name: "relu", Op: "Relu", Inputs: []string{"c"}, Outputs: []string{"r"}},
				{Name: "pool", Op: "MaxPool", Inputs: []string{"r"}, Outputs: []string{"p"}, Attrs: []AttrSpec{
					IntsAttr("kernel_shape", 2, 2), IntsAttr("strides", 2, 2)}},
				{Name: "up", Op: "Resize", Inputs: []string{"p", "", "scales"}, Outputs: []string{"u"}, Attrs: []AttrSpec{
					StringAttr("mode", "linear"), StringAttr("coordinate_transformation_mode", "half_pixel")}},
				{Name: "head", Op: "Conv", Inputs: []string{"u", "hw", "hb"}, Outputs: []string{"h"}, Attrs: []AttrSpec{
					IntsAttr("kernel_shape", 1, 1)}},
				{Name: "add", Op: "Add", Inputs: []string{"b", "h"}, Outputs: []string{"y"}},
			},
			Initializers: []TensorSpec{
				{Name: "w", Dims: []int64{4, 3, 3, 3}, Data: rnd(108)},
				{Name: "bias", Dims: []int64{4}, Data: rnd(4)},
				{Name: "scales", Dims: []int64{4}, Data: []float32{1, 1, 2, 2}},
				{Name: "hw", Dims: []int64{1, 4, 1, 1}, Data: rnd(4)},
				{Name: "hb", Dims: []int64{1}, Data: rnd(1)},
			},
			Inputs:  []ValueSpec{nchw("a", 2), nchw("b", 1)},
			Outputs: []ValueSpec{nchw("y", 1)},
		},
		Metadata: map[string]string{"k1": "v1", "pni.refine.size": "8x6", "empty": ""},
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	spec := smallSpec(rand.New(rand.NewPCG(1, 2)))
	data, err := Encode(spec)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := scanModel(data)
	if err != nil {
		t.Fatal(err)
	}
	if wm.opset != DefaultOpset || !reflect.DeepEqual(wm.metadata, spec.Metadata) {
		t.Errorf("opset %d, metadata %v", wm.opset, wm.metadata)
	}
	if len(wm.nodes) != len(spec.Graph.Nodes) {
		t.Fatalf("%d nodes, want %d", len(wm.nodes), len(spec.Graph.Nodes))
	}
	for i, n := range wm.nodes {
		s := spec.Graph.Nodes[i]
		if n.name != s.Name || n.opType != s.Op || !reflect.DeepEqual(n.inputs, s.Inputs) || !reflect.DeepEqual(n.outputs, s.Outputs) {
			t.Errorf("node %d: %+v, want %+v", i, n, s)
		}
	}
	if !reflect.DeepEqual(wm.inputs, []string{"a", "b"}) || !reflect.DeepEqual(wm.outputs, []string{"y"}) ||
		!reflect.DeepEqual(wm.initializers, []string{"w", "bias", "scales", "hw", "hb"}) {
		t.Errorf("inputs %v outputs %v initializers %v", wm.inputs, wm.outputs, wm.initializers)
	}
	m, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Metadata(), spec.Metadata) || !reflect.DeepEqual(m.Inputs(), []string{"a", "b"}) || m.Opset() != DefaultOpset {
		t.Errorf("decoded metadata %v inputs %v opset %d", m.Metadata(), m.Inputs(), m.Opset())
	}
	// Attributes as onnx-go read them.
	for _, n := range m.nodes {
		switch n.name {
		case "conv":
			if !reflect.DeepEqual(n.attrs["pads"], []int64{1, 1, 1, 1}) {
				t.Errorf("conv pads %#v", n.attrs["pads"])
			}
		case "up":
			if n.attrs["mode"] != "linear" || n.attrs["coordinate_transformation_mode"] != "half_pixel" {
				t.Errorf("resize attrs %#v", n.attrs)
			}
		case "cat":
			if n.attrs["axis"] != int64(1) {
				t.Errorf("concat axis %#v", n.attrs["axis"])
			}
		}
	}
	// Initializers come back bit for bit.
	for _, in := range spec.Graph.Initializers {
		v := m.consts[m.byName[in.Name]]
		if v == nil || !reflect.DeepEqual(v.f, in.Data) {
			t.Errorf("initializer %s: %v", in.Name, v)
		}
	}
	// The graph runs at any N, H, W (symbolic dimensions) and matches the
	// constant-map case worked by hand: with b = 0 and all weights zero but
	// the biases, y = hb + Σ_c hw_c·relu(bias_c).
	for _, sz := range [][3]int{{1, 6, 8}, {2, 4, 10}} {
		a := tensor.New(sz[0], 2, sz[1], sz[2])
		b := tensor.New(sz[0], 1, sz[1], sz[2])
		for i := range a.Data {
			a.Data[i] = 1
		}
		out, err := m.Run(context.Background(), map[string]*tensor.Tensor{"a": a, "b": b})
		if err != nil {
			t.Fatal(err)
		}
		y := out["y"]
		if !reflect.DeepEqual(y.Shape, []int{sz[0], 1, sz[1], sz[2]}) {
			t.Fatalf("output shape %v", y.Shape)
		}
	}
	zero := *spec
	zero.Graph.Initializers = append([]TensorSpec(nil), spec.Graph.Initializers...)
	zero.Graph.Initializers[0].Data = make([]float32, 108)
	data, err = Encode(&zero)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = Decode(data); err != nil {
		t.Fatal(err)
	}
	in := spec.Graph.Initializers
	want := float64(in[4].Data[0])
	for c := 0; c < 4; c++ {
		want += float64(in[3].Data[c]) * math.Max(float64(in[1].Data[c]), 0)
	}
	out, err := m.Run(context.Background(), map[string]*tensor.Tensor{"a": tensor.New(1, 2, 4, 6), "b": tensor.New(1, 1, 4, 6)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out["y"].Data {
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Fatalf("y = %v, want %v", v, want)
		}
	}
}

func TestEncodeDeterministic(t *testing.T) {
	a, err := Encode(smallSpec(rand.New(rand.NewPCG(3, 4))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encode(smallSpec(rand.New(rand.NewPCG(3, 4))))
	if string(a) != string(b) {
		t.Error("two encodings of the same spec differ")
	}
}

func TestEncodeErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := map[string]func(s *ModelSpec){
		"no nodes":          func(s *ModelSpec) { s.Graph.Nodes = nil },
		"no outputs":        func(s *ModelSpec) { s.Graph.Outputs = nil },
		"negative opset":    func(s *ModelSpec) { s.Opset = -1 },
		"node without op":   func(s *ModelSpec) { s.Graph.Nodes[1].Op = "" },
		"empty output name": func(s *ModelSpec) { s.Graph.Nodes[1].Outputs = []string{""} },
		"no node outputs":   func(s *ModelSpec) { s.Graph.Nodes[1].Outputs = nil },
		"bad attr type":     func(s *ModelSpec) { s.Graph.Nodes[1].Attrs[0].Type = 42 },
		"dup attr":          func(s *ModelSpec) { s.Graph.Nodes[1].Attrs[1].Name = "kernel_shape" },
		"empty attr name":   func(s *ModelSpec) { s.Graph.Nodes[1].Attrs[0].Name = "" },
		"short tensor":      func(s *ModelSpec) { s.Graph.Initializers[0].Data = s.Graph.Initializers[0].Data[:5] },
		"negative dim":      func(s *ModelSpec) { s.Graph.Initializers[1].Dims = []int64{-4} },
		"huge dims":         func(s *ModelSpec) { s.Graph.Initializers[1].Dims = []int64{1 << 40, 1 << 40} },
		"dup initializer":   func(s *ModelSpec) { s.Graph.Initializers[1].Name = "w" },
		"unnamed tensor":    func(s *ModelSpec) { s.Graph.Initializers[1].Name = "" },
		"input is init":     func(s *ModelSpec) { s.Graph.Inputs[0].Name = "w" },
		"dup input":         func(s *ModelSpec) { s.Graph.Inputs[1].Name = "a" },
		"unnamed output":    func(s *ModelSpec) { s.Graph.Outputs[0].Name = "" },
		"empty meta key":    func(s *ModelSpec) { s.Metadata[""] = "x" },
	}
	for name, mutate := range cases {
		s := smallSpec(r)
		mutate(s)
		if _, err := Encode(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Encode(nil); err == nil {
		t.Error("nil spec: no error")
	}
	// Degenerate but well-formed specs encode without panicking.
	for _, s := range []*ModelSpec{
		{Graph: GraphSpec{Nodes: []NodeSpec{{Op: "Relu", Outputs: []string{"y"}}}, Outputs: []ValueSpec{{Name: "y"}}}},
		{Graph: GraphSpec{Nodes: []NodeSpec{{Op: "Relu", Inputs: []string{""}, Outputs: []string{"y"}, Attrs: []AttrSpec{{Name: "f", Type: AttrFloats}}}},
			Outputs: []ValueSpec{{Name: "y", Dims: []DimSpec{}}}, Initializers: []TensorSpec{{Name: "s", Data: []float32{1}}}}},
	} {
		if _, err := Encode(s); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

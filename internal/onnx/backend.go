package onnx

import (
	"fmt"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	gt "gorgonia.org/tensor"
)

// gnode is a node of the graph onnx-go builds for us: a named value, carrying
// a tensor when it is an initializer.
type gnode struct {
	id   int64
	name string
	t    gt.Tensor
}

func (n *gnode) ID() int64                   { return n.id }
func (n *gnode) SetName(s string)            { n.name = s }
func (n *gnode) GetName() string             { return n.name }
func (n *gnode) GetTensor() gt.Tensor        { return n.t }
func (n *gnode) SetTensor(t gt.Tensor) error { n.t = t; return nil }

// inEdge is one input edge recorded by the builder: node from takes node to
// as its input number idx. All edges are kept, so an op that reads the same
// value twice (Concat(x, x)) keeps both.
type inEdge struct {
	from, to int64
	idx      int
}

// builder is the onnx-go backend: a gonum weighted directed graph whose edges
// go from a node output to its inputs (weight = input index), plus the list
// of operations in NodeProto order.
type builder struct {
	*simple.WeightedDirectedGraph
	edges []inEdge
	ops   []builtOp
}

type builtOp struct {
	op      onnxgo.Operation
	outputs []int64
}

func newBuilder() *builder {
	return &builder{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0)}
}

// NewNode returns a fresh gnode.
func (b *builder) NewNode() graph.Node {
	return &gnode{id: b.WeightedDirectedGraph.NewNode().ID()}
}

// SetWeightedEdge records the input edge (all of them, duplicates included)
// and mirrors it into the gonum graph when that graph can hold it.
func (b *builder) SetWeightedEdge(e graph.WeightedEdge) {
	b.edges = append(b.edges, inEdge{from: e.From().ID(), to: e.To().ID(), idx: int(e.Weight())})
	if e.From().ID() != e.To().ID() && b.WeightedDirectedGraph.Node(e.From().ID()) != nil && b.WeightedDirectedGraph.Node(e.To().ID()) != nil {
		b.WeightedDirectedGraph.SetWeightedEdge(e)
	}
}

// AddNode adds n unless a node with its ID exists (onnx-go may re-add a
// graph value that appears twice in a malformed model).
func (b *builder) AddNode(n graph.Node) {
	if b.WeightedDirectedGraph.Node(n.ID()) != nil {
		return
	}
	b.WeightedDirectedGraph.AddNode(n)
}

// ApplyOperation records op for the NodeProto whose outputs are nodes.
func (b *builder) ApplyOperation(op onnxgo.Operation, nodes ...graph.Node) error {
	bo := builtOp{op: op}
	for _, n := range nodes {
		if n == nil {
			return fmt.Errorf("operation %s has a nil output node", op.Name)
		}
		bo.outputs = append(bo.outputs, n.ID())
	}
	b.ops = append(b.ops, bo)
	return nil
}

// decodeWithOnnxGo runs onnx-go's reader over data, converting its panics
// into errors.
func decodeWithOnnxGo(data []byte) (b *builder, m *onnxgo.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("onnx-go reader panicked: %v", r)
		}
	}()
	b = newBuilder()
	m = onnxgo.NewModel(b)
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, nil, err
	}
	return b, m, nil
}

// fromGorgonia converts an onnx-go tensor to a value. float32 and int64
// data are taken over without a copy: onnx-go's tensors are dropped after
// Decode.
func fromGorgonia(t gt.Tensor) (v *value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bad tensor: %v", r)
		}
	}()
	if t == nil {
		return nil, fmt.Errorf("tensor has no data")
	}
	shape := append([]int{}, t.Shape()...)
	n := 1
	for _, s := range shape {
		if s < 0 {
			return nil, fmt.Errorf("negative dimension in %v", shape)
		}
		n *= s
	}
	v = &value{shape: shape}
	switch d := t.Data().(type) {
	case []float32:
		v.f = d // the onnx-go tensor is dropped after Decode: no copy needed
	case float32:
		v.f = []float32{d}
	case []float64:
		v.f = make([]float32, len(d))
		for i, x := range d {
			v.f[i] = float32(x)
		}
	case float64:
		v.f = []float32{float32(d)}
	case []int64:
		v.isInt, v.i = true, d
	case int64:
		v.isInt, v.i = true, []int64{d}
	case []int32:
		v.isInt, v.i = true, make([]int64, len(d))
		for i, x := range d {
			v.i[i] = int64(x)
		}
	case int32:
		v.isInt, v.i = true, []int64{int64(d)}
	case []bool:
		v.isInt, v.i = true, make([]int64, len(d))
		for i, x := range d {
			if x {
				v.i[i] = 1
			}
		}
	case bool:
		v.isInt = true
		v.i = []int64{0}
		if d {
			v.i[0] = 1
		}
	default:
		return nil, fmt.Errorf("unsupported tensor data type %T", d)
	}
	if v.len() != n {
		// gorgonia reports shape (1) and () alike; accept a 1-element scalar.
		if !(v.len() == 1 && n == 1) {
			return nil, fmt.Errorf("tensor shape %v holds %d elements but has %d", shape, n, v.len())
		}
	}
	return v, nil
}

package onnx

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/tensor"
)

// Model is a decoded ONNX graph ready to run. Run is safe for concurrent use.
type Model struct {
	opset    int
	metadata map[string]string
	inputs   []string // graph inputs that are not initializers
	outputs  []string

	vals     []valueInfo    // all values, by id
	byName   map[string]int // value name -> id
	nodes    []*node        // in topological order
	producer []int          // value id -> index into nodes, -1 if none
	consts   []*value       // value id -> constant value (initializer / Constant), nil otherwise

	plans sync.Map // plan key -> *plan
	pools sync.Map // buffer length -> *bufferPool
}

// valueInfo describes one named value of the graph.
type valueInfo struct {
	name    string
	isInput bool
}

// node is one compiled graph node.
type node struct {
	index   int // position in NodeProto order
	op      string
	name    string // node name, or "#index" when unnamed
	inputs  []int  // value ids; -1 for an omitted optional input
	outputs []int
	attrs   map[string]any
	run     opFunc
	alias   bool // the output shares input 0's buffer (Reshape, Identity, ...)

	// Set on Conv nodes at Decode: constant weights, folded BN if any.
	conv *convNode
	// Set on BatchNormalization nodes with constant parameters: the
	// per-channel scale and shift, for folding it (with a following Relu)
	// into a pointwise Conv's input.
	bnPre *kernels.Pre
}

// Decode parses an ONNX model file's bytes. A malformed file is a
// *FormatError; an operator or attribute this package cannot execute is an
// *UnsupportedError.
func Decode(data []byte) (*Model, error) {
	wm, err := scanModel(data)
	if err != nil {
		return nil, &FormatError{Msg: "cannot parse the protobuf", Err: err}
	}
	if !wm.hasGraph || len(wm.nodes) == 0 {
		return nil, &FormatError{Msg: "the model has no graph or an empty graph"}
	}
	if len(wm.outputs) == 0 {
		return nil, &FormatError{Msg: "the graph declares no outputs"}
	}
	if wm.opset == 0 {
		return nil, &FormatError{Msg: "the model imports no default-domain opset"}
	}
	b, og, err := decodeWithOnnxGo(data)
	if err != nil {
		msg := "onnx-go could not read the model"
		if wm.opset < 13 {
			// PyTorch's opset-11 Resize export has an empty constant that
			// crashes onnx-go's reader.
			msg += fmt.Sprintf(" (opset %d: re-export with torch.onnx.export(..., opset_version=13) or later)", wm.opset)
		}
		return nil, &FormatError{Msg: msg, Err: err}
	}
	if len(b.ops) != len(wm.nodes) {
		return nil, &FormatError{Msg: fmt.Sprintf("onnx-go reported %d operations for %d nodes", len(b.ops), len(wm.nodes))}
	}
	m := &Model{
		opset:    wm.opset,
		metadata: wm.metadata,
		byName:   map[string]int{},
	}
	m.outputs = append([]string{}, wm.outputs...)
	addVal := func(name string) int {
		if id, ok := m.byName[name]; ok {
			return id
		}
		id := len(m.vals)
		m.vals = append(m.vals, valueInfo{name: name})
		m.consts = append(m.consts, nil)
		m.byName[name] = id
		return id
	}
	// Initializers.
	for _, name := range wm.initializers {
		if name == "" {
			return nil, &FormatError{Msg: "an initializer has no name"}
		}
		gn, ok := og.GetNodeByName(name)
		if !ok {
			return nil, &FormatError{Msg: fmt.Sprintf("initializer %q missing from onnx-go's graph", name)}
		}
		dc, ok := gn.(*gnode)
		if !ok {
			return nil, &FormatError{Msg: fmt.Sprintf("initializer %q has an unexpected node type", name)}
		}
		v, err := fromGorgonia(dc.t)
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("initializer %q", name), Err: err}
		}
		m.consts[addVal(name)] = v
	}
	// Graph inputs that are not initializers.
	for _, name := range wm.inputs {
		if name == "" {
			return nil, &FormatError{Msg: "a graph input has no name"}
		}
		id := addVal(name)
		if m.consts[id] == nil && !m.vals[id].isInput {
			m.vals[id].isInput = true
			m.inputs = append(m.inputs, name)
		}
	}
	// Nodes.
	nodes := make([]*node, len(wm.nodes))
	produced := map[int]int{}
	for i, wn := range wm.nodes {
		op := b.ops[i].op
		if op.Name != wn.opType {
			return nil, &FormatError{Msg: fmt.Sprintf("node %d: op %q from onnx-go, %q from the file", i, op.Name, wn.opType)}
		}
		n := &node{index: i, op: wn.opType, name: wn.name, attrs: op.Attributes}
		if n.name == "" {
			n.name = fmt.Sprintf("#%d", i)
		}
		if wn.domain != "" && wn.domain != "ai.onnx" {
			return nil, &UnsupportedError{Op: wn.domain + "." + wn.opType, Node: n.name, Opset: m.opset, Detail: "operator domain " + wn.domain}
		}
		if len(wn.outputs) == 0 {
			return nil, &FormatError{Msg: fmt.Sprintf("node %s (%s) has no outputs", n.name, n.op)}
		}
		for _, in := range wn.inputs {
			if in == "" {
				n.inputs = append(n.inputs, -1)
				continue
			}
			n.inputs = append(n.inputs, addVal(in))
		}
		for _, out := range wn.outputs {
			if out == "" {
				n.outputs = append(n.outputs, -1)
				continue
			}
			id := addVal(out)
			if _, dup := produced[id]; dup || m.consts[id] != nil || m.vals[id].isInput {
				return nil, &FormatError{Msg: fmt.Sprintf("value %q is produced twice", out)}
			}
			produced[id] = i
			n.outputs = append(n.outputs, id)
		}
		nodes[i] = n
	}
	// Every input must come from somewhere.
	for _, n := range nodes {
		for _, id := range n.inputs {
			if id < 0 {
				continue
			}
			if _, ok := produced[id]; !ok && m.consts[id] == nil && !m.vals[id].isInput {
				return nil, &FormatError{Msg: fmt.Sprintf("node %s (%s) reads %q, which no node, input or initializer provides", n.name, n.op, m.vals[id].name)}
			}
		}
	}
	for _, name := range m.outputs {
		id, ok := m.byName[name]
		if !ok {
			return nil, &FormatError{Msg: fmt.Sprintf("graph output %q is never produced", name)}
		}
		if _, ok := produced[id]; !ok && m.consts[id] == nil && !m.vals[id].isInput {
			return nil, &FormatError{Msg: fmt.Sprintf("graph output %q is never produced", name)}
		}
	}
	// Topological order (Kahn, stable in NodeProto order).
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, id := range n.inputs {
			if p, ok := produced[id]; ok && id >= 0 {
				indeg[i]++
				users[p] = append(users[p], i)
			}
		}
	}
	var ready []int
	for i := range nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	order := make([]*node, 0, len(nodes))
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, nodes[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(nodes) {
		return nil, &FormatError{Msg: "the graph has a cycle"}
	}
	m.nodes = order
	m.producer = make([]int, len(m.vals))
	for i := range m.producer {
		m.producer[i] = -1
	}
	for i, n := range m.nodes {
		for _, id := range n.outputs {
			if id >= 0 {
				m.producer[id] = i
			}
		}
	}
	// Compile every node (Constant nodes become constants).
	for _, n := range m.nodes {
		if err := m.compile(n); err != nil {
			return nil, err
		}
	}
	m.prepareConvs()
	return m, nil
}

// Inputs lists the graph inputs that are not initializers, in graph order.
func (m *Model) Inputs() []string { return append([]string(nil), m.inputs...) }

// Outputs lists the graph outputs, in graph order.
func (m *Model) Outputs() []string { return append([]string(nil), m.outputs...) }

// Metadata returns the model's metadata_props as a map (a fresh copy).
func (m *Model) Metadata() map[string]string {
	out := make(map[string]string, len(m.metadata))
	for k, v := range m.metadata {
		out[k] = v
	}
	return out
}

// Opset is the default-domain opset the model was exported with.
func (m *Model) Opset() int { return m.opset }

// Run evaluates the graph on the named inputs and returns the requested node
// outputs (any node output or graph output, by name); it computes only what the
// requested outputs need. With no outputs named, it returns the graph outputs.
// Inputs are never modified; returned tensors belong to the caller (int64
// values such as a Shape output are returned converted to float32). Input
// shapes the model cannot accept give a *RunError; a cancelled ctx is checked
// between nodes and its error returned.
func (m *Model) Run(ctx context.Context, inputs map[string]*tensor.Tensor, outputs ...string) (map[string]*tensor.Tensor, error) {
	return m.run(ctx, nil, inputs, outputs)
}

// run is Run, adding the convolutions' FLOP count to flops when non-nil.
func (m *Model) run(ctx context.Context, flops *int64, inputs map[string]*tensor.Tensor, outputs []string) (map[string]*tensor.Tensor, error) {
	if len(outputs) == 0 {
		outputs = m.outputs
	}
	p, err := m.planFor(outputs)
	if err != nil {
		return nil, err
	}
	env := make([]*value, len(m.vals))
	for name, t := range inputs {
		id, ok := m.byName[name]
		if !ok || !m.vals[id].isInput {
			return nil, fmt.Errorf("onnx: %q is not an input of the model (inputs: %s)", name, strings.Join(m.inputs, ", "))
		}
		if t == nil || t.Len() != len(t.Data) {
			return nil, fmt.Errorf("onnx: input %q is nil or its data length does not match its shape", name)
		}
		for _, s := range t.Shape {
			if s < 0 {
				return nil, fmt.Errorf("onnx: input %q has a negative dimension in %v", name, t.Shape)
			}
		}
		env[id] = &value{shape: t.Shape, f: t.Data}
	}
	for _, id := range p.needInputs {
		if env[id] == nil {
			return nil, fmt.Errorf("onnx: input %q is required for the requested outputs but was not given", m.vals[id].name)
		}
	}
	rc := &runCtx{m: m, env: env, stolen: make([]bool, len(m.vals)), flops: flops}
	if err := rc.execute(ctx, p); err != nil {
		rc.releaseAll(p)
		return nil, err
	}
	res := make(map[string]*tensor.Tensor, len(outputs))
	seenRoot := map[int]bool{}
	for i, name := range outputs {
		id := p.outIDs[i]
		v := rc.get(id)
		if v.isInt {
			f := make([]float32, len(v.i))
			for j, x := range v.i {
				f[j] = float32(x)
			}
			res[name] = &tensor.Tensor{Shape: slices.Clone(v.shape), Data: f}
			continue
		}
		r := p.root[id]
		data := v.f
		if !p.owned[r] || seenRoot[r] {
			data = slices.Clone(v.f)
		}
		seenRoot[r] = true
		res[name] = &tensor.Tensor{Shape: slices.Clone(v.shape), Data: data}
	}
	return res, nil
}

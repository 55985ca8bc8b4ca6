package onnx

import (
	"fmt"
	"math"
	"sort"
	"strings"

	gt "gorgonia.org/tensor"
)

// knownAttrs lists, per operator, the attributes compile understands. Any
// other attribute is reported as unsupported.
var knownAttrs = map[string][]string{
	"Conv":               {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
	"ConvTranspose":      {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "output_padding"},
	"BatchNormalization": {"epsilon", "momentum", "training_mode", "spatial"},
	"Relu":               {},
	"LeakyRelu":          {"alpha"},
	"Sigmoid":            {},
	"Tanh":               {},
	"Floor":              {},
	"Ceil":               {},
	"Sqrt":               {},
	"Neg":                {},
	"Exp":                {},
	"Add":                {},
	"Sub":                {},
	"Mul":                {},
	"Div":                {},
	"Concat":             {"axis"},
	"MaxPool":            {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides", "storage_order"},
	"AveragePool":        {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides", "dilations"},
	"GlobalAveragePool":  {},
	"Pad":                {"mode", "pads", "value"},
	"Resize":             {"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value", "antialias", "keep_aspect_ratio_policy", "axes"},
	"Gemm":               {"alpha", "beta", "transA", "transB"},
	"MatMul":             {},
	"Flatten":            {"axis"},
	"Reshape":            {"allowzero"},
	"Identity":           {},
	"Constant":           {"value", "value_float", "value_floats", "value_int", "value_ints"},
	"Shape":              {"start", "end"},
	"Gather":             {"axis"},
	"Unsqueeze":          {"axes"},
	"Squeeze":            {"axes"},
	"Slice":              {"starts", "ends", "axes"},
	"Cast":               {"to", "saturate"},
	"ConstantOfShape":    {"value"},
	"Transpose":          {"perm"},
	"Expand":             {},
	"ReduceMean":         {"axes", "keepdims", "noop_with_empty_axes"},
}

func (m *Model) unsupported(n *node, detail string) error {
	return &UnsupportedError{Op: n.op, Node: n.name, Opset: m.opset, Detail: detail}
}

func (m *Model) badAttr(n *node, name string, v any) error {
	return &FormatError{Msg: fmt.Sprintf("node %s (%s): attribute %s has type %T", n.name, n.op, name, v)}
}

// attribute accessors; a present attribute of the wrong type is a FormatError.

// attrOf returns attribute name of n as a T, def when it is absent.
func attrOf[T any](m *Model, n *node, name string, def T) (T, error) {
	v, ok := n.attrs[name]
	if !ok {
		return def, nil
	}
	t, ok := v.(T)
	if !ok {
		var zero T
		return zero, m.badAttr(n, name, v)
	}
	return t, nil
}

func (m *Model) attrInt(n *node, name string, def int64) (int64, error) {
	return attrOf(m, n, name, def)
}

func (m *Model) attrFloat(n *node, name string, def float32) (float32, error) {
	return attrOf(m, n, name, def)
}

func (m *Model) attrString(n *node, name, def string) (string, error) {
	return attrOf(m, n, name, def)
}

func (m *Model) attrInts(n *node, name string) ([]int, bool, error) {
	v, ok := n.attrs[name]
	if !ok {
		return nil, false, nil
	}
	is, ok := v.([]int64)
	if !ok {
		return nil, false, m.badAttr(n, name, v)
	}
	out := make([]int, len(is))
	for i, x := range is {
		if x > math.MaxInt32 || x < math.MinInt32 {
			return nil, false, &FormatError{Msg: fmt.Sprintf("node %s (%s): attribute %s value %d out of range", n.name, n.op, name, x)}
		}
		out[i] = int(x)
	}
	return out, true, nil
}

func (m *Model) attrTensor(n *node, name string) (*value, bool, error) {
	v, ok := n.attrs[name]
	if !ok {
		return nil, false, nil
	}
	t, ok := v.(gt.Tensor)
	if !ok {
		return nil, false, m.badAttr(n, name, v)
	}
	val, err := fromGorgonia(t)
	if err != nil {
		return nil, false, &FormatError{Msg: fmt.Sprintf("node %s (%s): attribute %s", n.name, n.op, name), Err: err}
	}
	return val, true, nil
}

// compile checks n's attributes and sets n.run.
func (m *Model) compile(n *node) error {
	known, ok := knownAttrs[n.op]
	if !ok {
		return m.unsupported(n, "")
	}
	var names []string
	for k := range n.attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		found := false
		for _, a := range known {
			if a == k {
				found = true
				break
			}
		}
		if !found {
			return m.unsupported(n, "attribute "+k)
		}
	}
	for k, o := range n.outputs {
		if o < 0 && k == 0 {
			return &FormatError{Msg: fmt.Sprintf("node %s (%s) has an empty first output name", n.name, n.op)}
		}
	}
	minIn, maxIn := 1, 1
	var err error
	switch n.op {
	case "Conv", "ConvTranspose":
		minIn, maxIn = 2, 3
		err = m.compileConv(n)
	case "BatchNormalization":
		minIn, maxIn = 5, 5
		err = m.compileBN(n)
	case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Floor", "Ceil", "Sqrt", "Neg", "Exp":
		err = m.compileUnary(n)
	case "Add", "Sub", "Mul", "Div":
		minIn, maxIn = 2, 2
		err = m.compileBinary(n)
	case "Concat":
		minIn, maxIn = 1, 1<<20
		err = m.compileConcat(n)
	case "MaxPool", "AveragePool":
		err = m.compilePool(n)
	case "GlobalAveragePool":
		n.run = runGlobalAvgPool
	case "Pad":
		minIn, maxIn = 1, 4
		err = m.compilePad(n)
	case "Resize":
		minIn, maxIn = 1, 4
		err = m.compileResize(n)
	case "Gemm":
		minIn, maxIn = 2, 3
		err = m.compileGemm(n)
	case "MatMul":
		minIn, maxIn = 2, 2
		n.run = runMatMul
	case "Flatten", "Reshape", "Identity", "Squeeze", "Unsqueeze":
		minIn, maxIn = 1, 2
		n.alias = true
		err = m.compileReshapeLike(n)
	case "Constant":
		minIn, maxIn = 0, 0
		err = m.compileConstant(n)
	case "Shape":
		err = m.compileShape(n)
	case "Gather":
		minIn, maxIn = 2, 2
		err = m.compileGather(n)
	case "Slice":
		minIn, maxIn = 1, 5
		err = m.compileSlice(n)
	case "Cast":
		err = m.compileCast(n)
	case "ConstantOfShape":
		err = m.compileConstantOfShape(n)
	case "Transpose":
		err = m.compileTranspose(n)
	case "Expand":
		minIn, maxIn = 2, 2
		n.run = runExpand
	case "ReduceMean":
		minIn, maxIn = 1, 2
		err = m.compileReduceMean(n)
	default:
		return m.unsupported(n, "")
	}
	if err != nil {
		return err
	}
	if len(n.inputs) < minIn || len(n.inputs) > maxIn {
		return &FormatError{Msg: fmt.Sprintf("node %s (%s) has %d inputs, want %d to %d", n.name, n.op, len(n.inputs), minIn, maxIn)}
	}
	for k := 0; k < minIn; k++ {
		if n.inputs[k] < 0 {
			return &FormatError{Msg: fmt.Sprintf("node %s (%s): required input %d is empty", n.name, n.op, k)}
		}
	}
	wantOut := 1
	if n.op == "BatchNormalization" {
		wantOut = 5
	}
	if len(n.outputs) > wantOut {
		return m.unsupported(n, fmt.Sprintf("%d outputs", len(n.outputs)))
	}
	return nil
}

// constInput returns input k when it is a model constant.
func (m *Model) constInput(n *node, k int) *value {
	if k >= len(n.inputs) || n.inputs[k] < 0 {
		return nil
	}
	return m.consts[n.inputs[k]]
}

// intsOf reads an int64 value as ints.
func intsOf(v *value) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	if !v.isInt {
		return nil, fmt.Errorf("expected an int64 tensor, got float32")
	}
	out := make([]int, len(v.i))
	for i, x := range v.i {
		if x > math.MaxInt32*4 || x < -math.MaxInt32*4 {
			// Slice uses INT64_MAX as "to the end": clamp, callers clamp again.
			if x > 0 {
				x = math.MaxInt32 * 4
			} else {
				x = -math.MaxInt32 * 4
			}
		}
		out[i] = int(x)
	}
	return out, nil
}

func normAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

func fmtShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, "x") + "]"
}

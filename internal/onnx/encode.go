package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// This file is a minimal protobuf writer for ONNX ModelProto: enough to
// export small float32 convolutional networks (internal/nn's UNet) that
// Decode, onnx.checker and other ONNX engines accept. Field numbers are
// onnx.proto's; repeated scalars are written unpacked (proto2 style).

// IRVersion is the ir_version Encode writes (ONNX 1.12+, opset 17).
const IRVersion = 8

// DefaultOpset is the default-domain opset Encode writes when the spec sets
// none.
const DefaultOpset = 17

// ModelSpec describes an ONNX model for Encode.
type ModelSpec struct {
	ProducerName, ProducerVersion string
	DocString                     string
	Opset                         int64             // default-domain opset; 0 means DefaultOpset
	Graph                         GraphSpec         // the main graph
	Metadata                      map[string]string // metadata_props, written in sorted key order
}

// GraphSpec is the graph of a ModelSpec.
type GraphSpec struct {
	Name         string
	Nodes        []NodeSpec   // in topological order
	Initializers []TensorSpec // constants (not listed as graph inputs)
	Inputs       []ValueSpec  // graph inputs
	Outputs      []ValueSpec  // graph outputs
}

// NodeSpec is one NodeProto of the default domain. An empty input name is
// an omitted optional input.
type NodeSpec struct {
	Name, Op        string
	Inputs, Outputs []string
	Attrs           []AttrSpec
}

// AttrType is an AttributeProto type (onnx.proto's AttributeType values).
type AttrType int

// The attribute types Encode writes.
const (
	AttrFloat  AttrType = 1
	AttrInt    AttrType = 2
	AttrString AttrType = 3
	AttrFloats AttrType = 6
	AttrInts   AttrType = 7
)

// AttrSpec is one node attribute; the field matching Type holds the value.
type AttrSpec struct {
	Name   string
	Type   AttrType
	Int    int64
	Ints   []int64
	Float  float32
	Floats []float32
	String string
}

// IntAttr returns an INT attribute.
func IntAttr(name string, v int64) AttrSpec { return AttrSpec{Name: name, Type: AttrInt, Int: v} }

// IntsAttr returns an INTS attribute.
func IntsAttr(name string, v ...int64) AttrSpec {
	return AttrSpec{Name: name, Type: AttrInts, Ints: v}
}

// FloatAttr returns a FLOAT attribute.
func FloatAttr(name string, v float32) AttrSpec {
	return AttrSpec{Name: name, Type: AttrFloat, Float: v}
}

// StringAttr returns a STRING attribute.
func StringAttr(name, v string) AttrSpec {
	return AttrSpec{Name: name, Type: AttrString, String: v}
}

// TensorSpec is a float32 initializer, stored as raw_data (little endian).
// Data has exactly the product of Dims elements (1 for a scalar).
type TensorSpec struct {
	Name string
	Dims []int64
	Data []float32
}

// ValueSpec is a float32 graph input or output with its shape: each
// dimension is fixed (Param "") or symbolic (Param names it, Value unused).
// Nil Dims writes no shape.
type ValueSpec struct {
	Name string
	Dims []DimSpec
}

// DimSpec is one dimension of a ValueSpec.
type DimSpec struct {
	Value int64
	Param string
}

// Dim returns a fixed dimension.
func Dim(v int64) DimSpec { return DimSpec{Value: v} }

// SymDim returns a symbolic dimension.
func SymDim(name string) DimSpec { return DimSpec{Param: name} }

// Field numbers from onnx.proto not already declared in wire.go.
const (
	fModelIRVersion       = 1
	fModelProducerName    = 2
	fModelProducerVersion = 3
	fModelDocString       = 6

	fGraphName = 2

	fNodeAttribute = 5

	fAttrName   = 1
	fAttrF      = 2
	fAttrI      = 3
	fAttrS      = 4
	fAttrFloats = 7
	fAttrInts   = 8
	fAttrType   = 20

	fTensorDims     = 1
	fTensorDataType = 2
	fTensorRawData  = 9

	fValueInfoType  = 2
	fTypeTensor     = 1
	fTensorElemType = 1
	fTensorShape    = 2
	fShapeDim       = 1
	fDimValue       = 1
	fDimParam       = 2

	tensorFloat = 1 // TensorProto.DataType FLOAT
)

// pbuf is a protobuf message being written.
type pbuf []byte

func (b *pbuf) varint(v uint64) { *b = binary.AppendUvarint(*b, v) }

func (b *pbuf) tag(field, wire int) { b.varint(uint64(field)<<3 | uint64(wire)) }

// int64 writes a varint field (negative values as ten-byte two's
// complement, as protobuf does for int64).
func (b *pbuf) int64(field int, v int64) {
	b.tag(field, 0)
	b.varint(uint64(v))
}

func (b *pbuf) bytes(field int, v []byte) {
	b.tag(field, 2)
	b.varint(uint64(len(v)))
	*b = append(*b, v...)
}

func (b *pbuf) string(field int, v string) {
	b.tag(field, 2)
	b.varint(uint64(len(v)))
	*b = append(*b, v...)
}

// stringIf writes a string field unless it is empty (proto2 optional).
func (b *pbuf) stringIf(field int, v string) {
	if v != "" {
		b.string(field, v)
	}
}

func (b *pbuf) float32(field int, v float32) {
	b.tag(field, 5)
	*b = binary.LittleEndian.AppendUint32(*b, math.Float32bits(v))
}

func (b *pbuf) message(field int, m pbuf) { b.bytes(field, m) }

// Encode serialises spec as an ONNX ModelProto (ir_version IRVersion). It
// checks what it can without knowing the operators' semantics (names
// present and unique per role, tensor sizes, attribute types) and returns
// an error, never panics, on a malformed spec; whether the graph is
// executable is for Decode to say.
func Encode(spec *ModelSpec) ([]byte, error) {
	if spec == nil {
		return nil, fmt.Errorf("onnx: Encode: nil spec")
	}
	g := &spec.Graph
	if len(g.Nodes) == 0 || len(g.Outputs) == 0 {
		return nil, fmt.Errorf("onnx: Encode: the graph needs at least one node and one output")
	}
	opset := spec.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < 1 {
		return nil, fmt.Errorf("onnx: Encode: opset %d", opset)
	}
	var gb pbuf
	for i := range g.Nodes {
		nb, err := encodeNode(&g.Nodes[i])
		if err != nil {
			return nil, fmt.Errorf("onnx: Encode: node %d (%s): %w", i, g.Nodes[i].Name, err)
		}
		gb.message(fGraphNode, nb)
	}
	gb.stringIf(fGraphName, g.Name)
	seen := map[string]bool{}
	for i := range g.Initializers {
		t := &g.Initializers[i]
		if t.Name == "" || seen[t.Name] {
			return nil, fmt.Errorf("onnx: Encode: initializer %d: empty or duplicate name %q", i, t.Name)
		}
		seen[t.Name] = true
		tb, err := encodeTensor(t)
		if err != nil {
			return nil, fmt.Errorf("onnx: Encode: initializer %q: %w", t.Name, err)
		}
		gb.message(fGraphInitializer, tb)
	}
	for _, io := range []struct {
		field int
		vals  []ValueSpec
	}{{fGraphInput, g.Inputs}, {fGraphOutput, g.Outputs}} {
		names := map[string]bool{}
		for i := range io.vals {
			v := &io.vals[i]
			if v.Name == "" || names[v.Name] || (io.field == fGraphInput && seen[v.Name]) {
				return nil, fmt.Errorf("onnx: Encode: graph input/output %d: empty or duplicate name %q", i, v.Name)
			}
			names[v.Name] = true
			gb.message(io.field, encodeValueInfo(v))
		}
	}
	var mb pbuf
	mb.int64(fModelIRVersion, IRVersion)
	mb.stringIf(fModelProducerName, spec.ProducerName)
	mb.stringIf(fModelProducerVersion, spec.ProducerVersion)
	mb.stringIf(fModelDocString, spec.DocString)
	mb.message(fModelGraph, gb)
	var ob pbuf
	ob.string(fOpsetDomain, "")
	ob.int64(fOpsetVersion, opset)
	mb.message(fModelOpset, ob)
	keys := make([]string, 0, len(spec.Metadata))
	for k := range spec.Metadata {
		if k == "" {
			return nil, fmt.Errorf("onnx: Encode: empty metadata key")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var eb pbuf
		eb.string(fEntryKey, k)
		eb.string(fEntryValue, spec.Metadata[k])
		mb.message(fModelMetadata, eb)
	}
	return mb, nil
}

func encodeNode(n *NodeSpec) (pbuf, error) {
	if n.Op == "" || len(n.Outputs) == 0 {
		return nil, fmt.Errorf("no op type or no outputs")
	}
	var b pbuf
	for _, s := range n.Inputs {
		b.string(fNodeInput, s)
	}
	for _, s := range n.Outputs {
		if s == "" {
			return nil, fmt.Errorf("empty output name")
		}
		b.string(fNodeOutput, s)
	}
	b.stringIf(fNodeName, n.Name)
	b.string(fNodeOpType, n.Op)
	names := map[string]bool{}
	for _, a := range n.Attrs {
		if a.Name == "" || names[a.Name] {
			return nil, fmt.Errorf("empty or duplicate attribute name %q", a.Name)
		}
		names[a.Name] = true
		var ab pbuf
		ab.string(fAttrName, a.Name)
		switch a.Type {
		case AttrFloat:
			ab.float32(fAttrF, a.Float)
		case AttrInt:
			ab.int64(fAttrI, a.Int)
		case AttrString:
			ab.string(fAttrS, a.String)
		case AttrFloats:
			for _, v := range a.Floats {
				ab.float32(fAttrFloats, v)
			}
		case AttrInts:
			for _, v := range a.Ints {
				ab.int64(fAttrInts, v)
			}
		default:
			return nil, fmt.Errorf("attribute %q: unsupported type %d", a.Name, a.Type)
		}
		ab.int64(fAttrType, int64(a.Type))
		b.message(fNodeAttribute, ab)
	}
	return b, nil
}

func encodeTensor(t *TensorSpec) (pbuf, error) {
	var b pbuf
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return nil, fmt.Errorf("bad dimensions %v", t.Dims)
		}
		n *= d
		b.int64(fTensorDims, d)
	}
	if int64(len(t.Data)) != n {
		return nil, fmt.Errorf("dimensions %v hold %d values, data has %d", t.Dims, n, len(t.Data))
	}
	b.int64(fTensorDataType, tensorFloat)
	b.string(fTensorName, t.Name)
	raw := make([]byte, 0, 4*len(t.Data))
	for _, v := range t.Data {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	b.bytes(fTensorRawData, raw)
	return b, nil
}

func encodeValueInfo(v *ValueSpec) pbuf {
	var tt pbuf
	tt.int64(fTensorElemType, tensorFloat)
	if v.Dims != nil {
		var sb pbuf
		for _, d := range v.Dims {
			var db pbuf
			if d.Param != "" {
				db.string(fDimParam, d.Param)
			} else {
				db.int64(fDimValue, d.Value)
			}
			sb.message(fShapeDim, db)
		}
		tt.message(fTensorShape, sb)
	}
	var ty pbuf
	ty.message(fTypeTensor, tt)
	var b pbuf
	b.string(fValueInfoName, v.Name)
	b.message(fValueInfoType, ty)
	return b
}

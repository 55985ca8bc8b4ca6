package onnx

import (
	"encoding/binary"
	"fmt"
)

// This file is a minimal protobuf wire-format scanner for the parts of an ONNX
// ModelProto that github.com/owulveryck/onnx-go does not expose: the opset
// imports, metadata_props and the node list (names, op types, input and output
// names in order, including empty optional inputs), plus the graph's input,
// output and initializer names.

// Field numbers from onnx.proto.
const (
	fModelGraph    = 7
	fModelOpset    = 8
	fModelMetadata = 14

	fOpsetDomain  = 1
	fOpsetVersion = 2

	fEntryKey   = 1
	fEntryValue = 2

	fGraphNode        = 1
	fGraphInitializer = 5
	fGraphInput       = 11
	fGraphOutput      = 12

	fNodeInput  = 1
	fNodeOutput = 2
	fNodeName   = 3
	fNodeOpType = 4
	fNodeDomain = 7

	fValueInfoName = 1
	fTensorName    = 8
)

// wireField is one decoded field: for length-delimited fields b holds the
// payload, otherwise v holds the varint / fixed value.
type wireField struct {
	num int
	typ int
	v   uint64
	b   []byte
}

// scanFields splits a protobuf message into its top-level fields.
func scanFields(buf []byte, fn func(f wireField) error) error {
	for len(buf) > 0 {
		key, n := binary.Uvarint(buf)
		if n <= 0 {
			return fmt.Errorf("bad field key varint")
		}
		buf = buf[n:]
		f := wireField{num: int(key >> 3), typ: int(key & 7)}
		if key>>3 == 0 || key>>3 > 1<<29 {
			return fmt.Errorf("bad field number %d", key>>3)
		}
		switch f.typ {
		case 0: // varint
			v, n := binary.Uvarint(buf)
			if n <= 0 {
				return fmt.Errorf("bad varint in field %d", f.num)
			}
			f.v, buf = v, buf[n:]
		case 1: // fixed64
			if len(buf) < 8 {
				return fmt.Errorf("truncated fixed64 in field %d", f.num)
			}
			f.v, buf = binary.LittleEndian.Uint64(buf), buf[8:]
		case 2: // length-delimited
			l, n := binary.Uvarint(buf)
			if n <= 0 || l > uint64(len(buf)-n) {
				return fmt.Errorf("bad length in field %d", f.num)
			}
			f.b, buf = buf[n:n+int(l)], buf[n+int(l):]
		case 5: // fixed32
			if len(buf) < 4 {
				return fmt.Errorf("truncated fixed32 in field %d", f.num)
			}
			f.v, buf = uint64(binary.LittleEndian.Uint32(buf)), buf[4:]
		default:
			return fmt.Errorf("unsupported wire type %d in field %d", f.typ, f.num)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// wireNode is a NodeProto's structure.
type wireNode struct {
	name, opType, domain string
	inputs, outputs      []string
}

// wireModel is what scanModel extracts.
type wireModel struct {
	opset        int // default-domain opset; 0 if absent
	metadata     map[string]string
	nodes        []wireNode
	inputs       []string // graph inputs, including initializers listed as inputs
	outputs      []string
	initializers []string
	hasGraph     bool
}

func lenField(f wireField, what string) error {
	if f.typ != 2 {
		return fmt.Errorf("%s: wire type %d, want length-delimited", what, f.typ)
	}
	return nil
}

// scanModel reads the structure of a ModelProto.
func scanModel(data []byte) (*wireModel, error) {
	wm := &wireModel{metadata: map[string]string{}}
	err := scanFields(data, func(f wireField) error {
		switch f.num {
		case fModelOpset:
			if err := lenField(f, "opset_import"); err != nil {
				return err
			}
			var domain string
			var version int64
			err := scanFields(f.b, func(g wireField) error {
				switch g.num {
				case fOpsetDomain:
					if err := lenField(g, "opset domain"); err != nil {
						return err
					}
					domain = string(g.b)
				case fOpsetVersion:
					version = int64(g.v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if domain == "" || domain == "ai.onnx" {
				wm.opset = int(version)
			}
		case fModelMetadata:
			if err := lenField(f, "metadata_props"); err != nil {
				return err
			}
			var k, v string
			err := scanFields(f.b, func(g wireField) error {
				if g.typ != 2 {
					return nil
				}
				switch g.num {
				case fEntryKey:
					k = string(g.b)
				case fEntryValue:
					v = string(g.b)
				}
				return nil
			})
			if err != nil {
				return err
			}
			wm.metadata[k] = v
		case fModelGraph:
			if err := lenField(f, "graph"); err != nil {
				return err
			}
			wm.hasGraph = true
			return scanGraph(f.b, wm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return wm, nil
}

func scanGraph(b []byte, wm *wireModel) error {
	return scanFields(b, func(f wireField) error {
		switch f.num {
		case fGraphNode:
			if err := lenField(f, "node"); err != nil {
				return err
			}
			var n wireNode
			err := scanFields(f.b, func(g wireField) error {
				if g.typ != 2 {
					return nil
				}
				switch g.num {
				case fNodeInput:
					n.inputs = append(n.inputs, string(g.b))
				case fNodeOutput:
					n.outputs = append(n.outputs, string(g.b))
				case fNodeName:
					n.name = string(g.b)
				case fNodeOpType:
					n.opType = string(g.b)
				case fNodeDomain:
					n.domain = string(g.b)
				}
				return nil
			})
			if err != nil {
				return err
			}
			wm.nodes = append(wm.nodes, n)
		case fGraphInput, fGraphOutput, fGraphInitializer:
			if err := lenField(f, "graph value"); err != nil {
				return err
			}
			want := fValueInfoName
			if f.num == fGraphInitializer {
				want = fTensorName
			}
			var name string
			err := scanFields(f.b, func(g wireField) error {
				if g.num == want && g.typ == 2 {
					name = string(g.b)
				}
				return nil
			})
			if err != nil {
				return err
			}
			switch f.num {
			case fGraphInput:
				wm.inputs = append(wm.inputs, name)
			case fGraphOutput:
				wm.outputs = append(wm.outputs, name)
			default:
				wm.initializers = append(wm.initializers, name)
			}
		}
		return nil
	})
}

package onnx

import (
	"errors"
	"fmt"
)

// ErrNoValue is wrapped by Run's error when a requested output names no
// value of the graph.
var ErrNoValue = errors.New("onnx: no value named")

// FormatError reports a malformed or inconsistent ONNX model: the bytes do not
// parse, a node refers to a value nothing produces, the graph has a cycle, or
// a constant has the wrong size. Re-export the model (e.g. with
// torch.onnx.export at opset 13 or later) to fix it.
type FormatError struct {
	Msg string // what is wrong
	Err error  // underlying error, if any
}

func (e *FormatError) Error() string {
	if e.Err != nil {
		return "onnx: malformed model: " + e.Msg + ": " + e.Err.Error()
	}
	return "onnx: malformed model: " + e.Msg
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a well-formed model that uses an operator, or an
// operator attribute or mode, that this executor does not implement.
type UnsupportedError struct {
	Op     string // operator type, e.g. "Resize"
	Node   string // node name (or "#index" when the node is unnamed)
	Opset  int    // the model's default-domain opset
	Detail string // the unsupported attribute or mode, empty for an unknown op
}

func (e *UnsupportedError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("onnx: unsupported operator %s (node %s, opset %d)", e.Op, e.Node, e.Opset)
	}
	return fmt.Sprintf("onnx: unsupported %s in operator %s (node %s, opset %d)", e.Detail, e.Op, e.Node, e.Opset)
}

// RunError reports a failure while evaluating a node, typically input tensors
// whose shapes the model cannot accept.
type RunError struct {
	Op   string // operator type
	Node string // node name (or "#index")
	Err  error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("onnx: %s node %s: %v", e.Op, e.Node, e.Err)
}

// Unwrap returns the underlying error.
func (e *RunError) Unwrap() error { return e.Err }

// Package onnx decodes ONNX models (through github.com/owulveryck/onnx-go's
// reader) and executes them on float32 tensors with pni's own kernels.
//
// STUB: the API below is fixed; the bodies are being written.
package onnx

import (
	"context"
	"errors"

	"github.com/x/pni/internal/tensor"
)

// Model is a decoded ONNX graph ready to run. Run is safe for concurrent use.
type Model struct{}

// Decode parses an ONNX model file's bytes.
func Decode(data []byte) (*Model, error) { return nil, errors.New("onnx: not implemented") }

// Inputs lists the graph inputs that are not initializers, in graph order.
func (m *Model) Inputs() []string { return nil }

// Outputs lists the graph outputs, in graph order.
func (m *Model) Outputs() []string { return nil }

// Metadata returns the model's metadata_props as a map.
func (m *Model) Metadata() map[string]string { return nil }

// Opset is the default-domain opset the model was exported with.
func (m *Model) Opset() int { return 0 }

// Run evaluates the graph on the named inputs and returns the requested node
// outputs (any node output or graph output, by name); it computes only what the
// requested outputs need.
func (m *Model) Run(ctx context.Context, inputs map[string]*tensor.Tensor, outputs ...string) (map[string]*tensor.Tensor, error) {
	return nil, errors.New("onnx: not implemented")
}

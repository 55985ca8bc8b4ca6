// Package tensor is pni's dense float32 tensor: a shape and a row-major
// (C-order) data slice, nothing more. It carries images into the ONNX
// backbone (internal/onnx) and feature maps out of it for PNI (Bae, Lee, Kim,
// ICCV 2023).
package tensor

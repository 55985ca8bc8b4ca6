// Package onnx decodes ONNX models (through github.com/owulveryck/onnx-go's
// reader) and executes them on float32 tensors with pni's own kernels.
//
// PNI (Bae, Lee, Kim, "PNI: Industrial Anomaly Detection using Position and
// Neighborhood Information", ICCV 2023) builds its memory bank from
// intermediate feature maps (layer2, layer3) of an ImageNet-pretrained CNN;
// this package runs such a network, exported to ONNX by PyTorch at opset 13 or
// later, in pure Go.
//
// Decode parses the file once, computes a topological order, folds
// BatchNormalization into the preceding Conv where the weights are constant,
// and compiles every node. Run evaluates only what the requested outputs
// need; any node output can be requested by name. Intermediate buffers come
// from per-size pools and are released after their last consumer, ReLU is
// fused into the preceding Conv when nothing else reads the Conv's output, a
// BatchNormalization+Relu before a 1x1 Conv (DenseNet's pre-activation) is
// applied as that Conv packs its input instead of in passes of its own, an
// Add that is the sole reader of a Conv's output (a ResNet block's residual
// join, and a Relu after it) is done in the Conv's store (the Conv runs at the
// Add's place, accumulating onto the other operand's buffer when that dies
// there), a Concat whose first input dies with it appends in place to that
// input's buffer (DenseNet's dense blocks), and Run is safe for concurrent
// use. Stride-1 3x3 convolutions run Winograd F(2x2,3x3) (package kernels).
//
// Supported operators: Conv, ConvTranspose, BatchNormalization, Relu,
// LeakyRelu, Sigmoid, Tanh, Add, Sub, Mul, Div (numpy broadcasting), Concat,
// MaxPool, AveragePool, GlobalAveragePool, Pad, Resize, Gemm, MatMul,
// Flatten, Reshape, Identity, Constant, Shape, Gather, Unsqueeze, Squeeze,
// Slice, Cast, ConstantOfShape, plus Floor, Ceil, Sqrt, Neg, Exp, Transpose,
// Expand and ReduceMean. Anything else is an *UnsupportedError at Decode.
//
// Encode is the other direction: a minimal protobuf writer that serialises a
// ModelSpec (nodes, float32 initializers as raw_data, inputs and outputs with
// fixed or symbolic dimensions, metadata_props) as an ONNX ModelProto, IR
// version 8, default opset 17. internal/nn exports its refinement UNet with
// it; the files pass onnx.checker's full check.
//
// Note that PyTorch's opset-11 Resize export crashes onnx-go's reader (an
// empty constant tensor) and is reported as a *FormatError: export at opset
// 13 or later.
package onnx

// Package nn is a minimal trainable convolutional network in pure Go, for
// PNI's pixel-wise refinement network (Bae, Lee, Kim, "PNI: Industrial
// Anomaly Detection using Position and Neighborhood Information", ICCV 2023,
// §3.3): f(image, anomaly map) → refined map, trained on synthetic defects.
//
// It implements, on NCHW float32 batches (Tensor), layers with forward and
// backward passes: Conv2d (K×K, stride ≥ 1, zero padding, bias, optional
// fused ReLU; forward by kernels.Conv2D, backward by explicit im2col and
// kernels.Gemm/GemmTB), ReLU, Sigmoid, MaxPool2 (2×2, stride 2), Upsample2
// (×2 bilinear, align_corners=false, as PyTorch's F.interpolate), Concat and
// Add; the PNI refinement loss (Loss: the mean of a squared-error term and a
// squared-gradient term, see Loss for the exact reading of the paper's
// ||·||₂/HW); the Adam optimiser in PyTorch's formulation; and UNet, a
// compact U-Net (Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks
// for Biomedical Image Segmentation", MICCAI 2015) whose output is the input
// map plus a learned residual, with deterministic He/Kaiming initialisation
// (He et al., ICCV 2015) from a seed. UNet.ExportONNX writes the trained
// network as an ONNX model that internal/onnx runs.
//
// All parameters of a UNet live in one flat vector (Params) that the layers
// view, so the optimiser and serialisation see a single []float32. Layers
// reuse their buffers between calls and are not safe for concurrent use;
// the heavy kernels inside them run on all CPUs.
//
// The layers' gradients are tested against central finite differences, and
// the UNet's forward pass and three Adam steps against PyTorch
// (testdata/gen_fixtures.py).
package nn

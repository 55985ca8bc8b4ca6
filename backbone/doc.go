// Package backbone turns images into PNI / PatchCore patch features.
//
// A backbone is an ONNX model (see Load) with one image input, N x 3 x H x W
// float32, and two named outputs, by default "layer2" (stride 8) and
// "layer3" (stride 16), as a ResNet's second and third stages. The shared
// ResNet-50 and DenseNet-201 and the WideResNet-50-2 exported by
// scripts/export_wrn50.py have this form; the ONNX graph is executed in pure Go by
// github.com/x/pni/internal/onnx.
//
// The pipeline follows PatchCore (Roth, Pemula, Zepeda, Schölkopf, Brox,
// Gehler, "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022)
// as PNI (Bae, Lee, Kim, "PNI: Industrial Anomaly Detection using Position
// and Neighborhood Information", ICCV 2023) uses it:
//
//  1. Preprocessing: image -> RGB in [0,1] (gray replicated, alpha ignored as
//     PIL's convert("RGB") does) -> antialiased bilinear resize on real
//     values (PIL's BILINEAR filter; equal to torch's interpolate with
//     antialias=True to 1e-5, within 1/255 of PIL's 8-bit result) ->
//     optional center crop (torchvision's CenterCrop offsets) ->
//     (x-mean)/std. Geometry describes this mapping in both directions
//     (original image <-> network input <-> feature grid).
//  2. The network, up to the two layers.
//  3. Aggregation, PatchCore's embedding (patchcore-inspection's PatchMaker,
//     Preprocessing/MeanMapper and Aggregator): each layer is cut into 3x3
//     patches (stride 1, zero padding 1), a C*9 vector per position
//     (channel-major, then the window row-major); layer3's patches are
//     bilinearly upsampled (align_corners=false) to layer2's grid; each
//     layer's vector is average-pooled (adaptive_avg_pool1d) to
//     Options.LayerDim values (1024), the two are concatenated (layer2
//     first) and pooled again to D = Options.Dim values (1024) per grid
//     position, stored H x W x D. Both layers weigh equally whatever their
//     channel counts (ResNet-50: 512 and 1024; DenseNet-201: 512 and 1792).
//     The two poolings are computed as one fixed sparse map, built once per
//     channel counts and widths: output d is a weighted 3x3 window sum of a
//     few channels. For ResNet-50 at the defaults, output c < 512 is layer2
//     channel c's window with weights 0.1 (0.2 at the centre), output 512+c
//     the mean of layer3 channels 2c and 2c+1's 3x3 means.
//
// At a 224 x 224 input the grid is 28 x 28. For torchvision ResNets the
// grid of an h x w input is (ceil(h/8), ceil(w/8)) (each of the three
// stride-2 steps maps n to ceil(n/2)); Model.Geometry measures it on the
// model itself, so other backbones work too. Model.Features runs the three
// steps on one image.
//
// A Model is safe for concurrent use.
package backbone

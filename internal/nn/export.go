package nn

import (
	"fmt"
	"strconv"

	"github.com/x/pni/internal/onnx"
)

// Names and metadata keys of an exported refinement network.
const (
	ONNXImage  = "image"   // graph input: float32 N×3×H×W
	ONNXMap    = "map"     // graph input: float32 N×1×H×W
	ONNXOutput = "refined" // graph output: float32 N×1×H×W, map + residual

	MetaSize   = "pni.refine.size"   // "WxH": the working resolution the net was trained at
	MetaImage  = "pni.refine.image"  // name of the image input
	MetaMap    = "pni.refine.map"    // name of the map input
	MetaOutput = "pni.refine.output" // name of the output
	MetaConfig = "pni.refine.config" // Config.String()
	MetaSeed   = "pni.refine.seed"   // the initialisation seed
	MetaParams = "pni.refine.params" // number of parameters
)

// ExportOptions are the parameters of ExportONNX.
type ExportOptions struct {
	// Width and Height are the working resolution the network was trained
	// at (written as MetaSize); both must be positive multiples of 2^Depth.
	Width, Height int
	// Metadata holds further metadata_props; it may not set the
	// pni.refine.* keys ExportONNX writes.
	Metadata map[string]string
}

// ExportONNX writes the network as an ONNX model (IR 8, opset 17) of the
// operators Concat, Conv, Relu, MaxPool, Resize (linear, half_pixel,
// constant scales) and Add, with inputs ONNXImage (N×3×H×W) and ONNXMap
// (N×1×H×W), N, H and W symbolic, and output ONNXOutput (N×1×H×W, the map
// plus the residual, as Forward). H and W must be multiples of 2^Depth at
// run time. The network must have 4 input channels.
func (u *UNet) ExportONNX(opt ExportOptions) ([]byte, error) {
	cfg := u.Config
	if cfg.InChannels != 4 {
		return nil, fmt.Errorf("nn: ExportONNX: the network has %d input channels, want 4 (RGB + map)", cfg.InChannels)
	}
	m := 1 << cfg.Depth
	if opt.Width < m || opt.Height < m || opt.Width%m != 0 || opt.Height%m != 0 {
		return nil, fmt.Errorf("nn: ExportONNX: working size %dx%d is not a positive multiple of %d", opt.Width, opt.Height, m)
	}
	meta := map[string]string{
		MetaSize:   fmt.Sprintf("%dx%d", opt.Width, opt.Height),
		MetaImage:  ONNXImage,
		MetaMap:    ONNXMap,
		MetaOutput: ONNXOutput,
		MetaConfig: cfg.String(),
		MetaSeed:   strconv.FormatUint(u.Seed, 10),
		MetaParams: strconv.Itoa(u.NumParams()),
	}
	for k, v := range opt.Metadata {
		if _, ok := meta[k]; ok {
			return nil, fmt.Errorf("nn: ExportONNX: metadata key %q is reserved", k)
		}
		meta[k] = v
	}
	g := &onnx.GraphSpec{Name: "pni_refine_unet"}
	node := func(op, name string, in []string, attrs ...onnx.AttrSpec) string {
		g.Nodes = append(g.Nodes, onnx.NodeSpec{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
		return name
	}
	conv := func(c *Conv2d, name, in string) string {
		w, b := name+".weight", name+".bias"
		g.Initializers = append(g.Initializers,
			onnx.TensorSpec{Name: w, Dims: []int64{int64(c.OutC), int64(c.InC), int64(c.K), int64(c.K)}, Data: c.Weight},
			onnx.TensorSpec{Name: b, Dims: []int64{int64(c.OutC)}, Data: c.Bias})
		k, s, p := int64(c.K), int64(c.Stride), int64(c.Pad)
		out := node("Conv", name, []string{in, w, b},
			onnx.IntsAttr("kernel_shape", k, k), onnx.IntsAttr("strides", s, s), onnx.IntsAttr("pads", p, p, p, p))
		if c.ReLU {
			out = node("Relu", name+".relu", []string{out})
		}
		return out
	}
	const scales = "upsample.scales"
	g.Initializers = append(g.Initializers, onnx.TensorSpec{Name: scales, Dims: []int64{4}, Data: []float32{1, 1, 2, 2}})
	h := node("Concat", "input", []string{ONNXImage, ONNXMap}, onnx.IntAttr("axis", 1))
	skips := make([]string, cfg.Depth+1)
	for l, e := range u.enc {
		p := fmt.Sprintf("enc%d", l)
		if e.pool != nil {
			h = node("MaxPool", p+".pool", []string{h}, onnx.IntsAttr("kernel_shape", 2, 2), onnx.IntsAttr("strides", 2, 2))
		}
		h = conv(e.c2, p+".conv2", conv(e.c1, p+".conv1", h))
		skips[l] = h
	}
	for l := cfg.Depth - 1; l >= 0; l-- {
		d := u.dec[l]
		p := fmt.Sprintf("dec%d", l)
		up := node("Resize", p+".up", []string{h, "", scales},
			onnx.StringAttr("mode", "linear"), onnx.StringAttr("coordinate_transformation_mode", "half_pixel"))
		h = node("Concat", p+".cat", []string{up, skips[l]}, onnx.IntAttr("axis", 1))
		h = conv(d.c2, p+".conv2", conv(d.c1, p+".conv1", h))
	}
	h = conv(u.head, "head", h)
	g.Nodes = append(g.Nodes, onnx.NodeSpec{Name: "residual", Op: "Add", Inputs: []string{ONNXMap, h}, Outputs: []string{ONNXOutput}})
	nchw := func(name string, c int64) onnx.ValueSpec {
		return onnx.ValueSpec{Name: name, Dims: []onnx.DimSpec{onnx.SymDim("N"), onnx.Dim(c), onnx.SymDim("H"), onnx.SymDim("W")}}
	}
	g.Inputs = []onnx.ValueSpec{nchw(ONNXImage, 3), nchw(ONNXMap, 1)}
	g.Outputs = []onnx.ValueSpec{nchw(ONNXOutput, 1)}
	return onnx.Encode(&onnx.ModelSpec{
		ProducerName:    "pni",
		ProducerVersion: "internal/nn",
		DocString: fmt.Sprintf("PNI pixel-wise refinement network (U-Net, %s, seed %d): %s = %s + f(%s, %s)",
			cfg, u.Seed, ONNXOutput, ONNXMap, ONNXImage, ONNXMap),
		Opset:    onnx.DefaultOpset,
		Graph:    *g,
		Metadata: meta,
	})
}

package backbone

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/tensor"
)

// MaxInputSide is the largest network input height or width (after resize
// and crop) that Input, Features, FeaturesTensor and GridSize accept. A
// ResNet-50 at 4096 x 4096 already needs about 2 TFLOP and tens of GB of
// activations; resize larger images first.
const MaxInputSide = 4096

// ImageNetMean and ImageNetStd are the per-channel (R, G, B) normalisation
// constants used when neither Options nor the model's metadata give any.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// DefaultLayers are the output names aggregated when Options.Layers is empty.
var DefaultLayers = []string{"layer2", "layer3"}

// Options configures Load. The zero value (or a nil *Options) gives the
// defaults.
type Options struct {
	// Layers names the two model outputs to aggregate: first the fine one
	// (stride 8, whose grid the features use), then the coarse one (stride
	// 16, whose 3x3 patches are upsampled to that grid). Any graph output or
	// node output name of the model works. Default: the model's metadata key
	// "layers" when it names two outputs ("layer2,layer3"), else
	// DefaultLayers.
	Layers []string

	// Mean and Std are the per-channel normalisation (x - Mean) / Std of the
	// RGB input in [0,1]. A zero value means: from the model's metadata keys
	// "mean" / "std" ("0.485,0.456,0.406" or "[0.485, 0.456, 0.406]"), else
	// ImageNetMean / ImageNetStd. (To ask for an exactly-zero mean, give a
	// negligible value such as 1e-9.) Every Std component must be > 0.
	Mean, Std [3]float32

	// Dim is the patch-feature dimension D (Features.D): PatchCore's
	// target_embed_dimension, the width of the final average pooling over
	// both layers. 0 means DefaultDim (1024).
	Dim int

	// LayerDim is the width each layer's 3x3 patch vector (C x 3 x 3
	// values) is average-pooled to before the two are concatenated and
	// pooled to Dim: PatchCore's pretrain_embed_dimension. 0 means
	// DefaultLayerDim (1024).
	//
	// Neither may be negative. A value set here must be at most 9*(C2+C3)
	// for the model's layer channel counts C2 and C3 (13824 for ResNet-50,
	// 20736 for DenseNet-201); the defaults apply to any model, as in
	// PatchCore (for narrower layers the poolings repeat values). Load
	// rejects negative values; the upper bound is checked by Features, when
	// the channel counts are known. Both errors match ErrInvalidArgument.
	LayerDim int
}

// Model is a loaded backbone. It is safe for concurrent use.
type Model struct {
	net       *onnx.Model
	input     string
	layers    [2]string
	mean, std [3]float32
	dims      embedDims

	gridMu sync.Mutex
	grid   map[[2]int][2]int // input (h, w) -> layer grid (H, W)
}

// Load reads an ONNX backbone from path; see LoadBytes. A nil opts means
// defaults.
func Load(path string, opts *Options) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: cannot read model: %w", err)
	}
	m, err := LoadBytes(data, opts)
	if err != nil {
		var fe *FormatError
		var ue *UnsupportedError
		switch {
		case errors.As(err, &fe):
			fe.Path = path
		case errors.As(err, &ue):
			ue.Path = path
		}
		return nil, err
	}
	return m, nil
}

// LoadBytes decodes an ONNX backbone from the bytes of a .onnx file. It must
// have exactly one input (N x 3 x H x W float32 image) and produce the
// Options.Layers outputs. Errors: *FormatError for a malformed or unusable
// file, *UnsupportedError for operators the executor lacks,
// *MissingLayerError for missing layers.
func LoadBytes(data []byte, opts *Options) (*Model, error) {
	if opts == nil {
		opts = &Options{}
	}
	if n := len(opts.Layers); n != 0 && (n != 2 || opts.Layers[0] == "" || opts.Layers[1] == "" || opts.Layers[0] == opts.Layers[1]) {
		return nil, badArg("Options.Layers must name two distinct outputs (stride 8, then stride 16), got %q", opts.Layers)
	}
	dims, err := resolveDims(opts.LayerDim, opts.Dim)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, &FormatError{Msg: "the file is empty"}
	}
	net, err := onnx.Decode(data)
	if err != nil {
		var ue *onnx.UnsupportedError
		if errors.As(err, &ue) {
			return nil, &UnsupportedError{Op: ue.Op, Node: ue.Node, Opset: ue.Opset, Detail: ue.Detail, Err: err}
		}
		return nil, &FormatError{Msg: "cannot decode the ONNX model", Err: err}
	}
	ins := net.Inputs()
	if len(ins) != 1 {
		return nil, &FormatError{Msg: fmt.Sprintf("a backbone needs exactly one input (the N x 3 x H x W image), this model has %d: %s", len(ins), quoteList(ins))}
	}
	md := net.Metadata()
	layers := opts.Layers
	if len(layers) == 0 {
		layers = DefaultLayers
		if s, ok := md["layers"]; ok {
			if f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }); len(f) == 2 && f[0] != f[1] {
				layers = f
			}
		}
	}
	m := &Model{net: net, input: ins[0], layers: [2]string{layers[0], layers[1]}, dims: dims, grid: map[[2]int][2]int{}}
	if err := m.checkLayers(); err != nil {
		return nil, err
	}
	m.mean, err = pickTriple(opts.Mean, md, "mean", ImageNetMean, false)
	if err != nil {
		return nil, err
	}
	m.std, err = pickTriple(opts.Std, md, "std", ImageNetStd, true)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// checkLayers verifies that the model can produce both layers.
func (m *Model) checkLayers() error {
	outs := m.net.Outputs()
	var missing []string
	for _, l := range m.layers {
		if slices.Contains(outs, l) {
			continue
		}
		// Not a graph output: it may still be an internal node output. Run
		// with no inputs fails before any computation, either because the
		// name is unknown or because the image input is missing.
		_, err := m.net.Run(context.Background(), nil, l)
		if errors.Is(err, onnx.ErrNoValue) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return &MissingLayerError{Missing: missing, Available: outs}
	}
	return nil
}

// pickTriple resolves Mean or Std: explicit option, then metadata, then def.
func pickTriple(opt [3]float32, md map[string]string, key string, def [3]float32, positive bool) ([3]float32, error) {
	v := opt
	src := "Options"
	if v == ([3]float32{}) {
		if s, ok := md[key]; ok {
			t, err := ParseTriple(s)
			if err != nil {
				return v, &FormatError{Msg: fmt.Sprintf("metadata %q", key), Err: err}
			}
			v, src = t, "metadata "+key
		} else {
			return def, nil
		}
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || (positive && x <= 0) {
			rule := "finite"
			if positive {
				rule = "finite and > 0"
			}
			if src == "Options" {
				return v, badArg("Options.%s = %v: every component must be %s", strings.ToUpper(key[:1])+key[1:], v, rule)
			}
			return v, &FormatError{Msg: fmt.Sprintf("%s = %v: every component must be %s", src, v, rule)}
		}
	}
	return v, nil
}

// ParseTriple parses three numbers as found in a model's "mean" / "std"
// metadata: comma- or space-separated, optionally in [ ] or ( ), e.g.
// "0.485,0.456,0.406" or "[0.485, 0.456, 0.406]".
func ParseTriple(s string) ([3]float32, error) {
	var out [3]float32
	t := strings.TrimSpace(s)
	if len(t) >= 2 && ((t[0] == '[' && t[len(t)-1] == ']') || (t[0] == '(' && t[len(t)-1] == ')')) {
		t = t[1 : len(t)-1]
	}
	fields := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == ';' })
	if len(fields) != 3 {
		return out, fmt.Errorf("%q: want three numbers such as \"0.485,0.456,0.406\", found %d fields", s, len(fields))
	}
	for i, f := range fields {
		x, err := strconv.ParseFloat(f, 32)
		if err != nil {
			return out, fmt.Errorf("%q: field %d: %w", s, i, err)
		}
		out[i] = float32(x)
	}
	return out, nil
}

// Mean returns the per-channel mean used to normalise inputs.
func (m *Model) Mean() [3]float32 { return m.mean }

// Std returns the per-channel standard deviation used to normalise inputs.
func (m *Model) Std() [3]float32 { return m.std }

// Layers returns the two output names aggregated (fine, coarse).
func (m *Model) Layers() [2]string { return m.layers }

// InputName returns the name of the model's image input.
func (m *Model) InputName() string { return m.input }

// Metadata returns the model's ONNX metadata_props (a fresh copy).
func (m *Model) Metadata() map[string]string { return m.net.Metadata() }

// Features runs the backbone on one image under p and aggregates its two
// layers into the patch-feature grid (see the package documentation). ctx
// cancels the network run between nodes.
func (m *Model) Features(ctx context.Context, img image.Image, p Preprocess) (*Features, error) {
	in, err := m.inputTensor(img, p)
	if err != nil {
		return nil, err
	}
	return m.featuresTensor(ctx, in)
}

// featuresTensor runs the backbone on an already-normalised 1 x 3 x H x W
// input and aggregates the layers.
func (m *Model) featuresTensor(ctx context.Context, in *tensor.Tensor) (*Features, error) {
	l2, l3, err := m.runLayers(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := m.dims.check(l2.Shape[1], l3.Shape[1]); err != nil {
		return nil, err
	}
	f, err := aggregateLayers(l2, l3, m.dims)
	if err != nil {
		return nil, fmt.Errorf("backbone: layers %q/%q: %w", m.layers[0], m.layers[1], err)
	}
	return f, nil
}

func (m *Model) runLayers(ctx context.Context, in *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, error) {
	if err := checkInput(in); err != nil {
		return nil, nil, err
	}
	out, err := m.net.Run(ctx, map[string]*tensor.Tensor{m.input: in}, m.layers[0], m.layers[1])
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("backbone: running the model on a %v input: %w", in.Shape, err)
	}
	l2, l3 := out[m.layers[0]], out[m.layers[1]]
	if l2 == nil || l3 == nil || len(l2.Shape) != 4 || len(l3.Shape) != 4 || l2.Shape[0] != 1 || l3.Shape[0] != 1 {
		return nil, nil, &FormatError{Msg: fmt.Sprintf("layers %q and %q must be 1 x C x H x W for one image", m.layers[0], m.layers[1])}
	}
	m.gridMu.Lock()
	m.grid[[2]int{in.Shape[2], in.Shape[3]}] = [2]int{l2.Shape[2], l2.Shape[3]}
	m.gridMu.Unlock()
	return l2, l3, nil
}

func checkInput(in *tensor.Tensor) error {
	if in == nil {
		return badArg("nil input tensor")
	}
	if len(in.Shape) != 4 || in.Shape[0] != 1 || in.Shape[1] != 3 {
		return badArg("input tensor has shape %v, want 1 x 3 x H x W", in.Shape)
	}
	if in.Shape[2] < 1 || in.Shape[3] < 1 {
		return badArg("input tensor has shape %v: every dimension must be >= 1", in.Shape)
	}
	if in.Shape[2] > MaxInputSide || in.Shape[3] > MaxInputSide {
		return badArg("input %dx%d exceeds MaxInputSide %d: resize the images first", in.Shape[3], in.Shape[2], MaxInputSide)
	}
	if in.Len() != len(in.Data) {
		return badArg("input tensor has %d values for shape %v", len(in.Data), in.Shape)
	}
	return nil
}

// gridSize returns the feature grid (H, W) for a network input of h x w
// pixels (height, width): the size of the fine layer's output. It is
// measured on the model, up to the fine layer only, and cached; Features
// fills the cache too. Inputs up to 512 x 512 are measured with one run on
// a zero 1 x 3 x h x w input; larger ones with two thin runs (h x 8 and 8 x
// w: convolutions and pools treat the axes independently), falling back to
// the full size if a thin run fails. For torchvision ResNets the result is
// (ceil(h/8), ceil(w/8)): each of the three stride-2 steps (7x7 conv pad 3,
// 3x3 max-pool pad 1, 3x3 conv pad 1) maps n to ceil(n/2).
func (m *Model) gridSize(h, w int) (int, int, error) {
	if h < 1 || w < 1 || h > MaxInputSide || w > MaxInputSide {
		return 0, 0, badArg("input size %dx%d (WxH) must be within 1..%d", w, h, MaxInputSide)
	}
	key := [2]int{h, w}
	m.gridMu.Lock()
	g, ok := m.grid[key]
	m.gridMu.Unlock()
	if ok {
		return g[0], g[1], nil
	}
	var gh, gw int
	var err error
	if h*w > 512*512 {
		const thin = 8
		var a, b int
		if gh, a, err = m.measureGrid(h, thin); err == nil {
			b, gw, err = m.measureGrid(thin, w)
		}
		if err == nil && (a != b || a < 1) {
			err = errors.New("inconsistent thin measurements")
		}
	}
	if h*w <= 512*512 || err != nil {
		gh, gw, err = m.measureGrid(h, w)
		if err != nil {
			return 0, 0, err
		}
	}
	m.gridMu.Lock()
	m.grid[key] = [2]int{gh, gw}
	m.gridMu.Unlock()
	return gh, gw, nil
}

// measureGrid runs the model up to the fine layer on a zero h x w input.
func (m *Model) measureGrid(h, w int) (int, int, error) {
	out, err := m.net.Run(context.Background(), map[string]*tensor.Tensor{m.input: tensor.New(1, 3, h, w)}, m.layers[0])
	if err != nil {
		return 0, 0, fmt.Errorf("backbone: measuring the grid of a %dx%d (WxH) input: %w", w, h, err)
	}
	l := out[m.layers[0]]
	if l == nil || len(l.Shape) != 4 {
		return 0, 0, &FormatError{Msg: fmt.Sprintf("layer %q must be N x C x H x W", m.layers[0])}
	}
	return l.Shape[2], l.Shape[3], nil
}

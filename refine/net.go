package refine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/x/pni/internal/errs"
	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/tensor"
)

// Metadata keys a refinement net's ONNX file may set.
const (
	KeySize   = "pni.refine.size"   // working resolution "WxH"
	KeyImage  = "pni.refine.image"  // image input name
	KeyMap    = "pni.refine.map"    // map input name
	KeyOutput = "pni.refine.output" // output name
)

// DefaultSize is the working resolution of a net whose metadata names none.
const DefaultSize = 160

// MaxSize bounds a net's working resolution on each side.
const MaxSize = 2048

// ErrInvalidArgument matches (errors.Is) every error of this package for a
// bad argument; it is the same value as pni.ErrInvalidArgument.
var ErrInvalidArgument = errs.ErrInvalidArgument

// FormatError reports a refinement net that cannot be used: not an ONNX
// model, or one whose inputs, output, shapes or metadata are not what a
// refinement net needs (see the package documentation).
type FormatError struct {
	Path string
	Msg  string
	Err  error
}

func (e *FormatError) Error() string {
	s := "refine: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += "unusable refinement net: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *FormatError) Unwrap() error { return e.Err }

// Net is a loaded refinement net. It is safe for concurrent use.
type Net struct {
	net              *onnx.Model
	bytes            []byte
	image, amap, out string
	w, h             int
}

// Load reads a refinement net from an ONNX file.
func Load(path string) (*Net, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("refine: %w", err)
	}
	n, err := LoadBytes(data)
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Path = path
	}
	return n, err
}

// LoadBytes decodes a refinement net from an ONNX file's bytes and
// validates it: its two inputs and one output by name, and a run on a zero
// input at the working size that must give a 1 x 1 x H x W map. A net with
// an operator the executor lacks is a *FormatError wrapping the executor's
// UnsupportedError (errors.As finds the operator, node and opset).
func LoadBytes(data []byte) (*Net, error) {
	if len(data) == 0 {
		return nil, &FormatError{Msg: "the file is empty"}
	}
	m, err := onnx.Decode(data)
	if err != nil {
		return nil, &FormatError{Msg: "cannot decode the ONNX model", Err: err}
	}
	md := m.Metadata()
	n := &Net{net: m, bytes: data, image: "image", amap: "map", w: DefaultSize, h: DefaultSize}
	if v := md[KeyImage]; v != "" {
		n.image = v
	}
	if v := md[KeyMap]; v != "" {
		n.amap = v
	}
	ins := m.Inputs()
	for _, want := range []string{n.image, n.amap} {
		if !slices.Contains(ins, want) {
			return nil, &FormatError{Msg: fmt.Sprintf("no input named %q (inputs: %s); name the inputs image and map, or set %s / %s",
				want, strings.Join(ins, ", "), KeyImage, KeyMap)}
		}
	}
	if len(ins) != 2 {
		return nil, &FormatError{Msg: fmt.Sprintf("a refinement net takes exactly two inputs (image, map), this one has %d: %s", len(ins), strings.Join(ins, ", "))}
	}
	outs := m.Outputs()
	switch v := md[KeyOutput]; {
	case v != "":
		n.out = v
	case len(outs) == 1:
		n.out = outs[0]
	default:
		return nil, &FormatError{Msg: fmt.Sprintf("%d outputs (%s): name the refined map with %s", len(outs), strings.Join(outs, ", "), KeyOutput)}
	}
	if v := md[KeySize]; v != "" {
		w, h, err := parseSize(v)
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("metadata %s = %q", KeySize, v), Err: err}
		}
		n.w, n.h = w, h
	}
	probe := make([]float32, n.w*n.h)
	if _, err := n.Run(context.Background(), make([]float32, 3*n.w*n.h), probe); err != nil {
		return nil, &FormatError{Msg: fmt.Sprintf("a run at the working size %dx%d failed", n.w, n.h), Err: err}
	}
	return n, nil
}

func parseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "x")
	w, err1 := strconv.Atoi(strings.TrimSpace(ws))
	h, err2 := strconv.Atoi(strings.TrimSpace(hs))
	if !ok || err1 != nil || err2 != nil || w < 8 || h < 8 || w > MaxSize || h > MaxSize {
		return 0, 0, fmt.Errorf("want \"WxH\" with sides in [8, %d]", MaxSize)
	}
	return w, h, nil
}

// Size returns the working resolution (width, height).
func (n *Net) Size() (w, h int) { return n.w, n.h }

// Bytes returns the ONNX file's bytes (not a copy: do not modify).
func (n *Net) Bytes() []byte { return n.bytes }

// Run refines one map at the working size: image is 3 x H x W (normalised
// RGB planes), amap H x W; it returns the refined H x W map.
func (n *Net) Run(ctx context.Context, image, amap []float32) ([]float32, error) {
	if len(image) != 3*n.w*n.h || len(amap) != n.w*n.h {
		return nil, errs.Arg("refine: Run: %d image and %d map values, want 3 x %d x %d and %d x %d", len(image), len(amap), n.h, n.w, n.h, n.w)
	}
	in := map[string]*tensor.Tensor{
		n.image: tensor.FromData(image, 1, 3, n.h, n.w),
		n.amap:  tensor.FromData(amap, 1, 1, n.h, n.w),
	}
	out, err := n.net.Run(ctx, in, n.out)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("refine: running the net: %w", err)
	}
	r := out[n.out]
	if r == nil || len(r.Shape) != 4 || r.Shape[0] != 1 || r.Shape[1] != 1 || r.Shape[2] != n.h || r.Shape[3] != n.w {
		var shape []int
		if r != nil {
			shape = r.Shape
		}
		return nil, &FormatError{Msg: fmt.Sprintf("output %q has shape %v for a 1 x 1 x %d x %d map: the refined map must keep the map's shape", n.out, shape, n.h, n.w)}
	}
	return r.Data, nil
}

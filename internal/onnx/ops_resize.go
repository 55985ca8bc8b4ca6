package onnx

import (
	"fmt"
	"math"

	"github.com/x/pni/internal/geom"
)

type resizeAttrs struct {
	mode, coord, nearest string
	opset10              bool
}

func (m *Model) compileResize(n *node) error {
	a := &resizeAttrs{}
	var err error
	if a.mode, err = m.attrString(n, "mode", "nearest"); err != nil {
		return err
	}
	if a.coord, err = m.attrString(n, "coordinate_transformation_mode", "half_pixel"); err != nil {
		return err
	}
	if a.nearest, err = m.attrString(n, "nearest_mode", "round_prefer_floor"); err != nil {
		return err
	}
	switch a.mode {
	case "nearest", "linear":
	default:
		return m.unsupported(n, "mode="+a.mode)
	}
	switch a.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn":
	default:
		return m.unsupported(n, "coordinate_transformation_mode="+a.coord)
	}
	switch a.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return m.unsupported(n, "nearest_mode="+a.nearest)
	}
	for _, k := range []string{"exclude_outside", "antialias"} {
		if v, err := m.attrInt(n, k, 0); err != nil {
			return err
		} else if v != 0 {
			return m.unsupported(n, k+"=1")
		}
	}
	if _, ok := n.attrs["axes"]; ok {
		return m.unsupported(n, "axes")
	}
	if p, err := m.attrString(n, "keep_aspect_ratio_policy", "stretch"); err != nil {
		return err
	} else if p != "stretch" {
		return m.unsupported(n, "keep_aspect_ratio_policy="+p)
	}
	if m.opset < 11 {
		a.opset10 = true
		a.coord = "asymmetric"
		a.nearest = "floor"
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		return runResize(rc, a, ins)
	}
	return nil
}

func runResize(rc *runCtx, a *resizeAttrs, ins []*value) ([]*value, error) {
	x := ins[0]
	if x.isInt {
		return nil, fmt.Errorf("int64 input is not supported")
	}
	r := len(x.shape)
	var scalesV, sizesV *value
	if a.opset10 {
		if len(ins) > 1 {
			scalesV = ins[1]
		}
	} else {
		if len(ins) > 2 && ins[2] != nil && ins[2].len() > 0 {
			scalesV = ins[2]
		}
		if len(ins) > 3 && ins[3] != nil && ins[3].len() > 0 {
			sizesV = ins[3]
		}
	}
	out := make([]int, r)
	scale := make([]float64, r)
	switch {
	case sizesV != nil:
		sz, err := intsOf(sizesV)
		if err != nil {
			return nil, fmt.Errorf("sizes: %v", err)
		}
		if len(sz) != r {
			return nil, fmt.Errorf("%d sizes for a rank-%d input", len(sz), r)
		}
		for i := range out {
			if sz[i] < 0 || sz[i] > 1<<24 {
				return nil, fmt.Errorf("bad size %d", sz[i])
			}
			out[i] = sz[i]
			if x.shape[i] > 0 {
				scale[i] = float64(sz[i]) / float64(x.shape[i])
			} else {
				scale[i] = 1
			}
		}
	case scalesV != nil:
		if scalesV.isInt || len(scalesV.f) != r {
			return nil, fmt.Errorf("scales must be %d floats", r)
		}
		for i := range out {
			s := float64(scalesV.f[i])
			if !(s > 0) || s > 1<<16 {
				return nil, fmt.Errorf("bad scale %v", s)
			}
			scale[i] = s
			out[i] = int(math.Floor(float64(x.shape[i]) * s))
		}
	default:
		return nil, fmt.Errorf("neither scales nor sizes given")
	}
	if err := checkSize(out); err != nil {
		return nil, err
	}
	// Source coordinate of output index o on axis i.
	coord := func(i, o int) float64 {
		in, on, s := float64(x.shape[i]), float64(out[i]), scale[i]
		xo := float64(o)
		switch a.coord {
		case "half_pixel":
			return (xo+0.5)/s - 0.5
		case "pytorch_half_pixel":
			if on > 1 {
				return (xo+0.5)/s - 0.5
			}
			return 0
		case "align_corners":
			if on == 1 {
				return 0
			}
			return xo * (in - 1) / (on - 1)
		case "tf_half_pixel_for_nn":
			return (xo + 0.5) / s
		}
		return xo / s
	}
	res := &value{shape: out}
	if a.mode == "nearest" {
		maps := make([][]int, r)
		for i := 0; i < r; i++ {
			mp := make([]int, out[i])
			for o := range mp {
				c := coord(i, o)
				var j float64
				switch a.nearest {
				case "round_prefer_floor":
					if c == math.Floor(c)+0.5 {
						j = math.Floor(c)
					} else {
						j = math.Round(c)
					}
				case "round_prefer_ceil":
					j = math.Round(c)
				case "floor":
					j = math.Floor(c)
				case "ceil":
					j = math.Ceil(c)
				}
				mp[o] = min(max(int(j), 0), x.shape[i]-1)
			}
			maps[i] = mp
		}
		res.f = rc.alloc(shapeLen(out))
		if len(res.f) > 0 {
			padGather(res.f, x.f, x.shape, out, maps, 0)
		}
		return []*value{res}, nil
	}
	// Linear: only the last two axes may change.
	for i := 0; i < r-2; i++ {
		if out[i] != x.shape[i] {
			return nil, fmt.Errorf("linear resize of axis %d (only the last two axes may change size) is not supported", i)
		}
	}
	taps := func(i int) []geom.Tap {
		t := make([]geom.Tap, out[i])
		for o := range t {
			t[o] = geom.LinearTap(coord(i, o), x.shape[i])
		}
		return t
	}
	H, W, OH, OW := 1, 1, 1, 1
	ty := []geom.Tap{{}}
	if r >= 2 {
		H, OH = x.shape[r-2], out[r-2]
		ty = taps(r - 2)
	}
	if r >= 1 {
		W, OW = x.shape[r-1], out[r-1]
	}
	tx := taps(r - 1)
	outer := shapeLen(x.shape[:max(r-2, 0)])
	res.f = rc.alloc(shapeLen(out))
	if len(res.f) == 0 || H == 0 || W == 0 {
		clear(res.f)
		return []*value{res}, nil
	}
	for p := 0; p < outer; p++ {
		geom.BilinearRows(res.f[p*OH*OW:(p+1)*OH*OW], x.f[p*H*W:(p+1)*H*W], W, tx, ty, 0, OH)
	}
	return []*value{res}, nil
}

package onnx

import (
	"fmt"
	"math"

	"github.com/x/pni/internal/kernels"
)

func (m *Model) compilePool(n *node) error {
	a, err := m.readConvAttrs(n)
	if err != nil {
		return err
	}
	if a.kernel == nil {
		return &FormatError{Msg: fmt.Sprintf("node %s (%s) has no kernel_shape", n.name, n.op)}
	}
	ceil, err := m.attrInt(n, "ceil_mode", 0)
	if err != nil {
		return err
	}
	cip, err := m.attrInt(n, "count_include_pad", 0)
	if err != nil {
		return err
	}
	if so, err := m.attrInt(n, "storage_order", 0); err != nil {
		return err
	} else if so != 0 {
		return m.unsupported(n, "storage_order=1")
	}
	isMax := n.op == "MaxPool"
	if !isMax && (a.dils[0] != 1 || a.dils[1] != 1) {
		return m.unsupported(n, "dilations")
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		return runPool(rc, a, ceil != 0, cip != 0, isMax, ins[0])
	}
	return nil
}

// poolOut computes the output length of one pooled axis (PyTorch's rule:
// with ceil_mode the last window must start inside the input or left pad).
func poolOut(in, k, s, d, lo, hi int, ceil bool) int {
	span := in + lo + hi - ((k-1)*d + 1)
	if span < 0 {
		return 0
	}
	var out int
	if ceil {
		out = (span+s-1)/s + 1
		if (out-1)*s >= in+lo {
			out--
		}
	} else {
		out = span/s + 1
	}
	return out
}

func runPool(rc *runCtx, a *convAttrs, ceil, cip, isMax bool, x *value) ([]*value, error) {
	if x.isInt || len(x.shape) != 4 {
		return nil, fmt.Errorf("input must be a 4-D float tensor, got %v", fmtShape(x.shape))
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	KH, KW := a.kernel[0], a.kernel[1]
	sh, sw, dh, dw := a.strides[0], a.strides[1], a.dils[0], a.dils[1]
	pt, pb := a.padsFor(0, H, KH, sh, dh)
	pl, pr := a.padsFor(1, W, KW, sw, dw)
	OH := poolOut(H, KH, sh, dh, pt, pb, ceil)
	OW := poolOut(W, KW, sw, dw, pl, pr, ceil)
	if OH <= 0 || OW <= 0 {
		return nil, fmt.Errorf("input %v is too small for a %dx%d window", fmtShape(x.shape), KH, KW)
	}
	if err := checkSize([]int{N, C, OH, OW}); err != nil {
		return nil, err
	}
	out := rc.alloc(N * C * OH * OW)
	if isMax {
		maxPool(out, x.f, N*C, H, W, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl)
		return []*value{{shape: []int{N, C, OH, OW}, f: out}}, nil
	}
	kernels.Parallel(N*C, func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			src := x.f[nc*H*W : (nc+1)*H*W]
			dst := out[nc*OH*OW : (nc+1)*OH*OW]
			for oy := 0; oy < OH; oy++ {
				y0 := oy*sh - pt
				for ox := 0; ox < OW; ox++ {
					x0 := ox*sw - pl
					// Average, PyTorch semantics: the divisor counts the
					// padding but not the ceil-mode overhang.
					yEnd, xEnd := min(y0+KH, H+pb), min(x0+KW, W+pr)
					pool := (yEnd - y0) * (xEnd - x0)
					ys, xs := max(y0, 0), max(x0, 0)
					ye, xe := min(yEnd, H), min(xEnd, W)
					var s float32
					for iy := ys; iy < ye; iy++ {
						for ix := xs; ix < xe; ix++ {
							s += src[iy*W+ix]
						}
					}
					div := pool
					if !cip {
						div = (ye - ys) * (xe - xs)
					}
					if div <= 0 {
						dst[oy*OW+ox] = 0
					} else {
						dst[oy*OW+ox] = s / float32(div)
					}
				}
			}
		}
	})
	return []*value{{shape: []int{N, C, OH, OW}, f: out}}, nil
}

// maxPool computes a 2-D max pool over planes of H×W. Windows are clipped
// to the input, so padding never wins; a window entirely in the padding
// gives -Inf. NaN propagates.
func maxPool(out, in []float32, planes, H, W, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl int) {
	// Valid kernel-tap ranges per output column, computed once.
	kx0, kx1 := make([]int, OW), make([]int, OW)
	for ox := 0; ox < OW; ox++ {
		x0 := ox*sw - pl
		a, b := 0, KW
		for a < KW && x0+a*dw < 0 {
			a++
		}
		for b > a && x0+(b-1)*dw >= W {
			b--
		}
		kx0[ox], kx1[ox] = a, b
	}
	// Interior columns [oxa, oxb): every tap inside the row.
	oxa, oxb := 0, 0
	for oxa < OW && kx0[oxa] != 0 {
		oxa++
	}
	oxb = oxa
	for oxb < OW && kx0[oxb] == 0 && kx1[oxb] == KW {
		oxb++
	}
	negInf := float32(math.Inf(-1))
	kernels.Parallel(planes, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := in[p*H*W : (p+1)*H*W]
			dst := out[p*OH*OW : (p+1)*OH*OW]
			for oy := 0; oy < OH; oy++ {
				row := dst[oy*OW : (oy+1)*OW]
				for i := range row {
					row[i] = negInf
				}
				y0 := oy*sh - pt
				for ky := 0; ky < KH; ky++ {
					iy := y0 + ky*dh
					if iy < 0 || iy >= H {
						continue
					}
					srow := src[iy*W : (iy+1)*W]
					for ox := 0; ox < oxa; ox++ {
						row[ox] = maxTaps(row[ox], srow, ox*sw-pl, kx0[ox], kx1[ox], dw)
					}
					if KW == 3 && dw == 1 {
						for ox := oxa; ox < oxb; ox++ {
							w := srow[ox*sw-pl:]
							w = w[:3]
							row[ox] = max(row[ox], w[0], w[1], w[2])
						}
					} else {
						for ox := oxa; ox < oxb; ox++ {
							row[ox] = maxTaps(row[ox], srow, ox*sw-pl, 0, KW, dw)
						}
					}
					for ox := max(oxb, oxa); ox < OW; ox++ {
						row[ox] = maxTaps(row[ox], srow, ox*sw-pl, kx0[ox], kx1[ox], dw)
					}
				}
			}
		}
	})
}

// maxTaps folds taps kx in [a, b) of a row into m (NaN-propagating).
func maxTaps(m float32, row []float32, x0, a, b, dw int) float32 {
	for kx := a; kx < b; kx++ {
		m = max(m, row[x0+kx*dw])
	}
	return m
}

func runGlobalAvgPool(rc *runCtx, st *step, ins []*value) ([]*value, error) {
	x := ins[0]
	if x.isInt || len(x.shape) < 3 {
		return nil, fmt.Errorf("input must be a float tensor of rank >= 3, got %v", fmtShape(x.shape))
	}
	nc := x.shape[0] * x.shape[1]
	inner := shapeLen(x.shape[2:])
	out := rc.alloc(nc)
	for i := 0; i < nc; i++ {
		var s float64
		for _, v := range x.f[i*inner : (i+1)*inner] {
			s += float64(v)
		}
		if inner > 0 {
			out[i] = float32(s / float64(inner))
		} else {
			out[i] = 0
		}
	}
	shape := []int{x.shape[0], x.shape[1]}
	for range x.shape[2:] {
		shape = append(shape, 1)
	}
	return []*value{{shape: shape, f: out}}, nil
}

func (m *Model) compilePad(n *node) error {
	mode, err := m.attrString(n, "mode", "constant")
	if err != nil {
		return err
	}
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return m.unsupported(n, "mode="+mode)
	}
	attrPads, hasAttrPads, err := m.attrInts(n, "pads")
	if err != nil {
		return err
	}
	attrVal, err := m.attrFloat(n, "value", 0)
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		pads := attrPads
		cval := attrVal
		if !hasAttrPads {
			if len(ins) < 2 || ins[1] == nil {
				return nil, fmt.Errorf("no pads given")
			}
			p, err := intsOf(ins[1])
			if err != nil {
				return nil, fmt.Errorf("pads: %v", err)
			}
			pads = p
			if len(ins) > 2 && ins[2] != nil && ins[2].len() > 0 {
				if ins[2].isInt {
					cval = float32(ins[2].i[0])
				} else {
					cval = ins[2].f[0]
				}
			}
			if len(ins) > 3 && ins[3] != nil {
				axes, err := intsOf(ins[3])
				if err != nil {
					return nil, fmt.Errorf("axes: %v", err)
				}
				if len(pads) != 2*len(axes) {
					return nil, fmt.Errorf("%d pads for %d axes", len(pads), len(axes))
				}
				full := make([]int, 2*len(x.shape))
				for i, ax := range axes {
					a, err := normAxis(ax, len(x.shape))
					if err != nil {
						return nil, err
					}
					full[a], full[a+len(x.shape)] = pads[i], pads[i+len(axes)]
				}
				pads = full
			}
		}
		return runPad(rc, x, pads, mode, cval)
	}
	return nil
}

func runPad(rc *runCtx, x *value, pads []int, mode string, cval float32) ([]*value, error) {
	r := len(x.shape)
	if len(pads) != 2*r {
		return nil, fmt.Errorf("%d pads for a rank-%d input", len(pads), r)
	}
	shape := make([]int, r)
	for i := range shape {
		shape[i] = x.shape[i] + pads[i] + pads[i+r]
		if shape[i] < 0 {
			return nil, fmt.Errorf("pads %v crop more than the input %v", pads, fmtShape(x.shape))
		}
		if mode == "reflect" && (pads[i] >= x.shape[i] || pads[i+r] >= x.shape[i]) && (pads[i] > 0 || pads[i+r] > 0) {
			return nil, fmt.Errorf("reflect pads %v too large for input %v", pads, fmtShape(x.shape))
		}
		if mode != "constant" && x.shape[i] == 0 && shape[i] > 0 {
			return nil, fmt.Errorf("cannot %s-pad an empty axis", mode)
		}
	}
	if err := checkSize(shape); err != nil {
		return nil, err
	}
	total := shapeLen(shape)
	// Per-axis source index maps (-1: constant).
	maps := make([][]int, r)
	for a := 0; a < r; a++ {
		mp := make([]int, shape[a])
		in := x.shape[a]
		for o := range mp {
			i := o - pads[a]
			if i < 0 || i >= in {
				switch mode {
				case "constant":
					i = -1
				case "edge":
					i = min(max(i, 0), in-1)
				case "reflect":
					if in == 1 {
						i = 0
					} else {
						period := 2 * (in - 1)
						i = ((i % period) + period) % period
						if i >= in {
							i = period - i
						}
					}
				}
			}
			mp[o] = i
		}
		maps[a] = mp
	}
	out := &value{shape: shape, isInt: x.isInt}
	if x.isInt {
		out.i = make([]int64, total)
		padGather(out.i, x.i, x.shape, shape, maps, int64(cval))
	} else {
		out.f = rc.alloc(total)
		padGather(out.f, x.f, x.shape, shape, maps, cval)
	}
	return []*value{out}, nil
}

// padGather fills dst (shape out) with src (shape in) through per-axis
// index maps, writing c where a map says -1.
func padGather[T float32 | int64](dst, src []T, in, out []int, maps [][]int, c T) {
	r := len(out)
	if r == 0 {
		if len(dst) > 0 {
			dst[0] = src[0]
		}
		return
	}
	inStr := make([]int, r)
	s := 1
	for a := r - 1; a >= 0; a-- {
		inStr[a] = s
		s *= in[a]
	}
	if len(dst) == 0 {
		return
	}
	idx := make([]int, r)
	last := maps[r-1]
	rowLen := out[r-1]
	for off := 0; off < len(dst); off += rowLen {
		base, valid := 0, true
		for a := 0; a < r-1; a++ {
			j := maps[a][idx[a]]
			if j < 0 {
				valid = false
				break
			}
			base += j * inStr[a]
		}
		row := dst[off : off+rowLen]
		if !valid {
			for k := range row {
				row[k] = c
			}
		} else {
			for k, j := range last {
				if j < 0 {
					row[k] = c
				} else {
					row[k] = src[base+j]
				}
			}
		}
		for a := r - 2; a >= 0; a-- {
			idx[a]++
			if idx[a] < out[a] {
				break
			}
			idx[a] = 0
		}
	}
}

package onnx

import (
	"fmt"
	"math"
	"sync"

	"github.com/x/pni/internal/kernels"
)

// convAttrs are the spatial attributes shared by Conv, ConvTranspose and the
// pooling operators (2-D only).
type convAttrs struct {
	autoPad       string
	kernel        []int // may be nil: taken from the weight
	strides, dils []int
	pads          []int // top, left, bottom, right
	group         int
	outPad        []int
}

func (m *Model) readConvAttrs(n *node) (*convAttrs, error) {
	a := &convAttrs{strides: []int{1, 1}, dils: []int{1, 1}, pads: []int{0, 0, 0, 0}, outPad: []int{0, 0}}
	var err error
	if a.autoPad, err = m.attrString(n, "auto_pad", "NOTSET"); err != nil {
		return nil, err
	}
	switch a.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, m.unsupported(n, "auto_pad="+a.autoPad)
	}
	check := func(name string, want int, dst *[]int, min int) error {
		v, ok, err := m.attrInts(n, name)
		if err != nil || !ok {
			return err
		}
		if len(v) != want {
			return m.unsupported(n, fmt.Sprintf("%s of length %d (only 2-D is supported)", name, len(v)))
		}
		for _, x := range v {
			if x < min {
				return &FormatError{Msg: fmt.Sprintf("node %s (%s): %s=%v", n.name, n.op, name, v)}
			}
		}
		*dst = v
		return nil
	}
	if err := check("kernel_shape", 2, &a.kernel, 1); err != nil {
		return nil, err
	}
	if err := check("strides", 2, &a.strides, 1); err != nil {
		return nil, err
	}
	if err := check("dilations", 2, &a.dils, 1); err != nil {
		return nil, err
	}
	if err := check("pads", 4, &a.pads, 0); err != nil {
		return nil, err
	}
	if err := check("output_padding", 2, &a.outPad, 0); err != nil {
		return nil, err
	}
	// ONNX pads are [x1_begin, x2_begin, x1_end, x2_end] = top, left, bottom, right.
	g, err := m.attrInt(n, "group", 1)
	if err != nil {
		return nil, err
	}
	if g < 1 || g > 1<<20 {
		return nil, &FormatError{Msg: fmt.Sprintf("node %s (%s): group=%d", n.name, n.op, g)}
	}
	a.group = int(g)
	return a, nil
}

// padsFor resolves the leading/trailing pads of one spatial axis.
func (a *convAttrs) padsFor(axis, in, k, stride, dil int) (lo, hi int) {
	switch a.autoPad {
	case "VALID":
		return 0, 0
	case "SAME_UPPER", "SAME_LOWER":
		out := (in + stride - 1) / stride
		total := max(0, (out-1)*stride+(k-1)*dil+1-in)
		if a.autoPad == "SAME_UPPER" {
			return total / 2, total - total/2
		}
		return total - total/2, total / 2
	}
	return a.pads[axis], a.pads[axis+2]
}

// convNode holds a Conv's constant weights, and the weights with the
// following BatchNormalization folded in when there is one.
type convNode struct {
	w, b     []float32 // b may be nil
	wShape   []int     // M, C/group, KH, KW
	group    int
	bnNode   *node
	bnW, bnB []float32
	// pointwise: a 1x1 stride-1 unpadded convolution, whose input a
	// preceding BatchNormalization+Relu can be folded into (kernels.Pre).
	pointwise bool

	// packed[0] holds w and packed[1] bnW in the GEMM micro-kernel's layout,
	// each packed on first use (a plan uses only one of them) so that runs
	// do not repack the weights on every call. Packing depends only on M,
	// C, KH, KW and group, which are fixed per node, not on the input's
	// spatial size or batch.
	packOnce [2]sync.Once
	packed   [2]*kernels.ConvWeights
}

// packedWeights returns the packed form of w (folded selects bnW) for p,
// packing it on the first call. Concurrent Runs share the result.
func (cn *convNode) packedWeights(p kernels.ConvParams, folded bool, w []float32) *kernels.ConvWeights {
	k := 0
	if folded {
		k = 1
	}
	cn.packOnce[k].Do(func() { cn.packed[k] = kernels.PackConvWeights(p, w) })
	return cn.packed[k]
}

func (m *Model) compileConv(n *node) error {
	a, err := m.readConvAttrs(n)
	if err != nil {
		return err
	}
	if n.op == "ConvTranspose" {
		if a.autoPad != "NOTSET" && a.autoPad != "VALID" {
			return m.unsupported(n, "auto_pad="+a.autoPad)
		}
		n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
			return runConvTranspose(rc, a, ins)
		}
		return nil
	}
	if w := m.constInput(n, 1); w != nil {
		if w.isInt || len(w.shape) != 4 {
			return m.unsupported(n, fmt.Sprintf("weight of shape %v (only 2-D float convolution is supported)", w.shape))
		}
		cn := &convNode{w: w.f, wShape: w.shape, group: a.group,
			pointwise: w.shape[2] == 1 && w.shape[3] == 1 && a.strides[0] == 1 && a.strides[1] == 1 &&
				(a.autoPad == "NOTSET" || a.autoPad == "VALID") && a.pads[0] == 0 && a.pads[1] == 0 && a.pads[2] == 0 && a.pads[3] == 0}
		okBias := true
		if len(n.inputs) > 2 && n.inputs[2] >= 0 {
			b := m.constInput(n, 2)
			if b == nil {
				okBias = false
			} else if b.isInt || len(b.f) != w.shape[0] {
				return &FormatError{Msg: fmt.Sprintf("node %s (Conv): bias has %d elements for %d output channels", n.name, b.len(), w.shape[0])}
			} else {
				cn.b = b.f
			}
		}
		if okBias {
			n.conv = cn
		}
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		return runConv(rc, st, n, a, ins)
	}
	return nil
}

// prepareConvs finds BatchNormalization nodes that directly follow a Conv
// with constant weights and precomputes the folded weights.
func (m *Model) prepareConvs() {
	consumers := map[int][]*node{}
	for _, n := range m.nodes {
		for _, in := range n.inputs {
			if in >= 0 {
				consumers[in] = append(consumers[in], n)
			}
		}
	}
	for _, n := range m.nodes {
		if n.op != "Conv" || n.conv == nil {
			continue
		}
		cs := consumers[n.outputs[0]]
		if len(cs) != 1 || cs[0].op != "BatchNormalization" || cs[0].inputs[0] != n.outputs[0] {
			continue
		}
		bn := cs[0]
		mc := n.conv.wShape[0]
		var p [4][]float32
		ok := true
		for k := 0; k < 4; k++ {
			v := m.constInput(bn, k+1)
			if v == nil || v.isInt || len(v.f) != mc {
				ok = false
				break
			}
			p[k] = v.f
		}
		if !ok {
			continue
		}
		eps, _ := m.attrFloat(bn, "epsilon", 1e-5)
		scale, bias, mean, vr := p[0], p[1], p[2], p[3]
		per := len(n.conv.w) / mc
		w := make([]float32, len(n.conv.w))
		b := make([]float32, mc)
		for o := 0; o < mc; o++ {
			s := float64(scale[o]) / math.Sqrt(float64(vr[o])+float64(eps))
			for j := 0; j < per; j++ {
				w[o*per+j] = float32(float64(n.conv.w[o*per+j]) * s)
			}
			cb := 0.0
			if n.conv.b != nil {
				cb = float64(n.conv.b[o])
			}
			b[o] = float32((cb-float64(mean[o]))*s + float64(bias[o]))
		}
		n.conv.bnNode, n.conv.bnW, n.conv.bnB = bn, w, b
	}
	// Pack the weights a plan will normally use (BN-folded when there is a
	// following BatchNormalization) now, so that the first Run does not pay
	// for it; the other variant is packed on first use.
	for _, n := range m.nodes {
		if n.op != "Conv" || n.conv == nil {
			continue
		}
		cn := n.conv
		ws := cn.wShape
		if ws[0] < 1 || ws[1] < 1 || ws[2] < 1 || ws[3] < 1 || ws[0]%cn.group != 0 || len(cn.w) != shapeLen(ws) {
			continue // runConv reports the problem if the node is ever run
		}
		p := kernels.ConvParams{C: ws[1] * cn.group, M: ws[0], KH: ws[2], KW: ws[3],
			StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Group: cn.group}
		if cn.bnW != nil {
			cn.packedWeights(p, true, cn.bnW)
		} else {
			cn.packedWeights(p, false, cn.w)
		}
	}
}

func runConv(rc *runCtx, st *step, n *node, a *convAttrs, ins []*value) ([]*value, error) {
	x := ins[0]
	var w, b []float32
	var wShape []int
	if n.conv != nil {
		w, b, wShape = n.conv.w, n.conv.b, n.conv.wShape
		if st.foldBN {
			w, b = n.conv.bnW, n.conv.bnB
		}
	} else {
		wv := ins[1]
		if wv.isInt || len(wv.shape) != 4 {
			return nil, fmt.Errorf("weight must be a 4-D float tensor, got %v", wv.shape)
		}
		w, wShape = wv.f, wv.shape
		if len(ins) > 2 && ins[2] != nil {
			if ins[2].isInt || len(ins[2].f) != wShape[0] {
				return nil, fmt.Errorf("bias has %d elements for %d output channels", ins[2].len(), wShape[0])
			}
			b = ins[2].f
		}
	}
	if x.isInt || len(x.shape) != 4 {
		return nil, fmt.Errorf("input must be a 4-D float tensor (N,C,H,W), got %v", fmtShape(x.shape))
	}
	p := kernels.ConvParams{N: x.shape[0], C: x.shape[1], H: x.shape[2], W: x.shape[3],
		M: wShape[0], KH: wShape[2], KW: wShape[3],
		StrideH: a.strides[0], StrideW: a.strides[1], DilH: a.dils[0], DilW: a.dils[1], Group: a.group}
	if a.kernel != nil && (a.kernel[0] != p.KH || a.kernel[1] != p.KW) {
		return nil, fmt.Errorf("kernel_shape %v disagrees with weight %v", a.kernel, wShape)
	}
	if p.C%p.Group != 0 || p.M%p.Group != 0 || wShape[1] != p.C/p.Group {
		return nil, fmt.Errorf("input has %d channels, weight %v expects %d x group %d", p.C, fmtShape(wShape), wShape[1], p.Group)
	}
	p.PadT, p.PadB = a.padsFor(0, p.H, p.KH, p.StrideH, p.DilH)
	p.PadL, p.PadR = a.padsFor(1, p.W, p.KW, p.StrideW, p.DilW)
	oh, ow := p.OutSize()
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("input %v is too small for kernel %dx%d", fmtShape(x.shape), p.KH, p.KW)
	}
	if err := checkSize([]int{p.N, p.M, oh, ow}); err != nil {
		return nil, err
	}
	shape := []int{p.N, p.M, oh, ow}
	var res *value // the residual joined in the store (buildPlan)
	if st.resAdd != nil {
		res = ins[len(ins)-1]
		if res == nil || res.isInt || !sameShape(res.shape, shape) || st.pre != nil {
			return runConvThenAdd(rc, st, n, a, ins)
		}
	}
	var out []float32
	if res == nil {
		out = rc.alloc(p.N * p.M * oh * ow)
	} else {
		if res != x { // the Conv must not write the buffer it reads
			out = rc.steal(st, len(ins)-1)
		}
		if out == nil {
			out = rc.alloc(len(res.f))
			copy(out, res.f)
		}
	}
	switch {
	case st.pre != nil:
		// A BatchNormalization+Relu folded into the input (buildPlan).
		if len(st.pre.Scale) != p.C {
			rc.free(out)
			return nil, fmt.Errorf("the BatchNormalization folded into this Conv has %d channels, its input %d", len(st.pre.Scale), p.C)
		}
		kernels.Conv2DPackedPre(p, n.conv.packedWeights(p, st.foldBN, w), x.f, b, out, st.relu, *st.pre)
	case res != nil:
		kernels.Conv2DPackedAdd(p, n.conv.packedWeights(p, st.foldBN, w), x.f, b, out, st.relu)
	case n.conv != nil:
		// Constant weights: the channel counts, kernel size and group were
		// validated above and are the same on every run of this node.
		kernels.Conv2DPacked(p, n.conv.packedWeights(p, st.foldBN, w), x.f, b, out, st.relu)
	default:
		kernels.Conv2D(p, x.f, w, b, out, st.relu)
	}
	if rc.flops != nil {
		*rc.flops += 2 * int64(p.N*p.M*oh*ow) * int64(p.C/p.Group*p.KH*p.KW)
	}
	return []*value{{shape: shape, f: out}}, nil
}

// runConvThenAdd runs a Conv step with a joined Add (buildPlan) as the two
// nodes they were, for operands the store cannot take: a residual that
// broadcasts or is not a float tensor.
func runConvThenAdd(rc *runCtx, st *step, n *node, a *convAttrs, ins []*value) ([]*value, error) {
	if ins[len(ins)-1] == nil {
		return nil, fmt.Errorf("the Add joined to this Conv (%s) has no second operand", st.resAdd.name)
	}
	conv := *st
	conv.resAdd, conv.relu, conv.reuse = nil, false, nil
	y, err := runConv(rc, &conv, n, a, ins[:len(ins)-1])
	if err != nil {
		return nil, err
	}
	add := step{n: st.resAdd, relu: st.relu}
	operands := []*value{y[0], ins[len(ins)-1]}
	if !st.resFirst {
		operands[0], operands[1] = operands[1], operands[0]
	}
	outs, err := st.resAdd.run(rc, &add, operands)
	rc.free(y[0].f)
	if err != nil {
		return nil, fmt.Errorf("the Add joined to this Conv (%s): %w", st.resAdd.name, err)
	}
	return outs, nil
}

func runConvTranspose(rc *runCtx, a *convAttrs, ins []*value) ([]*value, error) {
	x, wv := ins[0], ins[1]
	if x.isInt || wv.isInt || len(x.shape) != 4 || len(wv.shape) != 4 {
		return nil, fmt.Errorf("ConvTranspose needs 4-D float input and weight, got %v and %v", fmtShape(x.shape), fmtShape(wv.shape))
	}
	N, C, H, W := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	g := a.group
	if wv.shape[0] != C || C%g != 0 {
		return nil, fmt.Errorf("weight %v does not match %d input channels (group %d)", fmtShape(wv.shape), C, g)
	}
	mg, KH, KW := wv.shape[1], wv.shape[2], wv.shape[3]
	M := mg * g
	if a.kernel != nil && (a.kernel[0] != KH || a.kernel[1] != KW) {
		return nil, fmt.Errorf("kernel_shape %v disagrees with weight %v", a.kernel, wv.shape)
	}
	var bias []float32
	if len(ins) > 2 && ins[2] != nil {
		if ins[2].isInt || len(ins[2].f) != M {
			return nil, fmt.Errorf("bias has %d elements for %d output channels", ins[2].len(), M)
		}
		bias = ins[2].f
	}
	sh, sw, dh, dw := a.strides[0], a.strides[1], a.dils[0], a.dils[1]
	pt, pl, pb, pr := a.pads[0], a.pads[1], a.pads[2], a.pads[3]
	if a.autoPad == "VALID" {
		pt, pl, pb, pr = 0, 0, 0, 0
	}
	OH := sh*(H-1) + a.outPad[0] + (KH-1)*dh + 1 - pt - pb
	OW := sw*(W-1) + a.outPad[1] + (KW-1)*dw + 1 - pl - pr
	if OH <= 0 || OW <= 0 {
		return nil, fmt.Errorf("output size %dx%d is empty", OH, OW)
	}
	if err := checkSize([]int{N, M, OH, OW}); err != nil {
		return nil, err
	}
	out := rc.alloc(N * M * OH * OW)
	cg := C / g
	for n := 0; n < N; n++ {
		kernels.Parallel(M, func(lo, hi int) {
			for m := lo; m < hi; m++ {
				gi, mo := m/mg, m%mg
				o := out[(n*M+m)*OH*OW : (n*M+m+1)*OH*OW]
				bv := float32(0)
				if bias != nil {
					bv = bias[m]
				}
				for i := range o {
					o[i] = bv
				}
				for c := 0; c < cg; c++ {
					ic := gi*cg + c
					xin := x.f[(n*C+ic)*H*W : (n*C+ic+1)*H*W]
					wk := wv.f[((ic*mg+mo)*KH)*KW : ((ic*mg+mo)*KH+KH)*KW]
					for iy := 0; iy < H; iy++ {
						for ky := 0; ky < KH; ky++ {
							oy := iy*sh - pt + ky*dh
							if oy < 0 || oy >= OH {
								continue
							}
							orow := o[oy*OW : (oy+1)*OW]
							for kx := 0; kx < KW; kx++ {
								wgt := wk[ky*KW+kx]
								for ix := 0; ix < W; ix++ {
									ox := ix*sw - pl + kx*dw
									if ox < 0 || ox >= OW {
										continue
									}
									orow[ox] += xin[iy*W+ix] * wgt
								}
							}
						}
					}
				}
			}
		})
	}
	return []*value{{shape: []int{N, M, OH, OW}, f: out}}, nil
}

func (m *Model) compileBN(n *node) error {
	eps, err := m.attrFloat(n, "epsilon", 1e-5)
	if err != nil {
		return err
	}
	tm, err := m.attrInt(n, "training_mode", 0)
	if err != nil {
		return err
	}
	if tm != 0 {
		return m.unsupported(n, "training_mode=1")
	}
	if sp, err := m.attrInt(n, "spatial", 1); err != nil {
		return err
	} else if sp != 1 {
		return m.unsupported(n, "spatial=0")
	}
	n.bnPre = m.bnConstants(n, float64(eps))
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		if x.isInt || len(x.shape) < 2 {
			return nil, fmt.Errorf("input must be a float tensor of rank >= 2, got %v", fmtShape(x.shape))
		}
		C := x.shape[1]
		for k := 1; k < 5; k++ {
			if ins[k].isInt || len(ins[k].f) != C {
				return nil, fmt.Errorf("parameter %d has %d elements for %d channels", k, ins[k].len(), C)
			}
		}
		scale, bias, mean, vr := ins[1].f, ins[2].f, ins[3].f, ins[4].f
		inner := shapeLen(x.shape[2:])
		out := rc.steal(st, 0)
		if out == nil {
			out = rc.alloc(len(x.f))
		}
		for i := 0; i < x.shape[0]; i++ {
			for c := 0; c < C; c++ {
				s, b := bnAffine(scale[c], bias[c], mean[c], vr[c], float64(eps))
				off := (i*C + c) * inner
				src, dst := x.f[off:off+inner], out[off:off+inner]
				for j, v := range src {
					dst[j] = v*s + b
				}
			}
		}
		return []*value{{shape: x.shape, f: out}}, nil
	}
	return nil
}

// bnAffine returns BatchNormalization's per-channel scale and shift:
// y = x·s + b with s = scale/sqrt(var + eps), b = bias - mean·s.
func bnAffine(scale, bias, mean, vr float32, eps float64) (s, b float32) {
	s = float32(float64(scale) / math.Sqrt(float64(vr)+eps))
	return s, bias - mean*s
}

// bnConstants returns a BatchNormalization's scale and shift when its four
// parameters are constant and of one length, else nil.
func (m *Model) bnConstants(n *node, eps float64) *kernels.Pre {
	var p [4][]float32
	for k := range p {
		v := m.constInput(n, k+1)
		if v == nil || v.isInt || (k > 0 && len(v.f) != len(p[0])) {
			return nil
		}
		p[k] = v.f
	}
	pre := &kernels.Pre{Scale: make([]float32, len(p[0])), Shift: make([]float32, len(p[0]))}
	for c := range pre.Scale {
		pre.Scale[c], pre.Shift[c] = bnAffine(p[0][c], p[1][c], p[2][c], p[3][c], eps)
	}
	return pre
}

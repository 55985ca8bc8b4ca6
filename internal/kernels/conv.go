package kernels

import (
	"fmt"
	"sync"
)

// ConvParams describes a 2-D convolution in NCHW layout (ONNX Conv semantics).
type ConvParams struct {
	N, C, H, W       int // input batch, channels, height, width
	M                int // output channels
	KH, KW           int // kernel size
	StrideH, StrideW int // strides (>= 1)
	PadT, PadL       int // leading pads (top, left)
	PadB, PadR       int // trailing pads (bottom, right)
	DilH, DilW       int // dilations (>= 1)
	Group            int // groups (>= 1); C and M are divisible by it
}

// OutSize returns the output height and width.
func (p ConvParams) OutSize() (oh, ow int) {
	oh = (p.H+p.PadT+p.PadB-p.DilH*(p.KH-1)-1)/p.StrideH + 1
	ow = (p.W+p.PadL+p.PadR-p.DilW*(p.KW-1)-1)/p.StrideW + 1
	return oh, ow
}

// check panics (an internal shape bug: callers validate models up front)
// when the parameters cannot describe a convolution.
func (p ConvParams) check() {
	if p.N < 0 || p.C < 0 || p.H < 0 || p.W < 0 || p.M < 0 || p.KH < 1 || p.KW < 1 ||
		p.StrideH < 1 || p.StrideW < 1 || p.DilH < 1 || p.DilW < 1 || p.Group < 1 ||
		p.PadT < 0 || p.PadL < 0 || p.PadB < 0 || p.PadR < 0 ||
		p.C%p.Group != 0 || p.M%p.Group != 0 {
		panic(fmt.Sprintf("kernels: invalid ConvParams %+v", p))
	}
}

// convRow is one row of the implicit im2col matrix: input channel (relative
// to the group) and the kernel tap's offsets.
type convRow struct {
	ch, dy, dx int32
}

var convRowPool = sync.Pool{New: func() any { return new([]convRow) }}

// Conv2D computes out = conv(in, weight) + bias, then max(out, 0) when relu is
// true. in is N×C×H×W, weight M×(C/Group)×KH×KW, bias has M elements or is nil,
// out is N×M×OH×OW (see OutSize). Safe for concurrent use.
//
// Each (image, group) is one matrix product out[m, y·OW+x] = Σ_r W[m, r]·X[r,
// y·OW+x] over the im2col rows r = (c, ky, kx). A 1×1 stride-1 unpadded
// convolution multiplies the NCHW input plane directly; any other packs the
// im2col panels straight from the image (no im2col buffer). Bias and ReLU are
// applied inside the micro-kernel's store. Groups with fewer than 4 output
// channels (depthwise) run a direct loop over output planes instead.
// Invalid parameters (non-positive kernel, stride, dilation or group, negative
// pads, C or M not divisible by Group) panic.
func Conv2D(p ConvParams, in, weight, bias, out []float32, relu bool) {
	p.check()
	conv2D(p, weight, nil, in, bias, out, relu, false, nil)
}

// ConvWeights is a convolution's weight tensor packed once into the
// micro-kernel's panel layout, for Conv2DPacked: packing the weights is
// otherwise redone on every call, which costs 5–10% of a forward pass at
// small spatial sizes (ResNet layer3). It is immutable and safe for
// concurrent use, and holds its own copy of the weights.
type ConvWeights struct {
	m, cg, kh, kw, group int
	packed               []float32 // per group kk·mgPad floats, depth blocks of kcBlock
	raw                  []float32 // copy of the weights when the direct path is used
	wino                 []float32 // Winograd-transformed weights (packWinoWeights), or nil
}

// PackConvWeights packs weight (M×(C/Group)×KH×KW, as Conv2D takes it) for
// convolutions with p's M, C, KH, KW and Group; the spatial fields of p do
// not matter. Invalid parameters panic, as in Conv2D.
func PackConvWeights(p ConvParams, weight []float32) *ConvWeights {
	p.check()
	cg, mg := p.C/p.Group, p.M/p.Group
	kk := cg * p.KH * p.KW
	weight = weight[:p.M*kk]
	w := &ConvWeights{m: p.M, cg: cg, kh: p.KH, kw: p.KW, group: p.Group}
	if mg < directMaxM {
		w.raw = append([]float32(nil), weight...)
		return w
	}
	mgPad := (mg + mr - 1) / mr * mr
	w.packed = make([]float32, p.Group*kk*mgPad)
	for g := 0; g < p.Group; g++ {
		pa := packRowsA(weight[g*mg*kk:(g+1)*mg*kk], kk)
		base := g * kk * mgPad
		for pc := 0; pc < kk; pc += kcBlock {
			kc := min(kcBlock, kk-pc)
			pa(w.packed[base+pc*mgPad:], 0, mg, pc, kc)
		}
	}
	if p.winograd() {
		w.wino = packWinoWeights(p, weight)
	}
	return w
}

// Conv2DPacked is Conv2D with weights packed by PackConvWeights. It panics
// when w was packed for a different M, C/Group, KH, KW or Group.
func Conv2DPacked(p ConvParams, w *ConvWeights, in, bias, out []float32, relu bool) {
	p.check()
	w.mustMatch(p)
	conv2D(p, w.raw, w, in, bias, out, relu, false, nil)
}

// Conv2DPackedAdd is Conv2DPacked adding the convolution to out's contents:
// out = conv(in) + bias + out, then max(out, 0) when relu is true (a
// residual connection joined in the product's store, with no pass of its
// own). The sum is the one Conv2DPacked and a separate addition would give,
// bit for bit when C/Group·KH·KW ≤ 256 (one depth block: the addition comes
// after the whole product) or for a Winograd or direct convolution, else up
// to float32 rounding.
func Conv2DPackedAdd(p ConvParams, w *ConvWeights, in, bias, out []float32, relu bool) {
	p.check()
	w.mustMatch(p)
	conv2D(p, w.raw, w, in, bias, out, relu, true, nil)
}

// mustMatch panics when w was not packed for p's M, C/Group, KH, KW and
// Group.
func (w *ConvWeights) mustMatch(p ConvParams) {
	if w == nil || w.m != p.M || w.cg != p.C/p.Group || w.kh != p.KH || w.kw != p.KW || w.group != p.Group {
		panic(fmt.Sprintf("kernels: ConvWeights do not match ConvParams %+v", p))
	}
}

// Pre is a per-input-channel affine map followed by ReLU,
// x' = max(x·Scale[c] + Shift[c], 0): an inference-mode BatchNormalization
// and ReLU that precede a convolution (DenseNet's pre-activation layers).
type Pre struct {
	Scale, Shift []float32 // one per input channel
}

// Conv2DPackedPre is Conv2DPacked on pre applied to in, which is not
// modified. For a 1×1 stride-1 unpadded convolution pre is applied as the
// input is packed for the matrix product, so the BatchNormalization and ReLU
// cost no pass over memory and no buffer of their own; any other
// convolution applies it to a temporary copy first. It panics when pre does
// not have one scale and one shift per input channel.
func Conv2DPackedPre(p ConvParams, w *ConvWeights, in, bias, out []float32, relu bool, pre Pre) {
	p.check()
	w.mustMatch(p)
	if len(pre.Scale) != p.C || len(pre.Shift) != p.C {
		panic(fmt.Sprintf("kernels: Pre has %d scales and %d shifts for %d channels", len(pre.Scale), len(pre.Shift), p.C))
	}
	if p.M/p.Group < directMaxM || !p.pointwise() {
		hw := p.H * p.W
		tmp := make([]float32, p.N*p.C*hw)
		for i := 0; i < p.N*p.C; i++ {
			c := i % p.C
			applyPre(tmp[i*hw:(i+1)*hw], in[i*hw:(i+1)*hw], pre.Scale[c], pre.Shift[c])
		}
		conv2D(p, w.raw, w, tmp, bias, out, relu, false, nil)
		return
	}
	conv2D(p, w.raw, w, in, bias, out, relu, false, &pre)
}

// applyPre writes max(src·s + t, 0) to dst.
func applyPre(dst, src []float32, s, t float32) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = max(v*s+t, 0)
	}
}

// pointwise reports a 1×1 stride-1 unpadded convolution: a plain matrix
// product with the NCHW input plane.
func (p ConvParams) pointwise() bool {
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0
}

// packedA returns a packer that hands out views of group g's prepacked
// weights.
func (w *ConvWeights) packedA(g, kk, mgPad int) packFn {
	return prepackedA(w.packed, g*kk*mgPad, mgPad)
}

// prepackedA returns a packer that hands out views of an A operand packed
// whole at data[base:] (depth block pc at base + pc·mPad, mPad its rows
// rounded up to whole panels).
func prepackedA(data []float32, base, mPad int) packFn {
	return func(_ []float32, i0, n, p0, kc int) []float32 {
		if i0%mr != 0 {
			panic("kernels: prepacked A block not panel-aligned")
		}
		off := base + p0*mPad + i0*kc
		return data[off : off+(n+mr-1)/mr*mr*kc]
	}
}

// directMaxM: groups with fewer output channels than this run conv2DDirect.
const directMaxM = 4

// conv2D is Conv2D with the weights either raw (pw == nil) or prepacked,
// the product added to out's contents when acc is true, and pre (nil, or
// only for pointwise convolutions with at least directMaxM output channels
// per group) applied to the input as it is packed.
func conv2D(p ConvParams, weight []float32, pw *ConvWeights, in, bias, out []float32, relu, acc bool, pre *Pre) {
	oh, ow := p.OutSize()
	if p.N == 0 || p.M == 0 || oh <= 0 || ow <= 0 {
		return
	}
	cg, mg := p.C/p.Group, p.M/p.Group
	kk := cg * p.KH * p.KW
	hw, ohw := p.H*p.W, oh*ow
	in = in[:p.N*p.C*hw]
	out = out[:p.N*p.M*ohw]
	if bias != nil {
		bias = bias[:p.M]
	}
	wino := pw != nil && pw.wino != nil && pre == nil && p.winograd()
	if acc && (mg < directMaxM || wino) {
		// These paths store without loading: add a separate result.
		tmp := make([]float32, len(out))
		conv2D(p, weight, pw, in, bias, tmp, false, false, pre)
		for i, v := range tmp {
			s := out[i] + v
			if relu {
				s = max(s, 0)
			}
			out[i] = s
		}
		return
	}
	if mg < directMaxM {
		conv2DDirect(p, in, weight[:p.M*kk], bias, out, relu)
		return
	}
	if pw == nil {
		weight = weight[:p.M*kk]
	} else if wino {
		winoConv(p, pw, in, bias, out, relu)
		return
	}
	pointwise := p.pointwise()
	var tab []convRow
	if !pointwise {
		tabp := convRowPool.Get().(*[]convRow)
		defer convRowPool.Put(tabp)
		if cap(*tabp) < kk {
			*tabp = make([]convRow, kk)
		}
		tab = (*tabp)[:kk]
		r := 0
		for c := 0; c < cg; c++ {
			for ky := 0; ky < p.KH; ky++ {
				for kx := 0; kx < p.KW; kx++ {
					tab[r] = convRow{ch: int32(c), dy: int32(ky * p.DilH), dx: int32(kx * p.DilW)}
					r++
				}
			}
		}
	}
	mgPad := (mg + mr - 1) / mr * mr
	for n := 0; n < p.N; n++ {
		for g := 0; g < p.Group; g++ {
			src := in[(n*p.C+g*cg)*hw : (n*p.C+(g+1)*cg)*hw]
			dst := out[(n*p.M+g*mg)*ohw : (n*p.M+(g+1)*mg)*ohw]
			ep := &epilogue{relu: relu, acc: acc}
			if bias != nil {
				ep.bias = bias[g*mg : (g+1)*mg]
			}
			var packA packFn
			if pw != nil {
				packA = pw.packedA(g, kk, mgPad)
			} else {
				packA = packRowsA(weight[g*mg*kk:(g+1)*mg*kk], kk)
			}
			var packB packFn
			switch {
			case pre != nil:
				packB = packRowsBPre(src, hw, pre.Scale[g*cg:(g+1)*cg], pre.Shift[g*cg:(g+1)*cg])
			case pointwise:
				packB = packRowsB(src, hw)
			default:
				packB = packConvB(p, src, tab, ow)
			}
			gemmPar(mg, ohw, kk, packA, packB, dst, ohw, ep)
		}
	}
}

// packConvB packs panels of the implicit im2col matrix of one image and group:
// row r = tab[r] (channel c, tap ky, kx), column j = output pixel (j/ow, j%ow),
// value in[c, y·StrideH − PadT + ky·DilH, x·StrideW − PadL + kx·DilW] or 0
// outside the image.
func packConvB(p ConvParams, in []float32, tab []convRow, ow int) packFn {
	H, W, hw := p.H, p.W, p.H*p.W
	sH, sW := p.StrideH, p.StrideW
	return func(dst []float32, j0, n, p0, kc int) []float32 {
		for jp := 0; jp*nr < n; jp++ {
			d := dst[jp*kc*nr : (jp+1)*kc*nr]
			cols := min(nr, n-jp*nr)
			js := j0 + jp*nr
			if cols < nr {
				clear(d)
			}
			for j := js; j < js+cols; {
				oy, ox0 := j/ow, j%ow
				cnt := min(js+cols-j, ow-ox0)
				off := j - js
				iyBase := oy*sH - p.PadT
				ixBase := ox0*sW - p.PadL
				for q := 0; q < kc; q++ {
					e := tab[p0+q]
					dd := d[q*nr+off : q*nr+off+cnt]
					iy := iyBase + int(e.dy)
					if iy < 0 || iy >= H {
						clear(dd)
						continue
					}
					row := in[int(e.ch)*hw+iy*W : int(e.ch)*hw+iy*W+W]
					ix0 := ixBase + int(e.dx)
					if sW == 1 {
						lo, hi := max(0, -ix0), min(cnt, W-ix0)
						if hi <= lo {
							clear(dd)
							continue
						}
						if lo == 0 && hi == nr {
							v := *(*[nr]float32)(row[ix0 : ix0+nr])
							*(*[nr]float32)(dd) = v
							continue
						}
						if lo > 0 {
							clear(dd[:lo])
						}
						copy(dd[lo:hi], row[ix0+lo:ix0+hi])
						if hi < cnt {
							clear(dd[hi:])
						}
						continue
					}
					if sW == 2 && ix0 >= 0 && ix0+2*nr <= W && cnt == nr {
						// Inside the row: every second value of 32.
						gather2x16(&dd[0], &row[ix0])
						continue
					}
					// valid t: 0 <= ix0 + t*sW < W
					lo := 0
					if ix0 < 0 {
						lo = min((-ix0+sW-1)/sW, cnt)
					}
					hi := 0
					if W-ix0 > 0 {
						hi = min((W-ix0+sW-1)/sW, cnt)
					}
					if hi <= lo {
						clear(dd)
						continue
					}
					clear(dd[:lo])
					for t, ix := lo, ix0+lo*sW; t < hi; t, ix = t+1, ix+sW {
						dd[t] = row[ix]
					}
					clear(dd[hi:])
				}
				j += cnt
			}
		}
		return dst
	}
}

// conv2DDirect convolves output plane by output plane (for groups too narrow
// to fill a register tile, e.g. depthwise), spread over all CPUs.
func conv2DDirect(p ConvParams, in, weight, bias, out []float32, relu bool) {
	oh, ow := p.OutSize()
	cg, mg := p.C/p.Group, p.M/p.Group
	hw, ohw := p.H*p.W, oh*ow
	Parallel(p.N*p.M, func(lo, hi int) {
		for nm := lo; nm < hi; nm++ {
			n, m := nm/p.M, nm%p.M
			g := m / mg
			o := out[nm*ohw : (nm+1)*ohw]
			var bv float32
			if bias != nil {
				bv = bias[m]
			}
			for i := range o {
				o[i] = bv
			}
			for c := 0; c < cg; c++ {
				plane := in[(n*p.C+g*cg+c)*hw : (n*p.C+g*cg+c+1)*hw]
				for ky := 0; ky < p.KH; ky++ {
					for kx := 0; kx < p.KW; kx++ {
						w := weight[((m*cg+c)*p.KH+ky)*p.KW+kx]
						dx := kx*p.DilW - p.PadL
						// valid x: 0 <= x*StrideW + dx < W
						xlo := 0
						if dx < 0 {
							xlo = (-dx + p.StrideW - 1) / p.StrideW
						}
						xhi := ow
						if lim := xLimit(p, dx); lim < xhi {
							xhi = lim
						}
						if xhi <= xlo {
							continue
						}
						for y := 0; y < oh; y++ {
							iy := y*p.StrideH - p.PadT + ky*p.DilH
							if iy < 0 || iy >= p.H {
								continue
							}
							row := plane[iy*p.W : (iy+1)*p.W]
							orow := o[y*ow : (y+1)*ow]
							for x := xlo; x < xhi; x++ {
								orow[x] += w * row[x*p.StrideW+dx]
							}
						}
					}
				}
			}
			if relu {
				for i, v := range o {
					if v < 0 {
						o[i] = 0
					}
				}
			}
		}
	})
}

// xLimit returns the number of output columns x with x*StrideW + dx < p.W, i.e.
// the exclusive upper bound of the valid x range.
func xLimit(p ConvParams, dx int) int {
	if p.W-dx <= 0 {
		return 0
	}
	return (p.W - dx + p.StrideW - 1) / p.StrideW
}

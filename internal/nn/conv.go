package nn

import (
	"fmt"

	"github.com/x/pni/internal/kernels"
)

// Conv2d is a 2-D convolution with bias over NCHW batches: K×K kernel,
// stride 1 or more, zero padding Pad on every side, optionally followed by a
// fused ReLU. The weights are OutC×InC×K×K (PyTorch's layout) and, like the
// bias, are views into a Params vector once the layer is bound (see
// NewConv2d and UNet).
//
// Forward runs kernels.Conv2D (implicit im2col, blocked GEMM, parallel).
// Backward forms the im2col matrix of each image explicitly and computes
// dWᵀ = col·dZᵀ with kernels.GemmTB; the input gradient is, for stride 1, a
// convolution of dZ with the flipped, transposed kernel (kernels.Conv2D
// again) and otherwise Wᵀ·dZ (kernels.Gemm) scattered back by col2im.
//
// A layer keeps the input of its last Forward (not a copy: do not modify it
// before Backward) and owns the tensors it returns, which are overwritten by
// its next call.
type Conv2d struct {
	InC, OutC, K, Stride, Pad int
	ReLU                      bool // apply max(·, 0) to the output
	// NoInputGrad makes Backward skip the input gradient (return nil), for
	// a first layer whose input needs none.
	NoInputGrad bool

	Weight, Bias         []float32 // OutC·InC·K·K and OutC parameters
	GradWeight, GradBias []float32 // their gradients (accumulated by Backward)

	x          *Tensor
	y, dz, dx  *Tensor
	col, wflip []float32
	dwt        []float32 // kk×M, one image's weight gradient transposed
	generic    bool      // tests: force the col2im input gradient at stride 1
	frozen     []bool    // tests: fixed ReLU mask (see freezeKinks in the tests)
}

// NewConv2d returns a convolution with its own parameter storage (zero).
// It panics on non-positive sizes or a negative pad.
func NewConv2d(inC, outC, k, stride, pad int, relu bool) *Conv2d {
	c := &Conv2d{InC: inC, OutC: outC, K: k, Stride: stride, Pad: pad, ReLU: relu}
	c.check()
	p := NewParams(c.NumParams())
	c.bind(p.Data, p.Grad)
	return c
}

func (c *Conv2d) check() {
	if c.InC < 1 || c.OutC < 1 || c.K < 1 || c.Stride < 1 || c.Pad < 0 {
		panic(fmt.Sprintf("nn: invalid Conv2d %d->%d k%d s%d p%d", c.InC, c.OutC, c.K, c.Stride, c.Pad))
	}
}

// NumParams is the number of weights plus biases.
func (c *Conv2d) NumParams() int { return c.OutC*c.InC*c.K*c.K + c.OutC }

// bind points the parameters and gradients at data and grad (weights first,
// then biases; NumParams elements each).
func (c *Conv2d) bind(data, grad []float32) {
	nw := c.OutC * c.InC * c.K * c.K
	c.Weight, c.Bias = data[:nw:nw], data[nw:nw+c.OutC:nw+c.OutC]
	c.GradWeight, c.GradBias = grad[:nw:nw], grad[nw:nw+c.OutC:nw+c.OutC]
}

func (c *Conv2d) params(x *Tensor) kernels.ConvParams {
	return kernels.ConvParams{N: x.N, C: c.InC, H: x.H, W: x.W, M: c.OutC, KH: c.K, KW: c.K,
		StrideH: c.Stride, StrideW: c.Stride, PadT: c.Pad, PadL: c.Pad, PadB: c.Pad, PadR: c.Pad,
		DilH: 1, DilW: 1, Group: 1}
}

// OutSize returns the output height and width for an h×w input.
func (c *Conv2d) OutSize(h, w int) (oh, ow int) {
	return (h+2*c.Pad-c.K)/c.Stride + 1, (w+2*c.Pad-c.K)/c.Stride + 1
}

// Forward returns conv(x) + bias (then ReLU if set). x must have InC
// channels and be at least K−2·Pad pixels on each side.
func (c *Conv2d) Forward(x *Tensor) *Tensor {
	if x.C != c.InC {
		panic(fmt.Sprintf("nn: Conv2d: input %v, want %d channels", x, c.InC))
	}
	oh, ow := c.OutSize(x.H, x.W)
	if oh < 1 || ow < 1 {
		panic(fmt.Sprintf("nn: Conv2d: input %v too small for a %d kernel", x, c.K))
	}
	c.x = x
	y := ensure(&c.y, x.N, c.OutC, oh, ow)
	if c.frozen != nil {
		kernels.Conv2D(c.params(x), x.Data, c.Weight, c.Bias, y.Data, false)
		for i, keep := range c.frozen {
			if !keep {
				y.Data[i] = 0
			}
		}
		return y
	}
	kernels.Conv2D(c.params(x), x.Data, c.Weight, c.Bias, y.Data, c.ReLU)
	return y
}

// Backward takes dL/dy for the last Forward's output, adds dL/dW and dL/db
// to GradWeight and GradBias, and returns dL/dx (nil with NoInputGrad).
func (c *Conv2d) Backward(dy *Tensor) *Tensor {
	x := c.x
	if x == nil || !sameDims(dy, c.y) {
		panic("nn: Conv2d.Backward: gradient does not match the last Forward")
	}
	dz := dy
	if c.ReLU {
		dz = ensure(&c.dz, dy.N, dy.C, dy.H, dy.W)
		for i, v := range c.y.Data {
			if v > 0 {
				dz.Data[i] = dy.Data[i]
			} else {
				dz.Data[i] = 0
			}
		}
	}
	M, K := c.OutC, c.K
	ohw := dz.H * dz.W
	kk := c.InC * K * K
	// Bias gradient, summed in float64.
	for m := 0; m < M; m++ {
		var s float64
		for n := 0; n < dz.N; n++ {
			for _, v := range dz.Plane(n, m) {
				s += float64(v)
			}
		}
		c.GradBias[m] += float32(s)
	}
	col := ensureSlice(&c.col, kk*ohw)
	dwt := ensureSlice(&c.dwt, kk*M)
	fast := c.Stride == 1 && c.Pad <= K-1 && !c.generic
	var dx *Tensor
	if !c.NoInputGrad {
		dx = ensure(&c.dx, x.N, x.C, x.H, x.W)
		if fast {
			c.flipWeights()
			p := kernels.ConvParams{N: dz.N, C: M, H: dz.H, W: dz.W, M: c.InC, KH: K, KW: K,
				StrideH: 1, StrideW: 1, PadT: K - 1 - c.Pad, PadL: K - 1 - c.Pad, PadB: K - 1 - c.Pad, PadR: K - 1 - c.Pad,
				DilH: 1, DilW: 1, Group: 1}
			kernels.Conv2D(p, dz.Data, c.wflip, nil, dx.Data, false)
		} else {
			c.flipWeights() // wflip doubles as Wᵀ (kk×M) below
			clear(dx.Data)
		}
	}
	ihw := x.C * x.H * x.W
	for n := 0; n < x.N; n++ {
		dzn := dz.Data[n*M*ohw : (n+1)*M*ohw]
		c.im2col(x.Data[n*ihw:(n+1)*ihw], x.H, x.W, dz.H, dz.W, col)
		// dWᵀ = col·dZᵀ: packing the narrow dZ transposed is much cheaper
		// than packing the wide col transposed (dW = dZ·colᵀ).
		kernels.GemmTB(kk, M, ohw, col, dzn, dwt, false)
		for r := 0; r < kk; r++ {
			for m, v := range dwt[r*M : (r+1)*M] {
				c.GradWeight[m*kk+r] += v
			}
		}
		if dx != nil && !fast {
			kernels.Gemm(kk, ohw, M, c.wflip, dzn, col, false)
			c.col2im(col, dx.Data[n*ihw:(n+1)*ihw], x.H, x.W, dz.H, dz.W)
		}
	}
	return dx
}

// flipWeights fills wflip: for stride 1 the InC×OutC×K×K kernel of the
// input-gradient convolution (W transposed and rotated by 180°); otherwise
// Wᵀ as a (InC·K·K)×OutC matrix.
func (c *Conv2d) flipWeights() {
	M, C, K := c.OutC, c.InC, c.K
	kk := C * K * K
	wf := ensureSlice(&c.wflip, M*kk)
	fast := c.Stride == 1 && c.Pad <= K-1 && !c.generic
	for m := 0; m < M; m++ {
		for r := 0; r < kk; r++ {
			v := c.Weight[m*kk+r]
			if fast {
				ch, t := r/(K*K), r%(K*K)
				ky, kx := t/K, t%K
				wf[((ch*M+m)*K+(K-1-ky))*K+(K-1-kx)] = v
			} else {
				wf[r*M+m] = v
			}
		}
	}
}

// im2col writes the (InC·K·K)×(oh·ow) patch matrix of one image x
// (InC×h×w): row (ch, ky, kx), column (oy, ox) holds x[ch, oy·s−p+ky,
// ox·s−p+kx], or 0 outside the image.
func (c *Conv2d) im2col(x []float32, h, w, oh, ow int, col []float32) {
	K, s, p := c.K, c.Stride, c.Pad
	ohw := oh * ow
	body := func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plane := x[ch*h*w : (ch+1)*h*w]
			for ky := 0; ky < K; ky++ {
				for kx := 0; kx < K; kx++ {
					row := col[((ch*K+ky)*K+kx)*ohw : ((ch*K+ky)*K+kx+1)*ohw]
					xlo, xhi := validRange(ow, kx-p, s, w)
					for oy := 0; oy < oh; oy++ {
						dst := row[oy*ow : (oy+1)*ow]
						iy := oy*s - p + ky
						if iy < 0 || iy >= h || xhi <= xlo {
							clear(dst)
							continue
						}
						src := plane[iy*w : (iy+1)*w]
						clear(dst[:xlo])
						if s == 1 {
							copy(dst[xlo:xhi], src[xlo+kx-p:xhi+kx-p])
						} else {
							for ox, ix := xlo, xlo*s+kx-p; ox < xhi; ox, ix = ox+1, ix+s {
								dst[ox] = src[ix]
							}
						}
						clear(dst[xhi:])
					}
				}
			}
		}
	}
	if c.InC*K*K*ohw < 1<<15 {
		body(0, c.InC)
		return
	}
	kernels.Parallel(c.InC, body)
}

// col2im adds the patch-matrix gradient col back into dx (InC×h×w), the
// transpose of im2col.
func (c *Conv2d) col2im(col, dx []float32, h, w, oh, ow int) {
	K, s, p := c.K, c.Stride, c.Pad
	ohw := oh * ow
	body := func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plane := dx[ch*h*w : (ch+1)*h*w]
			for ky := 0; ky < K; ky++ {
				for kx := 0; kx < K; kx++ {
					row := col[((ch*K+ky)*K+kx)*ohw : ((ch*K+ky)*K+kx+1)*ohw]
					xlo, xhi := validRange(ow, kx-p, s, w)
					if xhi <= xlo {
						continue
					}
					for oy := 0; oy < oh; oy++ {
						iy := oy*s - p + ky
						if iy < 0 || iy >= h {
							continue
						}
						src := row[oy*ow : (oy+1)*ow]
						dst := plane[iy*w : (iy+1)*w]
						for ox, ix := xlo, xlo*s+kx-p; ox < xhi; ox, ix = ox+1, ix+s {
							dst[ix] += src[ox]
						}
					}
				}
			}
		}
	}
	if c.InC*K*K*ohw < 1<<15 {
		body(0, c.InC)
		return
	}
	kernels.Parallel(c.InC, body)
}

// validRange returns the output columns [lo, hi) whose input column
// ox·s + d lies in [0, w).
func validRange(ow, d, s, w int) (lo, hi int) {
	if d < 0 {
		lo = (-d + s - 1) / s
	}
	if w-d <= 0 {
		return lo, lo
	}
	hi = min(ow, (w-d+s-1)/s)
	return min(lo, hi), hi
}

package nn

import (
	"fmt"
	"math"

	"github.com/x/pni/internal/kernels"
)

// Every layer below owns the tensors it returns (overwritten by its next
// call) and keeps what its Backward needs from the last Forward.

// ReLU is max(x, 0). Its derivative is taken as 0 at x = 0, as PyTorch does.
type ReLU struct {
	y, dx *Tensor
}

// Forward returns max(x, 0).
func (r *ReLU) Forward(x *Tensor) *Tensor {
	y := ensure(&r.y, x.N, x.C, x.H, x.W)
	for i, v := range x.Data {
		y.Data[i] = max(v, 0)
	}
	return y
}

// Backward returns dy masked by x > 0.
func (r *ReLU) Backward(dy *Tensor) *Tensor {
	mustSameDims("ReLU.Backward", dy, r.y)
	dx := ensure(&r.dx, dy.N, dy.C, dy.H, dy.W)
	for i, v := range r.y.Data {
		if v > 0 {
			dx.Data[i] = dy.Data[i]
		} else {
			dx.Data[i] = 0
		}
	}
	return dx
}

// Sigmoid is 1/(1+e^−x).
type Sigmoid struct {
	y, dx *Tensor
}

// Forward returns 1/(1+e^−x).
func (s *Sigmoid) Forward(x *Tensor) *Tensor {
	y := ensure(&s.y, x.N, x.C, x.H, x.W)
	for i, v := range x.Data {
		y.Data[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return y
}

// Backward returns dy·y·(1−y).
func (s *Sigmoid) Backward(dy *Tensor) *Tensor {
	mustSameDims("Sigmoid.Backward", dy, s.y)
	dx := ensure(&s.dx, dy.N, dy.C, dy.H, dy.W)
	for i, y := range s.y.Data {
		dx.Data[i] = dy.Data[i] * y * (1 - y)
	}
	return dx
}

// MaxPool2 is 2×2 max pooling with stride 2 (PyTorch's MaxPool2d(2)): an
// h×w input gives ⌊h/2⌋×⌊w/2⌋, a trailing odd row or column is dropped.
// The gradient goes to the first maximum of each window in row-major order.
type MaxPool2 struct {
	x, y, dx *Tensor
	arg      []int32 // per output element: offset of the max within its input plane
	frozen   bool    // tests: reuse arg instead of searching the maxima
}

// Forward returns the 2×2 window maxima.
func (p *MaxPool2) Forward(x *Tensor) *Tensor {
	oh, ow := x.H/2, x.W/2
	if oh < 1 || ow < 1 {
		panic(fmt.Sprintf("nn: MaxPool2: input %v smaller than 2×2", x))
	}
	p.x = x
	y := ensure(&p.y, x.N, x.C, oh, ow)
	arg := p.arg
	if cap(arg) < y.Len() {
		arg = make([]int32, y.Len())
	}
	p.arg = arg[:y.Len()]
	planes := x.N * x.C
	if p.frozen {
		for q := 0; q < planes; q++ {
			for j, a := range p.arg[q*oh*ow : (q+1)*oh*ow] {
				y.Data[q*oh*ow+j] = x.Data[q*x.H*x.W+int(a)]
			}
		}
		return y
	}
	kernels.Parallel(planes, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			src := x.Data[q*x.H*x.W : (q+1)*x.H*x.W]
			dst := y.Data[q*oh*ow : (q+1)*oh*ow]
			ag := p.arg[q*oh*ow : (q+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				r0 := 2 * oy * x.W
				r1 := r0 + x.W
				for ox := 0; ox < ow; ox++ {
					i := r0 + 2*ox
					best, bi := src[i], i
					if v := src[i+1]; v > best {
						best, bi = v, i+1
					}
					if v := src[r1+2*ox]; v > best {
						best, bi = v, r1+2*ox
					}
					if v := src[r1+2*ox+1]; v > best {
						best, bi = v, r1+2*ox+1
					}
					dst[oy*ow+ox], ag[oy*ow+ox] = best, int32(bi)
				}
			}
		}
	})
	return y
}

// Backward routes each output gradient to its window's maximum.
func (p *MaxPool2) Backward(dy *Tensor) *Tensor {
	mustSameDims("MaxPool2.Backward", dy, p.y)
	x := p.x
	dx := ensure(&p.dx, x.N, x.C, x.H, x.W)
	clear(dx.Data)
	ihw, ohw := x.H*x.W, dy.H*dy.W
	for q := 0; q < x.N*x.C; q++ {
		d := dx.Data[q*ihw : (q+1)*ihw]
		g := dy.Data[q*ohw : (q+1)*ohw]
		for j, a := range p.arg[q*ohw : (q+1)*ohw] {
			d[a] += g[j]
		}
	}
	return dx
}

// Upsample2 is ×2 bilinear upsampling with align_corners=false, exactly
// PyTorch's F.interpolate(x, scale_factor=2, mode='bilinear',
// align_corners=False) and ONNX Resize (linear, half_pixel, scales 2): output
// pixel o samples the input at (o+0.5)/2 − 0.5, clamped to [0, n−1].
type Upsample2 struct {
	x, y, dx *Tensor
	tmp      []float32
}

// upTap: output o = (1−w)·in[i0] + w·in[i1].
type upTap struct {
	i0, i1 int
	w0, w1 float32
}

func upTaps(n int) []upTap {
	t := make([]upTap, 2*n)
	for o := range t {
		c := max((float64(o)+0.5)/2-0.5, 0)
		i0 := int(c)
		i1 := min(i0+1, n-1)
		l := float32(c - float64(i0))
		t[o] = upTap{i0, i1, 1 - l, l}
	}
	return t
}

// Forward returns the 2h×2w upsampled batch.
func (u *Upsample2) Forward(x *Tensor) *Tensor {
	u.x = x
	y := ensure(&u.y, x.N, x.C, 2*x.H, 2*x.W)
	ty, tx := upTaps(x.H), upTaps(x.W)
	H, W, OW := x.H, x.W, 2*x.W
	kernels.Parallel(x.N*x.C, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			src := x.Data[q*H*W : (q+1)*H*W]
			dst := y.Data[q*4*H*W : (q+1)*4*H*W]
			for oy, a := range ty {
				r0, r1 := src[a.i0*W:(a.i0+1)*W], src[a.i1*W:(a.i1+1)*W]
				row := dst[oy*OW : (oy+1)*OW]
				for ox, b := range tx {
					row[ox] = a.w0*(b.w0*r0[b.i0]+b.w1*r0[b.i1]) + a.w1*(b.w0*r1[b.i0]+b.w1*r1[b.i1])
				}
			}
		}
	})
	return y
}

// Backward returns the adjoint of Forward applied to dy.
func (u *Upsample2) Backward(dy *Tensor) *Tensor {
	mustSameDims("Upsample2.Backward", dy, u.y)
	x := u.x
	dx := ensure(&u.dx, x.N, x.C, x.H, x.W)
	ty, tx := upTaps(x.H), upTaps(x.W)
	H, W, OW := x.H, x.W, 2*x.W
	tmp := ensureSlice(&u.tmp, x.N*x.C*H*OW)
	kernels.Parallel(x.N*x.C, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			g := dy.Data[q*4*H*W : (q+1)*4*H*W]
			t := tmp[q*H*OW : (q+1)*H*OW]
			clear(t)
			for oy, a := range ty {
				row := g[oy*OW : (oy+1)*OW]
				t0, t1 := t[a.i0*OW:(a.i0+1)*OW], t[a.i1*OW:(a.i1+1)*OW]
				for ox, v := range row {
					t0[ox] += a.w0 * v
					t1[ox] += a.w1 * v
				}
			}
			d := dx.Data[q*H*W : (q+1)*H*W]
			clear(d)
			for iy := 0; iy < H; iy++ {
				trow, drow := t[iy*OW:(iy+1)*OW], d[iy*W:(iy+1)*W]
				for ox, b := range tx {
					drow[b.i0] += b.w0 * trow[ox]
					drow[b.i1] += b.w1 * trow[ox]
				}
			}
		}
	})
	return dx
}

// Concat joins two batches along the channel axis: [a, b].
type Concat struct {
	ca        int
	y, da, db *Tensor
}

// Forward returns the channel concatenation of a and b, which must agree in
// N, H and W.
func (c *Concat) Forward(a, b *Tensor) *Tensor {
	if a.N != b.N || a.H != b.H || a.W != b.W {
		panic(fmt.Sprintf("nn: Concat: shapes %v and %v", a, b))
	}
	c.ca = a.C
	y := ensure(&c.y, a.N, a.C+b.C, a.H, a.W)
	sa, sb := a.C*a.H*a.W, b.C*a.H*a.W
	for n := 0; n < a.N; n++ {
		copy(y.Data[n*(sa+sb):], a.Data[n*sa:(n+1)*sa])
		copy(y.Data[n*(sa+sb)+sa:], b.Data[n*sb:(n+1)*sb])
	}
	return y
}

// Backward splits dy into the gradients of a and b.
func (c *Concat) Backward(dy *Tensor) (da, db *Tensor) {
	mustSameDims("Concat.Backward", dy, c.y)
	da = ensure(&c.da, dy.N, c.ca, dy.H, dy.W)
	db = ensure(&c.db, dy.N, dy.C-c.ca, dy.H, dy.W)
	sa, sb := da.C*dy.H*dy.W, db.C*dy.H*dy.W
	for n := 0; n < dy.N; n++ {
		copy(da.Data[n*sa:(n+1)*sa], dy.Data[n*(sa+sb):])
		copy(db.Data[n*sb:(n+1)*sb], dy.Data[n*(sa+sb)+sa:])
	}
	return da, db
}

// Add is the element-wise sum of two batches of the same shape.
type Add struct {
	y *Tensor
}

// Forward returns a + b.
func (s *Add) Forward(a, b *Tensor) *Tensor {
	mustSameDims("Add", a, b)
	y := ensure(&s.y, a.N, a.C, a.H, a.W)
	for i, v := range a.Data {
		y.Data[i] = v + b.Data[i]
	}
	return y
}

// Backward returns dy as the gradient of both operands (the same tensor,
// not a copy).
func (s *Add) Backward(dy *Tensor) (da, db *Tensor) {
	mustSameDims("Add.Backward", dy, s.y)
	return dy, dy
}

package neighborhood

import (
	"math"

	"github.com/viterin/vek/vek32"
	"github.com/x/pni/internal/kernels"
)

// net holds the MLP parameters during training: w[l] is In×Out (the public
// layout, used as is by the forward product and updated by Adam), b[l] the
// biases.
type net struct {
	sizes []int // input, hidden..., classes
	w     [][]float32
	b     [][]float32
}

func (n *net) layers() int { return len(n.sizes) - 1 }

// workspace is per-batch scratch for forward and backward passes.
type workspace struct {
	bsz  int
	acts [][]float32 // acts[0] input bsz×sizes[0]; acts[l] output of layer l (post-ReLU for hidden)
	dz   [][]float32 // dz[l] gradient w.r.t. the pre-activation of layer l, bsz×sizes[l+1]
	at   []float32   // scratch, In×bsz: the transposed activations of one layer
	gw   [][]float32 // weight gradients, In×Out
	gb   [][]float32
}

func newWorkspace(sizes []int, bsz int, withGrad bool) *workspace {
	L := len(sizes) - 1
	ws := &workspace{bsz: bsz, acts: make([][]float32, L+1)}
	for l := 0; l <= L; l++ {
		ws.acts[l] = make([]float32, bsz*sizes[l])
	}
	if !withGrad {
		return ws
	}
	ws.dz = make([][]float32, L)
	ws.gw = make([][]float32, L)
	ws.gb = make([][]float32, L)
	maxW := 0
	for l := 0; l < L; l++ {
		ws.dz[l] = make([]float32, bsz*sizes[l+1])
		ws.gw[l] = make([]float32, sizes[l]*sizes[l+1])
		ws.gb[l] = make([]float32, sizes[l+1])
		maxW = max(maxW, sizes[l], sizes[l+1])
	}
	ws.at = make([]float32, maxW*bsz)
	return ws
}

// forward runs the first m rows of ws.acts[0] through the layers given by
// their weights w (In×Out, so each product is a plain Gemm A·W) and biases b;
// the logits land in ws.acts[L].
func forward(sizes []int, w, b [][]float32, ws *workspace, m int) {
	L := len(sizes) - 1
	for l := 0; l < L; l++ {
		in, out := sizes[l], sizes[l+1]
		z := ws.acts[l+1][:m*out]
		kernels.Gemm(m, out, in, ws.acts[l][:m*in], w[l], z, false)
		bias := b[l]
		relu := l < L-1
		kernels.Parallel(m, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := z[i*out : (i+1)*out]
				for j := range row {
					v := row[j] + bias[j]
					if relu && v < 0 {
						v = 0
					}
					row[j] = v
				}
			}
		})
	}
}

// expFloor clamps exponents before vek32.Exp_Inplace: exp(−87) ≈ 1.6e−38 is
// still a normal float32 and is negligible next to the row maximum's 1, while
// vek's AVX2 exp returns garbage for arguments below about −88.
const expFloor = -87

// softmaxRows replaces each of the m rows (width c) of x by softmax(row/t).
// The exponentials use vek32's vectorised exp (relative error below 1e-6 on
// the arguments that matter, those within ~15 of the maximum).
func softmaxRows(x []float32, m, c int, t float32) {
	inv := 1 / t
	kernels.Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*c : (i+1)*c]
			mx := vek32.Max(row)
			for j, v := range row {
				row[j] = max((v-mx)*inv, expFloor)
			}
			vek32.Exp_Inplace(row)
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			vek32.MulNumber_Inplace(row, float32(1/s))
		}
	})
}

// lossGrad computes the summed cross-entropy of the m logits rows in
// ws.acts[L] against targets and the number of correct argmaxes. If grad is
// true it writes (softmax − onehot)/m into ws.dz[L-1]. The logits are
// overwritten by probabilities.
func lossGrad(sizes []int, ws *workspace, m int, targets []int32, grad bool) (loss float64, correct int) {
	L := len(sizes) - 1
	c := sizes[L]
	logits := ws.acts[L][:m*c]
	// argmax before softmax (identical, but cheaper to read here)
	for i := 0; i < m; i++ {
		row := logits[i*c : (i+1)*c]
		bi, bv := 0, row[0]
		for j, v := range row {
			if v > bv {
				bi, bv = j, v
			}
		}
		if int32(bi) == targets[i] {
			correct++
		}
	}
	softmaxRows(logits, m, c, 1)
	for i := 0; i < m; i++ {
		p := float64(logits[i*c+int(targets[i])])
		loss -= math.Log(max(p, 1e-30))
	}
	if grad {
		inv := 1 / float32(m)
		dz := ws.dz[L-1][:m*c]
		for i := 0; i < m; i++ {
			row, drow := logits[i*c:(i+1)*c], dz[i*c:(i+1)*c]
			for j, v := range row {
				drow[j] = v * inv
			}
			drow[targets[i]] -= inv
		}
	}
	return loss, correct
}

// backward fills ws.gw, ws.gb from ws.dz[L-1] and the activations of the last
// forward pass over m rows. Weight gradients Aᵀ·dZ are Gemm(Aᵀ, dZ) on a
// transposed copy of the activations (dZ is used as is); input gradients
// dZ·Wᵀ are GemmTB(dZ, W).
func backward(n *net, ws *workspace, m int) {
	L := n.layers()
	for l := L - 1; l >= 0; l-- {
		in, out := n.sizes[l], n.sizes[l+1]
		dz := ws.dz[l][:m*out]
		at := ws.at[:in*m]
		transpose(ws.acts[l][:m*in], m, in, at)
		kernels.Gemm(in, out, m, at, dz, ws.gw[l], false)
		colSums(dz, m, out, ws.gb[l])
		if l == 0 {
			break
		}
		prev := ws.dz[l-1][:m*in]
		kernels.GemmTB(m, in, out, dz, n.w[l], prev, false)
		act := ws.acts[l][:m*in]
		for i, a := range act {
			if a <= 0 {
				prev[i] = 0
			}
		}
	}
}

// colSums writes the column sums of the m×c row-major matrix x into s.
func colSums(x []float32, m, c int, s []float32) {
	kernels.Parallel((c+63)/64, func(lo, hi int) {
		j0, j1 := lo*64, min(hi*64, c)
		dst := s[j0:j1]
		clear(dst)
		for i := 0; i < m; i++ {
			for j, v := range x[i*c+j0 : i*c+j1] {
				dst[j] += v
			}
		}
	})
}

// adam is the Adam optimiser state for a net.
type adam struct {
	lr, b1, b2, eps float64
	t               int
	mw, vw, mb, vb  [][]float32
}

func newAdam(n *net, lr float64) *adam {
	a := &adam{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8}
	for l := range n.w {
		a.mw = append(a.mw, make([]float32, len(n.w[l])))
		a.vw = append(a.vw, make([]float32, len(n.w[l])))
		a.mb = append(a.mb, make([]float32, len(n.b[l])))
		a.vb = append(a.vb, make([]float32, len(n.b[l])))
	}
	return a
}

func (a *adam) step(n *net, ws *workspace) {
	a.t++
	lrT := float32(a.lr * math.Sqrt(1-math.Pow(a.b2, float64(a.t))) / (1 - math.Pow(a.b1, float64(a.t))))
	b1, b2, eps := float32(a.b1), float32(a.b2), float32(a.eps)
	upd := func(p, g, m, v []float32) {
		const chunk = 1024
		kernels.Parallel((len(p)+chunk-1)/chunk, func(clo, chi int) {
			var tb, ub [chunk]float32
			for c := clo; c < chi; c++ {
				lo, hi := c*chunk, min((c+1)*chunk, len(p))
				mc, vc := m[lo:hi], v[lo:hi]
				for i, gi := range g[lo:hi] {
					mc[i] = b1*mc[i] + (1-b1)*gi
					vc[i] = b2*vc[i] + (1-b2)*gi*gi
				}
				// p −= lrT·m / (√v + ε), vectorised by vek32.
				t, u := tb[:hi-lo], ub[:hi-lo]
				copy(t, vc)
				vek32.Sqrt_Inplace(t)
				vek32.AddNumber_Inplace(t, eps)
				copy(u, mc)
				vek32.Div_Inplace(u, t)
				vek32.MulNumber_Inplace(u, lrT)
				vek32.Sub_Inplace(p[lo:hi], u)
			}
		})
	}
	for l := range n.w {
		upd(n.w[l], ws.gw[l], a.mw[l], a.vw[l])
		upd(n.b[l], ws.gb[l], a.mb[l], a.vb[l])
	}
}

// transpose writes the c×r transpose of the r×c row-major matrix a into t.
func transpose(a []float32, r, c int, t []float32) {
	const blk = 32
	nb := (r + blk - 1) / blk
	kernels.Parallel(nb, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			i0, i1 := bi*blk, min((bi+1)*blk, r)
			for j0 := 0; j0 < c; j0 += blk {
				j1 := min(j0+blk, c)
				for i := i0; i < i1; i++ {
					row := a[i*c : i*c+c]
					for j := j0; j < j1; j++ {
						t[j*r+i] = row[j]
					}
				}
			}
		}
	})
}

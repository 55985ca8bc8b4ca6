package nn

import "fmt"

// Loss is the PNI refinement loss (Bae, Lee, Kim, ICCV 2023, §3.3),
// l = (l_reg + l_grad)/2, for single-channel predictions and targets:
//
//	l_reg  = mean over all N·H·W pixels of (pred − target)²
//	l_grad = (g_h + g_w)/2, g_h = mean over the N·(H−1)·W vertical
//	         neighbour pairs of (∂_h pred − ∂_h target)², ∂_h u = u[y+1,x] − u[y,x],
//	         and g_w likewise over the N·H·(W−1) horizontal pairs.
//
// The paper writes both terms as ||·||₂/HW; we read that as the squared L2
// norm divided by the number of terms, i.e. a mean squared error, and average
// the two finite-difference directions. A direction with a single row or
// column contributes 0. It returns the loss (accumulated in float64) and
// dl/dpred, which it writes into grad (reused when non-nil and of the right
// shape) and returns. pred and target must both be N×1×H×W.
func Loss(pred, target, grad *Tensor) (float64, *Tensor) {
	mustSameDims("Loss", pred, target)
	if pred.C != 1 {
		panic(fmt.Sprintf("nn: Loss: prediction %v has more than one channel", pred))
	}
	if grad == nil {
		grad = &Tensor{}
	}
	g := ensure(&grad, pred.N, 1, pred.H, pred.W)
	N, H, W := pred.N, pred.H, pred.W
	nReg := float64(N * H * W)
	nH, nW := float64(N*(H-1)*W), float64(N*H*(W-1))
	var reg, gh, gw float64
	cReg := float32(2 * 0.5 / nReg)
	var cH, cW float32
	if H > 1 {
		cH = float32(2 * 0.25 / nH)
	}
	if W > 1 {
		cW = float32(2 * 0.25 / nW)
	}
	for n := 0; n < N; n++ {
		p, t := pred.Plane(n, 0), target.Plane(n, 0)
		d := g.Plane(n, 0)
		for i := range p {
			e := p[i] - t[i]
			reg += float64(e) * float64(e)
			d[i] = cReg * e
		}
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				i := y*W + x
				e := p[i] - t[i]
				if x+1 < W {
					dd := (p[i+1] - t[i+1]) - e
					gw += float64(dd) * float64(dd)
					d[i+1] += cW * dd
					d[i] -= cW * dd
				}
				if y+1 < H {
					dd := (p[i+W] - t[i+W]) - e
					gh += float64(dd) * float64(dd)
					d[i+W] += cH * dd
					d[i] -= cH * dd
				}
			}
		}
	}
	l := reg / nReg
	var lg float64
	if H > 1 {
		lg += gh / nH / 2
	}
	if W > 1 {
		lg += gw / nW / 2
	}
	return (l + lg) / 2, g
}

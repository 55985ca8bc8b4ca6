package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randTensor(r *rand.Rand, n, c, h, w int) *Tensor {
	t := NewTensor(n, c, h, w)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// awayFromZero makes |v| >= gap for every element (keeps finite differences
// off ReLU's and max pooling's kinks).
func awayFromZero(t *Tensor, gap float32) {
	for i, v := range t.Data {
		if v >= 0 && v < gap {
			t.Data[i] = v + gap
		} else if v < 0 && v > -gap {
			t.Data[i] = v - gap
		}
	}
}

// dot is Σ a·b in float64.
func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// gradErr compares an analytic gradient with central finite differences of
// loss at the entries idx of x (all entries when idx is nil): it returns
// max |analytic − numeric| / max |numeric|.
func gradErr(x []float32, analytic []float32, idx []int, eps float32, loss func() float64) float64 {
	if idx == nil {
		idx = make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
	}
	var maxDiff, maxRef float64
	for _, i := range idx {
		v := x[i]
		x[i] = v + eps
		lp := loss()
		x[i] = v - eps
		lm := loss()
		x[i] = v
		num := (lp - lm) / (2 * float64(eps))
		maxDiff = max(maxDiff, math.Abs(float64(analytic[i])-num))
		maxRef = max(maxRef, math.Abs(num))
	}
	if maxRef == 0 {
		return maxDiff
	}
	return maxDiff / maxRef
}

// sample returns up to k distinct indices in [0, n), all of them if n <= k.
func sample(r *rand.Rand, n, k int) []int {
	if n <= k {
		return nil
	}
	return r.Perm(n)[:k]
}

func clone(s []float32) []float32 { return append([]float32(nil), s...) }

func TestConv2dGrad(t *testing.T) {
	cases := []struct {
		name                   string
		n, c, h, w, m, k, s, p int
		relu, generic          bool
	}{
		{"3x3 s1 gemm", 2, 3, 7, 9, 5, 3, 1, 1, false, false},
		{"3x3 s1 gemm col2im", 2, 3, 7, 9, 5, 3, 1, 1, false, true},
		{"3x3 s1 direct relu", 2, 3, 7, 9, 2, 3, 1, 1, true, false},
		{"3x3 s2 p1", 2, 3, 7, 9, 6, 3, 2, 1, false, false},
		{"3x3 s2 p1 relu even", 1, 4, 8, 10, 4, 3, 2, 1, true, false},
		{"3x3 s2 p0", 2, 3, 9, 7, 4, 3, 2, 0, false, false},
		{"5x5 s1 p2", 1, 2, 6, 5, 4, 5, 1, 2, false, false},
		{"5x5 s1 p0", 1, 2, 7, 6, 4, 5, 1, 0, false, false},
		{"1x1 head", 2, 5, 5, 3, 1, 1, 1, 0, false, false},
		{"3x3 parallel im2col", 1, 8, 40, 41, 8, 3, 1, 1, true, false},
		{"3x3 s2 parallel col2im", 1, 8, 41, 40, 8, 3, 2, 1, false, false},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConv2d(tc.c, tc.m, tc.k, tc.s, tc.p, tc.relu)
			c.generic = tc.generic
			for i := range c.Weight {
				c.Weight[i] = float32(r.NormFloat64() * 0.3)
			}
			for i := range c.Bias {
				c.Bias[i] = float32(r.NormFloat64() * 0.3)
			}
			x := randTensor(r, tc.n, tc.c, tc.h, tc.w)
			y := c.Forward(x)
			oh, ow := c.OutSize(tc.h, tc.w)
			if y.N != tc.n || y.C != tc.m || y.H != oh || y.W != ow {
				t.Fatalf("output %v", y)
			}
			// Forward against a plain float64 loop.
			var ferr float64
			for n := 0; n < tc.n; n++ {
				for m := 0; m < tc.m; m++ {
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							s := float64(c.Bias[m])
							for ch := 0; ch < tc.c; ch++ {
								for ky := 0; ky < tc.k; ky++ {
									for kx := 0; kx < tc.k; kx++ {
										iy, ix := oy*tc.s-tc.p+ky, ox*tc.s-tc.p+kx
										if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
											continue
										}
										s += float64(c.Weight[((m*tc.c+ch)*tc.k+ky)*tc.k+kx]) * float64(x.Plane(n, ch)[iy*tc.w+ix])
									}
								}
							}
							if tc.relu {
								s = max(s, 0)
							}
							ferr = max(ferr, math.Abs(s-float64(y.Plane(n, m)[oy*ow+ox])))
						}
					}
				}
			}
			if ferr > 1e-5 {
				t.Errorf("forward: max abs error %.3g", ferr)
			}
			if tc.relu {
				// keep pre-activations off the kink: shift biases so no output is near 0
				awayFromZero(x, 0.05)
			}
			ry := randTensor(r, y.N, y.C, y.H, y.W).Data
			loss := func() float64 { return dot(c.Forward(x).Data, ry) }
			loss()
			c.GradWeight, c.GradBias = make([]float32, len(c.Weight)), make([]float32, len(c.Bias))
			dx := clone(c.Backward(&Tensor{N: y.N, C: y.C, H: y.H, W: y.W, Data: ry}).Data)
			gw, gb := clone(c.GradWeight), clone(c.GradBias)
			eps := float32(1e-2)
			if tc.relu {
				eps = 1e-3
			}
			ex := gradErr(x.Data, dx, sample(r, len(dx), 300), eps, loss)
			ew := gradErr(c.Weight, gw, sample(r, len(gw), 300), eps, loss)
			eb := gradErr(c.Bias, gb, nil, eps, loss)
			t.Logf("rel err dx %.2g dW %.2g db %.2g (forward abs %.2g)", ex, ew, eb, ferr)
			tol := 2e-3
			if tc.relu {
				tol = 2e-2
			}
			if ex > tol || ew > tol || eb > tol {
				t.Errorf("gradient error dx %.3g dW %.3g db %.3g > %g", ex, ew, eb, tol)
			}
		})
	}
}

func TestElementwiseGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type layer interface {
		Forward(*Tensor) *Tensor
		Backward(*Tensor) *Tensor
	}
	cases := []struct {
		name string
		l    layer
		h, w int
		tol  float64
	}{
		{"ReLU", &ReLU{}, 5, 7, 1e-2},
		{"Sigmoid", &Sigmoid{}, 5, 7, 1e-2},
		{"MaxPool2 odd", &MaxPool2{}, 7, 9, 1e-2},
		{"MaxPool2 even", &MaxPool2{}, 6, 4, 1e-2},
		{"Upsample2 odd", &Upsample2{}, 5, 7, 2e-3},
		{"Upsample2 1xN", &Upsample2{}, 1, 3, 2e-3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(r, 2, 3, tc.h, tc.w)
			awayFromZero(x, 0.05)
			y := tc.l.Forward(x)
			ry := randTensor(r, y.N, y.C, y.H, y.W)
			loss := func() float64 { return dot(tc.l.Forward(x).Data, ry.Data) }
			dx := clone(tc.l.Backward(ry).Data)
			e := gradErr(x.Data, dx, nil, 1e-3, loss)
			t.Logf("rel err %.2g", e)
			if e > tc.tol {
				t.Errorf("gradient error %.3g > %g", e, tc.tol)
			}
		})
	}
}

func TestUpsample2Values(t *testing.T) {
	// One row [a, b, c] -> [a, .75a+.25b, .25a+.75b, .75b+.25c, .25b+.75c, c]
	// horizontally; vertically a single row is copied.
	x := &Tensor{N: 1, C: 1, H: 1, W: 3, Data: []float32{1, 5, 3}}
	var u Upsample2
	y := u.Forward(x)
	want := []float32{1, 2, 4, 4.5, 3.5, 3}
	for r := 0; r < 2; r++ {
		for i, w := range want {
			if g := y.Data[r*6+i]; math.Abs(float64(g-w)) > 1e-6 {
				t.Fatalf("row %d: got %v, want %v", r, y.Data[r*6:r*6+6], want)
			}
		}
	}
	// Adjoint identity <U x, g> = <x, Uᵀ g> on a random odd batch.
	rr := rand.New(rand.NewPCG(5, 6))
	x = randTensor(rr, 2, 2, 5, 3)
	y = u.Forward(x)
	g := randTensor(rr, y.N, y.C, y.H, y.W)
	lhs := dot(y.Data, g.Data)
	rhs := dot(x.Data, u.Backward(g).Data)
	if math.Abs(lhs-rhs) > 1e-5*math.Abs(lhs) {
		t.Errorf("adjoint: %v vs %v", lhs, rhs)
	}
}

func TestConcatAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a, b := randTensor(r, 2, 3, 3, 5), randTensor(r, 2, 2, 3, 5)
	var c Concat
	y := c.Forward(a, b)
	for n := 0; n < 2; n++ {
		for ch := 0; ch < 5; ch++ {
			src := a
			sc := ch
			if ch >= 3 {
				src, sc = b, ch-3
			}
			for i, v := range y.Plane(n, ch) {
				if v != src.Plane(n, sc)[i] {
					t.Fatalf("concat mismatch at n%d c%d", n, ch)
				}
			}
		}
	}
	g := randTensor(r, 2, 5, 3, 5)
	da, db := c.Backward(g)
	if dot(da.Data, a.Data)+dot(db.Data, b.Data)-dot(g.Data, y.Data) > 1e-4 {
		t.Errorf("concat backward is not the adjoint")
	}
	var s Add
	b2 := randTensor(r, 2, 3, 3, 5)
	z := s.Forward(a, b2)
	for i := range z.Data {
		if z.Data[i] != a.Data[i]+b2.Data[i] {
			t.Fatal("add")
		}
	}
	g2 := randTensor(r, 2, 3, 3, 5)
	ga, gb := s.Backward(g2)
	if ga != g2 || gb != g2 {
		t.Error("add backward")
	}
}

func TestLoss(t *testing.T) {
	// 1×1×2×2 by hand: e = pred − target = [[1, 0], [0, 0]].
	p := &Tensor{N: 1, C: 1, H: 2, W: 2, Data: []float32{1, 0, 0, 0}}
	tg := &Tensor{N: 1, C: 1, H: 2, W: 2, Data: []float32{0, 0, 0, 0}}
	// reg = 1/4; vertical diffs of e: [-1, 0] -> 1/2; horizontal: [-1, 0] -> 1/2;
	// grad = 1/2; l = (1/4 + 1/2)/2.
	l, _ := Loss(p, tg, nil)
	if math.Abs(l-0.375) > 1e-7 {
		t.Errorf("loss %v, want 0.375", l)
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, sz := range [][2]int{{5, 7}, {1, 6}, {4, 1}} {
		pred, target := randTensor(r, 2, 1, sz[0], sz[1]), randTensor(r, 2, 1, sz[0], sz[1])
		_, g := Loss(pred, target, nil)
		ga := clone(g.Data)
		e := gradErr(pred.Data, ga, nil, 1e-2, func() float64 { l, _ := Loss(pred, target, nil); return l })
		t.Logf("%dx%d: rel err %.2g", sz[0], sz[1], e)
		if e > 1e-3 {
			t.Errorf("%v: loss gradient error %.3g", sz, e)
		}
	}
}

func TestUNetGrad(t *testing.T) {
	for _, strided := range []bool{false, true} {
		cfg := Config{InChannels: 4, Base: 2, Depth: 2, StridedDown: strided}
		t.Run(cfg.String(), func(t *testing.T) {
			u, err := NewUNet(cfg, 11)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(12, 13))
			// Make the head matter (its init is scaled down) and biases non-zero.
			for _, c := range u.Convs() {
				for i := range c.Bias {
					c.Bias[i] = float32(r.NormFloat64() * 0.1)
				}
			}
			for i := range u.head.Weight {
				u.head.Weight[i] = float32(r.NormFloat64())
			}
			x := randTensor(r, 2, 4, 8, 12)
			target := randTensor(r, 2, 1, 8, 12)
			loss := func() float64 { l, _ := Loss(u.Forward(x), target, nil); return l }
			u.Params.ZeroGrad()
			_, g := Loss(u.Forward(x), target, nil)
			u.Backward(g)
			ga := clone(u.Params.Grad)
			// With the ReLU masks and max-pool choices frozen at this point,
			// pred is affine in every single parameter and the loss quadratic,
			// so central differences are exact up to rounding and a large
			// step can be used without crossing kinks.
			freezeKinks(u, true)
			defer freezeKinks(u, false)
			e := gradErr(u.Params.Data, ga, nil, 1e-2, loss)
			t.Logf("%d params: rel err %.2g", u.NumParams(), e)
			if e > 1e-3 {
				t.Errorf("gradient error %.3g", e)
			}
		})
	}
}

// freezeKinks fixes (on) or releases (off) every ReLU mask and max-pool
// choice of u at those of its last Forward.
func freezeKinks(u *UNet, on bool) {
	for _, c := range u.Convs() {
		c.frozen = nil
		if on && c.ReLU {
			c.frozen = make([]bool, len(c.y.Data))
			for i, v := range c.y.Data {
				c.frozen[i] = v > 0
			}
		}
	}
	for _, e := range u.enc {
		if e.pool != nil {
			e.pool.frozen = on
		}
	}
}

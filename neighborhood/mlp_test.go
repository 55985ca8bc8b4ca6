package neighborhood

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refLoss is an independent float64 forward pass: mean softmax cross-entropy
// of an MLP (ReLU between layers) with weights w[l] (In×Out) and biases b[l].
func refLoss(sizes []int, w, b [][]float64, x []float64, m int, targets []int32) float64 {
	act := x
	L := len(sizes) - 1
	for l := 0; l < L; l++ {
		in, out := sizes[l], sizes[l+1]
		next := make([]float64, m*out)
		for i := 0; i < m; i++ {
			for j := 0; j < out; j++ {
				s := b[l][j]
				for k := 0; k < in; k++ {
					s += act[i*in+k] * w[l][k*out+j]
				}
				if l < L-1 && s < 0 {
					s = 0
				}
				next[i*out+j] = s
			}
		}
		act = next
	}
	c := sizes[L]
	var loss float64
	for i := 0; i < m; i++ {
		row := act[i*c : (i+1)*c]
		mx := row[0]
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		loss += -(row[targets[i]] - mx - math.Log(s))
	}
	return loss / float64(m)
}

func TestGradientCheck(t *testing.T) {
	sizes := []int{7, 6, 5, 4}
	const m = 5
	rng := rand.New(rand.NewPCG(1, 2))
	nt := initNet(sizes, rng)
	for l := range nt.b {
		for j := range nt.b[l] {
			nt.b[l][j] = float32(rng.NormFloat64() * 0.3)
		}
	}
	ws := newWorkspace(sizes, m, true)
	x := ws.acts[0]
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	targets := []int32{0, 3, 1, 2, 3}
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	forward(sizes, nt.w, nt.b, ws, m)
	loss, _ := lossGrad(sizes, ws, m, targets, true)
	backward(nt, ws, m)

	w64 := make([][]float64, len(nt.w))
	b64 := make([][]float64, len(nt.b))
	for l := range nt.w {
		w64[l] = make([]float64, len(nt.w[l]))
		for i, v := range nt.w[l] {
			w64[l][i] = float64(v)
		}
		b64[l] = make([]float64, len(nt.b[l]))
		for i, v := range nt.b[l] {
			b64[l][i] = float64(v)
		}
	}
	ref := refLoss(sizes, w64, b64, x64, m, targets)
	if math.Abs(loss/m-ref) > 1e-5 {
		t.Fatalf("loss %v, float64 reference %v", loss/m, ref)
	}
	const h = 1e-5
	check := func(name string, p []float64, g []float32) {
		for i := range p {
			orig := p[i]
			p[i] = orig + h
			lp := refLoss(sizes, w64, b64, x64, m, targets)
			p[i] = orig - h
			lm := refLoss(sizes, w64, b64, x64, m, targets)
			p[i] = orig
			num := (lp - lm) / (2 * h)
			if d := math.Abs(num - float64(g[i])); d > 1e-4+1e-3*math.Abs(num) {
				t.Errorf("%s[%d]: analytic %v, numeric %v", name, i, g[i], num)
			}
		}
	}
	for l := range w64 {
		check("W"+string(rune('0'+l)), w64[l], ws.gw[l])
		check("B"+string(rune('0'+l)), b64[l], ws.gb[l])
	}
}

func TestTranspose(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {33, 70}, {64, 31}} {
		r, c := sh[0], sh[1]
		a := make([]float32, r*c)
		for i := range a {
			a[i] = float32(i)
		}
		tt := make([]float32, r*c)
		transpose(a, r, c, tt)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				if tt[j*r+i] != a[i*c+j] {
					t.Fatalf("%dx%d: t[%d][%d] = %v, want %v", r, c, j, i, tt[j*r+i], a[i*c+j])
				}
			}
		}
	}
}

func TestAdamStep(t *testing.T) {
	// One Adam step from zero moments moves every parameter by -lr*sign(g)
	// (up to ε), whatever the gradient's magnitude.
	sizes := []int{2, 3}
	nt := &net{sizes: sizes, w: [][]float32{{1, 2, 3, 4, 5, 6}}, b: [][]float32{{0, 0, 0}}}
	ws := newWorkspace(sizes, 1, true)
	copy(ws.gw[0], []float32{0.5, -2, 1e-3, -1e-3, 10, 0})
	copy(ws.gb[0], []float32{1, -1, 0})
	opt := newAdam(nt, 0.01)
	opt.step(nt, ws)
	wantW := []float32{0.99, 2.01, 2.99, 4.01, 4.99, 6}
	for i, v := range nt.w[0] {
		if math.Abs(float64(v-wantW[i])) > 1e-5 {
			t.Errorf("w[%d] = %v, want %v", i, v, wantW[i])
		}
	}
	if math.Abs(float64(nt.b[0][0]+0.01)) > 1e-5 || math.Abs(float64(nt.b[0][1]-0.01)) > 1e-5 || nt.b[0][2] != 0 {
		t.Errorf("b = %v", nt.b[0])
	}
}

package neighborhood

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewReducer(t *testing.T) {
	a, b, c := NewReducer(256, 64, 1), NewReducer(256, 64, 1), NewReducer(256, 64, 2)
	if !slices.Equal(a.W, b.W) || slices.Equal(a.W, c.W) {
		t.Fatal("projection is not a function of the seed")
	}
	if a.D != 256 || a.R != 64 || len(a.W) != 256*64 || a.Mean != nil {
		t.Fatalf("shape D=%d R=%d len(W)=%d", a.D, a.R, len(a.W))
	}
	// Squared norms are preserved on average (JL with N(0, 1/R) entries).
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 200
	x := make([]float32, n*256)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	out := make([]float32, n*64)
	a.Apply(x, n, out)
	var in2, out2 float64
	for i := 0; i < n; i++ {
		for _, v := range x[i*256 : (i+1)*256] {
			in2 += float64(v * v)
		}
		for _, v := range out[i*64 : (i+1)*64] {
			out2 += float64(v * v)
		}
	}
	if ratio := out2 / in2; math.Abs(ratio-1) > 0.1 {
		t.Errorf("mean squared norm ratio %.3f, want about 1", ratio)
	}
	// Apply equals the hand-written product.
	for _, i := range []int{0, 17, n - 1} {
		for j := 0; j < 64; j += 13 {
			var s float64
			for k := 0; k < 256; k++ {
				s += float64(x[i*256+k]) * float64(a.W[k*64+j])
			}
			if math.Abs(s-float64(out[i*64+j])) > 1e-4 {
				t.Fatalf("out[%d][%d] = %v, want %v", i, j, out[i*64+j], s)
			}
		}
	}
}

// TestFitPCA builds data with known principal axes: x = mu + Σ_k s_k z_k q_k
// with orthonormal q_k (Gram–Schmidt of random vectors), decreasing s_k and
// z_k standardised per column so the sample covariance is exactly diagonal in
// the q basis up to the (removed) cross terms. FitPCA must recover ±q_k in
// order and the mean.
func TestFitPCA(t *testing.T) {
	const d, n, r = 12, 4000, 4
	rng := rand.New(rand.NewPCG(8, 8))
	q := make([][]float64, d)
	for k := range q {
		v := make([]float64, d)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		for _, u := range q[:k] {
			var dot float64
			for i := range v {
				dot += v[i] * u[i]
			}
			for i := range v {
				v[i] -= dot * u[i]
			}
		}
		var nn float64
		for _, e := range v {
			nn += e * e
		}
		for i := range v {
			v[i] /= math.Sqrt(nn)
		}
		q[k] = v
	}
	scales := []float64{10, 7, 5, 3, 1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1}
	mu := make([]float64, d)
	for i := range mu {
		mu[i] = float64(i) - 3
	}
	x := make([]float32, n*d)
	for i := 0; i < n; i++ {
		for k := 0; k < d; k++ {
			z := rng.NormFloat64() * scales[k]
			for j := 0; j < d; j++ {
				x[i*d+j] += float32(z * q[k][j])
			}
		}
		for j := 0; j < d; j++ {
			x[i*d+j] += float32(mu[j])
		}
	}
	red, err := FitPCA(x, n, d, r)
	if err != nil {
		t.Fatal(err)
	}
	for j := range mu {
		if math.Abs(float64(red.Mean[j])-mu[j]) > 0.5 {
			t.Errorf("mean[%d] = %v, want about %v", j, red.Mean[j], mu[j])
		}
	}
	for k := 0; k < r; k++ {
		var dot float64
		for j := 0; j < d; j++ {
			dot += float64(red.W[j*r+k]) * q[k][j]
		}
		if math.Abs(math.Abs(dot)-1) > 0.02 {
			t.Errorf("component %d: |<w, q>| = %.4f, want 1", k, math.Abs(dot))
		}
	}
	// Reduced data: mean zero, variances ordered like scales².
	out := make([]float32, n*r)
	red.Apply(x, n, out)
	for k := 0; k < r; k++ {
		var s, s2 float64
		for i := 0; i < n; i++ {
			v := float64(out[i*r+k])
			s += v
			s2 += v * v
		}
		mean, sd := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
		if math.Abs(mean) > 1e-3*scales[0] || math.Abs(sd/scales[k]-1) > 0.08 {
			t.Errorf("component %d: mean %.4f sd %.3f, want 0 and about %v", k, mean, sd, scales[k])
		}
	}
	// Errors.
	for _, c := range []struct {
		x       []float32
		n, d, r int
	}{{x, n, d, 0}, {x, n, d, d + 1}, {x, 1, d, r}, {x[:5], n, d, r}, {x, n, 0, r}} {
		var ie *InputError
		if _, err := FitPCA(c.x, c.n, c.d, c.r); !errors.As(err, &ie) {
			t.Errorf("FitPCA(n=%d d=%d r=%d len=%d): got %v, want *InputError", c.n, c.d, c.r, len(c.x), err)
		}
	}
}

package neighborhood

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewReducer(t *testing.T) {
	a, b, c := mustReducer(t, 256, 64, 1), mustReducer(t, 256, 64, 1), mustReducer(t, 256, 64, 2)
	if !slices.Equal(a.w, b.w) || slices.Equal(a.w, c.w) {
		t.Fatal("projection is not a function of the seed")
	}
	if a.In() != 256 || a.Out() != 64 || len(a.w) != 256*64 {
		t.Fatalf("shape D=%d R=%d len(W)=%d", a.In(), a.Out(), len(a.w))
	}
	for _, dims := range [][2]int{{0, 4}, {4, 0}, {-1, 3}} {
		if _, err := NewReducer(dims[0], dims[1], 1); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NewReducer(%d, %d): %v, want ErrInvalidArgument", dims[0], dims[1], err)
		}
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
				s += float64(x[i*256+k]) * float64(a.w[k*64+j])
			}
			if math.Abs(s-float64(out[i*64+j])) > 1e-4 {
				t.Fatalf("out[%d][%d] = %v, want %v", i, j, out[i*64+j], s)
			}
		}
	}
}

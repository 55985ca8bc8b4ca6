package linalg

import (
	"math"
	"slices"
	"testing"
)

func TestGaussianMoments(t *testing.T) {
	const d, r = 400, 50
	w := Gaussian(d, r, 3, 11)
	var sum, sq float64
	for _, v := range w {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(w))
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	// N(0, 1/r): mean within 4 standard errors, variance within 3%.
	if math.Abs(mean) > 4*math.Sqrt(1.0/r/n) || math.Abs(variance*r-1) > 0.03 {
		t.Errorf("mean %v, variance x r %v", mean, variance*r)
	}
	if !slices.Equal(w, Gaussian(d, r, 3, 11)) {
		t.Error("same seed and stream, different matrix")
	}
	if slices.Equal(w, Gaussian(d, r, 3, 12)) || slices.Equal(w, Gaussian(d, r, 4, 11)) {
		t.Error("another seed or stream gives the same matrix")
	}
	if Gaussian(0, 3, 1, 1) != nil || Gaussian(3, 0, 1, 1) != nil {
		t.Error("non-positive sizes should give nil")
	}
}

func TestTopEigenvectors(t *testing.T) {
	// A diagonal covariance with a known spectrum: the leading eigenvectors
	// are the axes of the largest entries.
	const d, r = 30, 3
	cov := make([]float32, d*d)
	for i := 0; i < d; i++ {
		cov[i*d+i] = float32(1 + i%7) // largest: 7 at i = 6, 13, 20, 27
	}
	cov[5*d+5], cov[17*d+17], cov[22*d+22] = 100, 50, 20
	b := TopEigenvectors(cov, d, r)
	for j, axis := range []int{5, 17, 22} {
		if v := math.Abs(float64(b[axis*r+j])); v < 1-1e-5 {
			t.Errorf("eigenvector %d has |component %d| = %v, want 1", j, axis, v)
		}
	}
	// Orthonormal columns.
	for a := 0; a < r; a++ {
		for c := 0; c < r; c++ {
			var dot float64
			for i := 0; i < d; i++ {
				dot += float64(b[i*r+a]) * float64(b[i*r+c])
			}
			want := 0.0
			if a == c {
				want = 1
			}
			if math.Abs(dot-want) > 1e-5 {
				t.Errorf("column %d . column %d = %v", a, c, dot)
			}
		}
	}
}

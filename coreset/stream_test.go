package coreset

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// clustered returns n rows of r values drawn around a few random centres.
func clustered(rng *rand.Rand, n, r, centres int, spread float32) []float32 {
	cs := gaussian(rng, centres, r)
	z := make([]float32, n*r)
	for i := 0; i < n; i++ {
		c := rng.IntN(centres)
		for j := 0; j < r; j++ {
			z[i*r+j] = 4*cs[c*r+j] + spread*float32(rng.NormFloat64())
		}
	}
	return z
}

// TestStreamRadius compares the two-level selection with the exact greedy
// on the same rows: its k-center radius must stay within 25% of the
// exact one (the measured gap on real features is in the README), and it
// must be a valid coreset (k distinct candidate rows).
func TestStreamRadius(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const images, rowsPer, r = 40, 200, 16
	z := clustered(rng, images*rowsPer, r, 30, 0.5)
	const ratio = 0.05
	k := Size(ratio, images*rowsPer)
	exact, err := Greedy{Seed: 1}.SelectProjected(context.Background(), z, images*rowsPer, r, k)
	if err != nil {
		t.Fatal(err)
	}
	re, _ := Radius(z, images*rowsPer, r, exact)
	for _, maxUnion := range []int{0, 500} { // one final greedy, and groups of images
		s := Stream{R: r, Ratio: ratio, Seed: 1, MaxUnion: maxUnion}
		var rowOf []int // candidate -> row of z
		for i := 0; i < images; i++ {
			keep, err := s.Add(context.Background(), z[i*rowsPer*r:(i+1)*rowsPer*r], rowsPer)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range keep {
				rowOf = append(rowOf, i*rowsPer+j)
			}
		}
		ord, err := s.Select(context.Background(), k, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]int, len(ord))
		for i, c := range ord {
			rows[i] = rowOf[c]
		}
		if len(rows) != k || len(slices.Compact(slices.Sorted(slices.Values(rows)))) != k {
			t.Fatalf("maxUnion %d: %d rows, not %d distinct", maxUnion, len(rows), k)
		}
		rs, _ := Radius(z, images*rowsPer, r, rows)
		t.Logf("maxUnion %d: %d candidates, radius %.4f vs exact %.4f (%.3f)", maxUnion, s.Candidates(), rs, re, rs/re)
		if rs > 1.25*re {
			t.Errorf("maxUnion %d: two-level radius %.4f is more than 1.25 x the exact %.4f", maxUnion, rs, re)
		}
	}
}

func TestStreamErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (&Stream{R: 0, Ratio: 0.1}).Add(ctx, make([]float32, 8), 2); err == nil {
		t.Error("R = 0 accepted")
	}
	s := &Stream{R: 2, Ratio: 0.5}
	if _, err := s.Add(ctx, make([]float32, 3), 2); err == nil {
		t.Error("short rows accepted")
	}
	if _, err := s.Select(ctx, 1, nil); err == nil {
		t.Error("Select with no candidates accepted")
	}
	if _, err := Radius(nil, 0, 2, nil); err == nil {
		t.Error("Radius of nothing accepted")
	}
}

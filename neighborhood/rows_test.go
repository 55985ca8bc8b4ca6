package neighborhood

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPartialShuffle checks that each epoch's sample is k distinct rows of
// the input, that successive epochs draw different samples, and that every
// row is drawn about equally often (a uniform sample without replacement).
func TestPartialShuffle(t *testing.T) {
	const n, k, epochs = 50, 10, 20000
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(100 + i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	counts := make(map[int32]int)
	var prev []int32
	same := 0
	for range epochs {
		s := slices.Clone(partialShuffle(rng, rows, k))
		if len(s) != k {
			t.Fatalf("sample of %d rows, want %d", len(s), k)
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != k {
			t.Fatalf("sample %v has repeated rows", s)
		}
		for _, v := range s {
			if v < 100 || v >= 100+n {
				t.Fatalf("sampled row %d is not an input row", v)
			}
			counts[v]++
		}
		if slices.Equal(sorted, prev) {
			same++
		}
		prev = sorted
	}
	if same > 0 {
		t.Errorf("%d epochs drew the same sample as the previous epoch", same)
	}
	// Each row is drawn with probability k/n per epoch: mean 4000, sd ≈ 57.
	want := float64(epochs * k / n)
	for v, c := range counts {
		if math.Abs(float64(c)-want) > 6*math.Sqrt(want*(1-float64(k)/n)) {
			t.Errorf("row %d drawn %d times, want about %v", v, c, want)
		}
	}
	// The input still holds every row once.
	all := slices.Clone(rows)
	slices.Sort(all)
	for i, v := range all {
		if v != int32(100+i) {
			t.Fatalf("rows no longer a permutation: %v", all)
		}
	}
}

func TestSampleRows(t *testing.T) {
	rows := []int32{1, 4, 9, 16, 25, 36, 49}
	if got := sampleRows(rand.New(rand.NewPCG(1, 1)), rows, 7); !slices.Equal(got, rows) {
		t.Errorf("k = len: got %v, want the rows unchanged", got)
	}
	a := sampleRows(rand.New(rand.NewPCG(1, 1)), rows, 3)
	b := sampleRows(rand.New(rand.NewPCG(1, 1)), rows, 3)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different samples %v %v", a, b)
	}
	if len(a) != 3 || !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != 3 {
		t.Errorf("sample %v: want 3 distinct rows in increasing order", a)
	}
	for _, v := range a {
		if !slices.Contains(rows, v) {
			t.Errorf("sampled %d is not an input row", v)
		}
	}
	if !slices.Equal(rows, []int32{1, 4, 9, 16, 25, 36, 49}) {
		t.Errorf("input modified: %v", rows)
	}
}

// TestMaxRowsPerEpoch checks the per-epoch training rows and the validation
// cap reported by Train.
func TestMaxRowsPerEpoch(t *testing.T) {
	// 2 images of 150×150: one held out (22,500 validation rows, above
	// MinValRows), one trained on (22,500 rows).
	const n, h, w, k = 2, 150, 150, 3
	grid, targets := synth(n, h, w, k, 9)
	for _, tc := range []struct {
		max, rows, val int
	}{
		{100, 100, MinValRows},
		{-1, h * w, h * w},
		{3 * h * w, h * w, h * w},   // cap above both sets
		{3*h*w - 3, h * w, h*w - 1}, // validation cap (3hw−3)/3 = hw−1
	} {
		m, err := Train(context.Background(), nil, grid, n, h, w, targets, k,
			Config{Window: 3, Hidden: []int{4}, Epochs: 2, BatchSize: 64, MaxRowsPerEpoch: tc.max, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m.report.Epochs {
			if e.Rows != tc.rows || e.ValRows != tc.val {
				t.Errorf("MaxRowsPerEpoch %d: epoch %d trained %d rows and validated %d, want %d and %d",
					tc.max, e.N, e.Rows, e.ValRows, tc.rows, tc.val)
			}
		}
	}
}

package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// scanData draws n values with many ties (a few distinct levels), some +Inf,
// -Inf and NaN, and an allow slice with roughly half the entries true.
func scanData(rng *rand.Rand, n int, special bool) ([]float32, []bool) {
	x := make([]float32, n)
	allow := make([]bool, n)
	for i := range x {
		x[i] = float32(rng.IntN(7)) - 3 + float32(rng.IntN(2))*rng.Float32()
		if special {
			switch rng.IntN(20) {
			case 0:
				x[i] = float32(math.NaN())
			case 1:
				x[i] = float32(math.Inf(1))
			case 2:
				x[i] = float32(math.Inf(-1))
			}
		}
		allow[i] = rng.IntN(2) == 0
	}
	return x, allow
}

// minIndexRef is the plain-loop definition of MinIndex.
func minIndexRef(x []float32, allow []bool) int {
	bi := -1
	for i, v := range x {
		if (allow != nil && !allow[i]) || math.IsNaN(float64(v)) || math.IsInf(float64(v), 1) {
			continue
		}
		if bi < 0 || v < x[bi] {
			bi = i
		}
	}
	return bi
}

// lessEqualRef is the plain-loop definition of AppendLessEqual.
func lessEqualRef(x []float32, thr float32, allow []bool) []int32 {
	var out []int32
	for i, v := range x {
		if float64(v) <= float64(thr) && (allow == nil || allow[i]) {
			out = append(out, int32(i))
		}
	}
	return out
}

func scanLengths() []int {
	var ns []int
	for n := 0; n <= 100; n++ {
		ns = append(ns, n)
	}
	return append(ns, 127, 128, 129, 2047, 2048, 2049, 4096+31, 16464)
}

func TestMinIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	for _, n := range scanLengths() {
		for _, special := range []bool{false, true} {
			x, allow := scanData(rng, n, special)
			for _, a := range [][]bool{nil, allow} {
				if got, want := MinIndex(x, a), minIndexRef(x, a); got != want {
					t.Fatalf("%s n=%d special=%v allow=%v: got %d, want %d", scanName, n, special, a != nil, got, want)
				}
			}
		}
	}
	// Hand-made cases.
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, tc := range []struct {
		x     []float32
		allow []bool
		want  int
	}{
		{nil, nil, -1},
		{[]float32{inf, nan, inf}, nil, -1},
		{[]float32{3, 1, 2, 1}, nil, 1},
		{[]float32{3, 1, 2, 1}, []bool{true, false, true, true}, 3},
		{[]float32{3, 1, 2, 1}, []bool{false, false, false, false}, -1},
		{[]float32{nan, 5, float32(math.Inf(-1))}, nil, 2},
	} {
		if got := MinIndex(tc.x, tc.allow); got != tc.want {
			t.Errorf("MinIndex(%v, %v) = %d, want %d", tc.x, tc.allow, got, tc.want)
		}
	}
	// First index on ties across all 32 lanes of a long run.
	x := make([]float32, 5000)
	for i := range x {
		x[i] = 1
	}
	x[4001], x[77], x[3000] = 0, 0, 0
	if got := MinIndex(x, nil); got != 77 {
		t.Errorf("ties: got %d, want 77", got)
	}
	// Ties inside every lane: each lane must keep its first minimum.
	for l := 0; l < scanBlock; l++ {
		for i := range x {
			x[i] = 1
		}
		x[l+32*5], x[l+32*50], x[l+32*100] = 0, 0, 0
		if got := MinIndex(x, nil); got != l+32*5 {
			t.Errorf("lane %d ties: got %d, want %d", l, got, l+32*5)
		}
	}
}

func TestAppendLessEqual(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2))
	for _, n := range scanLengths() {
		for _, special := range []bool{false, true} {
			x, allow := scanData(rng, n, special)
			for _, thr := range []float32{-4, -0.5, 0, 1, 10, float32(math.Inf(1)), float32(math.NaN())} {
				for _, a := range [][]bool{nil, allow} {
					prefix := []int32{-7}
					got := AppendLessEqual(prefix, x, thr, a)
					want := append([]int32{-7}, lessEqualRef(x, thr, a)...)
					if !slices.Equal(got, want) {
						t.Fatalf("%s n=%d special=%v thr=%g allow=%v:\ngot  %v\nwant %v", scanName, n, special, thr, a != nil, got, want)
					}
				}
			}
		}
	}
	if got := AppendLessEqual(nil, []float32{1, 2, 3, 2}, 2, nil); !slices.Equal(got, []int32{0, 1, 3}) {
		t.Errorf("hand case: got %v", got)
	}
}

// TestScanKernelsAgree compares the selected block kernels (assembly where
// available) with the portable ones directly, on whole blocks.
func TestScanKernelsAgree(t *testing.T) {
	if scanName == "generic scan" {
		t.Skip("no assembly scan kernels in this build")
	}
	rng := rand.New(rand.NewPCG(7, 3))
	for _, blocks := range []int{1, 2, 3, 64, 515} {
		n := blocks * scanBlock
		x, allow := scanData(rng, n, true)
		for _, a := range [][]bool{nil, allow} {
			var ap *bool
			if a != nil {
				ap = &a[0]
			}
			m1, m2 := make([]uint32, blocks), make([]uint32, blocks)
			lessEqual32(&x[0], n, 0.5, ap, &m1[0])
			lessEqual32Go(&x[0], n, 0.5, ap, &m2[0])
			if !slices.Equal(m1, m2) {
				t.Fatalf("lessEqual32 n=%d allow=%v: asm %x, Go %x", n, a != nil, m1, m2)
			}
			var v1, v2 [scanBlock]float32
			var i1, i2 [scanBlock]int32
			minIndex32(&x[0], n, ap, &v1, &i1)
			minIndex32Go(&x[0], n, ap, &v2, &i2)
			for l := range v1 {
				if v1[l] != v2[l] || (v1[l] < float32(math.Inf(1)) && i1[l] != i2[l]) {
					t.Fatalf("minIndex32 n=%d allow=%v lane %d: asm (%g, %d), Go (%g, %d)", n, a != nil, l, v1[l], i1[l], v2[l], i2[l])
				}
			}
		}
	}
}

func BenchmarkScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 4))
	const n = 16464
	x := make([]float32, n)
	allow := make([]bool, n)
	for i := range x {
		x[i] = rng.Float32()
		allow[i] = rng.IntN(4) != 0
	}
	dst := make([]int32, 0, n)
	for _, a := range []struct {
		name  string
		allow []bool
	}{{"all", nil}, {"allow", allow}} {
		b.Run("MinIndex/"+a.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(4 * n)
			for i := 0; i < b.N; i++ {
				MinIndex(x, a.allow)
			}
		})
		b.Run("AppendLessEqual/"+a.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(4 * n)
			for i := 0; i < b.N; i++ {
				dst = AppendLessEqual(dst[:0], x, 0.002, a.allow)
			}
		})
	}
}

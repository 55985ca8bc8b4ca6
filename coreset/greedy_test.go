package coreset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// naiveOrder is the reference O(n·k) farthest-point loop with the package's distance function:
// mind starts at +Inf, every new centre updates every row, the argmax skips chosen rows and breaks
// ties towards the lowest index.
func naiveOrder(z []float32, n, r, k, first int) []int {
	mind := make([]float32, n)
	for i := range mind {
		mind[i] = float32(math.Inf(1))
	}
	chosen := make([]bool, n)
	order := []int{}
	c := first
	for len(order) < k {
		order = append(order, c)
		chosen[c] = true
		zc := z[c*r : (c+1)*r]
		for q := 0; q < n; q++ {
			if d := dist(z[q*r:(q+1)*r], zc); d < mind[q] {
				mind[q] = d
			}
		}
		c = -1
		for q := 0; q < n; q++ {
			if !chosen[q] && (c < 0 || mind[q] > mind[c]) {
				c = q
			}
		}
	}
	return order
}

// naiveFloat64 is an independent reference: float64 distances, first row by float64 mean distance
// to the given start rows.
func naiveFloat64(z []float32, n, r, k int, starts []int) []int {
	d := func(a, b int) float64 {
		s := 0.0
		for i := 0; i < r; i++ {
			v := float64(z[a*r+i]) - float64(z[b*r+i])
			s += v * v
		}
		return math.Sqrt(s)
	}
	first := 0
	best := -1.0
	for i := 0; i < n; i++ {
		m := 0.0
		for _, s := range starts {
			m += d(i, s)
		}
		m /= float64(len(starts))
		if m > best {
			best, first = m, i
		}
	}
	mind := make([]float64, n)
	for i := range mind {
		mind[i] = math.Inf(1)
	}
	chosen := make([]bool, n)
	order := []int{}
	c := first
	for len(order) < k {
		order = append(order, c)
		chosen[c] = true
		for q := 0; q < n; q++ {
			mind[q] = math.Min(mind[q], d(q, c))
		}
		c = -1
		for q := 0; q < n; q++ {
			if !chosen[q] && (c < 0 || mind[q] > mind[c]) {
				c = q
			}
		}
	}
	return order
}

func gaussian(rng *rand.Rand, n, d int) []float32 {
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// mixture returns n rows from a mixture of comps low-rank Gaussians in d dims (rank 4 plus noise).
func mixture(rng *rand.Rand, n, d, comps int) []float32 { return mixtureRank(rng, n, d, comps, 4) }

// TestGreedyLine checks the farthest-point order on points of a line, computed by hand.
func TestGreedyLine(t *testing.T) {
	cases := []struct {
		pos  []float32
		want []int
	}{
		// 0..10: the ends tie on mean distance (to all points) -> 0; then 10, 5, then the
		// distance-2 points 2 and 7 (lowest first), then all the distance-1 points in index order.
		{[]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{0, 10, 5, 2, 7, 1, 3, 4, 6, 8, 9}},
		// Doubling gaps: 0 1 3 7 15 31. Mean distance is largest at 31 (index 5);
		// then 0 (31), then 15 (|15-0|=15 vs 16: 15), then 7 (7), then 3 (3), then 1.
		{[]float32{0, 1, 3, 7, 15, 31}, []int{5, 0, 4, 3, 2, 1}},
		// Duplicates: once every row is at distance 0, the rest follow in index order.
		{[]float32{2, 2, 9, 9, 2, 9}, []int{0, 2, 1, 3, 4, 5}},
	}
	for i, c := range cases {
		n := len(c.pos)
		g := Greedy{ProjDim: -1, StartPoints: n}
		got, err := g.Select(context.Background(), c.pos, n, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("case %d: order %v, want %v", i, got, c.want)
		}
		// A prefix is the prefix of the full order.
		got3, _ := g.Select(context.Background(), c.pos, n, 1, 3)
		if !slices.Equal(got3, c.want[:3]) {
			t.Errorf("case %d: k=3 order %v, want %v", i, got3, c.want[:3])
		}
	}
}

// TestGreedyMatchesNaive compares the accelerated greedy with the naive loop bit for bit, on
// Gaussian, clustered, duplicated and tie-heavy (integer grid) data.
func TestGreedyMatchesNaive(t *testing.T) {
	type gen func(rng *rand.Rand, n, d int) []float32
	gens := map[string]gen{
		"gauss":   gaussian,
		"mixture": func(rng *rand.Rand, n, d int) []float32 { return mixture(rng, n, d, 7) },
		"dups": func(rng *rand.Rand, n, d int) []float32 {
			base := mixture(rng, max(1, n/5), d, 3)
			x := make([]float32, n*d)
			for i := 0; i < n; i++ {
				j := rng.IntN(max(1, n/5))
				copy(x[i*d:(i+1)*d], base[j*d:(j+1)*d])
			}
			return x
		},
		"grid": func(rng *rand.Rand, n, d int) []float32 {
			x := make([]float32, n*d)
			for i := range x {
				x[i] = float32(rng.IntN(4))
			}
			return x
		},
	}
	sizes := []struct{ n, d, k int }{{1, 3, 1}, {2, 1, 2}, {17, 2, 17}, {200, 5, 60}, {1000, 16, 300}, {3000, 8, 800}}
	if testing.Short() {
		sizes = sizes[:5]
	}
	for name, g := range gens {
		for _, sz := range sizes {
			for seed := int64(0); seed < 3; seed++ {
				rng := rand.New(rand.NewPCG(uint64(seed), 99))
				x := g(rng, sz.n, sz.d)
				gr := Greedy{ProjDim: -1, Seed: seed}
				got, err := gr.SelectProjected(context.Background(), x, sz.n, sz.d, sz.k)
				if err != nil {
					t.Fatal(err)
				}
				first := startRow(x, sz.n, sz.d, min(DefaultStartPoints, sz.n), seed)
				want := naiveOrder(x, sz.n, sz.d, sz.k, first)
				if !slices.Equal(got, want) {
					t.Errorf("%s n=%d d=%d k=%d seed=%d: orders differ at %d", name, sz.n, sz.d, sz.k, seed, firstDiff(got, want))
				}
				checkDistinct(t, got, sz.n)
			}
		}
	}
}

// TestGreedyMatchesNaivePaths repeats the comparison with the pending-list cap tiny, resolutions
// always or never parallel, and one core.
func TestGreedyMatchesNaivePaths(t *testing.T) {
	defer func(mp, pw int) { maxPending, parallelWork = mp, pw }(maxPending, parallelWork)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(8, 8))
	n, d, k := 1500, 12, 500
	data := map[string][]float32{"mixture": mixture(rng, n, d, 6)}
	grid := make([]float32, n*d)
	for i := range grid {
		grid[i] = float32(rng.IntN(3))
	}
	data["grid"] = grid
	for _, cfg := range []struct{ mp, pw, procs int }{{1, 4096, 2}, {3, 0, 2}, {256, 1 << 40, 2}, {2, 0, 1}, {256, 4096, 1}} {
		maxPending, parallelWork = cfg.mp, cfg.pw
		runtime.GOMAXPROCS(cfg.procs)
		for name, x := range data {
			got, err := Greedy{ProjDim: -1, Seed: 5}.Select(context.Background(), x, n, d, k)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveOrder(x, n, d, k, startRow(x, n, d, DefaultStartPoints, 5))
			if !slices.Equal(got, want) {
				t.Errorf("%s %+v: orders differ at %d", name, cfg, firstDiff(got, want))
			}
		}
	}
}

// TestGreedyMatchesNaiveMedium: 20k clustered rows of 128 dims, k = 2000 (skipped with -short).
func TestGreedyMatchesNaiveMedium(t *testing.T) {
	if testing.Short() {
		t.Skip("medium naive comparison; run without -short")
	}
	n, d, k := 20000, 128, 2000
	z := mixtureRank(rand.New(rand.NewPCG(1, 1)), n, d, 32, 8)
	got, err := Greedy{Seed: 9}.SelectProjected(context.Background(), z, n, d, k)
	if err != nil {
		t.Fatal(err)
	}
	want := naiveOrder(z, n, d, k, startRow(z, n, d, DefaultStartPoints, 9))
	if !slices.Equal(got, want) {
		t.Errorf("orders differ at %d", firstDiff(got, want))
	}
}

func firstDiff(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func checkDistinct(t *testing.T, idx []int, n int) {
	t.Helper()
	seen := make(map[int]bool)
	for _, i := range idx {
		if i < 0 || i >= n || seen[i] {
			t.Fatalf("index %d out of range or repeated", i)
		}
		seen[i] = true
	}
}

// TestGreedyExactVsFloat64 checks the exact mode against an independent float64 brute force on
// continuous data (no near-ties), including the start rule.
func TestGreedyExactVsFloat64(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		n, d, k := 600, 12, 150
		x := mixture(rand.New(rand.NewPCG(uint64(seed), 7)), n, d, 5)
		g := Greedy{ProjDim: -1, Seed: seed, StartPoints: 4}
		got, err := g.Select(context.Background(), x, n, d, k)
		if err != nil {
			t.Fatal(err)
		}
		starts := drawStarts(seed, n, 4)
		want := naiveFloat64(x, n, d, k, starts)
		if !slices.Equal(got, want) {
			t.Errorf("seed %d: orders differ at %d", seed, firstDiff(got, want))
		}
	}
}

// drawStarts repeats startRow's draw of start rows.
func drawStarts(seed int64, n, s int) []int {
	src := rand.NewPCG(uint64(seed), startStream)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < s; i++ {
		j := i + int(boundedUint64(src, uint64(n-i)))
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:s]
}

// TestGreedyFarthestProperty: the distance of each new row to the rows chosen before it never
// increases (the covering radius shrinks), and it is the maximum over unchosen rows.
func TestGreedyFarthestProperty(t *testing.T) {
	n, d, k := 400, 6, 120
	x := mixture(rand.New(rand.NewPCG(5, 5)), n, d, 4)
	got, err := Greedy{ProjDim: -1, Seed: 3}.Select(context.Background(), x, n, d, k)
	if err != nil {
		t.Fatal(err)
	}
	prev := math.Inf(1)
	for i := 1; i < k; i++ {
		cover := func(q int) float64 {
			m := math.Inf(1)
			for _, c := range got[:i] {
				m = math.Min(m, float64(dist(x[q*d:(q+1)*d], x[c*d:(c+1)*d])))
			}
			return m
		}
		di := cover(got[i])
		if di > prev {
			t.Fatalf("step %d: distance %g grew from %g", i, di, prev)
		}
		for q := 0; q < n; q++ {
			if !slices.Contains(got[:i], q) && cover(q) > di {
				t.Fatalf("step %d: row %d is farther (%g) than the chosen row (%g)", i, q, cover(q), di)
			}
		}
		prev = di
	}
}

func TestSelectProjectedSeeds(t *testing.T) {
	n, d, k := 500, 64, 50
	x := mixture(rand.New(rand.NewPCG(1, 2)), n, d, 6)
	sel := func(seed int64) []int {
		got, err := Greedy{ProjDim: 16, Seed: seed}.Select(context.Background(), x, n, d, k)
		if err != nil {
			t.Fatal(err)
		}
		checkDistinct(t, got, n)
		return got
	}
	a, b, c := sel(1), sel(1), sel(2)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different orders")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 1 and 2 gave the same order")
	}
	// Select with a projection equals SelectProjected on the projected rows.
	p := newProj(d, 16, 1)
	z := make([]float32, n*16)
	p.Apply(x, n, z)
	got, err := Greedy{Seed: 1}.SelectProjected(context.Background(), z, n, 16, k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, a) {
		t.Error("Select(ProjDim 16) differs from Apply + SelectProjected")
	}
	// Default ProjDim is 128.
	d0, _ := Greedy{Seed: 4}.Select(context.Background(), x, n, d, k)
	p128 := newProj(d, 128, 4)
	z128 := make([]float32, n*128)
	p128.Apply(x, n, z128)
	d1, _ := Greedy{Seed: 4}.SelectProjected(context.Background(), z128, n, 128, k)
	if !slices.Equal(d0, d1) {
		t.Error("zero ProjDim is not a 128-d projection")
	}
}

func TestGreedyErrors(t *testing.T) {
	x := make([]float32, 10*3)
	for i := range x {
		x[i] = float32(i)
	}
	ctx := context.Background()
	g := Greedy{ProjDim: -1}
	cases := []struct {
		x       []float32
		n, d, k int
	}{
		{x, 10, 3, 0}, {x, 10, 3, -1}, {x, 10, 3, 11}, {x, 10, 0, 2}, {x, 0, 3, 1}, {x[:29], 10, 3, 2}, {nil, 10, 3, 2},
	}
	for _, c := range cases {
		for _, gg := range []Greedy{g, {}} {
			if _, err := gg.Select(ctx, c.x, c.n, c.d, c.k); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Select(n=%d d=%d k=%d len=%d): err %v, want ErrInvalidArgument", c.n, c.d, c.k, len(c.x), err)
			}
		}
		if _, err := g.SelectProjected(ctx, c.x, c.n, c.d, c.k); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SelectProjected(n=%d d=%d k=%d): err %v", c.n, c.d, c.k, err)
		}
	}
	bad := slices.Clone(x)
	bad[7] = float32(math.NaN())
	if _, err := g.Select(ctx, bad, 10, 3, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("NaN: err %v", err)
	}
	bad[7] = float32(math.Inf(-1))
	if _, err := g.Select(ctx, bad, 10, 3, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Inf: err %v", err)
	}
	// Cancelled before the start, and during the run (from the progress callback).
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (Greedy{}).Select(cctx, x, 10, 3, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err %v", err)
	}
	n, d := 3000, 4
	y := gaussian(rand.New(rand.NewPCG(1, 1)), n, d)
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	calls := 0
	gp := Greedy{ProjDim: -1, Progress: func(done, total int) {
		calls++
		if done >= total/2 {
			cancel()
		}
	}}
	if _, err := gp.Select(cctx, y, n, d, 2000); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel during run: err %v", err)
	}
	if calls > 60 {
		t.Errorf("progress called %d times before half-way; want about 50", calls)
	}
}

func TestGreedyProgress(t *testing.T) {
	n, d, k := 2000, 4, 1234
	y := gaussian(rand.New(rand.NewPCG(1, 1)), n, d)
	var seen [][2]int
	g := Greedy{ProjDim: -1, Progress: func(done, total int) { seen = append(seen, [2]int{done, total}) }}
	if _, err := g.Select(context.Background(), y, n, d, k); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || len(seen) > 110 {
		t.Fatalf("%d progress calls, want 1..110", len(seen))
	}
	if last := seen[len(seen)-1]; last != [2]int{k, k} {
		t.Errorf("last progress %v, want [%d %d]", last, k, k)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i][0] <= seen[i-1][0] {
			t.Fatalf("progress not increasing: %v", seen)
		}
	}
}

func TestSize(t *testing.T) {
	cases := []struct {
		ratio float64
		n     int
		want  int
	}{
		{0.1, 164000, 16400}, {0.1, 784, 79}, {0.01, 10, 1}, {1, 7, 7}, {0.5, 7, 4}, {1e-9, 5, 1},
		{0, 10, 0}, {-0.1, 10, 0}, {1.5, 10, 0}, {math.NaN(), 10, 0}, {0.5, 0, 0}, {0.1, 148000, 14800},
	}
	for _, c := range cases {
		if got := Size(c.ratio, c.n); got != c.want {
			t.Errorf("Size(%g, %d) = %d, want %d", c.ratio, c.n, got, c.want)
		}
	}
}

func ExampleGreedy_Select() {
	// Eleven points on a line, at 0, 1, ..., 10 (one dimension, so no projection).
	x := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	g := Greedy{ProjDim: -1, StartPoints: len(x)}
	order, err := g.Select(context.Background(), x, len(x), 1, 5)
	if err != nil {
		panic(err)
	}
	fmt.Println(order)
	// Output: [0 10 5 2 7]
}

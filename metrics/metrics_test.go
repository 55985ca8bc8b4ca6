package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

type fixtures struct {
	AUROC []struct {
		Scores []float64 `json:"scores"`
		Labels []int     `json:"labels"`
		AUROC  float64   `json:"auroc"`
		FPR    []float64 `json:"fpr"`
		TPR    []float64 `json:"tpr"`
	} `json:"auroc"`
	AUPRO []struct {
		H, W       int
		Maps       [][]float64        `json:"maps"`
		Masks      []string           `json:"masks"`
		Regions    int                `json:"regions"`
		AUPRO      map[string]float64 `json:"aupro"`
		FPR        []float64          `json:"fpr"`
		PRO        []float64          `json:"pro"`
		PixelAUROC float64            `json:"pixel_auroc"`
	} `json:"aupro"`
}

func loadFixtures(t *testing.T) *fixtures {
	t.Helper()
	b, err := os.ReadFile("testdata/fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.AUROC) == 0 || len(f.AUPRO) == 0 {
		t.Fatal("empty fixtures")
	}
	return &f
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestAUROCFixtures(t *testing.T) {
	f := loadFixtures(t)
	for ci, c := range f.AUROC {
		scores := f32s(c.Scores)
		labels := make([]bool, len(c.Labels))
		for i, l := range c.Labels {
			labels[i] = l == 1
		}
		got, err := AUROC(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, c.AUROC, 1e-12) {
			t.Errorf("case %d: AUROC %.15f, sklearn %.15f", ci, got, c.AUROC)
		}
		fpr, tpr, err := ROC(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		if len(fpr) != len(c.FPR) {
			t.Fatalf("case %d: %d ROC points, sklearn %d", ci, len(fpr), len(c.FPR))
		}
		for i := range fpr {
			if !near(fpr[i], c.FPR[i], 1e-12) || !near(tpr[i], c.TPR[i], 1e-12) {
				t.Fatalf("case %d point %d: (%v,%v), sklearn (%v,%v)", ci, i, fpr[i], tpr[i], c.FPR[i], c.TPR[i])
			}
		}
	}
}

func TestAUROCHand(t *testing.T) {
	for _, c := range []struct {
		scores []float32
		labels []bool
		want   float64
	}{
		{[]float32{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75}, // sklearn docs
		{[]float32{1, 1, 0}, []bool{true, false, false}, 0.75},                   // a tie counts one half
		{[]float32{3, 3, 3, 3, 3}, []bool{true, false, true, false, false}, 0.5}, // all equal
		{[]float32{0, 1, 2, 3}, []bool{false, false, true, true}, 1},
		{[]float32{0, 1, 2, 3}, []bool{true, true, false, false}, 0},
		{[]float32{float32(math.Inf(-1)), -1, float32(math.Inf(1))}, []bool{false, true, true}, 1},
		{[]float32{float32(math.Copysign(0, -1)), 0}, []bool{true, false}, 0.5}, // -0 == +0
	} {
		got, err := AUROC(c.scores, c.labels)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("AUROC(%v, %v) = %v, want %v", c.scores, c.labels, got, c.want)
		}
	}
}

// TestAUROCMannWhitney checks against the O(n^2) pair count on random data.
func TestAUROCMannWhitney(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		n := 2 + r.IntN(300)
		scores := make([]float32, n)
		labels := make([]bool, n)
		for i := range n {
			scores[i] = float32(r.IntN(1 + trial*3))
			labels[i] = r.IntN(2) == 0
		}
		labels[0], labels[1] = true, false
		var wins float64
		var np, nn int
		for i := range n {
			if !labels[i] {
				nn++
				continue
			}
			np++
			for j := range n {
				if labels[j] {
					continue
				}
				switch {
				case scores[i] > scores[j]:
					wins++
				case scores[i] == scores[j]:
					wins += 0.5
				}
			}
		}
		want := wins / float64(np*nn)
		got, err := AUROC(scores, labels)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, want, 1e-15) {
			t.Errorf("trial %d: %v, pair count %v", trial, got, want)
		}
	}
}

func TestAUROCErrors(t *testing.T) {
	if _, err := AUROC([]float32{1, 2}, []bool{true}); !errors.Is(err, ErrShape) {
		t.Errorf("length mismatch: %v", err)
	}
	if _, err := AUROC([]float32{1, 2}, []bool{true, true}); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: %v", err)
	}
	if _, err := AUROC(nil, nil); !errors.Is(err, ErrOneClass) {
		t.Errorf("empty: %v", err)
	}
	if _, err := AUROC([]float32{1, float32(math.NaN())}, []bool{true, false}); !errors.Is(err, ErrNaN) {
		t.Errorf("NaN: %v", err)
	}
	if _, _, err := ROC([]float32{1, float32(math.NaN())}, []bool{true, false}); !errors.Is(err, ErrNaN) {
		t.Errorf("ROC NaN: %v", err)
	}
	if _, err := PixelAUROC([][]float32{{1, 2}}, [][]bool{{true}}); !errors.Is(err, ErrShape) {
		t.Errorf("pixel shape: %v", err)
	}
	if _, err := PixelAUROC([][]float32{{1, 2}}, [][]bool{{false, false}}); !errors.Is(err, ErrOneClass) {
		t.Errorf("pixel one class: %v", err)
	}
	if _, err := PixelAUROC([][]float32{{1, 2}, {float32(math.NaN())}}, [][]bool{{false, true}, {false}}); !errors.Is(err, ErrNaN) {
		t.Errorf("pixel NaN: %v", err)
	}
}

func fixtureImages(c struct {
	H, W       int
	Maps       [][]float64        `json:"maps"`
	Masks      []string           `json:"masks"`
	Regions    int                `json:"regions"`
	AUPRO      map[string]float64 `json:"aupro"`
	FPR        []float64          `json:"fpr"`
	PRO        []float64          `json:"pro"`
	PixelAUROC float64            `json:"pixel_auroc"`
}) (maps [][]float32, masks [][]bool, widths []int) {
	for i := range c.Maps {
		maps = append(maps, f32s(c.Maps[i]))
		m := make([]bool, len(c.Masks[i]))
		for j := range m {
			m[j] = c.Masks[i][j] == '1'
		}
		masks = append(masks, m)
		widths = append(widths, c.W)
	}
	return
}

func TestAUPROFixtures(t *testing.T) {
	f := loadFixtures(t)
	for ci, c := range f.AUPRO {
		maps, masks, widths := fixtureImages(c)
		d, err := buildPRO(maps, masks, widths)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.invSize) != c.Regions {
			t.Errorf("case %d: %d regions, scipy.ndimage.label %d", ci, len(d.invSize), c.Regions)
		}
		for ls, want := range c.AUPRO {
			limit, _ := strconv.ParseFloat(ls, 64)
			got, err := AUPRO(maps, masks, widths, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got, want, 1e-9) {
				t.Errorf("case %d limit %v: AUPRO %.12f, reference %.12f", ci, limit, got, want)
			}
		}
		pa, err := PixelAUROC(maps, masks)
		if err != nil {
			t.Fatal(err)
		}
		if !near(pa, c.PixelAUROC, 1e-12) {
			t.Errorf("case %d: PixelAUROC %.15f, sklearn %.15f", ci, pa, c.PixelAUROC)
		}
		// The whole curve: each of our points is a reference point, in order,
		// and we end at (1, 1).
		fpr, pro, err := PROCurve(maps, masks, widths, 1)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for i := range fpr {
			for k < len(c.FPR) && !(near(c.FPR[k], fpr[i], 1e-12) && near(c.PRO[k], pro[i], 1e-12)) {
				k++
			}
			if k == len(c.FPR) {
				t.Fatalf("case %d: curve point %d (%v, %v) not among the reference's", ci, i, fpr[i], pro[i])
			}
		}
		if fpr[len(fpr)-1] != 1 || pro[len(pro)-1] != 1 || fpr[0] != 0 || pro[0] != 0 {
			t.Errorf("case %d: curve from (%v,%v) to (%v,%v)", ci, fpr[0], pro[0], fpr[len(fpr)-1], pro[len(pro)-1])
		}
		// The truncated curve integrates to AUPRO * limit.
		fpr, pro, err = PROCurve(maps, masks, widths, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fpr[len(fpr)-1] != DefaultPROLimit {
			t.Errorf("case %d: truncated curve ends at FPR %v", ci, fpr[len(fpr)-1])
		}
		area := 0.0
		for i := 1; i < len(fpr); i++ {
			area += 0.5 * (pro[i] + pro[i-1]) * (fpr[i] - fpr[i-1])
		}
		if !near(area/DefaultPROLimit, c.AUPRO["0.3"], 1e-9) {
			t.Errorf("case %d: curve area/0.3 = %v, reference %v", ci, area/DefaultPROLimit, c.AUPRO["0.3"])
		}
	}
}

// anomalibCase builds the cases of anomalib's test_aupro.py: 400x7 maps of
// increasing scores (row-major 0/2800 ... 2799/2800) with defect columns.
func anomalibCase(cols ...int) ([]float32, []bool) {
	scores := make([]float32, 2800)
	mask := make([]bool, 2800)
	for i := range scores {
		scores[i] = float32(i) / 2800
		mask[i] = slices.Contains(cols, i%7)
	}
	return scores, mask
}

// TestAUPROHand: in anomalib's cases FPR and PRO both grow by 1/400 per row,
// so the curve is close to the diagonal and AUPRO(1/3) close to
// (1/18) / (1/3) = 1/6 (anomalib checks 1e-3). Exactly, pixel by pixel:
//
// One region (column 3): row k (from the top score down) adds 3 normal steps
// of 1/2400 at PRO k/400, then 3 at (k+1)/400: area 3(2k+1)/960000, so K rows
// give 3K²/960000. FPR 1/3 = 800/2400 is reached after 133 rows and 2 steps:
// (3*133² + 2*133)/960000 = 53333/960000, divided by 1/3: 53333/320000.
//
// Three regions (columns 1, 3, 5): a row has normal steps of 1/1600 at PRO
// (3k+j)/1200, j = 0..3: area (12k+6)/1920000, K rows K²/320000. FPR 1/3 =
// 533⅓/1600: 133 rows, one step at 399/1200, a third of a step at 400/1200
// (interpolated): 319999/5760000, divided by 1/3: 319999/1920000.
func TestAUPROHand(t *testing.T) {
	s1, m1 := anomalibCase(3)
	s2, m2 := anomalibCase(1, 3, 5)
	for name, c := range map[string]struct {
		maps  [][]float32
		masks [][]bool
		want  float64
		tol   float64
	}{
		"one region":    {[][]float32{s1}, [][]bool{m1}, 53333.0 / 320000, 1e-13},
		"three regions": {[][]float32{s2}, [][]bool{m2}, 319999.0 / 1920000, 1e-13},
		"both images":   {[][]float32{s1, s2}, [][]bool{m1, m2}, 1.0 / 6, 2e-6},
	} {
		w := make([]int, len(c.maps))
		for i := range w {
			w[i] = 7
		}
		got, err := AUPRO(c.maps, c.masks, w, 1.0/3)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, c.want, c.tol) || !near(got, 1.0/6, 2e-6) {
			t.Errorf("%s: AUPRO = %.15f, want %.15f", name, got, c.want)
		}
	}

	// 8-connectivity: the mask {(0,0), (1,1), (1,2)} is one region of 3
	// pixels (4-connectivity would give two, and PRO 1/2 below). Only (0,0)
	// scores 1, the 6 normal pixels 0.5, the others 0: the curve is
	// (0,0) -> (0,1/3) -> (1,1/3) -> (1,1), so AUPRO = 1/3 at any limit.
	maps := [][]float32{{1, 0.5, 0.5, 0.5, 0, 0, 0.5, 0.5, 0.5}}
	masks := [][]bool{{true, false, false, false, true, true, false, false, false}}
	for _, limit := range []float64{0, 0.1, 1} {
		got, err := AUPRO(maps, masks, []int{3}, limit)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got, 1.0/3, 1e-15) {
			t.Errorf("8-connectivity, limit %v: AUPRO = %v, want 1/3", limit, got)
		}
	}

	// All scores equal: one point (1,1); the segment from (0,0) is the
	// diagonal, so AUPRO(limit) = limit/2.
	eq := [][]float32{{2, 2, 2, 2}}
	em := [][]bool{{true, false, true, false}}
	got, err := AUPRO(eq, em, []int{2}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got, 0.15, 1e-15) {
		t.Errorf("all equal: %v, want 0.15", got)
	}
	fpr, pro, err := PROCurve(eq, em, []int{2}, 1)
	if err != nil || !slices.Equal(fpr, []float64{0, 1}) || !slices.Equal(pro, []float64{0, 1}) {
		t.Errorf("all equal curve: %v %v %v", fpr, pro, err)
	}
}

// TestAUPROSplit: cutting an image between two rows that no region crosses
// changes nothing (regions, normal pixels and scores are the same), which
// checks images of different sizes and region numbering across images.
func TestAUPROSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const w, h, cut = 13, 20, 8
	scores := make([]float32, w*h)
	mask := make([]bool, w*h)
	for i := range scores {
		y := i / w
		scores[i] = float32(r.IntN(40)) / 40
		mask[i] = y != cut-1 && y != cut && r.IntN(4) == 0
		if mask[i] {
			scores[i] += 0.3
		}
	}
	whole, err := AUPRO([][]float32{scores}, [][]bool{mask}, []int{w}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	split, err := AUPRO([][]float32{scores[:cut*w], scores[cut*w:]}, [][]bool{mask[:cut*w], mask[cut*w:]}, []int{w, w}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if !near(whole, split, 1e-12) {
		t.Errorf("whole %v, split %v", whole, split)
	}
	// Transposing both map and mask changes nothing either (8-connectivity
	// is symmetric), and exercises a different width.
	ts := make([]float32, w*h)
	tm := make([]bool, w*h)
	for y := range h {
		for x := range w {
			ts[x*h+y], tm[x*h+y] = scores[y*w+x], mask[y*w+x]
		}
	}
	tr, err := AUPRO([][]float32{ts}, [][]bool{tm}, []int{h}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if !near(whole, tr, 1e-12) {
		t.Errorf("whole %v, transposed %v", whole, tr)
	}
}

func TestAUPROErrors(t *testing.T) {
	m := [][]float32{{1, 2, 3, 4}}
	for name, c := range map[string]struct {
		maps   [][]float32
		masks  [][]bool
		widths []int
		limit  float64
		want   error
	}{
		"no regions":      {m, [][]bool{{false, false, false, false}}, []int{2}, 0, ErrNoRegions},
		"no normal":       {m, [][]bool{{true, true, true, true}}, []int{2}, 0, ErrNoNormal},
		"width":           {m, [][]bool{{true, false, false, false}}, []int{3}, 0, ErrShape},
		"zero width":      {m, [][]bool{{true, false, false, false}}, []int{0}, 0, ErrShape},
		"widths count":    {m, [][]bool{{true, false, false, false}}, nil, 0, ErrShape},
		"mask length":     {m, [][]bool{{true, false}}, []int{2}, 0, ErrShape},
		"limit negative":  {m, [][]bool{{true, false, false, false}}, []int{2}, -0.1, ErrLimit},
		"limit above one": {m, [][]bool{{true, false, false, false}}, []int{2}, 1.5, ErrLimit},
		"limit NaN":       {m, [][]bool{{true, false, false, false}}, []int{2}, math.NaN(), ErrLimit},
		"NaN":             {[][]float32{{1, float32(math.NaN()), 3, 4}}, [][]bool{{true, false, false, false}}, []int{2}, 0, ErrNaN},
	} {
		if _, err := AUPRO(c.maps, c.masks, c.widths, c.limit); !errors.Is(err, c.want) {
			t.Errorf("%s: AUPRO error %v, want %v", name, err, c.want)
		}
		if _, _, err := PROCurve(c.maps, c.masks, c.widths, c.limit); !errors.Is(err, c.want) {
			t.Errorf("%s: PROCurve error %v, want %v", name, err, c.want)
		}
	}
}

func TestRadixSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 100000} {
		for _, spread := range []uint32{1, 300, 1 << 20, math.MaxUint32} {
			a := make([]uint32, n)
			for i := range a {
				a[i] = r.Uint32() % spread
			}
			want := slices.Clone(a)
			slices.Sort(want)
			sortU32(a)
			if !slices.Equal(a, want) {
				t.Fatalf("sortU32 n=%d spread=%d wrong", n, spread)
			}
			b := make([]uint64, n)
			for i := range b {
				b[i] = uint64(r.Uint32()%spread)<<32 | uint64(r.Uint32())
			}
			sortU64High(b)
			if !slices.IsSortedFunc(b, func(x, y uint64) int { return int(x>>32) - int(y>>32) }) {
				t.Fatalf("sortU64High n=%d spread=%d not sorted", n, spread)
			}
		}
	}
}

func TestKeyOrder(t *testing.T) {
	v := []float32{float32(math.Inf(-1)), -math.MaxFloat32, -1, -1e-40, 0, 1e-40, 1, math.MaxFloat32, float32(math.Inf(1))}
	for i := 1; i < len(v); i++ {
		a, _ := key(v[i-1])
		b, _ := key(v[i])
		if a >= b {
			t.Errorf("key(%v) >= key(%v)", v[i-1], v[i])
		}
	}
	z, _ := key(0)
	nz, _ := key(float32(math.Copysign(0, -1)))
	if z != nz {
		t.Error("-0 and +0 differ")
	}
}

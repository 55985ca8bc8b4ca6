package neighborhood

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestOffsets(t *testing.T) {
	got := offsets(3)
	want := [][2]int{{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 1}, {1, -1}, {1, 0}, {1, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("offsets(3) = %v, want %v", got, want)
	}
	if n := len(offsets(5)); n != 24 {
		t.Fatalf("len(offsets(5)) = %d, want 24", n)
	}
	if n := len(offsets(9)); n != 80 {
		t.Fatalf("len(offsets(9)) = %d, want 80", n)
	}
}

// TestAssemble builds two 3×4 images with R=2 whose values encode
// (image, y, x, channel) and checks a hand-written neighbourhood.
func TestAssemble(t *testing.T) {
	const n, h, w, r = 2, 3, 4, 2
	grid := make([]float32, n*h*w*r)
	for img := 0; img < n; img++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < r; c++ {
					grid[((img*h+y)*w+x)*r+c] = float32(1000*img + 100*(y+1) + 10*(x+1) + c + 1)
				}
			}
		}
	}
	offs := offsets(3)
	// Image 1, position (0, 3): top-right corner.
	rows := []int32{int32(1*h*w + 0*w + 3), int32(0*h*w + 1*w + 1)}
	out := make([]float32, len(rows)*8*r)
	assemble(grid, h, w, r, offs, nil, nil, rows, out)
	want0 := []float32{
		0, 0, 0, 0, 0, 0, // row above: outside
		1131, 1132, 0, 0, // left (0,2); right outside
		1231, 1232, 1241, 1242, 0, 0, // below-left (1,2), below (1,3), below-right outside
	}
	if !slices.Equal(out[:16], want0) {
		t.Errorf("corner of image 1:\n got %v\nwant %v", out[:16], want0)
	}
	want1 := []float32{111, 112, 121, 122, 131, 132, 211, 212, 231, 232, 311, 312, 321, 322, 331, 332}
	if !slices.Equal(out[16:], want1) {
		t.Errorf("interior of image 0:\n got %v\nwant %v", out[16:], want1)
	}
	// Standardisation applies inside the grid only.
	mean, scale := []float32{1, 2}, []float32{2, 0.5}
	assemble(grid, h, w, r, offs, mean, scale, rows[:1], out[:16])
	want := []float32{0, 0, 0, 0, 0, 0, (1131 - 1) * 2, (1132 - 2) * 0.5, 0, 0, (1231 - 1) * 2, (1232 - 2) * 0.5, (1241 - 1) * 2, (1242 - 2) * 0.5, 0, 0}
	if !slices.Equal(out[:16], want) {
		t.Errorf("standardised corner:\n got %v\nwant %v", out[:16], want)
	}
}

// synth builds a learnable problem: every position has a random label in
// [0,k) whose reduced feature is a noisy one-hot; the centre's class is
// (label(left) + label(up)) mod k, with a missing neighbour counting as 0.
// It needs the interaction of two neighbours, so a linear model cannot fit it.
func synth(n, h, w, k int, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	r := k
	labels := make([]int, n*h*w)
	grid := make([]float32, n*h*w*r)
	for i := range labels {
		labels[i] = rng.IntN(k)
		for c := 0; c < r; c++ {
			grid[i*r+c] = float32(rng.NormFloat64() * 0.1)
		}
		grid[i*r+labels[i]] += 1
	}
	targets := make([]int32, n*h*w)
	for img := 0; img < n; img++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				a, b := 0, 0
				if x > 0 {
					a = labels[(img*h+y)*w+x-1]
				}
				if y > 0 {
					b = labels[(img*h+y-1)*w+x]
				}
				targets[(img*h+y)*w+x] = int32((a + b) % k)
			}
		}
	}
	return grid, targets
}

func TestTrainLearnsSynthetic(t *testing.T) {
	const n, h, w, k = 60, 8, 8, 4
	grid, targets := synth(n, h, w, k, 1)
	var epochs []Epoch
	m, err := Train(context.Background(), nil, grid, n, h, w, targets, k, Config{
		Window: 3, Hidden: []int{64}, Epochs: 40, BatchSize: 64, LR: 3e-3, Patience: 5, Seed: 3,
		Progress: func(e Epoch) { epochs = append(epochs, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(epochs) != len(m.report.Epochs) || len(epochs) == 0 {
		t.Fatalf("progress saw %d epochs, report has %d", len(epochs), len(m.report.Epochs))
	}
	last := m.report.Epochs[len(m.report.Epochs)-1]
	t.Logf("%d epochs, last %+v, best val top-1 %.3f", len(epochs), last, m.report.BestValTop1)
	if m.report.BestValTop1 < 0.95 {
		t.Errorf("best validation top-1 %.3f, want >= 0.95", m.report.BestValTop1)
	}
	if first := m.report.Epochs[0]; !(last.TrainLoss < first.TrainLoss/3) {
		t.Errorf("training loss %v -> %v: did not fall", first.TrainLoss, last.TrainLoss)
	}
	// A fresh image, never seen: predictions match the rule.
	g2, t2 := synth(1, h, w, k, 99)
	p, err := m.PredictReduced(g2, h, w)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := 0; i < h*w; i++ {
		row := p[i*k : (i+1)*k]
		var s float32
		for _, v := range row {
			s += v
		}
		if math.Abs(float64(s-1)) > 1e-5 {
			t.Fatalf("row %d sums to %v", i, s)
		}
		if int32(argmax(row)) == t2[i] {
			correct++
		}
	}
	if acc := float64(correct) / float64(h*w); acc < 0.9 {
		t.Errorf("accuracy on a new image %.3f, want >= 0.9", acc)
	}
}

func argmax(x []float32) int {
	bi := 0
	for i, v := range x {
		if v > x[bi] {
			bi = i
		}
	}
	return bi
}

func TestTrainDeterministic(t *testing.T) {
	const n, h, w, k = 10, 6, 6, 4
	grid, targets := synth(n, h, w, k, 2)
	cfg := Config{Window: 3, Hidden: []int{16, 8}, Epochs: 3, BatchSize: 32, Seed: 11}
	a, err := Train(context.Background(), nil, grid, n, h, w, targets, k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), nil, grid, n, h, w, targets, k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for l := range a.layers {
		if !slices.Equal(a.layers[l].W, b.layers[l].W) || !slices.Equal(a.layers[l].B, b.layers[l].B) {
			t.Fatalf("layer %d differs between two runs with the same seed", l)
		}
	}
	if !slices.Equal(a.report.ValImages, b.report.ValImages) {
		t.Fatalf("validation images differ: %v vs %v", a.report.ValImages, b.report.ValImages)
	}
	cfg.Seed = 12
	c, err := Train(context.Background(), nil, grid, n, h, w, targets, k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.layers[0].W, c.layers[0].W) {
		t.Fatal("a different seed gave identical weights")
	}
}

// TestValidationSplitByImage makes the validation images' targets impossible
// to learn from training images: if any validation position leaked into
// training, or the split were by position, the held-out set would be a mix.
func TestValidationSplitByImage(t *testing.T) {
	const h, w, k = 4, 4, 3
	for _, tc := range []struct {
		n    int
		frac float64
		want int
	}{{2, 0, 1}, {10, 0, 1}, {30, 0, 3}, {30, 0.5, 15}, {7, 0.99, 6}, {1, 0, 0}, {10, -1, 0}} {
		grid, targets := synth(tc.n, h, w, k, 5)
		m, err := Train(context.Background(), nil, grid, tc.n, h, w, targets, k,
			Config{Window: 3, Hidden: []int{4}, Epochs: 1, ValFraction: tc.frac, Seed: int64(tc.n)})
		if err != nil {
			t.Fatal(err)
		}
		v := m.report.ValImages
		if len(v) != tc.want {
			t.Errorf("n=%d frac=%v: %d validation images %v, want %d", tc.n, tc.frac, len(v), v, tc.want)
		}
		if !slices.IsSorted(v) || len(slices.Compact(slices.Clone(v))) != len(v) {
			t.Errorf("validation images %v not sorted and unique", v)
		}
		for _, i := range v {
			if i < 0 || i >= tc.n {
				t.Errorf("validation image %d out of range", i)
			}
		}
		if tc.want == 0 && !math.IsNaN(m.report.Epochs[0].ValLoss) {
			t.Errorf("n=%d: no validation expected, got ValLoss %v", tc.n, m.report.Epochs[0].ValLoss)
		}
	}
	// The rows: every position exactly once, validation rows exactly the
	// positions of the validation images.
	for _, n := range []int{1, 2, 5, 37} {
		const hw = 6
		vi, tr, va := splitByImage(rand.New(rand.NewPCG(uint64(n), 1)), n, hw, 0.3)
		seen := make([]int, n*hw)
		for _, k := range tr {
			seen[k]++
			if slices.Contains(vi, int(k)/hw) {
				t.Errorf("n=%d: training row %d belongs to validation image %d", n, k, int(k)/hw)
			}
		}
		for _, k := range va {
			seen[k]++
			if !slices.Contains(vi, int(k)/hw) {
				t.Errorf("n=%d: validation row %d belongs to training image %d", n, k, int(k)/hw)
			}
		}
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: row %d used %d times", n, k, c)
			}
		}
		if len(va) != len(vi)*hw {
			t.Errorf("n=%d: %d validation rows for %d images", n, len(va), len(vi))
		}
	}
}

func TestTrainErrors(t *testing.T) {
	const n, h, w, k = 3, 4, 4, 3
	grid, targets := synth(n, h, w, k, 1)
	ctx := context.Background()
	red := mustReducer(t, 5, k, 1)
	bad := slices.Clone(targets)
	bad[7] = k
	neg := slices.Clone(targets)
	neg[0] = -1
	nan := slices.Clone(grid)
	nan[3] = float32(math.NaN())
	cases := []struct {
		name string
		run  func() error
	}{
		{"n=0", func() error { _, err := Train(ctx, nil, grid, 0, h, w, targets, k, Config{}); return err }},
		{"h<0", func() error { _, err := Train(ctx, nil, grid, n, -1, w, targets, k, Config{}); return err }},
		{"short grid", func() error { _, err := Train(ctx, nil, grid[:len(grid)-1], n, h, w, targets, k, Config{}); return err }},
		{"grid vs reducer", func() error {
			_, err := Train(ctx, mustReducer(t, 5, 7, 1), grid, n, h, w, targets, k, Config{})
			return err
		}},
		{"bad reducer", func() error {
			_, err := Train(ctx, &Reducer{d: 5, r: k, w: make([]float32, 3)}, grid, n, h, w, targets, k, Config{})
			return err
		}},
		{"short targets", func() error { _, err := Train(ctx, red, grid, n, h, w, targets[1:], k, Config{}); return err }},
		{"target too big", func() error { _, err := Train(ctx, red, grid, n, h, w, bad, k, Config{}); return err }},
		{"target negative", func() error { _, err := Train(ctx, red, grid, n, h, w, neg, k, Config{}); return err }},
		{"classes=0", func() error { _, err := Train(ctx, nil, grid, n, h, w, targets, 0, Config{}); return err }},
		{"NaN features", func() error { _, err := Train(ctx, nil, nan, n, h, w, targets, k, Config{}); return err }},
		{"even window", func() error { _, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{Window: 4}); return err }},
		{"window 1", func() error { _, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{Window: 1}); return err }},
		{"hidden 0", func() error {
			_, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{Hidden: []int{3, 0}})
			return err
		}},
		{"negative LR", func() error { _, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{LR: -1}); return err }},
		{"ValFraction 1", func() error { _, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{ValFraction: 1}); return err }},
		{"negative T", func() error {
			_, err := Train(ctx, nil, grid, n, h, w, targets, k, Config{Temperature: -2})
			return err
		}},
	}
	for _, c := range cases {
		err := c.run()
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: got %v, want an ErrInvalidArgument error", c.name, err)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Train(cctx, nil, grid, n, h, w, targets, k, Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: got %v", err)
	}
	// Cancel from the progress callback: the next batch must notice.
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	calls := 0
	_, err := Train(cctx, nil, grid, n, h, w, targets, k, Config{Epochs: 5, Window: 3, Progress: func(Epoch) { calls++; cancel() }})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("cancelled in epoch 1: got %v after %d epochs", err, calls)
	}
}

func TestSingleClassSkipped(t *testing.T) {
	const n, h, w = 3, 4, 4
	grid, _ := synth(n, h, w, 2, 1)
	m, err := Train(context.Background(), nil, grid, n, h, w, make([]int32, n*h*w), 1, Config{Window: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !m.report.Skipped || m.report.Reason == "" {
		t.Fatalf("report %+v: want Skipped with a reason", m.report)
	}
	p, err := m.PredictReduced(grid[:h*w*2], h, w)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range p {
		if v != 1 {
			t.Fatalf("p[%d] = %v, want 1", i, v)
		}
	}
}

// TestPredictMatchesReference checks Predict against an independent float64
// forward pass over hand-assembled inputs, with the temperature applied, and
// Predict(feats) against PredictReduced(Reducer.Apply(feats)); it also runs
// concurrent predictions.
func TestPredictMatchesReference(t *testing.T) {
	const n, h, w, d, r, k = 4, 5, 6, 10, 3, 5
	feats, grid, m, err := trainRandom(n, h, w, d, r, k, 3, 9, Config{Window: 3, Hidden: []int{7, 6}, Epochs: 2, Temperature: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	img := feats[:h*w*d]
	got, err := m.Predict(img, h, w)
	if err != nil {
		t.Fatal(err)
	}
	gotR, err := m.PredictReduced(grid[:h*w*r], h, w)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, gotR) {
		t.Fatal("Predict and PredictReduced differ")
	}
	// Reference: assemble by hand in float64.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var in []float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if dy == 0 && dx == 0 {
						continue
					}
					yy, xx := y+dy, x+dx
					for c := 0; c < r; c++ {
						v := 0.0
						if yy >= 0 && yy < h && xx >= 0 && xx < w {
							v = (float64(grid[(yy*w+xx)*r+c]) - float64(m.inMean[c])) * float64(m.inScale[c])
						}
						in = append(in, v)
					}
				}
			}
			for l, ly := range m.layers {
				out := make([]float64, ly.Out)
				for j := range out {
					s := float64(ly.B[j])
					for i := range in {
						s += in[i] * float64(ly.W[i*ly.Out+j])
					}
					if l < len(m.layers)-1 {
						s = math.Max(s, 0)
					}
					out[j] = s
				}
				in = out
			}
			var z float64
			for _, v := range in {
				z += math.Exp(v / 1.5)
			}
			for c := 0; c < k; c++ {
				want := math.Exp(in[c]/1.5) / z
				if g := got[(y*w+x)*k+c]; math.Abs(float64(g)-want) > 1e-5 {
					t.Fatalf("(%d,%d) class %d: got %v, want %v", y, x, c, g, want)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := m.Predict(img, h, w)
			if err != nil || !slices.Equal(p, got) {
				t.Errorf("concurrent Predict differs (err %v)", err)
			}
		}()
	}
	wg.Wait()
	// Errors.
	if _, err := m.Predict(img[1:], h, w); err == nil {
		t.Error("short feats accepted")
	}
	if _, err := m.PredictReduced(grid[:h*w*r], h, w+1); err == nil {
		t.Error("wrong shape accepted")
	}
	m2 := &Model{window: 3, temperature: 1, classes: k, layers: []dense{{In: 8 * r, Out: k, W: make([]float32, 8*r*k-1), B: make([]float32, k)}}}
	if _, err := m2.PredictReduced(grid[:h*w*r], h, w); err == nil {
		t.Error("inconsistent layer accepted")
	}
	if _, err := m2.Predict(img, h, w); err == nil {
		t.Error("Predict without Reducer accepted")
	}
}

func mustReducer(t testing.TB, d, r int, seed int64) *Reducer {
	t.Helper()
	red, err := NewReducer(d, r, seed)
	if err != nil {
		t.Fatal(err)
	}
	return red
}

// TestModelBinaryRoundTrip checks that a trained model survives
// MarshalBinary / UnmarshalBinary bit for bit (same bytes, same
// predictions), and that damaged encodings are refused.
func TestModelBinaryRoundTrip(t *testing.T) {
	const n, h, w, d, r, k = 3, 4, 5, 6, 3, 4
	feats, _, m, err := trainRandom(n, h, w, d, r, k, 5, 2, Config{Window: 3, Hidden: []int{5}, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Model
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	again, err := got.MarshalBinary()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("Marshal(Unmarshal(b)) != b (%v)", err)
	}
	p1, _ := m.Predict(feats[:h*w*d], h, w)
	p2, err := got.Predict(feats[:h*w*d], h, w)
	if err != nil || !slices.Equal(p1, p2) {
		t.Errorf("decoded model predicts differently (%v)", err)
	}
	if got.Window() != 3 || got.Classes() != k || got.FeatureDim() != d {
		t.Errorf("accessors: window %d classes %d dim %d", got.Window(), got.Classes(), got.FeatureDim())
	}
	for cut := 0; cut < len(data); cut += 13 {
		var x Model
		if err := x.UnmarshalBinary(data[:cut]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", cut)
		}
	}
	// A layer whose width no longer chains is refused by Validate.
	bad := *m
	bad.layers = slices.Clone(m.layers)
	bad.layers[0].Out++
	if err := bad.Validate(); err == nil {
		t.Error("inconsistent layers accepted")
	}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("MarshalBinary of an invalid model succeeded")
	}
}

// trainRandom trains a model on n random h x w x d feature grids (seeded by
// dataSeed), reduced to r dims (reducer seeded by redSeed), with random
// targets among k classes; it returns the features, the reduced grid and
// the model.
func trainRandom(n, h, w, d, r, k int, dataSeed uint64, redSeed int64, cfg Config) ([]float32, []float32, *Model, error) {
	rng := rand.New(rand.NewPCG(dataSeed, dataSeed))
	feats := make([]float32, n*h*w*d)
	for i := range feats {
		feats[i] = float32(rng.NormFloat64())
	}
	red, err := NewReducer(d, r, redSeed)
	if err != nil {
		return nil, nil, nil, err
	}
	grid := make([]float32, n*h*w*r)
	red.Apply(feats, n*h*w, grid)
	targets := make([]int32, n*h*w)
	for i := range targets {
		targets[i] = int32(rng.IntN(k))
	}
	m, err := Train(context.Background(), red, grid, n, h, w, targets, k, cfg)
	return feats, grid, m, err
}

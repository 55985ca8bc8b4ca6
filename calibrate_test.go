package pni

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/x/pni/backbone"
	"github.com/x/pni/refine"
)

// TestCalibrationKnownQuantiles checks the image threshold on synthetic
// good scores with known distributions: a hand-computed two-image case, a
// large log-normal sample whose threshold must sit at the true quantile,
// and the false-reject rate of fresh samples at every seed.
func TestCalibrationKnownQuantiles(t *testing.T) {
	// Two images, ln scores 0 and 1: mean 0.5, sd 1/sqrt(2); Student's t with
	// 1 degree of freedom at 0.99 is tan(pi*(0.99-0.5)) = 31.820516.
	c, err := newCalibration("test", []float64{1, math.E}, []float64{0.3, 1}, 0.01, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.5 + math.Tan(math.Pi*0.49)*math.Sqrt(0.5)*math.Sqrt(1.5)
	if math.Abs(c.imageT-want) > 1e-9 {
		t.Errorf("two images: ln threshold %v, want %v", c.imageT, want)
	}
	if c.pixelT != c.imageT {
		t.Errorf("pixel threshold: ln %v, want the image threshold %v", c.pixelT, c.imageT)
	}
	// Large log-normal sample, mu 1, sigma 0.2: the threshold tends to the
	// true 99% quantile exp(1 + 2.3263*0.2).
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make([]float64, 20000)
	for i := range scores {
		scores[i] = math.Exp(1 + 0.2*rng.NormFloat64())
	}
	c, err = newCalibration("test", scores, scores[:100], 0.01, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if q := 1 + 2.326348*0.2; math.Abs(c.imageT-q) > 0.01 {
		t.Errorf("log-normal: ln threshold %v, want about %v", c.imageT, q)
	}
	// The prediction interval holds its rate with few images: over many
	// draws of 12 calibration images and a fresh good part each, the part is
	// flagged at about the target rate.
	for _, frr := range []float64{0.01, 0.05} {
		flagged, trials := 0, 20000
		for k := 0; k < trials; k++ {
			s := make([]float64, 12)
			for i := range s {
				s[i] = math.Exp(0.3 * rng.NormFloat64())
			}
			c, err := newCalibration("test", s, s, frr, 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if 0.3*rng.NormFloat64() > c.imageT {
				flagged++
			}
		}
		rate := float64(flagged) / float64(trials)
		if se := math.Sqrt(frr * (1 - frr) / float64(trials)); math.Abs(rate-frr) > 4*se {
			t.Errorf("12 images, target %v: fresh good parts flagged at %v", frr, rate)
		}
	}
	// Bad inputs.
	if _, err := newCalibration("test", []float64{1}, nil, 0.01, 0, 0, false); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("one image: %v", err)
	}
	// Scores of zero (parts identical to training images) are floored at
	// 5% of the largest, so they cannot blow the spread up.
	c, err = newCalibration("test", []float64{0, 0, 0, 1, 1.2, 1.1}, []float64{0}, 0.01, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.floor != 0.05*1.2 || c.spread > 2 {
		t.Errorf("floor %v spread %v", c.floor, c.spread)
	}
}

// TestNormalizedScale checks the normalised score: 0.5 exactly at the image
// threshold, monotone, in (0, 1), and the decision at the threshold.
func TestNormalizedScale(t *testing.T) {
	c, err := newCalibration("test", []float64{0.7, 1.1, 1.2, 1.5}, []float64{0.1, 0.3}, 0.05, 0, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	th := float32(math.Exp(c.imageT))
	if v := c.normalize(th); math.Abs(float64(v)-0.5) > 1e-6 {
		t.Errorf("normalize(threshold) = %v, want 0.5", v)
	}
	prev := float32(0)
	for _, s := range []float32{0, 1e-9, 0.01, 0.1, 0.5, 1, th * 0.99, th, th * 1.01, 10, 1e6} {
		v := c.normalize(s)
		if v < prev || v < 0 || v > 1 {
			t.Errorf("normalize(%v) = %v after %v: not monotone in [0, 1]", s, v, prev)
		}
		prev = v
	}
	for _, tc := range []struct {
		score float32
		want  bool
	}{{th * 0.999, false}, {th * 1.001, true}} {
		r := &Result{Score: tc.score, Original: []float32{tc.score}, OrigW: 1, OrigH: 1}
		c.decide(r)
		if r.Anomalous != tc.want || (r.Normalized > 0.5) != tc.want || (len(r.Regions) > 0) != tc.want {
			t.Errorf("score %v (threshold %v): anomalous %v, normalized %v, %d regions", tc.score, th, r.Anomalous, r.Normalized, len(r.Regions))
		}
	}
}

// TestThresholdOverrides checks WithThresholds' semantics in the calibration.
func TestThresholdOverrides(t *testing.T) {
	c, err := newCalibration("test", []float64{1, 1.1, 1.2}, []float64{0}, 0.01, 5, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	ci := c.info()
	if math.Abs(ci.ImageThreshold-5) > 1e-9 || math.Abs(ci.PixelThreshold-2) > 1e-9 || !ci.Explicit {
		t.Errorf("explicit thresholds: %+v", ci)
	}
	// An estimated pixel threshold above an explicit image threshold is capped at it.
	c, _ = newCalibration("test", []float64{2, 3, 4}, []float64{0}, 0.01, 1.5, 0, false)
	if ci := c.info(); math.Abs(ci.PixelThreshold-1.5) > 1e-9 {
		t.Errorf("pixel threshold %v, want capped at 1.5", ci.PixelThreshold)
	}
}

func grid(rows ...string) ([]float32, int, int) {
	var v []float32
	for _, r := range rows {
		for _, ch := range r {
			switch ch {
			case '#':
				v = append(v, 0.9)
			case '+':
				v = append(v, 0.3) // above the pixel level 0.2, below 0.5
			default:
				v = append(v, 0.05)
			}
		}
	}
	return v, len(rows[0]), len(rows)
}

// TestRegions checks regions on hand-drawn normalised maps (pixel level 0.2).
func TestRegions(t *testing.T) {
	// Two regions: a diagonal chain touching at corners (one region, 8-connected)
	// with a '+' shoulder, and a one-pixel region; a '+'-only blob (peak
	// below 0.5) is not a region.
	m, w, h := grid(
		"#.....",
		".#..++",
		".+#...",
		"......",
		"....#.",
	)
	rs, mask := regions(m, w, h, 0.2, true)
	if len(rs) != 2 {
		t.Fatalf("%d regions %+v, want 2", len(rs), rs)
	}
	if rs[0].Bounds != image.Rect(0, 0, 3, 3) || rs[0].Area != 4 || rs[0].Peak != 0.9 {
		t.Errorf("chain region %+v", rs[0])
	}
	if want := float32((0.9*3 + 0.3) / 4); math.Abs(float64(rs[0].Mean-want)) > 1e-6 {
		t.Errorf("chain mean %v, want %v", rs[0].Mean, want)
	}
	if rs[1].Bounds != image.Rect(4, 4, 5, 5) || rs[1].Area != 1 {
		t.Errorf("one-pixel region %+v", rs[1])
	}
	// The mask holds the regions' pixels, not the sub-threshold '+' blob's.
	wantMask := []int{0, 7, 13, 14, 28}
	n := 0
	for p, v := range mask {
		if v {
			if n >= len(wantMask) || p != wantMask[n] {
				t.Errorf("mask pixel %d set", p)
			}
			n++
		}
	}
	if n != len(wantMask) {
		t.Errorf("mask has %d pixels, want %d", n, len(wantMask))
	}
	// Sorted by peak: a brighter small region comes first.
	m2, w2, h2 := grid("#..#", "#...")
	m2[3] = 0.95
	rs, _ = regions(m2, w2, h2, 0.2, false)
	if len(rs) != 2 || rs[0].Peak != 0.95 || rs[1].Area != 2 {
		t.Errorf("order: %+v", rs)
	}
	// All above: one region covering the map; all below: none.
	all, w3, h3 := grid("###", "###")
	if rs, _ := regions(all, w3, h3, 0.2, false); len(rs) != 1 || rs[0].Area != 6 || rs[0].Bounds != image.Rect(0, 0, 3, 2) {
		t.Errorf("all above: %+v", rs)
	}
	none, w4, h4 := grid("...", "...")
	if rs, _ := regions(none, w4, h4, 0.2, false); rs != nil {
		t.Errorf("all below: %+v", rs)
	}
}

// TestFitCalibrates checks that Fit calibrates by leave-one-image-out, that
// the calibration survives a save/load bit for bit, that Calibrate and
// SetFalseRejectRate re-derive it, and that concurrent Score and
// Calibrate are safe.
func TestFitCalibrates(t *testing.T) {
	// 16 good parts, four of each stripe phase with a little noise of their
	// own: every part has look-alikes among the others, as on a line.
	train := make([]image.Image, 16)
	for i := range train {
		train[i] = noisy(texture(i%4, false), uint64(i))
	}
	ctx := context.Background()
	m, err := Fit(ctx, train, tinyOpts(WithNeighborhood(false))...)
	if err != nil {
		t.Fatal(err)
	}
	ci := m.Calibration()
	if ci.Method != "leave-one-image-out" || ci.Images != 16 || ci.FalseRejectRate != DefaultFalseRejectRate || !m.Info().Calibrated {
		t.Fatalf("calibration %+v", ci)
	}
	good, err := m.Score(ctx, noisy(texture(2, false), 99))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := m.Score(ctx, noisy(texture(2, true), 99))
	if err != nil {
		t.Fatal(err)
	}
	if good.Anomalous || !bad.Anomalous || len(bad.Regions) == 0 || len(good.Regions) != 0 {
		t.Errorf("good: anomalous %v, %d regions (%v); defect: anomalous %v, %d regions (%v); thresholds %+v",
			good.Anomalous, len(good.Regions), good.Normalized, bad.Anomalous, len(bad.Regions), bad.Normalized, ci)
	}
	// The defect square is at (40..52, 16..28) of the 64x64 image.
	if len(bad.Regions) > 0 && !bad.Regions[0].Bounds.Overlaps(image.Rect(40, 16, 52, 28)) {
		t.Errorf("top region %v misses the defect", bad.Regions[0].Bounds)
	}
	var a, b bytes.Buffer
	m.Save(&a)
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m2.Save(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("calibrated model: Save(Load(Save(m))) differs")
	}
	r2, _ := m2.Score(ctx, noisy(texture(2, true), 99))
	if r2.Normalized != bad.Normalized || r2.Anomalous != bad.Anomalous || len(r2.Regions) != len(bad.Regions) {
		t.Error("the loaded model decides differently")
	}

	if err := m.SetFalseRejectRate(0.2); err != nil {
		t.Fatal(err)
	}
	if c := m.Calibration(); !(c.ImageThreshold < ci.ImageThreshold) || c.FalseRejectRate != 0.2 {
		t.Errorf("a higher false-reject rate must lower the threshold: %v -> %v", ci.ImageThreshold, c.ImageThreshold)
	}
	if err := m.SetFalseRejectRate(0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetFalseRejectRate(0): %v", err)
	}

	// Calibrate on unseen good images while other goroutines score.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				if _, err := m.Score(ctx, texture(g%4, true)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	fresh := []image.Image{noisy(texture(0, false), 50), noisy(texture(1, false), 51), noisy(texture(2, false), 52), noisy(texture(3, false), 53)}
	if err := m.Calibrate(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if c := m.Calibration(); c.Method != "good images" || c.Images != 4 || c.FalseRejectRate != 0.2 {
		t.Errorf("after Calibrate: %+v", c)
	}
	if err := m.Calibrate(ctx, fresh[:1]); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Calibrate with one image: %v", err)
	}

	// One training image: no calibration, no decision.
	one, err := Fit(ctx, normals(1), tinyOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if one.Info().Calibrated {
		t.Error("a one-image model claims a calibration")
	}
	if r, _ := one.Score(ctx, texture(3, true)); r.Anomalous || r.NormMap != nil {
		t.Error("an uncalibrated model decided")
	}
}

// TestWithThresholds checks that explicit thresholds decide.
func TestWithThresholds(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(false), WithThresholds(1e9, 0))
	if r, _ := m.Score(context.Background(), texture(3, true)); r.Anomalous {
		t.Error("a threshold of 1e9 flagged a part")
	}
	if _, err := Fit(context.Background(), normals(2), WithThresholds(1, 2)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("pixel above image threshold: %v", err)
	}
}

// noisy returns a copy of img with a seeded +-8 jitter on every channel.
func noisy(img image.Image, seed uint64) image.Image {
	src := img.(*image.RGBA)
	out := image.NewRGBA(src.Rect)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i, v := range src.Pix {
		if i%4 == 3 {
			out.Pix[i] = v
			continue
		}
		out.Pix[i] = uint8(min(max(int(v)+rng.IntN(17)-8, 0), 255))
	}
	return out
}

// TestEnsemble fits a two-member ensemble (one backbone at two sizes) and
// checks that it decides, combines its members' standardised maps, saves
// and loads bit for bit, and that a member alone is a plain model.
func TestEnsemble(t *testing.T) {
	train := make([]image.Image, 12)
	for i := range train {
		train[i] = noisy(texture(i%4, false), uint64(i))
	}
	ctx := context.Background()
	opts := []Option{WithMembers(Member{Backbone: tinyBackbone}, Member{Backbone: tinyBackbone, Size: 96}),
		WithResize(64, 64), WithEmbedDim(12), WithCoresetRatio(0.5), WithBlurSigma(1), WithSeed(1), WithNeighborhood(false)}
	m, err := Fit(ctx, train, opts...)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if len(info.Members) != 2 || info.Members[1].InputW != 96 || info.Members[1].GridW != 12 || m.ref != 1 {
		t.Fatalf("members %+v, reference %d", info.Members, m.ref)
	}
	if c := m.Calibration(); c.Method != "leave-one-image-out" || c.Images != 12 {
		t.Fatalf("calibration %+v", c)
	}
	bad, err := m.Score(ctx, noisy(texture(2, true), 99))
	if err != nil {
		t.Fatal(err)
	}
	good, err := m.Score(ctx, noisy(texture(2, false), 99))
	if err != nil {
		t.Fatal(err)
	}
	if !(bad.Score > good.Score) || !bad.Anomalous || good.Anomalous || bad.MapW != 96 {
		t.Errorf("ensemble: defect %v (anomalous %v), good %v (anomalous %v), map width %d",
			bad.Score, bad.Anomalous, good.Score, good.Anomalous, bad.MapW)
	}
	// The combined map is the mean of the members' standardised maps.
	mm := make([]*memberMap, 2)
	for i, mb := range m.members {
		if mm[i], err = mb.score(ctx, noisy(texture(2, true), 99)); err != nil {
			t.Fatal(err)
		}
	}
	p := 40*96 + 70 // a pixel of the reference (96-px) frame
	in0 := mm[0].g.Resample(mm[0].mp, mm[1].g)
	want := (m.members[0].stdz.z(in0[p]) + m.members[1].stdz.z(mm[1].mp[p])) / 2
	if math.Abs(float64(bad.Map[p])-want) > 1e-5 {
		t.Errorf("combined map at %d: %v, want %v", p, bad.Map[p], want)
	}
	var a, b bytes.Buffer
	if err := m.Save(&a); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m2.Save(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("ensemble: Save(Load(Save(m))) differs")
	}
	r2, _ := m2.Score(ctx, noisy(texture(2, true), 99))
	if r2.Score != bad.Score || r2.Normalized != bad.Normalized {
		t.Error("the loaded ensemble scores differently")
	}
	if _, err := Fit(ctx, train, append(opts, WithThresholds(3, 0))...); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("explicit thresholds on an ensemble: %v", err)
	}
}

// TestRefine attaches the PyTorch-made tiny refinement net to a calibrated
// model: Refine gives the blend of the net's map and the model's, the
// refined result decides from its own map, the net round-trips through the
// model file, and auto refinement makes Score refine by itself.
func TestRefine(t *testing.T) {
	train := make([]image.Image, 8)
	for i := range train {
		train[i] = noisy(texture(i%4, false), uint64(i))
	}
	ctx := context.Background()
	m, err := Fit(ctx, train, tinyOpts(WithNeighborhood(false))...)
	if err != nil {
		t.Fatal(err)
	}
	img := noisy(texture(2, true), 99)
	r, err := m.Score(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Refine(ctx, img, r); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Refine without a net: %v", err)
	}
	net, err := refine.Load(filepath.Join("refine", "testdata", "tiny_refiner.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRefiner(net, 0.5, false); err != nil {
		t.Fatal(err)
	}
	rr, err := m.Refine(ctx, img, r)
	if err != nil {
		t.Fatal(err)
	}
	// By hand: the net at its 48x64 working size on the image and the
	// resampled normalised map, blended half and half.
	w, h := net.Size()
	pp := backbone.Preprocess{ResizeW: w, ResizeH: h}
	in, _ := m.members[0].bb.Input(img, pp)
	g, _ := pp.Geometry(64, 64)
	src := backbone.Geometry{SrcW: 64, SrcH: 64, ResizedW: 64, ResizedH: 64, InputW: 64, InputH: 64}
	amap := src.Resample(r.NormMap, g)
	pred, _ := net.Run(ctx, in, amap)
	for i := range amap {
		amap[i] = 0.5*amap[i] + 0.5*pred[i]
	}
	want := g.ToSource(amap)
	for _, p := range []int{0, 100, 2000, 4095} {
		if math.Abs(float64(rr.NormMap[p]-want[p])) > 1e-4 {
			t.Errorf("refined NormMap[%d] = %v, want %v", p, rr.NormMap[p], want[p])
		}
	}
	if rr.Score != maxOf(rr.Map) || rr.Anomalous != (rr.Normalized > 0.5) || &rr.Map[0] == &r.Map[0] {
		t.Errorf("refined result inconsistent: score %v, max map %v, anomalous %v, normalized %v", rr.Score, maxOf(rr.Map), rr.Anomalous, rr.Normalized)
	}
	var a, b bytes.Buffer
	m.Save(&a)
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m2.Save(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("refined model: Save(Load(Save(m))) differs")
	}
	r2, _ := m2.Score(ctx, img)
	if rr2, err := m2.Refine(ctx, img, r2); err != nil || rr2.Score != rr.Score {
		t.Errorf("the loaded model refines differently: %v", err)
	}
	m2.SetRefiner(net, 0.5, true)
	if auto, _ := m2.Score(ctx, img); auto.Score != rr.Score {
		t.Error("auto refinement: Score does not refine")
	}
	if err := m.SetRefiner(net, 2, false); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("blend 2: %v", err)
	}
}

// TestRefinementSamplesCrossFit checks the cross-fitting: every sample's map
// comes from a model that was not fitted on its image, the folds cover the
// images, each image gives one clean sample and defective ones whose masks
// mark something, and the maps see the defects.
func TestRefinementSamplesCrossFit(t *testing.T) {
	imgs := make([]image.Image, 8)
	for i := range imgs {
		imgs[i] = noisy(texture(i%4, false), uint64(i))
	}
	var samples []RefinementSample
	err := RefinementSamples(context.Background(), imgs, RefinementSamplesConfig{Folds: 2, PerImage: 3, Size: 32, Seed: 3},
		func(s RefinementSample) error { samples = append(samples, s); return nil }, tinyOpts(WithNeighborhood(false))...)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 8*3 {
		t.Fatalf("%d samples, want 24", len(samples))
	}
	seen := map[int]int{}
	var cleanMax, defectMax []float32
	for _, s := range samples {
		if slices.Contains(s.ModelImages, s.Source) {
			t.Errorf("sample of image %d scored by a model fitted on it (%v)", s.Source, s.ModelImages)
		}
		if len(s.ModelImages) != 4 {
			t.Errorf("fold %d's model saw %d images, want 4", s.Fold, len(s.ModelImages))
		}
		if len(s.Image) != 3*32*32 || len(s.Map) != 32*32 || len(s.Mask) != 32*32 {
			t.Fatalf("sample sizes %d %d %d", len(s.Image), len(s.Map), len(s.Mask))
		}
		area := float32(0)
		for _, v := range s.Mask {
			area += v
		}
		if (s.Generator == "") != (area == 0) {
			t.Errorf("image %d: generator %q with mask area %v", s.Source, s.Generator, area)
		}
		if s.Generator == "" {
			cleanMax = append(cleanMax, maxOf(s.Map))
		} else {
			defectMax = append(defectMax, maxOf(s.Map))
		}
		seen[s.Source]++
	}
	if len(seen) != 8 {
		t.Errorf("samples cover %d images, want 8", len(seen))
	}
	slices.Sort(cleanMax)
	slices.Sort(defectMax)
	if med := defectMax[len(defectMax)/2]; !(med > cleanMax[len(cleanMax)/2]) {
		t.Errorf("median map peak: defects %v, clean %v", med, cleanMax[len(cleanMax)/2])
	}
	if err := RefinementSamples(context.Background(), imgs[:3], RefinementSamplesConfig{}, func(RefinementSample) error { return nil }, tinyOpts()...); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("3 images, 2 folds: %v", err)
	}
}

// TestFitWithRefinement fits a model that trains its own refinement net:
// the net is attached, saved with the model, and Refine runs.
func TestFitWithRefinement(t *testing.T) {
	train := make([]image.Image, 8)
	for i := range train {
		train[i] = noisy(texture(i%4, false), uint64(i))
	}
	ctx := context.Background()
	var stages []Stage
	m, err := Fit(ctx, train, tinyOpts(WithNeighborhood(false), WithProgress(func(p Progress) { stages = append(stages, p.Stage) }),
		WithRefinement(RefinementConfig{Samples: RefinementSamplesConfig{PerImage: 2},
			Train: refine.TrainConfig{Size: 32, Base: 2, Depth: 2, Epochs: 2}}))...)
	if err != nil {
		t.Fatal(err)
	}
	rep, ok := m.RefinementReport()
	if !ok || rep.TrainSamples+rep.ValSamples != 16 || len(rep.Epochs) == 0 || !slices.Contains(stages, StageRefine) {
		t.Fatalf("report %+v (%v), stages %v", rep, ok, stages)
	}
	img := noisy(texture(2, true), 99)
	r, _ := m.Score(ctx, img)
	if _, err := m.Refine(ctx, img, r); err != nil {
		t.Fatal(err)
	}
	var a bytes.Buffer
	m.Save(&a)
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil || m2.refine.Load() == nil {
		t.Fatalf("the trained net did not survive the model file: %v", err)
	}
}

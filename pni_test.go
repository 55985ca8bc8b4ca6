package pni

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"

	"github.com/x/pni/position"
)

const tinyBackbone = "testdata/tiny_backbone.onnx"

// texture draws a 64x64 image of diagonal stripes, shifted by phase; with
// defect, a bright square sits at (40..52, 16..28).
func texture(phase int, defect bool) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			v := uint8(60)
			if (x+y+phase)%8 < 4 {
				v = 180
			}
			if defect && x >= 40 && x < 52 && y >= 16 && y < 28 {
				v = 255
				img.SetRGBA(x, y, color.RGBA{v, 20, 20, 255})
				continue
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return img
}

func normals(n int) []image.Image {
	imgs := make([]image.Image, n)
	for i := range imgs {
		imgs[i] = texture(i%8, false)
	}
	return imgs
}

func tinyOpts(extra ...Option) []Option {
	return append([]Option{WithBackbone(tinyBackbone), WithResize(64, 64), WithCoresetRatio(0.5),
		WithBlurSigma(1), WithSeed(1)}, extra...)
}

func fitTiny(t *testing.T, extra ...Option) *Model {
	t.Helper()
	m, err := Fit(context.Background(), normals(8), tinyOpts(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPatchScoresAllowedSet checks S(x) on a hand-made model whose allowed
// sets are known: the nearest element is excluded where p(c|x) is zero.
func TestPatchScoresAllowedSet(t *testing.T) {
	// Three 2-d bank elements; two grid positions.
	m := &Model{gridH: 1, gridW: 2, dim: 2, nDist: 3,
		emb:    []float32{0, 0, 10, 0, 0, 5},
		distOf: []int32{0, 1, 2},
		cfg:    modelConfig{TauScale: 1},
		// Position 0 allows only element 1; position 1 allows elements 0 and 2.
		pos: &position.Hist{H: 1, W: 2, K: 3, Off: []int32{0, 1, 3}, Idx: []int32{1, 0, 2}, P: []float32{1, 0.5, 0.5}},
	}
	if err := m.derive(); err != nil {
		t.Fatal(err)
	}
	feats := []float32{1, 0, 9, 1} // nearest overall: element 0 for x=0, element 1 for x=1
	got, err := m.patchScores(context.Background(), feats)
	if err != nil {
		t.Fatal(err)
	}
	// x=0 may only use element 1 at (10,0): distance 9. x=1 uses 0 or 2: min(|(9,1)|, |(9,-4)|) = sqrt(82).
	want := []float32{9, float32(math.Sqrt(82))}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Errorf("S(x=%d) = %v, want %v", i, got[i], want[i])
		}
	}
	// Without the position part (PatchCore mode) the plain nearest neighbours count.
	m.pos = nil
	got, _ = m.patchScores(context.Background(), feats)
	want = []float32{1, float32(math.Sqrt(2))}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Errorf("PatchCore S(x=%d) = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestAllowedSetParts checks A(x) = {c : p(c|Omega) > tau} by hand for the
// neighbourhood part alone and for both parts (PNI.md section 5): K = 4,
// C_dist = the first 2 elements, elements 2 and 3 mapped to C_dist 0 and 1,
// tau = 1/(2K) = 0.125.
func TestAllowedSetParts(t *testing.T) {
	m := &Model{gridH: 1, gridW: 1, dim: 1, nDist: 2,
		emb:    []float32{0, 1, 2, 3},
		distOf: []int32{0, 1, 0, 1},
		cfg:    modelConfig{TauScale: 1},
	}
	if err := m.derive(); err != nil {
		t.Fatal(err)
	}
	pnb := []float32{0.9, 0.1} // p(C_dist | neighbours), shared by the 2 elements mapped to each
	mask := make([]bool, 4)
	check := func(name string, want []bool) {
		t.Helper()
		for c := range want {
			if mask[c] != want[c] {
				t.Errorf("%s: element %d allowed = %v, want %v (mask %v)", name, c, mask[c], want[c], mask)
			}
		}
	}
	// Neighbourhood alone: p = 0.45, 0.05, 0.45, 0.05.
	m.allowed(0, pnb, 0.125, mask)
	check("neighbourhood", []bool{true, false, true, false})
	// Both, position row {1: 1.0}: p = 0.225, 0.525, 0.225, 0.025.
	m.pos = &position.Hist{H: 1, W: 1, K: 4, Off: []int32{0, 1}, Idx: []int32{1}, P: []float32{1}}
	for i := range mask {
		mask[i] = true // the scratch's contents on entry must not matter
	}
	m.allowed(0, pnb, 0.125, mask)
	check("both", []bool{true, true, true, false})
	// A stricter tau (x4 = 0.5) keeps only element 1.
	m.allowed(0, pnb, 0.5, mask)
	check("both, tau x4", []bool{false, true, false, false})
	// Position alone: only the row's elements above tau.
	m.allowed(0, nil, 0.125, mask)
	check("position", []bool{false, true, false, false})
}

func TestFitScoreFindsDefect(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"patchcore", []Option{WithPosition(false), WithNeighborhood(false)}},
		{"position", []Option{WithNeighborhood(false)}},
		{"pni", []Option{WithNeighborhood(true), WithMinValTop1(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fitTiny(t, tc.opts...)
			ctx := context.Background()
			good, err := m.Score(ctx, texture(3, false))
			if err != nil {
				t.Fatal(err)
			}
			bad, err := m.Score(ctx, texture(3, true))
			if err != nil {
				t.Fatal(err)
			}
			if !(bad.Score > good.Score) {
				t.Errorf("defect score %v not above normal %v", bad.Score, good.Score)
			}
			// The map's maximum lies in or near the defect square (40..52, 16..28).
			bi := 0
			for i, v := range bad.Map {
				if v > bad.Map[bi] {
					bi = i
				}
			}
			x, y := bi%bad.MapW, bi/bad.MapW
			if x < 32 || y < 8 || y > 36 {
				t.Errorf("map peak at (%d,%d), defect at (40..52,16..28)", x, y)
			}
			if bad.MapW != 64 || bad.MapH != 64 || bad.OrigW != 64 || len(bad.Original) != 64*64 || bad.GridW != 8 {
				t.Errorf("shapes: map %dx%d orig %dx%d grid %dx%d", bad.MapW, bad.MapH, bad.OrigW, bad.OrigH, bad.GridW, bad.GridH)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(true), WithMinValTop1(0))
	var a bytes.Buffer
	if err := m.Save(&a); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m2.Save(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("Save(Load(Save(m))) differs from Save(m)")
	}
	img := texture(5, true)
	r1, _ := m.Score(context.Background(), img)
	r2, err := m2.Score(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Score != r2.Score || maxAbsDiff(r1.Map, r2.Map) != 0 {
		t.Errorf("loaded model scores differently: %v vs %v", r1.Score, r2.Score)
	}
	if m.Info() != m2.Info() {
		t.Errorf("Info differs: %+v vs %+v", m.Info(), m2.Info())
	}
}

func TestLoadRejectsDamagedFiles(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(false))
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x40
	version := bytes.Clone(good)
	version[8] = 99
	for name, data := range map[string][]byte{
		"empty":     nil,
		"foreign":   []byte("\x89PNG\r\n\x1a\n this is not a model at all, just bytes"),
		"truncated": good[:len(good)-100],
		"bitflip":   flip,
		"version":   version,
		"padded":    append(bytes.Clone(good), 0),
	} {
		_, err := Unmarshal(data)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FormatError", name, err)
		}
	}
}

func TestFitDeterministic(t *testing.T) {
	save := func() []byte {
		var b bytes.Buffer
		if err := fitTiny(t, WithNeighborhood(false)).Save(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(save(), save()) {
		t.Error("two fits with the same seed differ")
	}
}

func TestConcurrentScore(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(true), WithMinValTop1(0))
	want, err := m.Score(context.Background(), texture(2, true))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				r, err := m.Score(context.Background(), texture(2, true))
				if err != nil {
					errs <- err
					return
				}
				if r.Score != want.Score {
					errs <- errors.New("concurrent Score gave a different result")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFitErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Fit(ctx, nil, WithBackbone(tinyBackbone)); err == nil {
		t.Error("Fit with no images: no error")
	}
	if _, err := Fit(ctx, normals(2)); err == nil {
		t.Error("Fit without a backbone: no error")
	}
	if _, err := Fit(ctx, normals(2), WithBackbone("testdata/missing.onnx")); err == nil {
		t.Error("Fit with a missing backbone: no error")
	}
	if _, err := Fit(ctx, normals(2), WithBackboneBytes([]byte("not onnx at all"))); err == nil {
		t.Error("Fit with a malformed backbone: no error")
	}
	if _, err := Fit(ctx, normals(2), WithBackbone(tinyBackbone), WithCoresetRatio(2)); err == nil {
		t.Error("ratio 2: no error")
	}
	if _, err := Fit(ctx, normals(2), WithPreset("huge")); err == nil {
		t.Error("unknown preset: no error")
	}
	if _, err := Fit(ctx, []image.Image{nil}, WithBackbone(tinyBackbone)); err == nil {
		t.Error("nil image: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fit(cctx, normals(4), tinyOpts()...); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fit: got %v, want context.Canceled", err)
	}
	var m Model
	if _, err := m.Score(ctx, texture(0, false)); !errors.Is(err, ErrNotFitted) {
		t.Errorf("Score on a zero Model: got %v", err)
	}
	fm := fitTiny(t, WithNeighborhood(false))
	if _, err := fm.Score(ctx, image.NewRGBA(image.Rect(0, 0, 0, 0))); err == nil {
		t.Error("Score of an empty image: no error")
	}
	if _, err := fm.Score(cctx, texture(0, false)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Score: got %v", err)
	}
}

func TestProgressReported(t *testing.T) {
	var stages []Stage
	fitTiny(t, WithProgress(func(p Progress) { stages = append(stages, p.Stage) }), WithNeighborhood(true), WithMinValTop1(0))
	seen := map[Stage]bool{}
	for _, s := range stages {
		seen[s] = true
	}
	for _, s := range []Stage{StageFeatures, StageCoreset, StageAssign, StagePosition, StageNeighborhood, StageDone} {
		if !seen[s] {
			t.Errorf("no progress report for stage %q", s)
		}
	}
}

package pni

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"math"
	"os"
	"slices"
	"testing"
)

func TestTilingRects(t *testing.T) {
	tl := tiling{Size: 100, Overlap: 20}
	if got := tl.starts(260); !slices.Equal(got, []int{0, 80, 160}) {
		t.Errorf("starts(260) = %v", got)
	}
	if got := tl.starts(100); !slices.Equal(got, []int{0}) {
		t.Errorf("starts(100) = %v", got)
	}
	if got := tl.starts(60); !slices.Equal(got, []int{0}) {
		t.Errorf("starts(60) = %v (an image smaller than a tile is one tile)", got)
	}
	rs := tl.rects(260, 60)
	if len(rs) != 3 || rs[2] != image.Rect(160, 0, 260, 60) {
		t.Errorf("rects(260, 60) = %v", rs)
	}
	// Every pixel is covered, and the weights of a constant map stitch to it exactly.
	maps := make([][]float32, len(rs))
	for k, r := range rs {
		maps[k] = make([]float32, r.Dx()*r.Dy())
		for i := range maps[k] {
			maps[k][i] = 3
		}
	}
	for i, v := range tl.stitch(rs, maps, 260, 60) {
		if math.Abs(float64(v)-3) > 1e-6 {
			t.Fatalf("pixel %d: %v after stitching a constant 3", i, v)
		}
	}
}

// TestStitchNoSeam checks that overlapping tiles of a smooth map stitch
// into the same smooth map: a ramp cut into tiles comes back whole, with no
// step at the tile borders.
func TestStitchNoSeam(t *testing.T) {
	tl := tiling{Size: 40, Overlap: 12}
	const w, h = 130, 50
	rs := tl.rects(w, h)
	maps := make([][]float32, len(rs))
	for k, r := range rs {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				maps[k] = append(maps[k], float32(x+2*y))
			}
		}
	}
	out := tl.stitch(rs, maps, w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if v := out[y*w+x]; math.Abs(float64(v)-float64(x+2*y)) > 1e-3 {
				t.Fatalf("(%d,%d): %v, want %d", x, y, v, x+2*y)
			}
		}
	}
}

// bigTexture draws a w x h part with fine stripes (period 8 pixels); with a
// defect, an 8-pixel square at (x0, y0) where the stripes are missing (flat
// grey at their mean): shrunk 8 times it is the same grey as the stripes
// around it, at full resolution a clear break in the pattern.
func bigTexture(w, h int, defect bool, x0, y0 int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(60)
			if (x+y)%8 < 4 {
				v = 180
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	if defect {
		for y := y0; y < y0+8; y++ {
			for x := x0; x < x0+8; x++ {
				img.SetRGBA(x, y, color.RGBA{120, 120, 120, 255})
			}
		}
	}
	return img
}

// TestTilesFindSmallDefect fits the same 320x320 parts with and without
// tiles: resized whole to 64x64 the 8-pixel defect shrinks below two pixels of
// the same grey as its surroundings and the map barely moves; in 64-pixel
// tiles it is seen at full size, and its region lands on it in original
// pixels. A tiled model saves and loads.
func TestTilesFindSmallDefect(t *testing.T) {
	train := make([]image.Image, 4)
	for i := range train {
		train[i] = noisy(bigTexture(320, 320, false, 0, 0), uint64(i))
	}
	ctx := context.Background()
	base := []Option{WithBackbone(tinyBackbone), WithResize(64, 64), WithCoresetRatio(0.5), WithBlurSigma(1), WithSeed(1), WithNeighborhood(false), WithEmbedDim(12)}
	whole, err := Fit(ctx, train, base...)
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := Fit(ctx, train, append(base, WithTiles(64, 16))...)
	if err != nil {
		t.Fatal(err)
	}
	bad := noisy(bigTexture(320, 320, true, 200, 120), 77)
	good := noisy(bigTexture(320, 320, false, 0, 0), 77)
	contrast := func(m *Model) (float64, *Result) {
		rb, err := m.Score(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		rg, err := m.Score(ctx, good)
		if err != nil {
			t.Fatal(err)
		}
		return float64(rb.Score) / float64(rg.Score), rb
	}
	cw, _ := contrast(whole)
	ct, rt := contrast(tiled)
	t.Logf("defect/good score: whole image %.3f, tiles %.3f", cw, ct)
	if !(ct > 1.5 && ct > cw+0.3) {
		t.Errorf("tiles do not make the 6-pixel defect stand out: whole %.3f, tiles %.3f", cw, ct)
	}
	if rt.MapW != 320 || !rt.Anomalous || len(rt.Regions) == 0 || !rt.Regions[0].Bounds.Overlaps(image.Rect(200, 120, 208, 128)) {
		t.Errorf("tiled result: map %d wide, anomalous %v, regions %+v", rt.MapW, rt.Anomalous, rt.Regions)
	}
	var a, b bytes.Buffer
	tiled.Save(&a)
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	m2.Save(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("tiled model: Save(Load(Save(m))) differs")
	}
	if r2, _ := m2.Score(ctx, bad); r2.Score != rt.Score {
		t.Error("the loaded tiled model scores differently")
	}
}

// withTwoLevel makes Fit use the two-level coreset even where the exact one
// is affordable.
func withTwoLevel() Option { return func(c *config) error { c.forceStream = true; return nil } }

// TestFitTwoLevelCoreset fits with the two-level coreset (what large sets
// get) and checks that the model finds the defect as the exact one does,
// with a bank of the same size.
func TestFitTwoLevelCoreset(t *testing.T) {
	exact := fitTiny(t, WithNeighborhood(false))
	two := fitTiny(t, WithNeighborhood(false), withTwoLevel())
	if two.Info().EmbSize != exact.Info().EmbSize {
		t.Errorf("bank sizes %d (two-level) vs %d (exact)", two.Info().EmbSize, exact.Info().EmbSize)
	}
	ctx := context.Background()
	good, _ := two.Score(ctx, texture(3, false))
	bad, _ := two.Score(ctx, texture(3, true))
	if !(bad.Score > good.Score) {
		t.Errorf("two-level coreset: defect %v not above normal %v", bad.Score, good.Score)
	}
}

// TestFeatureStoreKinds writes and reads images and single rows through
// the three kinds of store (float32, float16 in memory, float16 spill file)
// and checks the spill file is removed.
func TestFeatureStoreKinds(t *testing.T) {
	const slots, rows, d = 3, 5, 4
	x := make([]float32, rows*d)
	for i := range x {
		x[i] = float32(i) * 0.25
	}
	for _, budget := range []int64{slots * rows * d * 4, slots * rows * d * 2, 1} {
		s, err := newFeatureStore(slots, rows, d, budget, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < slots; j++ {
			if err := s.set(j, x); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.image(2, make([]float32, rows*d))
		if err != nil || !slices.Equal(got, x) {
			t.Errorf("%s: image %v, %v", s.kind(), got, err)
		}
		row := make([]float32, d)
		if err := s.row(1, 3, row); err != nil || !slices.Equal(row, x[3*d:4*d]) {
			t.Errorf("%s: row %v, %v", s.kind(), row, err)
		}
		var name string
		if s.file != nil {
			name = s.file.Name()
		}
		s.close()
		if name != "" {
			if _, err := os.Stat(name); !os.IsNotExist(err) {
				t.Errorf("spill file %s not removed: %v", name, err)
			}
		}
	}
}

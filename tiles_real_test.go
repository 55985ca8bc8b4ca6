package pni

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/image/draw"

	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/testenv"
)

// upscaled returns img resized to s x s (Catmull-Rom), as a high-resolution
// camera's frame.
func upscaled(img image.Image, s int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, s, s))
	draw.CatmullRom.Scale(out, out.Rect, img, img.Bounds(), draw.Src, nil)
	return out
}

// scratch draws a dark diagonal scratch, 3 pixels wide, across the d x d
// square at (x0, y0): a small flaw that shrinking the image averages away.
func scratch(img *image.RGBA, x0, y0, d int) {
	for i := 0; i < d; i++ {
		for w := -1; w <= 1; w++ {
			img.SetRGBA(x0+i+w, y0+i, color.RGBA{20, 20, 20, 255})
		}
	}
}

// TestTilesRealSmallDefect fits eight shared grid images upscaled to
// 1536 x 1536 at the default preset, with 480-pixel tiles and without, and
// scores one more with a 20-pixel scratch: the tiled model flags it and its top
// region covers the flaw; the whole-image model (the frame shrunk to 480)
// does not. With PNI_FIGURES=DIR it writes both normalised maps there
// (tiles-on.png, tiles-off.png) for the README.
func TestTilesRealSmallDefect(t *testing.T) {
	testenv.Long(t)
	dir := testenv.SharedDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "data", "mvtec_ad", "grid", "train", "good", "*.png"))
	sort.Strings(paths)
	if len(paths) < 9 {
		t.Fatalf("want 9 grid images, found %d", len(paths))
	}
	var train []image.Image
	for _, p := range paths[:8] {
		img, err := imageio.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		train = append(train, upscaled(img, 1536))
	}
	src, err := imageio.Load(paths[8])
	if err != nil {
		t.Fatal(err)
	}
	bad := upscaled(src, 1536)
	flaw := image.Rect(1000, 600, 1020, 620)
	scratch(bad, flaw.Min.X, flaw.Min.Y, 20)
	ctx := context.Background()
	bb := filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")
	var results [2]*Result
	for k, tiled := range []bool{false, true} {
		opts := []Option{WithBackbone(bb), WithPreset(PresetDefault)}
		if tiled {
			opts = append(opts, WithTiles(480, 64))
		}
		m, err := Fit(ctx, train, opts...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.Score(ctx, bad)
		if err != nil {
			t.Fatal(err)
		}
		results[k] = r
		hit := len(r.Regions) > 0 && r.Regions[0].Bounds.Overlaps(flaw)
		t.Logf("tiles %v: score %.3f, normalised %.3f, anomalous %v, %d regions, top region on the flaw %v (threshold %.3f)",
			tiled, r.Score, r.Normalized, r.Anomalous, len(r.Regions), hit, m.Calibration().ImageThreshold)
		if tiled && !(r.Anomalous && hit) {
			t.Errorf("with tiles the 20-pixel scratch is not found")
		}
		if !tiled && r.Anomalous && hit {
			t.Errorf("without tiles the 20-pixel scratch was found: the test no longer shows what tiles add")
		}
	}
	if out := os.Getenv("PNI_FIGURES"); out != "" {
		for k, name := range []string{"tiles-off.png", "tiles-on.png"} {
			writeHeat(t, filepath.Join(out, name), results[k], flaw)
		}
	}
}

// writeHeat writes a result's normalised map as a 512 x 512 heat image
// (black 0, red 0.5, yellow-white 1), with the flaw's box drawn in cyan.
func writeHeat(t *testing.T, path string, r *Result, flaw image.Rectangle) {
	const s = 512
	img := image.NewRGBA(image.Rect(0, 0, s, s))
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			v := r.NormMap[(y*r.OrigH/s)*r.OrigW+x*r.OrigW/s]
			c := color.RGBA{uint8(min(255, 510*v)), uint8(max(0, min(255, 510*v-255))), uint8(max(0, min(255, 1020*v-765))), 255}
			img.SetRGBA(x, y, c)
		}
	}
	b := image.Rect(flaw.Min.X*s/r.OrigW-3, flaw.Min.Y*s/r.OrigH-3, flaw.Max.X*s/r.OrigW+3, flaw.Max.Y*s/r.OrigH+3)
	for x := b.Min.X; x < b.Max.X; x++ {
		img.SetRGBA(x, b.Min.Y, color.RGBA{0, 255, 255, 255})
		img.SetRGBA(x, b.Max.Y-1, color.RGBA{0, 255, 255, 255})
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		img.SetRGBA(b.Min.X, y, color.RGBA{0, 255, 255, 255})
		img.SetRGBA(b.Max.X-1, y, color.RGBA{0, 255, 255, 255})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

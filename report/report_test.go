package report

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/x/pni"
	"github.com/x/pni/internal/testparts"
)

// TestHeat checks the colour map's ends and middle: dark blue-violet at 0,
// green-ish at the threshold, dark red at 1, clamped outside [0, 1].
func TestHeat(t *testing.T) {
	lo, mid, hi := Heat(0), Heat(0.5), Heat(1)
	if int(lo.R)+int(lo.G)+int(lo.B) > 120 || !(lo.B >= lo.G) || !(mid.G > mid.R && mid.G > mid.B) || !(hi.R > hi.G && hi.R > hi.B) {
		t.Errorf("Heat(0) %v, Heat(0.5) %v, Heat(1) %v", lo, mid, hi)
	}
	if Heat(-1) != lo || Heat(2) != hi {
		t.Errorf("not clamped: %v %v", Heat(-1), Heat(2))
	}
}

// TestPanel draws the panels of a good and a defective part (with and
// without ground truth) and checks their sizes, the region contour in the
// third tile around the defect and the errors for mismatched input.
func TestPanel(t *testing.T) {
	m := testparts.Model(t)
	ctx := context.Background()
	bad := testparts.Texture(2, true, 99)
	res, err := m.Score(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Anomalous {
		t.Fatalf("defect not anomalous: %+v", res.Regions)
	}
	truth := make([]bool, 64*64)
	for y := testparts.Defect.Min.Y; y < testparts.Defect.Max.Y; y++ {
		for x := testparts.Defect.Min.X; x < testparts.Defect.Max.X; x++ {
			truth[y*64+x] = true
		}
	}
	p3, err := Panel(bad, res, Options{Title: "bad.png", TileHeight: 128})
	if err != nil {
		t.Fatal(err)
	}
	p4, err := Panel(bad, res, Options{Title: "bad.png", Truth: truth, TileHeight: 128})
	if err != nil {
		t.Fatal(err)
	}
	if p4.Bounds().Dx() != p3.Bounds().Dx()+128+margin || p3.Bounds().Dy() != p4.Bounds().Dy() {
		t.Errorf("panel sizes %v, %v", p3.Bounds(), p4.Bounds())
	}
	if dir := os.Getenv("PNI_REPORT_OUT"); dir != "" { // to look at them
		WritePNG(filepath.Join(dir, "panel3.png"), p3)
		WritePNG(filepath.Join(dir, "panel4.png"), p4)
	}
	// Red contour pixels in the third tile, inside the defect's box (scaled by 2).
	top := margin + 2*lineHeight + margin + lineHeight + 2
	x0 := margin + 2*(128+margin)
	red := 0
	for y := top; y < top+128; y++ {
		for x := x0; x < x0+128; x++ {
			if p3.RGBAAt(x, y) == regionInk {
				red++
			}
		}
	}
	if red == 0 || !res.Regions[0].Bounds.Overlaps(testparts.Defect) {
		t.Errorf("%d region contour pixels in the third tile; top region %v, defect %v", red, res.Regions[0].Bounds, testparts.Defect)
	}
	ov, err := Overlay(bad, res, 32)
	if err != nil || ov.Bounds().Dx() != 32 {
		t.Errorf("overlay %v, %v", ov.Bounds(), err)
	}
	var b bytes.Buffer
	if err := EncodePNG(&b, p4); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&b); err != nil {
		t.Fatal(err)
	}

	// With the result before refinement: one more tile, after the input,
	// drawn exactly as the heatmap tile is for the same result, and
	// differently for a different map.
	p5, err := Panel(bad, res, Options{Title: "bad.png", Truth: truth, TileHeight: 128, Unrefined: res})
	if err != nil {
		t.Fatal(err)
	}
	if p5.Bounds().Dx() != p4.Bounds().Dx()+128+margin {
		t.Errorf("panel with the unrefined tile is %v, want one tile wider than %v", p5.Bounds(), p4.Bounds())
	}
	tile := func(p *image.RGBA, i int) []uint8 {
		var px []uint8
		for y := top; y < top+128; y++ {
			x := margin + i*(128+margin)
			px = append(px, p.Pix[p.PixOffset(x, y):p.PixOffset(x+128, y)]...)
		}
		return px
	}
	if !bytes.Equal(tile(p5, 1), tile(p5, 2)) || !bytes.Equal(tile(p5, 2), tile(p4, 1)) {
		t.Error("the unrefined tile of the same result differs from its heatmap tile")
	}
	flat := *res
	flat.NormMap = make([]float32, len(res.NormMap))
	p6, err := Panel(bad, res, Options{Title: "bad.png", TileHeight: 128, Unrefined: &flat})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(tile(p6, 1), tile(p6, 2)) || !bytes.Equal(tile(p6, 2), tile(p4, 1)) {
		t.Error("a zero map before refinement is drawn like the refined heatmap, or moved it")
	}
	if dir := os.Getenv("PNI_REPORT_OUT"); dir != "" {
		WritePNG(filepath.Join(dir, "panel5.png"), p5)
		WritePNG(filepath.Join(dir, "panel6.png"), p6)
	}
	small := *res
	small.OrigW = 32
	if _, err := Panel(bad, res, Options{Unrefined: &small}); !errors.Is(err, pni.ErrInvalidArgument) {
		t.Errorf("unrefined result of another size: %v, want ErrInvalidArgument", err)
	}

	// Mismatches and nils are argument errors, not panics.
	for name, f := range map[string]func() error{
		"nil result":  func() error { _, err := Panel(bad, nil, Options{}); return err },
		"nil image":   func() error { _, err := Overlay(nil, res, 0); return err },
		"wrong size":  func() error { _, err := Panel(image.NewRGBA(image.Rect(0, 0, 10, 10)), res, Options{}); return err },
		"wrong truth": func() error { _, err := Panel(bad, res, Options{Truth: make([]bool, 5)}); return err },
	} {
		if err := f(); !errors.Is(err, pni.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestPanelUncalibrated draws a panel of a model that has no calibration
// (fitted on one image): the map relative to its maximum, no regions.
func TestPanelUncalibrated(t *testing.T) {
	m, err := pni.Fit(context.Background(), testparts.Good(1), testparts.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	img := testparts.Texture(1, true, 3)
	res, err := m.Score(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if res.NormMap != nil {
		t.Fatal("model unexpectedly calibrated")
	}
	if _, err := Panel(img, res, Options{Title: "x"}); err != nil {
		t.Fatal(err)
	}
}

// TestWritePNGError reports an unwritable path.
func TestWritePNGError(t *testing.T) {
	if err := WritePNG(filepath.Join(t.TempDir(), "no", "such", "dir.png"), image.NewRGBA(image.Rect(0, 0, 2, 2))); err == nil {
		t.Error("no error for a missing folder")
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/x/pni/internal/testparts"
)

// TestOutputs runs the command with -out on a small MVTec-layout folder of
// synthetic parts (the tiny backbone at 64x64) and checks what it writes:
// metrics.json with exactly its keys, a panel per test image, the curves
// and index.html listing every panel, highest score first, with the
// decision columns.
func TestOutputs(t *testing.T) {
	root := t.TempDir()
	mk := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		os.MkdirAll(d, 0o755)
		return d
	}
	for i, img := range testparts.Good(12) {
		testparts.WritePNG(t, filepath.Join(mk("train", "good"), "t"+string(rune('a'+i))+".png"), img)
	}
	for i := range 3 {
		testparts.WritePNG(t, filepath.Join(mk("test", "good"), "g"+string(rune('a'+i))+".png"), testparts.Texture(i, false, uint64(500+i)))
		name := "s" + string(rune('a'+i))
		testparts.WritePNG(t, filepath.Join(mk("test", "spot"), name+".png"), testparts.Texture(i, true, uint64(600+i)))
		mask := image.NewGray(image.Rect(0, 0, 64, 64))
		for y := testparts.Defect.Min.Y; y < testparts.Defect.Max.Y; y++ {
			for x := testparts.Defect.Min.X; x < testparts.Defect.Max.X; x++ {
				mask.SetGray(x, y, color.Gray{255})
			}
		}
		testparts.WritePNG(t, filepath.Join(mk("ground_truth", "spot"), name+"_mask.png"), mask)
	}
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-data", root, "-backbone", testparts.Backbone(), "-size", "64", "-ratio", "0.5",
		"-q", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mj map[string]any
	json.Unmarshal(b, &mj)
	keys := make([]string, 0, len(mj))
	for k := range mj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"aupro", "dataset", "fit_seconds", "image_auroc", "n_test", "n_train", "peak_rss_mb", "pixel_auroc", "score_ms_per_image"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("metrics.json keys %v, want %v", keys, want)
	}
	for _, f := range []string{"roc.png", "pro.png", "scores.csv", "model.pni", "index.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "index.html"))
	page := string(html)
	last := -1
	for _, p := range []string{"panels/good/ga.png", "panels/good/gb.png", "panels/good/gc.png", "panels/spot/sa.png", "panels/spot/sb.png", "panels/spot/sc.png"} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
		if !strings.Contains(page, `src="`+p+`"`) {
			t.Errorf("index.html does not show %s", p)
		}
	}
	// Defects score highest here: their panels come first.
	for _, p := range []string{"panels/spot/", "panels/good/"} {
		i := strings.Index(page, `src="`+p)
		if i < last {
			t.Errorf("%s listed before a higher score", p)
		}
		last = i
	}
	for _, w := range []string{"false rejects", "caught", "region F1", "threshold F1", "AUPRO@0.3", "roc.png", "pro.png"} {
		if !strings.Contains(page, w) {
			t.Errorf("index.html lacks %q", w)
		}
	}

	// Refined by the shipped net, each panel has the heatmap before
	// refinement too: one tile wider, and the page says so.
	out2 := filepath.Join(t.TempDir(), "out")
	err = run(context.Background(), []string{"-data", root, "-backbone", testparts.Backbone(), "-size", "64", "-ratio", "0.5",
		"-q", "-out", out2, "-refine", "default"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("-refine default: %v\n%s", err, stderr.String())
	}
	size := func(path string) image.Point {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c, err := png.DecodeConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		return image.Pt(c.Width, c.Height)
	}
	plain, refined := size(filepath.Join(out, "panels/spot/sa.png")), size(filepath.Join(out2, "panels/spot/sa.png"))
	if refined.X <= plain.X || refined.Y != plain.Y {
		t.Errorf("refined panel %v, plain %v: want one more tile", refined, plain)
	}
	html2, _ := os.ReadFile(filepath.Join(out2, "index.html"))
	if !strings.Contains(string(html2), "heatmap before refinement") || strings.Contains(page, "before refinement") {
		t.Error("index.html does not say which runs' panels show the heatmap before refinement")
	}
}

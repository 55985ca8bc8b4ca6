package refine

import (
	"context"
	"math"
	"testing"
)

// TestDefaultNet loads the shipped net and checks what a line relies on:
// at the working size, on a plain part whose map is well below the
// threshold everywhere, the net's map blended in at the default weight
// (0.1, pni.DefaultRefineBlend) invents no anomalous pixel (>= 0.5).
func TestDefaultNet(t *testing.T) {
	n, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	w, h := n.Size()
	if w != DefaultTrainSize || h != DefaultTrainSize {
		t.Fatalf("size %dx%d, want %d", w, h, DefaultTrainSize)
	}
	for _, gray := range []float32{-1.5, 0, 1.5} { // dark, mid and bright parts, normalised
		img := make([]float32, 3*w*h)
		for i := range img {
			img[i] = gray
		}
		amap := make([]float32, w*h)
		for i := range amap {
			amap[i] = 0.1
		}
		pred, err := n.Run(context.Background(), img, amap)
		if err != nil {
			t.Fatal(err)
		}
		if len(pred) != w*h {
			t.Fatalf("%d outputs, want %d", len(pred), w*h)
		}
		var hi float64
		for i, p := range pred {
			if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
				t.Fatalf("output %d is %v", i, p)
			}
			hi = max(hi, 0.9*float64(amap[i])+0.1*float64(p))
		}
		t.Logf("gray %v: highest blended value %.4f", gray, hi)
		if hi >= 0.5 {
			t.Errorf("gray %v: the blended map reaches %.3f on a plain part", gray, hi)
		}
	}
}

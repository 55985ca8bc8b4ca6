package pni

import (
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/x/pni/backbone"
)

func readArrays(t *testing.T, path string) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for len(b) > 0 {
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		b = b[4*n:]
		out = append(out, v)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// TestMapAgainstTorchScipy checks the bilinear upsample against torch's
// F.interpolate(align_corners=False) and the blur against
// scipy.ndimage.gaussian_filter (fixture from testdata/gen_anomalymap.py).
func TestMapAgainstTorchScipy(t *testing.T) {
	arr := readArrays(t, "testdata/anomalymap.bin")
	src, wantUp, wantBlur, src2, wantBlur2 := arr[0], arr[1], arr[2], arr[3], arr[4]
	up := resizeBilinear(src, 7, 9, 20, 24)
	if d := maxAbsDiff(up, wantUp); d > 1e-6 {
		t.Errorf("bilinear 7x9->20x24: max diff %g from torch", d)
	}
	gaussianBlur(up, 20, 24, 2.5)
	if d := maxAbsDiff(up, wantBlur); d > 1e-6 {
		t.Errorf("gaussian sigma 2.5: max diff %g from scipy", d)
	}
	up2 := resizeBilinear(src2, 28, 28, 224, 224)
	gaussianBlur(up2, 224, 224, 4)
	if d := maxAbsDiff(up2, wantBlur2); d > 1e-6 {
		t.Errorf("28->224 + sigma 4: max diff %g from torch+scipy", d)
	}
}

func TestMirror(t *testing.T) {
	// scipy "reflect": d c b a | a b c d | d c b a
	want := map[int]int{-1: 0, -2: 1, -4: 3, -5: 3, 4: 3, 5: 2, 8: 0, 9: 1}
	for i, w := range want {
		if got := mirror(i, 4); got != w {
			t.Errorf("mirror(%d, 4) = %d, want %d", i, got, w)
		}
	}
}

func TestToSourceIdentityAndCrop(t *testing.T) {
	m := []float32{1, 2, 3, 4}
	// No crop, same size: identity.
	g := backbone.Geometry{SrcW: 2, SrcH: 2, ResizedW: 2, ResizedH: 2, InputW: 2, InputH: 2}
	if got := g.ToSource(m); maxAbsDiff(got, m) != 0 {
		t.Errorf("identity resample: %v", got)
	}
	// A 2x2 map cropped from a 4x4 frame, back to 4x4: the outer ring takes edge values.
	g = backbone.Geometry{SrcW: 4, SrcH: 4, ResizedW: 4, ResizedH: 4, CropX: 1, CropY: 1, InputW: 2, InputH: 2}
	got := g.ToSource(m)
	want := []float32{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	if maxAbsDiff(got, want) != 0 {
		t.Errorf("crop resample = %v, want %v", got, want)
	}
}

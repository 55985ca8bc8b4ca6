// Package testparts makes small synthetic parts for the tests of pni's
// tools (the pni command, packages serve and report): 64x64 striped
// textures, with or without a defect, and models fitted on them with the
// repository's tiny test backbone, so that those tests run in a second or
// two without the shared data.
package testparts

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/x/pni"
)

// Defect is where Texture draws its defect: a bright red square.
var Defect = image.Rect(40, 16, 52, 28)

// Texture draws a 64x64 image of diagonal stripes shifted by phase, with a
// little noise of its own (seed); with defect, a red square covers Defect.
func Texture(phase int, defect bool, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	rng := rand.New(rand.NewPCG(seed, 7))
	for y := range 64 {
		for x := range 64 {
			v := 60
			if (x+y+phase)%8 < 4 {
				v = 180
			}
			n := func() uint8 { return uint8(min(max(v+rng.IntN(17)-8, 0), 255)) }
			if defect && image.Pt(x, y).In(Defect) {
				img.SetRGBA(x, y, color.RGBA{255, 20, 20, 255})
				continue
			}
			g := n()
			img.SetRGBA(x, y, color.RGBA{g, g, g, 255})
		}
	}
	return img
}

// Good returns n good parts: four stripe phases, each part with its own noise.
func Good(n int) []image.Image {
	imgs := make([]image.Image, n)
	for i := range imgs {
		imgs[i] = Texture(i%4, false, uint64(i))
	}
	return imgs
}

// PNG encodes img as PNG.
func PNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// WritePNG writes img as a PNG file at path.
func WritePNG(tb testing.TB, path string, img image.Image) {
	tb.Helper()
	if err := os.WriteFile(path, PNG(tb, img), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Backbone is the path of the repository's tiny test backbone
// (testdata/tiny_backbone.onnx).
func Backbone() string {
	_, file, _, _ := runtime.Caller(0) // <root>/internal/testparts/testparts.go
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "tiny_backbone.onnx")
}

// Options are the fit options of the tiny test models: the tiny backbone
// at 64x64, half the patches in the coreset, a light blur, position part
// only.
func Options(extra ...pni.Option) []pni.Option {
	return append([]pni.Option{pni.WithBackbone(Backbone()), pni.WithResize(64, 64), pni.WithCoresetRatio(0.5),
		pni.WithBlurSigma(1), pni.WithSeed(1), pni.WithNeighborhood(false)}, extra...)
}

// Model fits a calibrated tiny model on 16 good parts.
func Model(tb testing.TB, extra ...pni.Option) *pni.Model {
	tb.Helper()
	m, err := pni.Fit(context.Background(), Good(16), Options(extra...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

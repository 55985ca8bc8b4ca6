package synth

import (
	"image"
	"testing"
)

// BenchmarkGenerate times one sample of each generator on a 480x480 RGB
// image (and DRAEM with a 640x640 texture).
func BenchmarkGenerate(b *testing.B) {
	src := noiseImage("rgba", 480, 480, 1, false)
	tex := []image.Image{noiseImage("nrgba", 640, 640, 2, false)}
	cases := []struct {
		name string
		g    Generator
	}{
		{"cutpaste", CutPaste{}},
		{"scar", Scar{}},
		{"draem", DRAEM{}},
		{"draem+textures", DRAEM{Textures: tex}},
		{"strokes", Strokes{}},
		{"mix", Default(nil)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			seed := uint64(0)
			for b.Loop() {
				if _, err := c.g.Generate(src, seed); err != nil {
					b.Fatal(err)
				}
				seed++
			}
		})
	}
}

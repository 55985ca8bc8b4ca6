package synth_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/x/pni/refine/synth"
)

// part is a procedural 128x96 test image: a shaded disc on a checkerboard.
func part() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 128, 96))
	for y := range 96 {
		for x := range 128 {
			v := uint8(60 + 40*((x/8+y/8)%2))
			c := color.NRGBA{v, v, v + 20, 255}
			if dx, dy := x-64, y-48; dx*dx+dy*dy < 35*35 {
				c = color.NRGBA{uint8(150 + x/2), uint8(120 + y/2), 90, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// area is the fraction of the mask marked defective.
func area(m *image.Gray) float64 {
	n := 0
	for _, v := range m.Pix {
		if v == 255 {
			n++
		}
	}
	return float64(n) / float64(len(m.Pix))
}

func Example() {
	src := part()
	for _, g := range []synth.Generator{synth.CutPaste{}, synth.Scar{}, synth.DRAEM{}, synth.Strokes{}} {
		s, err := g.Generate(src, 42)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s %T %v, defect on %.1f%% of the image\n", g.Name(), s.Image, s.Mask.Bounds().Size(), 100*area(s.Mask))
	}
	// Output:
	// cutpaste *image.NRGBA (128,96), defect on 3.1% of the image
	// scar     *image.NRGBA (128,96), defect on 0.1% of the image
	// draem    *image.NRGBA (128,96), defect on 3.9% of the image
	// strokes  *image.NRGBA (128,96), defect on 0.5% of the image
}

func ExampleMix() {
	mix := synth.Default(nil) // procedural DRAEM textures
	src := part()
	for seed := range uint64(4) {
		g, _, err := mix.Pick(seed)
		if err != nil {
			fmt.Println(err)
			return
		}
		s, err := mix.Generate(src, seed)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("seed %d: %s, %.1f%%\n", seed, g.Name(), 100*area(s.Mask))
	}
	// Output:
	// seed 0: scar, 1.1%
	// seed 1: strokes, 0.7%
	// seed 2: strokes, 1.5%
	// seed 3: cutpaste, 10.7%
}

func ExampleCutPaste_Generate() {
	src := part()
	_, err := synth.CutPaste{}.Generate(src.SubImage(image.Rect(0, 0, 12, 96)), 1)
	fmt.Println(err)
	// Output:
	// synth: image too small: CutPaste got a 12x96 image; it needs at least 16 px on each side (upscale small crops first)
}

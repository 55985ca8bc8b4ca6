package pni_test

import (
	"context"
	"fmt"
	"image"
	"image/color"

	"github.com/x/pni"
)

// stripes draws a 64x64 striped part; a defective one has a red blotch.
func stripes(phase int, defect bool) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			v := uint8(60)
			if (x+y+phase)%8 < 4 {
				v = 180
			}
			c := color.RGBA{v, v, v, 255}
			if defect && x >= 40 && x < 52 && y >= 16 && y < 28 {
				c = color.RGBA{255, 20, 20, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func ExampleFit() {
	var good []image.Image
	for i := 0; i < 8; i++ {
		good = append(good, stripes(i, false))
	}
	ctx := context.Background()
	m, err := pni.Fit(ctx, good,
		pni.WithBackbone("testdata/tiny_backbone.onnx"), // a real model: a ResNet's layer2+layer3 in ONNX
		pni.WithResize(64, 64), pni.WithEmbedDim(12), pni.WithSeed(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	info := m.Info()
	fmt.Printf("grid %dx%d, %d features of dimension %d in the memory bank\n", info.GridW, info.GridH, info.EmbSize, info.Dim)
	// Output: grid 8x8, 6 features of dimension 12 in the memory bank
}

func ExampleModel_Score() {
	var good []image.Image
	for i := 0; i < 8; i++ {
		good = append(good, stripes(i, false))
	}
	ctx := context.Background()
	m, err := pni.Fit(ctx, good, pni.WithBackbone("testdata/tiny_backbone.onnx"), pni.WithResize(64, 64), pni.WithEmbedDim(12), pni.WithCoresetRatio(0.5))
	if err != nil {
		fmt.Println(err)
		return
	}
	normal, _ := m.Score(ctx, stripes(3, false))
	defect, _ := m.Score(ctx, stripes(3, true))
	fmt.Println("defect scores higher:", defect.Score > normal.Score)
	fmt.Printf("map %dx%d at the input size, %dx%d at the original size\n", defect.MapW, defect.MapH, defect.OrigW, defect.OrigH)
	// Output:
	// defect scores higher: true
	// map 64x64 at the input size, 64x64 at the original size
}

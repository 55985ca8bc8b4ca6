package backbone_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"os"
	"path/filepath"

	"github.com/x/pni/backbone"
)

// modelPath returns the shared ResNet-50 if present ($PNI_SHARED or
// ../shared), else the tiny stand-in backbone in testdata, which has the
// same strides and D = 512 + 1024/2.
func modelPath() string {
	dir := os.Getenv("PNI_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	p := filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join("testdata", "tiny.onnx")
}

func ExampleModel_Features() {
	m, err := backbone.Load(modelPath(), nil) // nil: layer2+layer3, mean/std from the model
	if err != nil {
		log.Fatal(err)
	}
	// Two synthetic 300 x 200 images; in practice, decode PNG/JPEG files.
	imgs := make([]image.Image, 2)
	for i := range imgs {
		g := image.NewGray(image.Rect(0, 0, 300, 200))
		for j := range g.Pix {
			g.Pix[j] = uint8(j*(i+1)) ^ 0x55
		}
		imgs[i] = g
	}
	// Whole image squashed to 224 x 224 (no crop: the border is kept).
	f, err := m.Features(context.Background(), imgs, backbone.Preprocess{ResizeW: 224, ResizeH: 224})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d images, %d x %d grid, D = %d\n", f.N, f.H, f.W, f.D)
	fmt.Println("feature vector at image 1, row 3, column 5:", len(f.At(1, 3, 5)), "values")
	// Output:
	// 2 images, 28 x 28 grid, D = 1024
	// feature vector at image 1, row 3, column 5: 1024 values
}

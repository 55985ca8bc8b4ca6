package backbone_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log"
	"os"
	"path/filepath"

	"github.com/x/pni/backbone"
)

// modelPath returns the shared ResNet-50 if present ($PNI_SHARED or
// ../shared), else the tiny stand-in backbone in testdata, which has the
// same strides (D is the default Options.Dim, 1024, either way).
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
	// A synthetic 300 x 200 image; in practice, decode a PNG/JPEG file
	// (package imageio).
	img := image.NewGray(image.Rect(0, 0, 300, 200))
	for j := range img.Pix {
		img.Pix[j] = uint8(j) ^ 0x55
	}
	// Whole image squashed to 224 x 224 (no crop: the border is kept).
	p := backbone.Preprocess{ResizeW: 224, ResizeH: 224}
	f, err := m.Features(context.Background(), img, p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d x %d grid, D = %d\n", f.H, f.W, f.D)
	fmt.Println("feature vector at row 3, column 5:", len(f.At(3, 5)), "values")
	g, _ := m.Geometry(300, 200, p)
	x, y := g.InputToSource(112, 112) // the input's centre in the original image
	fmt.Printf("input centre -> original (%.0f, %.0f)\n", x, y)
	// Output:
	// 28 x 28 grid, D = 1024
	// feature vector at row 3, column 5: 1024 values
	// input centre -> original (150, 100)
}

// ExampleUnsupportedError shows the operator, node and opset of a model the
// executor cannot run, as a caller outside the module sees them.
func ExampleUnsupportedError() {
	_, err := backbone.Load(filepath.Join("testdata", "unsupported.onnx"), nil)
	var ue *backbone.UnsupportedError
	if errors.As(err, &ue) {
		fmt.Println(ue.Op, ue.Node, ue.Opset)
	}
	// Output: Softplus soft 13
}

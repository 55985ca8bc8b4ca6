package onnx_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/tensor"
)

// Decode a model and request an intermediate value beside the graph output.
func ExampleModel_Run() {
	data, err := os.ReadFile("testdata/conv_bn_relu.onnx")
	if err != nil {
		log.Fatal(err)
	}
	m, err := onnx.Decode(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inputs:", m.Inputs(), "outputs:", m.Outputs(), "opset:", m.Opset())
	x := tensor.New(1, 3, 6, 6) // zeros
	out, err := m.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, "r", "c")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("r:", out["r"].Shape, "c:", out["c"].Shape)
	// Output:
	// inputs: [x] outputs: [r] opset: 13
	// r: [1 4 6 6] c: [1 4 6 6]
}

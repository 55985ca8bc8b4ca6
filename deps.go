//go:build tools

package pni

import (
	_ "github.com/owulveryck/onnx-go"
	_ "github.com/viterin/vek/vek32"
	_ "golang.org/x/image/draw"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/plot"
)

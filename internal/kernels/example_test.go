package kernels_test

import (
	"fmt"

	"github.com/x/pni/internal/kernels"
)

func ExampleGemm() {
	a := []float32{1, 2, 3, 4, 5, 6} // 2×3
	b := []float32{1, 0, 0, 1, 1, 1} // 3×2
	c := make([]float32, 4)          // 2×2
	kernels.Gemm(2, 2, 3, a, b, c, false)
	fmt.Println(c)
	// Output: [4 5 10 11]
}

func ExampleNearest() {
	bank := []float32{0, 0, 10, 0, 0, 10} // three 2-d points
	query := []float32{9, 1, 1, 8}
	idx, dist := make([]int32, 2), make([]float32, 2)
	kernels.Nearest(query, 2, bank, 3, 2, nil, idx, dist)
	fmt.Println(idx, dist)
	// Output: [1 2] [2 5]
}

func ExampleConv2D() {
	// One 3×3 image, a 3×3 box filter, pad 1, stride 2: the four corner
	// windows of 1..9 sum to 12, 16, 24 and 28.
	p := kernels.ConvParams{N: 1, C: 1, H: 3, W: 3, M: 1, KH: 3, KW: 3,
		StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, DilH: 1, DilW: 1, Group: 1}
	in := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	out := make([]float32, 4)
	kernels.Conv2D(p, in, w, nil, out, false)
	fmt.Println(out)
	// Output: [12 16 24 28]
}

package kernels_test

import (
	"fmt"

	"github.com/x/pni/internal/kernels"
)

func ExampleAppendLessEqual() {
	bounds := []float32{0.9, 0.2, 0.5, 0.2, 0.7}
	allowed := []bool{true, true, true, false, true}
	fmt.Println(kernels.AppendLessEqual(nil, bounds, 0.5, nil))
	fmt.Println(kernels.AppendLessEqual(nil, bounds, 0.5, allowed))
	// Output:
	// [1 2 3]
	// [1 2]
}

func ExampleMinIndex() {
	bounds := []float32{0.9, 0.2, 0.5, 0.2, 0.7}
	fmt.Println(kernels.MinIndex(bounds, nil))                                       // first of the tied minima
	fmt.Println(kernels.MinIndex(bounds, []bool{true, false, true, true, true}))     // index 1 disallowed
	fmt.Println(kernels.MinIndex(bounds, []bool{false, false, false, false, false})) // nothing allowed
	// Output:
	// 1
	// 3
	// -1
}

package neighborhood_test

import (
	"context"
	"fmt"

	"github.com/x/pni/neighborhood"
)

// Example trains p(c | N_p(x)) on a toy category whose classes form diagonal
// stripes, so a position's class follows from its neighbours' classes, then
// predicts one image.
func Example() {
	const n, h, w, d, classes = 12, 6, 6, 8, 3
	// Features: position class k has feature e_k (one-hot in D=8 dims).
	feats := make([]float32, n*h*w*d)
	cls := func(img, y, x int) int { return (img + 2*y + x) % classes }
	targets := make([]int32, n*h*w)
	for img := 0; img < n; img++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := (img*h+y)*w + x
				feats[i*d+cls(img, y, x)] = 1
				targets[i] = int32(cls(img, y, x))
			}
		}
	}
	red, err := neighborhood.NewReducer(d, 4, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	reduced := make([]float32, n*h*w*red.Out())
	red.Apply(feats, n*h*w, reduced)
	m, err := neighborhood.Train(context.Background(), red, reduced, n, h, w, targets, classes,
		neighborhood.Config{Window: 3, Hidden: []int{32}, Epochs: 30, LR: 1e-2, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := m.Predict(feats[:h*w*d], h, w) // image 0, H*W x classes
	if err != nil {
		fmt.Println(err)
		return
	}
	best := 0
	row := p[(2*w+3)*classes : (2*w+4)*classes] // position (2, 3)
	for c := range row {
		if row[c] > row[best] {
			best = c
		}
	}
	fmt.Println("validation top-1 above 0.9:", m.Report().BestValTop1 > 0.9)
	fmt.Println("predicted class at (2,3):", best, "true:", cls(0, 2, 3))
	// Output:
	// validation top-1 above 0.9: true
	// predicted class at (2,3): 1 true: 1
}

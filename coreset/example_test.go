package coreset_test

import (
	"context"
	"fmt"

	"github.com/x/pni/coreset"
)

func ExampleSize() {
	fmt.Println(coreset.Size(0.1, 164000), coreset.Size(0.01, 784), coreset.Size(0, 784))
	// Output: 16400 8 0
}

func ExampleMapToPrefix() {
	// Four 2-d bank rows; the first two form the prefix (C_dist).
	emb := []float32{
		0, 0,
		10, 0,
		1, 1,
		9, -1,
	}
	fmt.Println(coreset.MapToPrefix(emb, 4, 2, 2))
	fmt.Println(coreset.MapToPrefix(emb, 4, 5, 2))
	// Output:
	// [0 1 0 1] <nil>
	// [] coreset: MapToPrefix: 4 rows of 2 values with a prefix of 5, in 8 values: want 1 <= nDist <= nEmb and nEmb*d values
}

func ExampleGreedy_SelectProjected() {
	// Stream rows through a projection, then run the greedy on the projected rows.
	const n, d, r = 6, 4, 2
	x := []float32{
		0, 0, 0, 0,
		0, 0, 0, 1,
		5, 5, 5, 5,
		5, 5, 5, 6,
		-5, 0, 5, 0,
		-5, 0, 5, 1,
	}
	p, err := coreset.NewProjection(d, r, 1)
	if err != nil {
		panic(err)
	}
	z := make([]float32, n*r)
	p.Apply(x, n, z)
	order, err := coreset.Greedy{Seed: 1}.SelectProjected(context.Background(), z, n, r, 3)
	if err != nil {
		panic(err)
	}
	// The three well-separated pairs each contribute one row.
	pairs := map[int]bool{}
	for _, i := range order {
		pairs[i/2] = true
	}
	fmt.Println(len(order), len(pairs))
	// Output: 3 3
}

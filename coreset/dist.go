package coreset

import "github.com/viterin/vek/vek32"

// vek32Distance is the package's distance kernel: Euclidean distance in float32
// (AVX2 through vek when available). Both the greedy and its naive reference in the
// tests call it, so they see bit-identical distances.
func vek32Distance(a, b []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	return vek32.Distance(a, b)
}

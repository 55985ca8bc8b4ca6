//go:build !amd64 || noasm || gccgo

package kernels

func lessEqual32(x *float32, n int, thr float32, allow *bool, mask *uint32) {
	lessEqual32Go(x, n, thr, allow, mask)
}

func minIndex32(x *float32, n int, allow *bool, vals *[scanBlock]float32, idx *[scanBlock]int32) {
	minIndex32Go(x, n, allow, vals, idx)
}

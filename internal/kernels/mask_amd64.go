//go:build amd64 && !noasm && !gccgo

package kernels

import "golang.org/x/sys/cpu"

// lessEqual32AVX2 is the AVX2 version of lessEqual32Go (VCMPPS + VMOVMSKPS,
// 32 elements per iteration).
//
//go:noescape
func lessEqual32AVX2(x *float32, n int, thr float32, allow *bool, mask *uint32)

// minIndex32AVX2 is the AVX2 version of minIndex32Go (four 8-lane running
// minima with their indices, updated by VCMPPS + VBLENDVPS).
//
//go:noescape
func minIndex32AVX2(x *float32, n int, allow *bool, vals *[scanBlock]float32, idx *[scanBlock]int32)

// scanAVX2 selects the assembly scan kernels, once at init.
var scanAVX2 = cpu.X86.HasAVX2

func init() {
	if scanAVX2 {
		scanName = "avx2 scan"
	}
}

func lessEqual32(x *float32, n int, thr float32, allow *bool, mask *uint32) {
	if scanAVX2 {
		lessEqual32AVX2(x, n, thr, allow, mask)
		return
	}
	lessEqual32Go(x, n, thr, allow, mask)
}

func minIndex32(x *float32, n int, allow *bool, vals *[scanBlock]float32, idx *[scanBlock]int32) {
	if scanAVX2 {
		minIndex32AVX2(x, n, allow, vals, idx)
		return
	}
	minIndex32Go(x, n, allow, vals, idx)
}

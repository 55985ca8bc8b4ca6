//go:build amd64 && !noasm && !gccgo

package kernels

import "golang.org/x/sys/cpu"

// kern6x16AVX2 is the AVX2+FMA register-tile micro-kernel. It computes
//
//	for r := 0; r < 6; r++ {
//		for j := 0; j < 16; j++ {
//			s := float32(0)
//			if bias != nil {
//				s = bias[r]
//			}
//			for p := 0; p < kc; p++ {
//				s += a[p*6+r] * b[p*16+j]
//			}
//			if flags&kernLoad != 0 {
//				s += c[r*ldc+j]
//			}
//			if flags&kernReLU != 0 && s < 0 {
//				s = 0
//			}
//			c[r*ldc+j] = s
//		}
//	}
//
// with a packed 6-row A panel, a packed 16-column B panel and C row stride ldc
// (in elements). See kern6x16Go for the portable version.
//
//go:noescape
func kern6x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)

// packPre16AVX2 is packPre16Go in AVX2.
//
//go:noescape
func packPre16AVX2(kc int, src *float32, ld int, scale, shift, dst *float32)

// winoIn8AVX2 is winoIn8Go in AVX2.
//
//go:noescape
func winoIn8AVX2(x *float32, ldx int, v *float32, vs int)

// winoOut8AVX2 is winoOut8Go in AVX2.
//
//go:noescape
func winoOut8AVX2(m *float32, ms int, bias *float32, relu bool, dst0, dst1 *float32)

// kern4x16AVX2 and kern2x16AVX2 are kern4x16Go and kern2x16Go in AVX2+FMA.
//
//go:noescape
func kern4x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)

//go:noescape
func kern2x16AVX2(kc int, a, b, c *float32, ldc int, bias *float32, flags int)

// gather2x16AVX2 is gather2x16Go in AVX2.
//
//go:noescape
func gather2x16AVX2(dst, src *float32)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kern6x16 = kern6x16AVX2
		packPre16 = packPre16AVX2
		winoIn8, winoOut8 = winoIn8AVX2, winoOut8AVX2
		gather2x16 = gather2x16AVX2
		kern4x16, kern2x16 = kern4x16AVX2, kern2x16AVX2
		kernName = "avx2+fma 6x16"
	}
}

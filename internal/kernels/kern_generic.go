package kernels

import "unsafe"

// Flags of the micro-kernel.
const (
	kernLoad = 1 // add the existing contents of C
	kernReLU = 2 // clamp the result at zero
)

// kern6x16 is the micro-kernel selected once at init: the AVX2+FMA assembly
// where the CPU has it (and the build has no noasm tag), else kern6x16Go.
var kern6x16 = kern6x16Go

// packPre16 is the packing loop of a full B panel with a Pre applied (see
// packRowsBPre), selected at init like kern6x16.
var packPre16 = packPre16Go

// packPre16Go writes, for kc rows p, dst[p*16+j] = max(src[p*ld+j]·scale[p]
// + shift[p], 0) for j < 16.
func packPre16Go(kc int, src *float32, ld int, scale, shift, dst *float32) {
	if kc <= 0 {
		return
	}
	sp := unsafe.Slice(src, (kc-1)*ld+nr)
	sc, sh := unsafe.Slice(scale, kc), unsafe.Slice(shift, kc)
	dp := unsafe.Slice(dst, kc*nr)
	for p := 0; p < kc; p++ {
		s, t := sc[p], sh[p]
		v := (*[nr]float32)(sp[p*ld : p*ld+nr])
		q := (*[nr]float32)(dp[p*nr : p*nr+nr])
		for j := range q {
			q[j] = max(v[j]*s+t, 0)
		}
	}
}

// gather2x16 writes dst[j] = src[2j] for j < 16 (a stride-2 convolution's
// packing), selected at init like kern6x16.
var gather2x16 = gather2x16Go

func gather2x16Go(dst, src *float32) {
	d, s := (*[16]float32)(unsafe.Pointer(dst)), (*[32]float32)(unsafe.Pointer(src))
	for j := range d {
		d[j] = s[2*j]
	}
}

// kernName names the selected micro-kernel (for benchmarks and tests).
var kernName = "generic 6x16"

// kern6x16Go is the portable micro-kernel and the reference for the assembly:
// C[0:6, 0:16] (row stride ldc) = bias + Apanel·Bpanel (+ C when
// flags&kernLoad), clamped at 0 when flags&kernReLU. a holds kc columns of 6
// rows (a[p*6+r]), b holds kc rows of 16 columns (b[p*16+j]); bias is nil or
// points at 6 values.
func kern6x16Go(kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
	kernRowsGo(mr, kc, a, b, c, ldc, bias, flags)
}

// kern4x16 and kern2x16 are kern6x16 for the first 4 or 2 rows of the A
// panel only (the last panel of an M that is not a multiple of 6): C's and
// bias's other rows are not touched. Selected at init like kern6x16.
var (
	kern4x16 = kern4x16Go
	kern2x16 = kern2x16Go
)

func kern4x16Go(kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
	kernRowsGo(4, kc, a, b, c, ldc, bias, flags)
}

func kern2x16Go(kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
	kernRowsGo(2, kc, a, b, c, ldc, bias, flags)
}

// kernRowsGo is kern6x16Go for the first rows rows of the panel.
func kernRowsGo(rows, kc int, a, b, c *float32, ldc int, bias *float32, flags int) {
	ap := unsafe.Slice(a, kc*mr)
	bp := unsafe.Slice(b, kc*nr)
	var acc [mr][nr]float32
	if bias != nil {
		bs := unsafe.Slice(bias, rows)
		for r := range rows {
			for j := range acc[r] {
				acc[r][j] = bs[r]
			}
		}
	}
	for p := 0; p < kc; p++ {
		brow := (*[nr]float32)(bp[p*nr : p*nr+nr])
		acol := (*[mr]float32)(ap[p*mr : p*mr+mr])
		for r := 0; r < rows; r++ {
			av := acol[r]
			row := &acc[r]
			for j := 0; j < nr; j++ {
				row[j] += av * brow[j]
			}
		}
	}
	cs := unsafe.Slice(c, (rows-1)*ldc+nr)
	for r := 0; r < rows; r++ {
		crow := cs[r*ldc : r*ldc+nr]
		for j := 0; j < nr; j++ {
			s := acc[r][j]
			if flags&kernLoad != 0 {
				s += crow[j]
			}
			if flags&kernReLU != 0 && s < 0 {
				s = 0
			}
			crow[j] = s
		}
	}
}

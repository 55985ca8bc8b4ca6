package kernels

import (
	"math"
	"math/bits"
	"unsafe"
)

// Scans over a float32 slice used by nearest-neighbour refinement: the index
// of the smallest allowed value, and the indices of the allowed values at or
// below a threshold. Both take an optional allow slice of booleans (nil allows
// every element) so a caller never has to overwrite disallowed values with
// +Inf first. The 32-element blocks run in AVX2 assembly where available
// (mask_amd64.s); the portable versions below are the reference.

// scanBlock is the number of elements the block kernels handle per step.
const scanBlock = 32

// The block kernels, defined in mask_amd64.go (AVX2 assembly when the CPU
// has it) or mask_generic.go (the portable versions below):
//
// lessEqual32(x *float32, n int, thr float32, allow *bool, mask *uint32)
// writes, for each of the n/32 blocks of 32 elements of x (n a multiple of
// 32), a 32-bit word to mask whose bit j is set when x[32·w+j] <= thr and
// (allow == nil or allow[32·w+j]). NaN is never <= thr.
//
// minIndex32(x *float32, n int, allow *bool, vals *[32]float32, idx *[32]int32)
// scans the n elements of x (n a multiple of 32) as 32 lanes: lane l covers
// the elements i with i%32 == l. For each lane it stores in vals[l] the
// smallest allowed value strictly below +Inf (NaN never qualifies) and in
// idx[l] the first index holding it; lanes with no such element get +Inf and
// an unspecified index.
//
// They are direct functions rather than function variables so that the
// caller's small stack buffers do not escape to the heap.

// scanName names the selected block kernels (for tests).
var scanName = "generic scan"

func lessEqual32Go(x *float32, n int, thr float32, allow *bool, mask *uint32) {
	xs := unsafe.Slice(x, n)
	ms := unsafe.Slice(mask, n/scanBlock)
	var as []bool
	if allow != nil {
		as = unsafe.Slice(allow, n)
	}
	for w := range ms {
		var m uint32
		for j, v := range xs[w*scanBlock : (w+1)*scanBlock] {
			if v <= thr && (as == nil || as[w*scanBlock+j]) {
				m |= 1 << j
			}
		}
		ms[w] = m
	}
}

func minIndex32Go(x *float32, n int, allow *bool, vals *[scanBlock]float32, idx *[scanBlock]int32) {
	xs := unsafe.Slice(x, n)
	var as []bool
	if allow != nil {
		as = unsafe.Slice(allow, n)
	}
	inf := float32(math.Inf(1))
	for l := range vals {
		vals[l], idx[l] = inf, 0
	}
	for i, v := range xs {
		if as != nil && !as[i] {
			continue
		}
		if l := i % scanBlock; v < vals[l] {
			vals[l], idx[l] = v, int32(i)
		}
	}
}

// MinIndex returns the index of the smallest x[i] among the elements allowed
// by allow (all when allow is nil), the first such index on ties, or -1 when
// no allowed element is below +Inf. NaN and +Inf are never chosen. A non-nil
// allow must be at least as long as x; len(x) must be below 2³¹.
func MinIndex(x []float32, allow []bool) int {
	if allow != nil {
		allow = allow[:len(x)]
	}
	n := len(x) &^ (scanBlock - 1)
	best, bi := float32(math.Inf(1)), -1
	if n > 0 {
		var vals [scanBlock]float32
		var idx [scanBlock]int32
		var ap *bool
		if allow != nil {
			ap = &allow[0]
		}
		minIndex32(&x[0], n, ap, &vals, &idx)
		for l, v := range vals {
			if v < best || (v == best && v < float32(math.Inf(1)) && int(idx[l]) < bi) {
				best, bi = v, int(idx[l])
			}
		}
	}
	for i := n; i < len(x); i++ {
		if v := x[i]; v < best && (allow == nil || allow[i]) {
			best, bi = v, i
		}
	}
	return bi
}

// AppendLessEqual appends to dst, in increasing order, the indices i with
// x[i] <= thr and (allow == nil or allow[i]), and returns the extended slice.
// NaN is never <= thr. A non-nil allow must be at least as long as x; len(x)
// must be below 2³¹.
func AppendLessEqual(dst []int32, x []float32, thr float32, allow []bool) []int32 {
	if allow != nil {
		allow = allow[:len(x)]
	}
	const chunk = 64 * scanBlock
	var mask [chunk / scanBlock]uint32
	n := len(x) &^ (scanBlock - 1)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		var ap *bool
		if allow != nil {
			ap = &allow[lo]
		}
		lessEqual32(&x[lo], hi-lo, thr, ap, &mask[0])
		for w, m := range mask[:(hi-lo)/scanBlock] {
			base := int32(lo + w*scanBlock)
			for m != 0 {
				dst = append(dst, base+int32(bits.TrailingZeros32(m)))
				m &= m - 1
			}
		}
	}
	for i := n; i < len(x); i++ {
		if x[i] <= thr && (allow == nil || allow[i]) {
			dst = append(dst, int32(i))
		}
	}
	return dst
}

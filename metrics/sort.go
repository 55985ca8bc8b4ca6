package metrics

import "slices"

// radixCutoff is the bucket size below which radixSort hands over to
// slices.Sort.
const radixCutoff = 256

func sortU32(a []uint32) { radixSort(a, 24, 0) }

// sortU64High sorts a by its high 32 bits only (the order of elements with
// equal high halves is unspecified).
func sortU64High(a []uint64) { radixSort(a, 56, 32) }

// radixSort is an in-place most-significant-digit radix sort (American flag
// sort, 8-bit digits) of a by the bits from shift+7 down to low; it needs no
// scratch buffer, only recursion of depth <= 4.
func radixSort[T uint32 | uint64](a []T, shift, low uint) {
	if len(a) < radixCutoff {
		if low == 0 {
			slices.Sort(a)
		} else {
			slices.SortFunc(a, func(x, y T) int {
				x, y = x>>low, y>>low
				if x < y {
					return -1
				}
				if x > y {
					return 1
				}
				return 0
			})
		}
		return
	}
	var count [256]int
	for _, v := range a {
		count[(v>>shift)&0xff]++
	}
	var next, end [256]int
	s := 0
	for d := range 256 {
		next[d] = s
		s += count[d]
		end[d] = s
	}
	for d := range 256 {
		for next[d] < end[d] {
			v := a[next[d]]
			b := int((v >> shift) & 0xff)
			if b == d {
				next[d]++
				continue
			}
			a[next[d]], a[next[b]] = a[next[b]], v
			next[b]++
		}
	}
	if shift == low {
		return
	}
	s = 0
	for d := range 256 {
		if count[d] > 1 {
			radixSort(a[s:s+count[d]], shift-8, low)
		}
		s += count[d]
	}
}

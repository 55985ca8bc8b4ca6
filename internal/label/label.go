// Package label finds the 8-connected components of a binary mask (the
// connectivity of MVTec's AUPRO evaluation and of pni's anomaly regions).
package label

// Regions labels the 8-connected components of mask (row-major, w wide)
// into lab (len(mask) entries, cleared first), numbering them first,
// first+1, ... in raster order of their first pixel, and appends each
// component's pixel count to sizes. stack is scratch; the grown slices are
// returned for reuse.
func Regions(mask []bool, w int, lab []int32, first int32, sizes []int32, stack []int32) ([]int32, []int32) {
	h := len(mask) / w
	clear(lab)
	id := first
	for p, m := range mask {
		if !m || lab[p] != 0 {
			continue
		}
		lab[p] = id
		size := int32(0)
		stack = append(stack[:0], int32(p))
		for len(stack) > 0 {
			q := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			size++
			y, x := q/w, q%w
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					r := yy*w + xx
					if mask[r] && lab[r] == 0 {
						lab[r] = id
						stack = append(stack, int32(r))
					}
				}
			}
		}
		sizes = append(sizes, size)
		id++
	}
	return sizes, stack
}

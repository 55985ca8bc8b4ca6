package metrics

import (
	"fmt"

	"github.com/x/pni/internal/label"
)

// proData is the sorted pixel data of a PRO computation.
type proData struct {
	normal  []uint32  // keys of the normal pixels, ascending
	defect  []uint64  // key<<32 | region index of the defect pixels, ascending by key
	invSize []float64 // 1 / region size, by region index
}

// checkLimit validates limit, mapping 0 to DefaultPROLimit.
func checkLimit(limit float64) (float64, error) {
	if limit == 0 {
		return DefaultPROLimit, nil
	}
	if !(limit > 0 && limit <= 1) {
		return 0, fmt.Errorf("%w, got %v", ErrLimit, limit)
	}
	return limit, nil
}

// buildPRO validates the inputs, labels the regions and sorts the pixels.
func buildPRO(maps [][]float32, masks [][]bool, width []int) (*proData, error) {
	if len(maps) != len(masks) || len(maps) != len(width) {
		return nil, fmt.Errorf("%w: %d maps, %d masks, %d widths", ErrShape, len(maps), len(masks), len(width))
	}
	nDefect, nNormal, maxLen := 0, 0, 0
	for i := range maps {
		if len(maps[i]) != len(masks[i]) {
			return nil, fmt.Errorf("%w: image %d has %d scores but %d mask pixels", ErrShape, i, len(maps[i]), len(masks[i]))
		}
		if width[i] <= 0 || len(maps[i])%width[i] != 0 {
			return nil, fmt.Errorf("%w: image %d has %d pixels, not a multiple of its width %d", ErrShape, i, len(maps[i]), width[i])
		}
		for _, m := range masks[i] {
			if m {
				nDefect++
			}
		}
		nNormal += len(masks[i])
		maxLen = max(maxLen, len(masks[i]))
	}
	nNormal -= nDefect
	if nDefect == 0 {
		return nil, ErrNoRegions
	}
	if nNormal == 0 {
		return nil, ErrNoNormal
	}
	d := &proData{normal: make([]uint32, 0, nNormal), defect: make([]uint64, 0, nDefect)}
	lab := make([]int32, maxLen)
	var sizes, stack []int32
	for i := range maps {
		mask, scores := masks[i], maps[i]
		lab := lab[:len(mask)]
		sizes, stack = label.Regions(mask, width[i], lab, int32(len(sizes))+1, sizes, stack)
		for p, s := range scores {
			k, ok := key(s)
			if !ok {
				return nil, fmt.Errorf("image %d: %w at index %d", i, ErrNaN, p)
			}
			if mask[p] {
				d.defect = append(d.defect, uint64(k)<<32|uint64(lab[p]-1))
			} else {
				d.normal = append(d.normal, k)
			}
		}
	}
	d.invSize = make([]float64, len(sizes))
	for r, s := range sizes {
		d.invSize[r] = 1 / float64(s)
	}
	sortU32(d.normal)
	sortU64High(d.defect)
	return d, nil
}

// sweep visits the PRO curve from the highest threshold down: visit gets the
// (FPR, PRO) point after each distinct score and returns false to stop.
func (d *proData) sweep(visit func(fpr, pro float64) bool) {
	nN, nR := float64(len(d.normal)), float64(len(d.invSize))
	i, j := len(d.defect)-1, len(d.normal)-1
	fp := 0
	sum := 0.0
	for i >= 0 || j >= 0 {
		var t uint32
		if i >= 0 && (j < 0 || uint32(d.defect[i]>>32) >= d.normal[j]) {
			t = uint32(d.defect[i] >> 32)
		} else {
			t = d.normal[j]
		}
		for i >= 0 && uint32(d.defect[i]>>32) == t {
			sum += d.invSize[uint32(d.defect[i])]
			i--
		}
		for j >= 0 && d.normal[j] == t {
			fp++
			j--
		}
		if !visit(min(float64(fp)/nN, 1), min(sum/nR, 1)) {
			return
		}
	}
}

// integrate adds trapezoids from (0, 0) along the curve up to FPR = limit,
// cutting the last segment at exactly limit; it returns the area (not yet
// divided by limit) and, if keep, the points used.
func (d *proData) integrate(limit float64, keep bool) (area float64, fprs, pros []float64) {
	pf, pp := 0.0, 0.0
	if keep {
		fprs, pros = []float64{0}, []float64{0}
	}
	d.sweep(func(f, p float64) bool {
		if f > limit {
			y := pp + (p-pp)*(limit-pf)/(f-pf)
			area += 0.5 * (y + pp) * (limit - pf)
			if keep && pf != limit {
				fprs, pros = appendPoint(fprs, pros, limit, y)
			}
			return false
		}
		area += 0.5 * (p + pp) * (f - pf)
		if keep {
			fprs, pros = appendPoint(fprs, pros, f, p)
		}
		pf, pp = f, p
		return true
	})
	if keep && fprs[len(fprs)-1] == 1 {
		// The whole curve: end at exactly (1, 1) as the official code does
		// (the float sum of the overlaps may stop a few ulps short of 1).
		fprs, pros = appendPoint(fprs, pros, 1, 1)
	}
	return area, fprs, pros
}

// appendPoint appends (f, p), first dropping the previous point when it is the
// middle of a horizontal or vertical run (it adds nothing to the area).
func appendPoint(fprs, pros []float64, f, p float64) ([]float64, []float64) {
	if n := len(fprs); n >= 1 && fprs[n-1] == f && pros[n-1] == p {
		return fprs, pros
	}
	if n := len(fprs); n >= 2 {
		if (fprs[n-2] == fprs[n-1] && fprs[n-1] == f) || (pros[n-2] == pros[n-1] && pros[n-1] == p) {
			fprs[n-1], pros[n-1] = f, p
			return fprs, pros
		}
	}
	return append(fprs, f), append(pros, p)
}

// AUPRO is the normalised area under the per-region-overlap curve up to FPR =
// limit, as the official MVTec AD evaluation code (see the package
// documentation for the exact definition). maps[i] is image i's anomaly map,
// row-major with width[i] columns; masks[i] its ground truth in the same
// layout (true = defect); images may differ in size, and images with empty
// masks contribute normal pixels only. limit 0 means [DefaultPROLimit]; other
// values must be in (0, 1]. The result is in [0, 1] (1 = every region fully
// detected before any false positive).
//
// Errors wrap [ErrShape], [ErrNaN], [ErrLimit], [ErrNoRegions] or
// [ErrNoNormal]. Memory: 4 bytes per normal pixel, 8 per defect pixel, plus a
// label buffer the size of the largest image; time is one O(n) radix sort.
func AUPRO(maps [][]float32, masks [][]bool, width []int, limit float64) (float64, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return 0, err
	}
	d, err := buildPRO(maps, masks, width)
	if err != nil {
		return 0, err
	}
	area, _, _ := d.integrate(limit, false)
	return area / limit, nil
}

// PROCurve is the PRO curve of [AUPRO] for plotting, on the same inputs:
// fpr[0] = pro[0] = 0, then one point per distinct score from the highest
// threshold down, up to FPR = limit (the last point interpolated at exactly
// limit; limit 0 means [DefaultPROLimit], 1 gives the whole curve ending at
// (1, 1)). Points in the middle of horizontal or vertical runs are left out,
// which changes neither the shape nor the area. Errors as [AUPRO].
func PROCurve(maps [][]float32, masks [][]bool, width []int, limit float64) (fpr, pro []float64, err error) {
	limit, err = checkLimit(limit)
	if err != nil {
		return nil, nil, err
	}
	d, err := buildPRO(maps, masks, width)
	if err != nil {
		return nil, nil, err
	}
	_, fpr, pro = d.integrate(limit, true)
	return fpr, pro, nil
}

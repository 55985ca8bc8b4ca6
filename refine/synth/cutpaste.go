package synth

import (
	"image"
	"math"
)

// CutPaste bounds: the pasted rectangle's area as a fraction of the image's,
// and its aspect ratio (width / height, drawn log-uniformly).
const (
	CutPasteMinArea   = 0.02
	CutPasteMaxArea   = 0.15
	CutPasteMinAspect = 0.3
	CutPasteMaxAspect = 3.3
)

// CutPaste is CutPaste's rectangle defect (Li et al., CVPR 2021): a
// rectangle of CutPasteMinArea to CutPasteMaxArea of the image's area, with
// an aspect ratio from CutPasteMinAspect to CutPasteMaxAspect, is cut from
// the image, colour-jittered (brightness, contrast and, for colour images,
// saturation and hue, each by at most 10%, hue by 0.05 turns) and pasted,
// fully inside the image, at another random place. The mask is the pasted
// rectangle. On an image too narrow for the drawn aspect ratio the rectangle
// is clipped to the image's side and widened to keep its area.
//
// The zero value is ready to use.
type CutPaste struct{}

// Name returns "cutpaste".
func (CutPaste) Name() string { return "cutpaste" }

// Generate returns a defective copy of src.
func (CutPaste) Generate(src image.Image, seed uint64) (Sample, error) {
	j, err := start("CutPaste", src, seed, streamCutPaste)
	if err != nil {
		return Sample{}, err
	}
	r := j.rng
	W, H := j.w, j.h
	w, h := cutPasteSize(W, H, r.uniform(CutPasteMinArea, CutPasteMaxArea), r.logUniform(CutPasteMinAspect, CutPasteMaxAspect))
	cx, cy := r.intn(W-w+1), r.intn(H-h+1)
	px, py := r.intn(W-w+1), r.intn(H-h+1)
	for try := 0; try < 16 && px == cx && py == cy; try++ {
		px, py = r.intn(W-w+1), r.intn(H-h+1)
	}
	p := cut(j.src, cx, cy, w, h)
	jitter(p, j.src.gray(), r)
	i := 0
	for y := range h {
		row := (py + y) * W
		for x := range w {
			j.dst.set(px+x, py+y, p.pix[i], p.pix[i+1], p.pix[i+2])
			j.mask[row+px+x] = 255
			i += 3
		}
	}
	return j.sample(), nil
}

// cutPasteSize returns the rectangle for an area fraction and an aspect
// ratio on a W x H image: fully inside the image, and with an area in
// [ceil(CutPasteMinArea*W*H), floor(CutPasteMaxArea*W*H)] pixels.
func cutPasteSize(W, H int, frac, aspect float64) (w, h int) {
	A := float64(W * H)
	area := frac * A
	w = int(math.Round(math.Sqrt(area * aspect)))
	h = int(math.Round(math.Sqrt(area / aspect)))
	if h > H {
		h = H
		w = int(math.Round(area / float64(H)))
	}
	if w > W {
		w = W
		h = int(math.Round(area / float64(W)))
	}
	w = min(max(w, 1), W)
	h = min(max(h, 1), H)
	lo := int(math.Ceil(CutPasteMinArea * A))
	hi := int(math.Floor(CutPasteMaxArea * A))
	// With sides of at least MinSide, one row or column is less than the gap
	// hi-lo, so these loops end inside [lo, hi].
	for w*h < lo {
		if (w <= h && w < W) || h == H {
			w++
		} else {
			h++
		}
	}
	for w*h > hi {
		if (w >= h && w > 1) || h == 1 {
			w--
		} else {
			h--
		}
	}
	return w, h
}

// Scar bounds at a 256 px shorter side; both scale with the shorter side.
// The width is at least 1 px.
const (
	ScarMinWidth  = 2.0  // px at 256 px
	ScarMaxWidth  = 16.0 // px at 256 px
	ScarMinLength = 0.10 // fraction of the shorter side
	ScarMaxLength = 0.25 // fraction of the shorter side
)

// Scar is CutPaste's scar defect (Li et al., CVPR 2021): a thin long
// rectangle, ScarMinWidth to ScarMaxWidth px wide and ScarMinLength to
// ScarMaxLength of the side long (both scaled with the image's shorter side
// over 256 px), cut from the image, colour-jittered like CutPaste's, rotated
// by a uniform angle in [0, 360) degrees (bilinear) and pasted, fully inside
// the image, at a random place. The mask is the rotated rectangle's
// footprint: the pixels whose centres it covers, which are the pixels
// written.
//
// CutPaste's scar is 10-25 px long at 256 px; this one is longer, 10-25% of
// the side, so that it stays visible after the downscaling of a refinement
// network's input.
//
// The zero value is ready to use.
type Scar struct{}

// Name returns "scar".
func (Scar) Name() string { return "scar" }

// scarSize returns the scar's width and length on an image whose shorter
// side is side, from uniform draws u, v in [0, 1).
func scarSize(side float64, u, v float64) (w, l int) {
	w = max(1, int(math.Round((ScarMinWidth+(ScarMaxWidth-ScarMinWidth)*u)*side/256)))
	l = max(2, int(math.Round((ScarMinLength+(ScarMaxLength-ScarMinLength)*v)*side)))
	return w, l
}

// Generate returns a defective copy of src.
func (Scar) Generate(src image.Image, seed uint64) (Sample, error) {
	j, err := start("Scar", src, seed, streamScar)
	if err != nil {
		return Sample{}, err
	}
	r := j.rng
	W, H := j.w, j.h
	sw, sl := scarSize(j.side(), r.float(), r.float())
	theta := r.uniform(0, 2*math.Pi)
	cx, cy := r.intn(W-sl+1), r.intn(H-sw+1)
	p := cut(j.src, cx, cy, sl, sw) // long along x
	jitter(p, j.src.gray(), r)

	cos, sin := math.Cos(theta), math.Sin(theta)
	fl, fw := float64(sl), float64(sw)
	ex := (fl*math.Abs(cos) + fw*math.Abs(sin)) / 2
	ey := (fl*math.Abs(sin) + fw*math.Abs(cos)) / 2
	qx := r.uniform(ex, math.Max(ex, float64(W)-ex))
	qy := r.uniform(ey, math.Max(ey, float64(H)-ey))
	x0, x1 := max(0, int(math.Floor(qx-ex))), min(W, int(math.Ceil(qx+ex)))
	y0, y1 := max(0, int(math.Floor(qy-ey))), min(H, int(math.Ceil(qy+ey)))
	n := 0
	for y := y0; y < y1; y++ {
		dy := float64(y) + 0.5 - qy
		for x := x0; x < x1; x++ {
			dx := float64(x) + 0.5 - qx
			u := dx*cos + dy*sin + fl/2
			v := -dx*sin + dy*cos + fw/2
			if u < 0 || u >= fl || v < 0 || v >= fw {
				continue
			}
			cr, cg, cb := p.bilinear(float32(u-0.5), float32(v-0.5))
			j.dst.set(x, y, cr, cg, cb)
			j.mask[y*W+x] = 255
			n++
		}
	}
	if n == 0 { // a tiny scar between pixel centres: keep its centre pixel
		x, y := min(int(qx), W-1), min(int(qy), H-1)
		cr, cg, cb := p.bilinear(float32(fl/2-0.5), float32(fw/2-0.5))
		j.dst.set(x, y, cr, cg, cb)
		j.mask[y*W+x] = 255
	}
	return j.sample(), nil
}

// bilinear samples p at (x, y) in pixel coordinates (pixel centres at
// integers), clamped to the patch.
func (p *patch) bilinear(x, y float32) (float32, float32, float32) {
	x = min(max(x, 0), float32(p.w-1))
	y = min(max(y, 0), float32(p.h-1))
	ix, iy := int(x), int(y)
	fx, fy := x-float32(ix), y-float32(iy)
	ix1, iy1 := min(ix+1, p.w-1), min(iy+1, p.h-1)
	i00 := 3 * (iy*p.w + ix)
	i10 := 3 * (iy*p.w + ix1)
	i01 := 3 * (iy1*p.w + ix)
	i11 := 3 * (iy1*p.w + ix1)
	var out [3]float32
	for k := range 3 {
		a := p.pix[i00+k] + fx*(p.pix[i10+k]-p.pix[i00+k])
		b := p.pix[i01+k] + fx*(p.pix[i11+k]-p.pix[i01+k])
		out[k] = a + fy*(b-a)
	}
	return out[0], out[1], out[2]
}

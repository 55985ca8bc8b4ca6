package synth

import (
	"image"
	"math"
)

// Strokes bounds: the number of curves, and the curve width as a fraction
// of the image's shorter side (at least 1 px).
const (
	StrokesMin        = 1
	StrokesMax        = 4
	StrokesMinWidth   = 0.01
	StrokesMaxWidth   = 0.03
	strokesMinPoints  = 4
	strokesMaxPoints  = 6
	strokesMinStep    = 0.06 // control-point spacing, fraction of the side
	strokesMaxStep    = 0.15
	strokesMaxTurnRad = math.Pi / 3
)

// Strokes stands in for PNI's manually drawn defects: StrokesMin to
// StrokesMax smooth curves (Catmull-Rom splines through 4-6 control points
// placed by a random walk with turns of up to 60 degrees), each in one random
// colour (a random intensity on gray images) and a width varying smoothly
// along it between StrokesMinWidth and StrokesMaxWidth of the shorter side.
// Curves are painted opaque with binary coverage (a pixel is painted when
// its centre is within half the width of the curve), so nothing bleeds past
// the mask, which is exactly the painted pixels.
//
// The zero value is ready to use.
type Strokes struct{}

// Name returns "strokes".
func (Strokes) Name() string { return "strokes" }

// Generate returns a defective copy of src.
func (Strokes) Generate(src image.Image, seed uint64) (Sample, error) {
	j, err := start("Strokes", src, seed, streamStrokes)
	if err != nil {
		return Sample{}, err
	}
	r := j.rng
	W, H := float64(j.w), float64(j.h)
	side := j.side()
	gray := j.src.gray()
	n := StrokesMin + r.intn(StrokesMax-StrokesMin+1)
	for range n {
		k := strokesMinPoints + r.intn(strokesMaxPoints-strokesMinPoints+1)
		pts := make([][2]float64, k)
		wid := make([]float64, k)
		pts[0] = [2]float64{r.uniform(0, W), r.uniform(0, H)}
		heading := r.uniform(0, 2*math.Pi)
		step := r.uniform(strokesMinStep, strokesMaxStep) * side
		for i := range k {
			if i > 0 {
				heading += r.uniform(-strokesMaxTurnRad, strokesMaxTurnRad)
				pts[i] = [2]float64{
					math.Min(math.Max(pts[i-1][0]+step*math.Cos(heading), 0), W),
					math.Min(math.Max(pts[i-1][1]+step*math.Sin(heading), 0), H),
				}
			}
			wid[i] = math.Max(1, r.uniform(StrokesMinWidth, StrokesMaxWidth)*side)
		}
		var col [3]float32
		if gray {
			v := float32(r.float())
			col = [3]float32{v, v, v}
		} else {
			col = [3]float32{float32(r.float()), float32(r.float()), float32(r.float())}
		}
		for i := 0; i+1 < k; i++ {
			p0, p1, p2, p3 := pts[max(i-1, 0)], pts[i], pts[i+1], pts[min(i+2, k-1)]
			strokeSegment(j, p0, p1, p2, p3, wid[i], wid[i+1], col)
		}
	}
	return j.sample(), nil
}

// strokeSegment paints the Catmull-Rom segment from p1 to p2 with width going
// smoothly from w1 to w2.
func strokeSegment(j *job, p0, p1, p2, p3 [2]float64, w1, w2 float64, col [3]float32) {
	// The Bezier control polygon bounds the arc length.
	var b1, b2 [2]float64
	for d := range 2 {
		b1[d] = p1[d] + (p2[d]-p0[d])/6
		b2[d] = p2[d] - (p3[d]-p1[d])/6
	}
	length := math.Hypot(b1[0]-p1[0], b1[1]-p1[1]) + math.Hypot(b2[0]-b1[0], b2[1]-b1[1]) + math.Hypot(p2[0]-b2[0], p2[1]-b2[1])
	// Discs a quarter radius apart leave a scallop under 1% of the radius.
	spacing := math.Max(0.5, math.Min(w1, w2)/8)
	steps := int(math.Ceil(length/spacing)) + 1
	for s := 0; s <= steps; s++ {
		t := float64(s) / float64(steps)
		t2, t3 := t*t, t*t*t
		var c [2]float64
		for d := range 2 {
			c[d] = 0.5 * (2*p1[d] + (p2[d]-p0[d])*t + (2*p0[d]-5*p1[d]+4*p2[d]-p3[d])*t2 + (3*p1[d]-p0[d]-3*p2[d]+p3[d])*t3)
		}
		sm := t2 * (3 - 2*t)
		disc(j, c[0], c[1], (w1+(w2-w1)*sm)/2, col)
	}
}

// disc paints the pixels whose centres are within rad of (cx, cy), and the
// pixel holding (cx, cy), clipped to the image.
func disc(j *job, cx, cy, rad float64, col [3]float32) {
	W, H := j.w, j.h
	paint := func(x, y int) {
		j.dst.set(x, y, col[0], col[1], col[2])
		j.mask[y*W+x] = 255
	}
	if x, y := int(math.Floor(cx)), int(math.Floor(cy)); x >= 0 && x < W && y >= 0 && y < H {
		paint(x, y)
	}
	x0, x1 := max(0, int(math.Floor(cx-rad))), min(W-1, int(math.Ceil(cx+rad)))
	y0, y1 := max(0, int(math.Floor(cy-rad))), min(H-1, int(math.Ceil(cy+rad)))
	r2 := rad * rad
	for y := y0; y <= y1; y++ {
		dy := float64(y) + 0.5 - cy
		for x := x0; x <= x1; x++ {
			dx := float64(x) + 0.5 - cx
			if dx*dx+dy*dy <= r2 {
				paint(x, y)
			}
		}
	}
}

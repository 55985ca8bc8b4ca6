package synth

import "math"

// Colour-jitter ranges of CutPaste and Scar, as factors 1 +- range (hue: a
// shift of the hue circle by up to +- hueJitter turns). CutPaste's reference
// code uses torchvision's ColorJitter(0.1, 0.1, 0.1, 0.1); the hue range here
// is halved so that pasted patches stay plausible colours of the part.
const (
	brightnessJitter = 0.1
	contrastJitter   = 0.1
	saturationJitter = 0.1
	hueJitter        = 0.05
)

// patch is a w x h block of straight RGB colour, row-major, 3 floats a pixel.
type patch struct {
	w, h int
	pix  []float32
}

// cut copies the w x h block at (x0, y0) of c.
func cut(c *canvas, x0, y0, w, h int) *patch {
	p := &patch{w: w, h: h, pix: make([]float32, 3*w*h)}
	i := 0
	for y := range h {
		for x := range w {
			p.pix[i], p.pix[i+1], p.pix[i+2] = c.get(x0+x, y0+y)
			i += 3
		}
	}
	return p
}

// jitter changes p's brightness and contrast and, unless gray, saturation
// and hue, in torchvision's order and formulas (each step clamped to [0, 1]).
func jitter(p *patch, gray bool, r *rng) {
	bf := float32(r.uniform(1-brightnessJitter, 1+brightnessJitter))
	cf := float32(r.uniform(1-contrastJitter, 1+contrastJitter))
	sf := float32(r.uniform(1-saturationJitter, 1+saturationJitter))
	hs := float32(r.uniform(-hueJitter, hueJitter))
	px := p.pix
	// Brightness: scale.
	for i := range px {
		px[i] = clamp01(px[i] * bf)
	}
	// Contrast: blend with the mean luma of the patch.
	var sum float64
	for i := 0; i < len(px); i += 3 {
		sum += float64(luma(px[i], px[i+1], px[i+2]))
	}
	mean := float32(sum / float64(len(px)/3))
	for i := range px {
		px[i] = clamp01(cf*px[i] + (1-cf)*mean)
	}
	if gray {
		return
	}
	// Saturation: blend with each pixel's luma.
	for i := 0; i < len(px); i += 3 {
		l := luma(px[i], px[i+1], px[i+2])
		for k := range 3 {
			px[i+k] = clamp01(sf*px[i+k] + (1-sf)*l)
		}
	}
	// Hue: rotate in HSV.
	for i := 0; i < len(px); i += 3 {
		px[i], px[i+1], px[i+2] = shiftHue(px[i], px[i+1], px[i+2], hs)
	}
}

// shiftHue moves the hue of (r, g, b) by d turns.
func shiftHue(r, g, b, d float32) (float32, float32, float32) {
	mx := max(r, g, b)
	mn := min(r, g, b)
	c := mx - mn
	if c <= 0 {
		return r, g, b
	}
	var h float32 // in turns
	switch mx {
	case r:
		h = (g - b) / c / 6
	case g:
		h = ((b-r)/c + 2) / 6
	default:
		h = ((r-g)/c + 4) / 6
	}
	h += d
	h -= float32(math.Floor(float64(h)))
	// HSV back to RGB with value mx and chroma c.
	h6 := h * 6
	x := c * (1 - float32(math.Abs(math.Mod(float64(h6), 2)-1)))
	var r1, g1, b1 float32
	switch int(h6) {
	case 0:
		r1, g1, b1 = c, x, 0
	case 1:
		r1, g1, b1 = x, c, 0
	case 2:
		r1, g1, b1 = 0, c, x
	case 3:
		r1, g1, b1 = 0, x, c
	case 4:
		r1, g1, b1 = x, 0, c
	default:
		r1, g1, b1 = c, 0, x
	}
	m := mx - c
	return r1 + m, g1 + m, b1 + m
}

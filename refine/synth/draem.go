package synth

import (
	"fmt"
	"image"
	"math"
)

// DRAEM parameters, as in DRAEM's data loader except the texture opacity,
// which is [DRAEMMinOpacity, DRAEMMaxOpacity) here and (0.2, 1] in DRAEM.
const (
	// DRAEMScales: the lattice has 2^k cells across the image along each
	// axis, k uniform in [0, DRAEMScales) and drawn per axis.
	DRAEMScales = 6
	// DRAEMThreshold: the mask is where the noise exceeds it.
	DRAEMThreshold = 0.5
	// DRAEMTries: noise fields drawn before the fallback threshold is used.
	DRAEMTries = 8
	// DRAEMMinOpacity and DRAEMMaxOpacity bound the texture's opacity.
	DRAEMMinOpacity = 0.1
	DRAEMMaxOpacity = 1.0
)

// DRAEM is DRAEM's defect (Zavrtanik et al., ICCV 2021): a region where
// Perlin noise, rotated by up to 90 degrees either way, exceeds
// DRAEMThreshold, filled with a texture blended at a uniform opacity beta in
// [DRAEMMinOpacity, DRAEMMaxOpacity): out = (1-beta)*src + beta*texture.
//
// The texture is one of Textures, drawn per sample, stretched (bilinear) to
// the image's size and augmented by random flips, quarter turns and a
// brightness change (x0.8-1.2, +-0.12); with no Textures it is procedural
// fractal Perlin noise mapped between two random colours. Gray images get the
// texture's luma.
//
// A noise field whose mask is empty (or covers every pixel) is redrawn, up to
// DRAEMTries fields; after that the last field is thresholded halfway between
// its minimum and maximum, so the mask is never empty.
//
// The zero value is ready to use, with procedural textures.
type DRAEM struct {
	// Textures are the images that fill the defects (DRAEM uses the
	// Describable Textures Dataset). Any size, any image type; the six direct
	// types of the package doc are read without a conversion per sample.
	Textures []image.Image
}

// Name returns "draem".
func (DRAEM) Name() string { return "draem" }

// Generate returns a defective copy of src.
func (d DRAEM) Generate(src image.Image, seed uint64) (Sample, error) {
	textures := d.Textures
	for i, t := range textures {
		if isNil(t) {
			return Sample{}, fmt.Errorf("%w: DRAEM.Textures[%d] is nil; remove it or load the texture", ErrNilImage, i)
		}
		if t.Bounds().Empty() {
			return Sample{}, fmt.Errorf("%w: DRAEM.Textures[%d] has bounds %v (no pixels); remove it", ErrEmptyImage, i, t.Bounds())
		}
		if _, _, err := view(t); err != nil {
			return Sample{}, fmt.Errorf("DRAEM.Textures[%d]: %w", i, err)
		}
	}
	j, err := start("DRAEM", src, seed, streamDRAEM)
	if err != nil {
		return Sample{}, err
	}
	r := j.rng
	perlinMask(j, DRAEMTries)
	tex, err := newTexture(j, textures)
	if err != nil {
		return Sample{}, err
	}
	beta := float32(r.uniform(DRAEMMinOpacity, DRAEMMaxOpacity))
	W := j.w
	for y := range j.h {
		for x := range W {
			if j.mask[y*W+x] == 0 {
				continue
			}
			sr, sg, sb := j.src.get(x, y)
			tr, tg, tb := tex.at(x, y)
			j.dst.set(x, y, sr+beta*(tr-sr), sg+beta*(tg-sg), sb+beta*(tb-sb))
		}
	}
	return j.sample(), nil
}

// perlinMask fills j.mask with a thresholded Perlin field: the first of tries
// fields whose mask is neither empty nor full, else the last field (or a
// fresh one when tries is 0) at the threshold halfway between its extremes.
func perlinMask(j *job, tries int) {
	r := j.rng
	W, H := j.w, j.h
	draw := func() field {
		kx, ky := r.intn(DRAEMScales), r.intn(DRAEMScales)
		angle := r.uniform(-math.Pi/2, math.Pi/2)
		return newField(r.u64(), W, H, float64(int(1)<<kx), float64(int(1)<<ky), angle)
	}
	var f field
	for range tries {
		f = draw()
		n := 0
		for y := range H {
			for x := range W {
				if f.at(x, y) > DRAEMThreshold {
					j.mask[y*W+x] = 255
					n++
				}
			}
		}
		if n > 0 && n < W*H {
			return
		}
		clear(j.mask)
	}
	if tries == 0 {
		f = draw()
	}
	vals := make([]float64, W*H)
	lo, hi := math.Inf(1), math.Inf(-1)
	for y := range H {
		for x := range W {
			v := f.at(x, y)
			vals[y*W+x] = v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if !(hi > lo) { // a flat field: mark the centre pixel
		j.mask[(H/2)*W+W/2] = 255
		return
	}
	thr := lo + (hi-lo)/2
	for i, v := range vals {
		if v > thr {
			j.mask[i] = 255
		}
	}
}

// texture is the fill of a DRAEM defect at the target's pixels.
type texture struct {
	src          *canvas // nil: procedural
	W, H         int     // target size
	rot          int     // quarter turns
	flipX, flipY bool
	mul, add     float32
	noise        [4]field // procedural octaves
	weights      [4]float64
	c0, c1       [3]float32
	sumW         float64
	tw, th       float64
}

func newTexture(j *job, textures []image.Image) (*texture, error) {
	r := j.rng
	t := &texture{W: j.w, H: j.h}
	if len(textures) > 0 {
		i := r.intn(len(textures))
		c, err := readable(textures[i])
		if err != nil {
			return nil, fmt.Errorf("DRAEM.Textures[%d]: %w", i, err)
		}
		t.src = c
		t.rot = r.intn(4)
		t.flipX, t.flipY = r.coin(), r.coin()
		t.mul = float32(r.uniform(0.8, 1.2))
		t.add = float32(r.uniform(-0.12, 0.12))
		t.tw, t.th = float64(c.w), float64(c.h)
		return t, nil
	}
	// Procedural: fractal noise, 4 octaves from 2-16 cells across the
	// shorter side, between two random colours.
	base := float64(int(2) << r.intn(3))
	side := j.side()
	a := 1.0
	for o := range t.noise {
		res := base * float64(int(1)<<o)
		t.noise[o] = newField(r.u64(), j.w, j.h, res*float64(j.w)/side, res*float64(j.h)/side, r.uniform(0, math.Pi))
		t.weights[o] = a
		t.sumW += a
		a /= 2
	}
	for k := range 3 {
		t.c0[k] = float32(r.float())
		t.c1[k] = float32(r.float())
	}
	return t, nil
}

// at is the texture's colour at target pixel (x, y).
func (t *texture) at(x, y int) (float32, float32, float32) {
	if t.src == nil {
		var n float64
		for o := range t.noise {
			n += t.weights[o] * t.noise[o].at(x, y)
		}
		s := clamp01(float32(0.5 + 1.6*n/t.sumW))
		return t.c0[0] + s*(t.c1[0]-t.c0[0]), t.c0[1] + s*(t.c1[1]-t.c0[1]), t.c0[2] + s*(t.c1[2]-t.c0[2])
	}
	u := (float64(x) + 0.5) / float64(t.W)
	v := (float64(y) + 0.5) / float64(t.H)
	for range t.rot {
		u, v = v, 1-u
	}
	if t.flipX {
		u = 1 - u
	}
	if t.flipY {
		v = 1 - v
	}
	r, g, b := bilinearCanvas(t.src, u*t.tw-0.5, v*t.th-0.5)
	return clamp01(r*t.mul + t.add), clamp01(g*t.mul + t.add), clamp01(b*t.mul + t.add)
}

// bilinearCanvas samples c at (x, y) (pixel centres at integers), clamped to
// the image.
func bilinearCanvas(c *canvas, x, y float64) (float32, float32, float32) {
	x = math.Min(math.Max(x, 0), float64(c.w-1))
	y = math.Min(math.Max(y, 0), float64(c.h-1))
	ix, iy := int(x), int(y)
	fx, fy := float32(x-float64(ix)), float32(y-float64(iy))
	ix1, iy1 := min(ix+1, c.w-1), min(iy+1, c.h-1)
	r00, g00, b00 := c.get(ix, iy)
	r10, g10, b10 := c.get(ix1, iy)
	r01, g01, b01 := c.get(ix, iy1)
	r11, g11, b11 := c.get(ix1, iy1)
	l := func(p00, p10, p01, p11 float32) float32 {
		a := p00 + fx*(p10-p00)
		b := p01 + fx*(p11-p01)
		return a + fy*(b-a)
	}
	return l(r00, r10, r01, r11), l(g00, g10, g01, g11), l(b00, b10, b01, b11)
}

package synth

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"reflect"
)

// MinSide is the smallest width and height, in pixels, that the generators
// accept.
const MinSide = 16

// Errors wrapped by Generate; test with errors.Is.
var (
	// ErrNilImage: the image (or a texture) is nil, or a nil pointer.
	ErrNilImage = errors.New("synth: nil image")
	// ErrEmptyImage: the image has zero width or height.
	ErrEmptyImage = errors.New("synth: empty image")
	// ErrTooSmall: the image is less than MinSide pixels on a side.
	ErrTooSmall = errors.New("synth: image too small")
	// ErrBadImage: the image's pixel buffer is shorter than its bounds need.
	ErrBadImage = errors.New("synth: malformed image")
	// ErrBadWeights: a Mix's weights do not match its generators, or are
	// negative, not finite or all zero.
	ErrBadWeights = errors.New("synth: bad Mix weights")
	// ErrNoGenerator: a Mix has no generators, or a nil one.
	ErrNoGenerator = errors.New("synth: bad Mix generators")
)

// Sample is a defective image and its mask.
type Sample struct {
	// Image has the input's bounds and, for *image.Gray, *image.Gray16,
	// *image.RGBA, *image.NRGBA, *image.RGBA64 and *image.NRGBA64 inputs, its
	// concrete type; other inputs give an *image.NRGBA.
	Image image.Image
	// Mask has the input's bounds: 255 where the defect is, 0 where the image
	// is untouched.
	Mask *image.Gray
}

// Generator makes synthetic defects.
type Generator interface {
	// Name is a short lower-case name, e.g. "cutpaste".
	Name() string
	// Generate returns a defective copy of src and its mask. src is never
	// modified; the result depends only on src and seed.
	Generate(src image.Image, seed uint64) (Sample, error)
}

// format is a concrete pixel layout that a canvas reads and writes directly.
type format uint8

const (
	fGray format = iota
	fGray16
	fRGBA
	fNRGBA
	fRGBA64
	fNRGBA64
)

// canvas gives fast access to the pixels of one of the six image types, in
// coordinates relative to the image's Min. Colours are straight (not
// premultiplied) in [0, 1]; a gray image reads as r = g = b.
type canvas struct {
	f      format
	w, h   int
	pix    []uint8
	stride int
	off    int // byte offset of the image's Min pixel
	bpp    int // bytes per pixel
	img    image.Image
}

func (c *canvas) gray() bool { return c.f == fGray || c.f == fGray16 }

// get returns the straight colour at (x, y).
func (c *canvas) get(x, y int) (r, g, b float32) {
	p := c.pix[c.off+y*c.stride+x*c.bpp:]
	switch c.f {
	case fGray:
		v := float32(p[0]) * (1.0 / 255)
		return v, v, v
	case fGray16:
		v := float32(uint16(p[0])<<8|uint16(p[1])) * (1.0 / 65535)
		return v, v, v
	case fNRGBA:
		return float32(p[0]) * (1.0 / 255), float32(p[1]) * (1.0 / 255), float32(p[2]) * (1.0 / 255)
	case fRGBA:
		a := float32(p[3])
		if a == 0 {
			return 0, 0, 0
		}
		return min(float32(p[0])/a, 1), min(float32(p[1])/a, 1), min(float32(p[2])/a, 1)
	case fNRGBA64:
		return float32(be16(p[0:])) * (1.0 / 65535), float32(be16(p[2:])) * (1.0 / 65535), float32(be16(p[4:])) * (1.0 / 65535)
	default: // fRGBA64
		a := float32(be16(p[6:]))
		if a == 0 {
			return 0, 0, 0
		}
		return min(float32(be16(p[0:]))/a, 1), min(float32(be16(p[2:]))/a, 1), min(float32(be16(p[4:]))/a, 1)
	}
}

// set writes a straight colour at (x, y), keeping the alpha there. A gray
// image gets the colour's luma (ITU-R BT.601).
func (c *canvas) set(x, y int, r, g, b float32) {
	p := c.pix[c.off+y*c.stride+x*c.bpp:]
	switch c.f {
	case fGray:
		p[0] = q8(luma(r, g, b))
	case fGray16:
		put16(p, q16(luma(r, g, b)))
	case fNRGBA:
		p[0], p[1], p[2] = q8(r), q8(g), q8(b)
	case fRGBA:
		a := float32(p[3]) * (1.0 / 255)
		p[0], p[1], p[2] = q8(clamp01(r)*a), q8(clamp01(g)*a), q8(clamp01(b)*a)
	case fNRGBA64:
		put16(p[0:], q16(r))
		put16(p[2:], q16(g))
		put16(p[4:], q16(b))
	default: // fRGBA64
		a := float32(be16(p[6:])) * (1.0 / 65535)
		put16(p[0:], q16(clamp01(r)*a))
		put16(p[2:], q16(clamp01(g)*a))
		put16(p[4:], q16(clamp01(b)*a))
	}
}

func be16(p []uint8) uint16     { return uint16(p[0])<<8 | uint16(p[1]) }
func put16(p []uint8, v uint16) { p[0], p[1] = uint8(v>>8), uint8(v) }

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v // NaN falls through; q8/q16 map it to 0
}

func q8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

func q16(v float32) uint16 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 65535
	}
	return uint16(v*65535 + 0.5)
}

func luma(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

// isNil reports whether img is nil or a nil pointer inside an interface.
func isNil(img image.Image) bool {
	if img == nil {
		return true
	}
	v := reflect.ValueOf(img)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// checkSize validates img's bounds for a generator called name.
func checkSize(name string, img image.Image) (image.Rectangle, error) {
	if isNil(img) {
		return image.Rectangle{}, fmt.Errorf("%w: %s got a nil image; pass a decoded image", ErrNilImage, name)
	}
	b := img.Bounds()
	if b.Empty() {
		return b, fmt.Errorf("%w: %s got an image with bounds %v (no pixels); pass a non-empty image", ErrEmptyImage, name, b)
	}
	if b.Dx() < MinSide || b.Dy() < MinSide {
		return b, fmt.Errorf("%w: %s got a %dx%d image; it needs at least %d px on each side (upscale small crops first)",
			ErrTooSmall, name, b.Dx(), b.Dy(), MinSide)
	}
	return b, nil
}

// view wraps img (one of the six direct types) as a canvas without copying;
// ok is false for other types. err reports a Pix buffer too short for the
// bounds.
func view(img image.Image) (c *canvas, ok bool, err error) {
	b := img.Bounds()
	c = &canvas{w: b.Dx(), h: b.Dy(), img: img}
	var pix []uint8
	var stride int
	switch m := img.(type) {
	case *image.Gray:
		c.f, c.bpp, pix, stride = fGray, 1, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	case *image.Gray16:
		c.f, c.bpp, pix, stride = fGray16, 2, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	case *image.RGBA:
		c.f, c.bpp, pix, stride = fRGBA, 4, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	case *image.NRGBA:
		c.f, c.bpp, pix, stride = fNRGBA, 4, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	case *image.RGBA64:
		c.f, c.bpp, pix, stride = fRGBA64, 8, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	case *image.NRGBA64:
		c.f, c.bpp, pix, stride = fNRGBA64, 8, m.Pix, m.Stride
		c.off = m.PixOffset(b.Min.X, b.Min.Y)
	default:
		return nil, false, nil
	}
	if b.Empty() {
		return c, true, nil
	}
	need := c.off + (c.h-1)*stride + c.w*c.bpp
	if c.off < 0 || stride < c.w*c.bpp || len(pix) < need {
		return nil, true, fmt.Errorf("%w: %T with bounds %v, Stride %d and %d Pix bytes (needs a stride of at least %d and %d bytes); build it with image.New*",
			ErrBadImage, img, b, stride, len(pix), c.w*c.bpp, need)
	}
	c.pix, c.stride = pix, stride
	return c, true, nil
}

// readable returns a canvas over img: the image itself for the six direct
// types, else a conversion to *image.NRGBA.
func readable(img image.Image) (*canvas, error) {
	c, ok, err := view(img)
	if err != nil {
		return nil, err
	}
	if ok {
		return c, nil
	}
	b := img.Bounds()
	n := image.NewNRGBA(b)
	if err := convert(n, img); err != nil {
		return nil, err
	}
	c, _, err = view(n)
	return c, err
}

// convert draws img into n. Other image types read their pixels through
// their own At methods, which may panic on malformed images (a Paletted
// index past its palette, a YCbCr with short planes); that is reported as
// ErrBadImage.
func convert(n *image.NRGBA, img image.Image) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading the pixels of a %T with bounds %v failed (%v); check how it was built", ErrBadImage, img, img.Bounds(), r)
		}
	}()
	draw.Draw(n, n.Bounds(), img, img.Bounds().Min, draw.Src)
	return nil
}

// clone returns a canvas over a fresh copy of the image behind c, with the
// same bounds and type.
func (c *canvas) clone() *canvas {
	b := c.img.Bounds()
	var img image.Image
	var pix []uint8
	switch c.f {
	case fGray:
		m := image.NewGray(b)
		img, pix = m, m.Pix
	case fGray16:
		m := image.NewGray16(b)
		img, pix = m, m.Pix
	case fRGBA:
		m := image.NewRGBA(b)
		img, pix = m, m.Pix
	case fNRGBA:
		m := image.NewNRGBA(b)
		img, pix = m, m.Pix
	case fRGBA64:
		m := image.NewRGBA64(b)
		img, pix = m, m.Pix
	default:
		m := image.NewNRGBA64(b)
		img, pix = m, m.Pix
	}
	row := c.w * c.bpp
	for y := range c.h {
		copy(pix[y*row:(y+1)*row], c.pix[c.off+y*c.stride:])
	}
	return &canvas{f: c.f, w: c.w, h: c.h, pix: pix, stride: row, bpp: c.bpp, img: img}
}

// job is the common set-up of one Generate call: the source, its copy that
// becomes the output, the mask and the random stream.
type job struct {
	src, dst *canvas
	mask     []uint8 // w*h, row-major, 0 or 255
	maskImg  *image.Gray
	w, h     int
	rng      *rng
}

// start validates src and prepares a job for the generator called name; the
// stream constant keeps the generators' random streams apart for one seed.
func start(name string, src image.Image, seed, stream uint64) (*job, error) {
	b, err := checkSize(name, src)
	if err != nil {
		return nil, err
	}
	c, err := readable(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := image.NewGray(b)
	return &job{src: c, dst: c.clone(), mask: m.Pix, maskImg: m, w: b.Dx(), h: b.Dy(), rng: newRNG(seed, stream)}, nil
}

func (j *job) sample() Sample { return Sample{Image: j.dst.img, Mask: j.maskImg} }

// side is the shorter side of the image, the length scale of Scar and
// Strokes.
func (j *job) side() float64 { return float64(min(j.w, j.h)) }

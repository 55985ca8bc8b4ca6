package backbone

import (
	"image"
	"image/color"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/tensor"
)

// Preprocess says how an image becomes the network input: an optional
// resize, then an optional center crop. The zero value feeds the image at
// its own size.
//
// The MVTec benchmark protocol is {ResizeW: 256, ResizeH: 256, CropW: 224,
// CropH: 224}; the crop discards the border, where real defects occur, so
// for applications prefer a plain resize (for example 224 x 224 or 480 x 480).
type Preprocess struct {
	// ResizeW, ResizeH is the resize target in pixels. 0, 0 keeps the
	// original size; if only one is 0 it follows the image's aspect ratio
	// (rounded). Images are squashed, not padded, when the aspect differs.
	// The resized size must not exceed MaxInputSide.
	ResizeW, ResizeH int
	// CropW, CropH is a center crop applied after the resize; 0 leaves that
	// dimension uncropped. The offsets are torchvision's CenterCrop:
	// round((size - crop) / 2) with Python's round-half-to-even.
	CropW, CropH int
}

// resizeSize is the size after the resize step (fields already validated).
func (p Preprocess) resizeSize(srcW, srcH int) (int, int) {
	switch {
	case p.ResizeW == 0 && p.ResizeH == 0:
		return srcW, srcH
	case p.ResizeW == 0:
		return max(1, int(float64(srcW)*float64(p.ResizeH)/float64(srcH)+0.5)), p.ResizeH
	case p.ResizeH == 0:
		return p.ResizeW, max(1, int(float64(srcH)*float64(p.ResizeW)/float64(srcW)+0.5))
	}
	return p.ResizeW, p.ResizeH
}

// inputTensor turns an image into the normalised 1 x 3 x H x W network input:
// RGB in [0,1] (gray replicated; alpha ignored, colours taken
// un-premultiplied, as PIL's convert("RGB") does), resized with the
// antialiased bilinear filter of PIL and torch (resample.go) on real values,
// as torch's interpolate(antialias=True) does on a float image (within one
// level of PIL's 8-bit result), center-cropped, then (x - Mean) / Std.
func (m *Model) inputTensor(img image.Image, p Preprocess) (*tensor.Tensor, error) {
	if img == nil {
		return nil, badArg("nil image")
	}
	g, err := p.Geometry(img.Bounds().Dx(), img.Bounds().Dy())
	if err != nil {
		return nil, err
	}
	t := tensor.New(1, 3, g.InputH, g.InputW)
	m.inputInto(t.Data, img, g)
	return t, nil
}

// inputInto writes the normalised 3 x h x w input of img under g into dst.
func (m *Model) inputInto(dst []float32, img image.Image, g Geometry) {
	w, h := g.InputW, g.InputH
	plane := w * h
	if len(dst) != 3*plane {
		panic("backbone: inputInto: destination size mismatch")
	}
	pl := toPlanes(img)
	rw, rh := g.ResizedW, g.ResizedH
	win := window{rw: rw, rh: rh, x0: g.CropX, y0: g.CropY, w: w, h: h}
	resize := rw != pl.w || rh != pl.h
	var ax, ay *pilAxis // the weights, shared by the planes
	if resize {
		ax, ay = newPILAxis(pl.w, rw), newPILAxis(pl.h, rh)
	}
	var scale, bias [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * m.std[c])
		bias[c] = -m.mean[c] / m.std[c]
	}
	for c := range 3 {
		out := dst[c*plane : (c+1)*plane]
		src := pl.pf[min(c, len(pl.pf)-1)]
		if c < len(pl.pf) && resize {
			src = resampleF(src, pl.w, win, ax, ay)
			pl.pf[c] = src
		}
		stride, off := pl.w, win.y0*pl.w+win.x0
		if resize {
			stride, off = w, 0
		}
		sc, bi := scale[c], bias[c]
		for y := range h {
			for x, v := range src[off+y*stride : off+y*stride+w] {
				out[y*w+x] = v*sc + bi
			}
		}
	}
}

// planes is an image's straight (un-premultiplied) colours as one plane
// (gray) or three (R, G, B), row-major, w x h, as real values on a 0..255
// scale (16-bit values are divided by 257).
type planes struct {
	w, h int
	pf   [][]float32
}

// toPlanes converts img into planes, rows in parallel.
func toPlanes(img image.Image) *planes {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	pl := &planes{w: w, h: h}
	makeF := func(n int) {
		pl.pf = make([][]float32, n)
		for i := range pl.pf {
			pl.pf[i] = make([]float32, w*h)
		}
	}
	rows := func(fn func(y int)) {
		kernels.Parallel(h, func(lo, hi int) {
			for y := lo; y < hi; y++ {
				fn(y)
			}
		})
	}
	set8 := func(i int, r, g, bl uint8) {
		pl.pf[0][i], pl.pf[1][i], pl.pf[2][i] = float32(r), float32(g), float32(bl)
	}
	row8 := func(y int) (r, g, b []float32) {
		return pl.pf[0][y*w : (y+1)*w], pl.pf[1][y*w : (y+1)*w], pl.pf[2][y*w : (y+1)*w]
	}
	setF := func(i int, c [3]uint16) {
		pl.pf[0][i], pl.pf[1][i], pl.pf[2][i] = float32(c[0])/257, float32(c[1])/257, float32(c[2])/257
	}
	switch s := img.(type) {
	case *image.Gray:
		makeF(1)
		rows(func(y int) {
			out := pl.pf[0][y*w : (y+1)*w]
			for x, v := range s.Pix[y*s.Stride : y*s.Stride+w] {
				out[x] = float32(v)
			}
		})
	case *image.Gray16:
		makeF(1)
		rows(func(y int) {
			row := s.Pix[y*s.Stride : y*s.Stride+2*w]
			for x := range w {
				pl.pf[0][y*w+x] = float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) / 257
			}
		})
	case *image.NRGBA:
		makeF(3)
		rows(func(y int) {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			r, g, bl := row8(y)
			for x := range r {
				p := row[4*x : 4*x+3 : 4*x+3]
				r[x], g[x], bl[x] = float32(p[0]), float32(p[1]), float32(p[2])
			}
		})
	case *image.RGBA:
		makeF(3)
		rows(func(y int) {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			r, g, bl := row8(y)
			for x := range r {
				p := row[4*x : 4*x+4 : 4*x+4]
				if p[3] == 255 {
					r[x], g[x], bl[x] = float32(p[0]), float32(p[1]), float32(p[2])
				} else {
					r[x], g[x], bl[x] = unpremul8(p[0], p[3]), unpremul8(p[1], p[3]), unpremul8(p[2], p[3])
				}
			}
		})
	case *image.Paletted:
		makeF(3)
		lut := make([][3]uint16, len(s.Palette))
		for i, c := range s.Palette {
			lut[i] = straight(c)
		}
		rows(func(y int) {
			for x, idx := range s.Pix[y*s.Stride : y*s.Stride+w] {
				var c [3]uint16 // an index outside the palette reads as black
				if int(idx) < len(lut) {
					c = lut[idx]
				}
				setF(y*w+x, c)
			}
		})
	case *image.YCbCr:
		makeF(3)
		rows(func(y int) {
			for x := range w {
				yi, ci := s.YOffset(b.Min.X+x, b.Min.Y+y), s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				set8(y*w+x, r, g, bl)
			}
		})
	case *image.CMYK:
		makeF(3)
		rows(func(y int) {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				r, g, bl := color.CMYKToRGB(p[0], p[1], p[2], p[3])
				set8(y*w+x, r, g, bl)
			}
		})
	case *image.NRGBA64:
		makeF(3)
		rows(func(y int) {
			row := s.Pix[y*s.Stride : y*s.Stride+8*w]
			for x := range w {
				p := row[8*x : 8*x+6 : 8*x+6]
				setF(y*w+x, [3]uint16{uint16(p[0])<<8 | uint16(p[1]), uint16(p[2])<<8 | uint16(p[3]), uint16(p[4])<<8 | uint16(p[5])})
			}
		})
	case image.RGBA64Image: // RGBA64, Alpha16, ...: no allocation per pixel
		makeF(3)
		rows(func(y int) {
			for x := range w {
				c := s.RGBA64At(b.Min.X+x, b.Min.Y+y)
				a := uint32(c.A)
				setF(y*w+x, [3]uint16{unpremul(uint32(c.R), a), unpremul(uint32(c.G), a), unpremul(uint32(c.B), a)})
			}
		})
	default:
		makeF(3)
		rows(func(y int) {
			for x := range w {
				setF(y*w+x, straight(img.At(b.Min.X+x, b.Min.Y+y)))
			}
		})
	}
	return pl
}

// unpremul8 un-premultiplies an 8-bit channel value by an 8-bit alpha; a
// fully transparent pixel is black.
func unpremul8(c, a uint8) float32 {
	if a == 0 {
		return 0
	}
	return min(float32(c)*255/float32(a), 255)
}

// straight returns a colour's un-premultiplied 16-bit RGB.
func straight(c color.Color) [3]uint16 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint16{uint16(c.R) * 0x101, uint16(c.G) * 0x101, uint16(c.B) * 0x101}
	case color.NRGBA64:
		return [3]uint16{c.R, c.G, c.B}
	}
	r, g, b, a := c.RGBA()
	return [3]uint16{unpremul(r, a), unpremul(g, a), unpremul(b, a)}
}

// unpremul un-premultiplies a 16-bit channel value by a 16-bit alpha
// (rounded); a fully transparent pixel is black.
func unpremul(c, a uint32) uint16 {
	switch {
	case a == 0xffff:
		return uint16(c)
	case a == 0:
		return 0
	}
	v := (c*0xffff + a/2) / a
	if v > 0xffff {
		v = 0xffff
	}
	return uint16(v)
}

// Input returns img as the network input under p: 3 x InputH x InputW
// values (planes R, G, B), normalised with the model's mean and std as
// Features does. Other networks that take the backbone's input (a
// refinement net) use it.
func (m *Model) Input(img image.Image, p Preprocess) ([]float32, error) {
	t, err := m.inputTensor(img, p)
	if err != nil {
		return nil, err
	}
	return t.Data, nil
}

package backbone

import (
	"fmt"
	"image"
	"image/color"

	"golang.org/x/image/draw"

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

// InputSize returns the network input size (width, height) that an image of
// srcW x srcH pixels gets under p, or an error when the image is empty, a
// field is negative, the crop is larger than the resized image, or a side
// exceeds MaxInputSide.
func (p Preprocess) InputSize(srcW, srcH int) (w, h int, err error) {
	if srcW <= 0 || srcH <= 0 {
		return 0, 0, fmt.Errorf("the image is empty (%dx%d pixels)", srcW, srcH)
	}
	if p.ResizeW < 0 || p.ResizeH < 0 || p.CropW < 0 || p.CropH < 0 {
		return 0, 0, fmt.Errorf("Preprocess %+v: sizes must not be negative", p)
	}
	w, h = p.resizeSize(srcW, srcH)
	if w > MaxInputSide || h > MaxInputSide {
		return 0, 0, fmt.Errorf("the resized image would be %dx%d, more than MaxInputSide (%d) on a side: set Preprocess.ResizeW/ResizeH to a smaller size", w, h, MaxInputSide)
	}
	if p.CropW > w || p.CropH > h {
		return 0, 0, fmt.Errorf("the crop %dx%d is larger than the resized image %dx%d", p.CropW, p.CropH, w, h)
	}
	if p.CropW > 0 {
		w = p.CropW
	}
	if p.CropH > 0 {
		h = p.CropH
	}
	return w, h, nil
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

// cropOffset is torchvision's center-crop offset int(round((n - c) / 2.0)),
// Python rounding halves to even.
func cropOffset(n, c int) int {
	d := n - c
	if d%2 == 0 {
		return d / 2
	}
	k := d / 2 // d/2 = k + 0.5
	if k%2 == 0 {
		return k
	}
	return k + 1
}

// Input turns an image into the normalised 3 x H x W (CHW) network input:
// RGB in [0,1] (gray replicated; alpha ignored, colours taken
// un-premultiplied, as PIL's convert("RGB") does), resized with
// golang.org/x/image/draw.BiLinear at 16 bits per channel (within 2/255 of
// PIL's antialiased BILINEAR), center-cropped, then (x - Mean) / Std.
// Any image.Image works; *image.Gray, Gray16, RGBA, NRGBA, NRGBA64, RGBA64,
// YCbCr and Paletted take fast paths.
func (m *Model) Input(img image.Image, p Preprocess) (*tensor.Tensor, error) {
	if img == nil {
		return nil, &InputError{Index: -1, Msg: "nil image"}
	}
	w, h, err := p.InputSize(img.Bounds().Dx(), img.Bounds().Dy())
	if err != nil {
		return nil, &InputError{Index: -1, Msg: err.Error()}
	}
	t := tensor.New(3, h, w)
	if err := m.inputInto(t.Data, img, p, w, h); err != nil {
		return nil, &InputError{Index: -1, Msg: err.Error()}
	}
	return t, nil
}

// inputInto writes the normalised 3 x h x w input of img into dst; w, h come
// from p.InputSize.
func (m *Model) inputInto(dst []float32, img image.Image, p Preprocess, w, h int) error {
	src := toStraightRGBA64(img)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	rw, rh := p.resizeSize(sw, sh)
	res := src
	if rw != sw || rh != sh {
		res = image.NewRGBA64(image.Rect(0, 0, rw, rh))
		draw.BiLinear.Scale(res, res.Rect, src, src.Rect, draw.Src, nil)
	}
	x0, y0 := cropOffset(rw, w), cropOffset(rh, h)
	var scale, bias [3]float32
	for c := range 3 {
		scale[c] = 1 / (65535 * m.std[c])
		bias[c] = -m.mean[c] / m.std[c]
	}
	plane := w * h
	if len(dst) != 3*plane {
		panic("backbone: inputInto: destination size mismatch")
	}
	for y := range h {
		row := res.Pix[(y0+y)*res.Stride+x0*8:]
		for x := range w {
			px := row[x*8 : x*8+6 : x*8+6]
			r := uint32(px[0])<<8 | uint32(px[1])
			g := uint32(px[2])<<8 | uint32(px[3])
			b := uint32(px[4])<<8 | uint32(px[5])
			i := y*w + x
			dst[i] = float32(r)*scale[0] + bias[0]
			dst[plane+i] = float32(g)*scale[1] + bias[1]
			dst[2*plane+i] = float32(b)*scale[2] + bias[2]
		}
	}
	return nil
}

// toStraightRGBA64 copies img into an opaque *image.RGBA64 at origin (0,0)
// holding its un-premultiplied colours at 16 bits (alpha dropped).
func toStraightRGBA64(img image.Image) *image.RGBA64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA64(image.Rect(0, 0, w, h))
	set := func(x, y int, r, g, bl uint16) {
		i := y*out.Stride + x*8
		p := out.Pix[i : i+8 : i+8]
		p[0], p[1] = uint8(r>>8), uint8(r)
		p[2], p[3] = uint8(g>>8), uint8(g)
		p[4], p[5] = uint8(bl>>8), uint8(bl)
		p[6], p[7] = 0xff, 0xff
	}
	switch s := img.(type) {
	case *image.Gray:
		for y := range h {
			row := s.Pix[(y)*s.Stride : (y)*s.Stride+w]
			for x, v := range row {
				g := uint16(v) * 0x101
				set(x, y, g, g, g)
			}
		}
	case *image.Gray16:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+2*w]
			for x := range w {
				g := uint16(row[2*x])<<8 | uint16(row[2*x+1])
				set(x, y, g, g, g)
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			for x := range w {
				set(x, y, uint16(row[4*x])*0x101, uint16(row[4*x+1])*0x101, uint16(row[4*x+2])*0x101)
			}
		}
	case *image.NRGBA64:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+8*w]
			for x := range w {
				p := row[8*x:]
				set(x, y, uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]), uint16(p[4])<<8|uint16(p[5]))
			}
		}
	case *image.RGBA:
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			for x := range w {
				p := row[4*x:]
				a := uint32(p[3]) * 0x101
				set(x, y, unpremul(uint32(p[0])*0x101, a), unpremul(uint32(p[1])*0x101, a), unpremul(uint32(p[2])*0x101, a))
			}
		}
	case *image.Paletted:
		lut := make([][3]uint16, len(s.Palette))
		for i, c := range s.Palette {
			lut[i] = straight(c)
		}
		for y := range h {
			row := s.Pix[y*s.Stride : y*s.Stride+w]
			for x, idx := range row {
				var c [3]uint16 // an index outside the palette reads as black
				if int(idx) < len(lut) {
					c = lut[idx]
				}
				set(x, y, c[0], c[1], c[2])
			}
		}
	case image.RGBA64Image: // RGBA64, YCbCr, CMYK, ...: no allocation per pixel
		for y := range h {
			for x := range w {
				c := s.RGBA64At(b.Min.X+x, b.Min.Y+y)
				a := uint32(c.A)
				set(x, y, unpremul(uint32(c.R), a), unpremul(uint32(c.G), a), unpremul(uint32(c.B), a))
			}
		}
	default:
		for y := range h {
			for x := range w {
				c := straight(img.At(b.Min.X+x, b.Min.Y+y))
				set(x, y, c[0], c[1], c[2])
			}
		}
	}
	return out
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

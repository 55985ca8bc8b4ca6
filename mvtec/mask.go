package mvtec

import (
	"fmt"
	"image"

	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/geom"
)

// Mask is a binary ground-truth mask, row-major: Pix[y*W+x] is true where
// pixel (x, y) is defective.
type Mask struct {
	W, H int
	Pix  []bool
}

// LoadMask reads an image file (imageio's formats and size limit) as a mask:
// a pixel is a defect when its colour is not black (any of R, G, B, after
// alpha premultiplication, nonzero). MVTec masks are 8-bit grayscale PNGs
// with values 0 and 255. Use a lossless format: JPEG noise would turn
// near-black pixels into defects.
func LoadMask(path string) (*Mask, error) {
	img, err := imageio.Load(path)
	if err != nil {
		return nil, fmt.Errorf("mvtec: mask: %w", err)
	}
	return MaskFromImage(img), nil
}

// MaskFromImage converts an image to a mask as [LoadMask] does.
func MaskFromImage(img image.Image) *Mask {
	b := img.Bounds()
	m := &Mask{W: b.Dx(), H: b.Dy(), Pix: make([]bool, b.Dx()*b.Dy())}
	switch im := img.(type) {
	case *image.Gray:
		for y := range m.H {
			row := im.Pix[y*im.Stride : y*im.Stride+m.W]
			for x, v := range row {
				m.Pix[y*m.W+x] = v != 0
			}
		}
	case *image.Paletted:
		nonzero := make([]bool, len(im.Palette))
		for i, c := range im.Palette {
			r, g, bl, _ := c.RGBA()
			nonzero[i] = r|g|bl != 0
		}
		for y := range m.H {
			row := im.Pix[y*im.Stride : y*im.Stride+m.W]
			for x, v := range row {
				m.Pix[y*m.W+x] = int(v) < len(nonzero) && nonzero[v]
			}
		}
	default:
		for y := range m.H {
			for x := range m.W {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				m.Pix[y*m.W+x] = r|g|bl != 0
			}
		}
	}
	return m
}

// Resize returns the mask resized to w x h by nearest neighbour, exactly as
// PIL's Image.resize((w, h), Image.NEAREST): output pixel x samples input
// pixel floor((x + 0.5) * W/w) (pixel centres mapped back), and likewise for
// y. Non-positive sizes give an empty 0 x 0 mask; an empty mask resizes to an
// all-normal one.
func (m *Mask) Resize(w, h int) *Mask {
	if w <= 0 || h <= 0 {
		return &Mask{}
	}
	out := &Mask{W: w, H: h, Pix: make([]bool, w*h)}
	if m.W <= 0 || m.H <= 0 || len(m.Pix) < m.W*m.H {
		return out
	}
	xs, ys := geom.NearestPIL(m.W, w), geom.NearestPIL(m.H, h)
	for y, sy := range ys {
		src := m.Pix[sy*m.W : (sy+1)*m.W]
		dst := out.Pix[y*w : (y+1)*w]
		for x, sx := range xs {
			dst[x] = src[sx]
		}
	}
	return out
}

// CenterCrop returns the central w x h part of the mask, as torchvision's
// transforms.CenterCrop: the top-left corner is at (round((W-w)/2),
// round((H-h)/2)), Python rounding (half to even); where the crop is larger
// than the mask, torchvision's zero padding makes the outside normal.
// Non-positive sizes give an empty 0 x 0 mask.
func (m *Mask) CenterCrop(w, h int) *Mask {
	if w <= 0 || h <= 0 {
		return &Mask{}
	}
	out := &Mask{W: w, H: h, Pix: make([]bool, w*h)}
	if len(m.Pix) < m.W*m.H {
		return out
	}
	ox, oy := geom.CropOffset(m.W, w), geom.CropOffset(m.H, h)
	for y := range h {
		sy := y + oy
		if sy < 0 || sy >= m.H {
			continue
		}
		for x := range w {
			sx := x + ox
			if sx >= 0 && sx < m.W {
				out.Pix[y*w+x] = m.Pix[sy*m.W+sx]
			}
		}
	}
	return out
}

package backbone

import (
	"fmt"
	"image"
	"math"

	"github.com/x/pni/internal/geom"
	"github.com/x/pni/internal/kernels"
)

// Geometry is how one image maps to the network input and the feature
// grid: the original SrcW x SrcH image is resized to ResizedW x ResizedH,
// the InputW x InputH network input is the window of the resized image at
// (CropX, CropY) (the whole of it without a crop), and the backbone turns
// the input into a GridW x GridH grid of patch features.
//
// Coordinates are continuous, pixel i covering [i, i+1): InputToSource and
// SourceToInput map points between the input and the original image, and
// ToSource resamples a map computed on the input back to the original size.
// Every part of pni (preprocessing, maps, regions, masks) uses this one
// geometry.
type Geometry struct {
	SrcW, SrcH         int // the original image
	ResizedW, ResizedH int // after the resize
	CropX, CropY       int // top-left corner of the input in the resized image
	InputW, InputH     int // the network input
	GridW, GridH       int // the patch-feature grid; 0 from Preprocess.Geometry, filled by Model.Geometry
}

// Geometry returns the geometry of a srcW x srcH image under p (without the
// grid, which depends on the backbone: see Model.Geometry). It fails when
// the image is empty, a field of p is negative, the crop is larger than the
// resized image, or a side would exceed MaxInputSide.
func (p Preprocess) Geometry(srcW, srcH int) (Geometry, error) {
	if srcW <= 0 || srcH <= 0 {
		return Geometry{}, badArg("the image is empty (%dx%d pixels)", srcW, srcH)
	}
	if p.ResizeW < 0 || p.ResizeH < 0 || p.CropW < 0 || p.CropH < 0 {
		return Geometry{}, badArg("Preprocess %+v: sizes must not be negative", p)
	}
	g := Geometry{SrcW: srcW, SrcH: srcH}
	g.ResizedW, g.ResizedH = p.resizeSize(srcW, srcH)
	if g.ResizedW > MaxInputSide || g.ResizedH > MaxInputSide {
		return Geometry{}, badArg("the resized image would be %dx%d, more than MaxInputSide (%d) on a side: set Preprocess.ResizeW/ResizeH to a smaller size", g.ResizedW, g.ResizedH, MaxInputSide)
	}
	if p.CropW > g.ResizedW || p.CropH > g.ResizedH {
		return Geometry{}, badArg("the crop %dx%d is larger than the resized image %dx%d", p.CropW, p.CropH, g.ResizedW, g.ResizedH)
	}
	g.InputW, g.InputH = g.ResizedW, g.ResizedH
	if p.CropW > 0 {
		g.InputW = p.CropW
	}
	if p.CropH > 0 {
		g.InputH = p.CropH
	}
	g.CropX, g.CropY = geom.CropOffset(g.ResizedW, g.InputW), geom.CropOffset(g.ResizedH, g.InputH)
	return g, nil
}

// Geometry returns the geometry of a srcW x srcH image under p, the grid
// included (measured on the model once per input size, then cached).
func (m *Model) Geometry(srcW, srcH int, p Preprocess) (Geometry, error) {
	g, err := p.Geometry(srcW, srcH)
	if err != nil {
		return g, err
	}
	g.GridH, g.GridW, err = m.gridSize(g.InputH, g.InputW)
	return g, err
}

// scale returns the original-image pixels per resized pixel along x and y.
func (g Geometry) scale() (sx, sy float64) {
	return float64(g.SrcW) / float64(g.ResizedW), float64(g.SrcH) / float64(g.ResizedH)
}

// InputToSource maps a point of the network input to the original image.
func (g Geometry) InputToSource(x, y float64) (float64, float64) {
	sx, sy := g.scale()
	return (x + float64(g.CropX)) * sx, (y + float64(g.CropY)) * sy
}

// SourceToInput maps a point of the original image to the network input
// (outside [0, InputW) x [0, InputH) when the crop cut it off).
func (g Geometry) SourceToInput(x, y float64) (float64, float64) {
	sx, sy := g.scale()
	return x/sx - float64(g.CropX), y/sy - float64(g.CropY)
}

// InputRectToSource returns the smallest rectangle of original pixels that
// covers the input pixels of r, clipped to the image.
func (g Geometry) InputRectToSource(r image.Rectangle) image.Rectangle {
	x0, y0 := g.InputToSource(float64(r.Min.X), float64(r.Min.Y))
	x1, y1 := g.InputToSource(float64(r.Max.X), float64(r.Max.Y))
	out := image.Rect(int(math.Floor(x0+1e-9)), int(math.Floor(y0+1e-9)), int(math.Ceil(x1-1e-9)), int(math.Ceil(y1-1e-9)))
	return out.Intersect(image.Rect(0, 0, g.SrcW, g.SrcH))
}

// ToSource resamples a map on the network input (InputW x InputH,
// row-major) to the original image's size (SrcW x SrcH) by bilinear
// interpolation with pixel centres aligned (align_corners=false). Pixels
// outside the cropped field take the value of the nearest map edge.
func (g Geometry) ToSource(m []float32) []float32 {
	src := Geometry{SrcW: g.SrcW, SrcH: g.SrcH, ResizedW: g.SrcW, ResizedH: g.SrcH, InputW: g.SrcW, InputH: g.SrcH}
	return g.Resample(m, src)
}

// Resample resamples a map on g's network input (InputW x InputH) into the
// network input of to, another geometry of the same original image (an
// ensemble member at another size), by bilinear interpolation through the
// original image's coordinates; points outside g's input take the nearest
// edge value.
func (g Geometry) Resample(m []float32, to Geometry) []float32 {
	if len(m) != g.InputW*g.InputH {
		panic(fmt.Sprintf("backbone: Geometry.Resample: map has %d values for a %dx%d input", len(m), g.InputW, g.InputH))
	}
	// A point x of to's input is (x + to.CropX) * to.sx in the original and
	// (x + to.CropX) * to.sx / g.sx - g.CropX in g's input: affine per axis.
	gsx, gsy := g.scale()
	tsx, tsy := to.scale()
	ax, ay := tsx/gsx, tsy/gsy
	xs := geom.HalfPixelTaps(g.InputW, to.InputW, ax, float64(g.CropX)-float64(to.CropX)*ax)
	ys := geom.HalfPixelTaps(g.InputH, to.InputH, ay, float64(g.CropY)-float64(to.CropY)*ay)
	dst := make([]float32, to.InputW*to.InputH)
	kernels.Parallel(to.InputH, func(lo, hi int) { geom.BilinearRows(dst, m, g.InputW, xs, ys, lo, hi) })
	return dst
}

// Package report draws what a pni model saw in an image, for a person to
// review: a panel of the input, its heatmap overlay and the regions found,
// with a colour bar, and the overlay on its own. It also holds the JSON
// forms of a result (Result) and of a model (Model) that the pni command
// and package serve write.
//
// Every picture uses one fixed colour map (Heat, Google's Turbo) over the
// calibrated, normalised scale of pni.Result.NormMap: 0.5 is the image
// threshold, so the same colour means the same thing in every image and
// every model. The heatmap's opacity grows with the score up to the
// threshold, so the part stays visible where it looks normal. An
// uncalibrated model's map is shown relative to its own maximum, and the
// panel says so.
//
//	res, _ := m.Score(ctx, img)
//	panel, _ := report.Panel(img, res, report.Options{Title: path})
//	report.WritePNG("panel.png", panel)
package report

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/x/pni"
)

// Heat maps t in [0, 1] (clamped) to the fixed colour map of every
// picture: Turbo (A. Mikhailov, Google, 2019), dark blue at 0, green near
// 0.5 (the threshold), red at 1.
func Heat(t float64) color.RGBA {
	if !(t > 0) { // NaN too
		t = 0
	}
	t = min(t, 1)
	t2, t3 := t*t, t*t*t
	t4, t5 := t3*t, t3*t2
	r := 0.13572138 + 4.61539260*t - 42.66032258*t2 + 132.13108234*t3 - 152.94239396*t4 + 59.28637943*t5
	g := 0.09140261 + 2.19418839*t + 4.84296658*t2 - 14.18503333*t3 + 4.27729857*t4 + 2.82956604*t5
	b := 0.10667330 + 12.64194608*t - 60.58204836*t2 + 110.36276771*t3 - 89.90310912*t4 + 27.34824973*t5
	c := func(v float64) uint8 { return uint8(math.Round(255 * min(max(v, 0), 1))) }
	return color.RGBA{c(r), c(g), c(b), 255}
}

// The heatmap's weight in an overlay grows with the normalised score,
// from alphaLow at 0 to alphaHigh at the threshold (0.5) and above, so
// that the part stays visible where it looks normal and suspicious areas
// stand out.
const alphaLow, alphaHigh = 0.2, 0.65

func alphaOf(t float32) float64 {
	return alphaLow + (alphaHigh-alphaLow)*min(1, max(0, float64(t))/0.5)
}

// view is a result's map on the scale the pictures use.
type view struct {
	w, h       int
	t          []float32 // per original pixel, in [0, 1]
	calibrated bool
	pixelLevel float32
	regions    []bool // region mask (nil when uncalibrated)
}

func newView(img image.Image, res *pni.Result) (*view, error) {
	if res == nil || img == nil {
		return nil, fmt.Errorf("report: %w: nil image or result", pni.ErrInvalidArgument)
	}
	b := img.Bounds()
	if b.Dx() != res.OrigW || b.Dy() != res.OrigH || len(res.Original) != res.OrigW*res.OrigH || res.OrigW <= 0 {
		return nil, fmt.Errorf("report: %w: image is %dx%d, its result %dx%d (%d map values)",
			pni.ErrInvalidArgument, b.Dx(), b.Dy(), res.OrigW, res.OrigH, len(res.Original))
	}
	v := &view{w: res.OrigW, h: res.OrigH}
	if res.NormMap != nil && len(res.NormMap) == len(res.Original) {
		v.t, v.calibrated, v.pixelLevel = res.NormMap, true, res.PixelLevel
		v.regions = res.AnomalyMask()
		return v, nil
	}
	var hi float32
	for _, x := range res.Original {
		hi = max(hi, x)
	}
	if !(hi > 0) {
		hi = 1
	}
	v.t = make([]float32, len(res.Original))
	for i, x := range res.Original {
		v.t[i] = x / hi
	}
	return v, nil
}

// Overlay blends img with its heatmap at the original size, or scaled down
// so that its longer side is at most maxSide pixels (0: no limit).
func Overlay(img image.Image, res *pni.Result, maxSide int) (*image.RGBA, error) {
	v, err := newView(img, res)
	if err != nil {
		return nil, err
	}
	w, h := v.w, v.h
	if maxSide > 0 && max(w, h) > maxSide {
		s := float64(maxSide) / float64(max(w, h))
		w, h = max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	}
	out := scaled(img, w, h)
	blend(out, image.Point{}, v, w, h)
	return out, nil
}

// scaled returns img resized to w x h as RGBA.
func scaled(img image.Image, w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	b := img.Bounds()
	if b.Dx() == w && b.Dy() == h {
		draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	} else {
		draw.ApproxBiLinear.Scale(out, out.Bounds(), img, b, draw.Src, nil)
	}
	return out
}

// sample returns the view's value and region flag for pixel (x, y) of a
// w x h tile (nearest original pixel).
func (v *view) at(x, y, w, h int) int {
	ox := min(v.w-1, x*v.w/w)
	oy := min(v.h-1, y*v.h/h)
	return oy*v.w + ox
}

// blend blends the heatmap of v, scaled to w x h, into dst at off.
func blend(dst *image.RGBA, off image.Point, v *view, w, h int) {
	for y := range h {
		for x := range w {
			t := v.t[v.at(x, y, w, h)]
			c, a := Heat(float64(t)), alphaOf(t)
			p := dst.PixOffset(off.X+x, off.Y+y)
			px := dst.Pix[p : p+4 : p+4]
			px[0] = uint8((1-a)*float64(px[0]) + a*float64(c.R) + 0.5)
			px[1] = uint8((1-a)*float64(px[1]) + a*float64(c.G) + 0.5)
			px[2] = uint8((1-a)*float64(px[2]) + a*float64(c.B) + 0.5)
			px[3] = 255
		}
	}
}

// Options configures Panel.
type Options struct {
	// Title is the panel's first line, e.g. the image's file name.
	Title string
	// Truth is the ground-truth defect mask at the original size (OrigW x
	// OrigH, row-major), when known: the panel then has a fourth tile with
	// its contour (green) beside the regions' (red).
	Truth []bool
	// TileHeight is each tile's height in pixels (default 256); tiles keep
	// the image's aspect ratio.
	TileHeight int
	// Unrefined, when not nil, is the image's result before refinement
	// (Model.Score's, when res is Model.Refine's): the panel then has a tile
	// with its heatmap, on the same scale, beside the refined one.
	Unrefined *pni.Result
}

// Colours of the panel.
var (
	background  = color.RGBA{250, 250, 250, 255}
	ink         = color.RGBA{30, 30, 30, 255}
	regionInk   = color.RGBA{255, 0, 40, 255}
	truthInk    = color.RGBA{0, 220, 60, 255}
	goodInk     = color.RGBA{0, 130, 50, 255}
	anomalyInk  = color.RGBA{200, 0, 30, 255}
	lineHeight  = 15
	margin      = 8
	barWidth    = 18
	barLabelsPx = 104
)

// Panel draws one image's review panel: a header (title, score, normalised
// score, decision, regions), then the input [| the heatmap before
// refinement] | its heatmap overlay | the region contours at the pixel
// threshold (red) [| the ground-truth contour (green) with the regions'],
// and a colour bar of the normalised scale
// with the image threshold (0.5) and the pixel threshold marked.
func Panel(img image.Image, res *pni.Result, opt Options) (*image.RGBA, error) {
	v, err := newView(img, res)
	if err != nil {
		return nil, err
	}
	if opt.Truth != nil && len(opt.Truth) != v.w*v.h {
		return nil, fmt.Errorf("report: %w: ground truth has %d pixels, the image %dx%d", pni.ErrInvalidArgument, len(opt.Truth), v.w, v.h)
	}
	var before *view
	if opt.Unrefined != nil {
		if before, err = newView(img, opt.Unrefined); err != nil {
			return nil, fmt.Errorf("%w (the unrefined result)", err)
		}
		if before.calibrated != v.calibrated {
			return nil, fmt.Errorf("report: %w: the unrefined result and the result are not both calibrated", pni.ErrInvalidArgument)
		}
	}
	th := opt.TileHeight
	if th <= 0 {
		th = 256
	}
	th = min(th, 2048)
	tw := max(1, min(4*th, int(math.Round(float64(th)*float64(v.w)/float64(v.h)))))
	tiles := 3
	if opt.Truth != nil {
		tiles++
	}
	if before != nil {
		tiles++
	}
	headerH := 2*lineHeight + margin
	captionH := lineHeight + 2
	top := margin + headerH + captionH
	W := margin + tiles*(tw+margin) + barWidth + barLabelsPx
	H := top + th + margin
	out := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(out, out.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)

	base := scaled(img, tw, th)
	x0 := func(i int) int { return margin + i*(tw+margin) }
	paste := func(i int) image.Point {
		at := image.Pt(x0(i), top)
		draw.Draw(out, image.Rectangle{at, at.Add(image.Pt(tw, th))}, base, image.Point{}, draw.Src)
		return at
	}

	// Header.
	text(out, margin, margin+11, opt.Title, ink)
	line, col := decisionLine(res, v)
	text(out, margin, margin+11+lineHeight, line, col)

	caption := func(i int, s string) {
		if n := tw / 7; len(s) > n {
			s = s[:max(0, n-1)] + "."
		}
		text(out, x0(i), top-4, s, ink)
	}

	// Tiles.
	paste(0)
	caption(0, "input")
	i := 1
	heat := "heatmap"
	if before != nil {
		at := paste(i)
		blend(out, at, before, tw, th)
		caption(i, "before refinement")
		heat = "refined"
		i++
	}
	at := paste(i)
	blend(out, at, v, tw, th)
	if v.calibrated {
		caption(i, heat+" (0.5 = threshold)")
	} else {
		caption(i, heat+" (map / its max)")
	}
	i++
	at = paste(i)
	if v.calibrated {
		contour(out, at, tw, th, func(x, y int) bool { return v.regions[v.at(x, y, tw, th)] }, regionInk)
		caption(i, fmt.Sprintf("regions at pixel level %.2f", v.pixelLevel))
	} else {
		caption(i, "regions: not calibrated")
	}
	i++
	if opt.Truth != nil {
		at = paste(i)
		contour(out, at, tw, th, func(x, y int) bool { return opt.Truth[v.at(x, y, tw, th)] }, truthInk)
		if v.calibrated {
			contour(out, at, tw, th, func(x, y int) bool { return v.regions[v.at(x, y, tw, th)] }, regionInk)
		}
		caption(i, "truth (green), regions (red)")
	}

	// Colour bar.
	bx := margin + tiles*(tw+margin)
	colourBar(out, bx, top, th, v)
	return out, nil
}

func decisionLine(res *pni.Result, v *view) (string, color.RGBA) {
	if !v.calibrated {
		return fmt.Sprintf("score %.4g (not calibrated: no decision)", res.Score), ink
	}
	decision, col := "GOOD", goodInk
	if res.Anomalous {
		decision, col = "ANOMALOUS", anomalyInk
	}
	s := fmt.Sprintf("%s  score %.4g  normalized %.3f", decision, res.Score, res.Normalized)
	switch n := len(res.Regions); n {
	case 0:
	case 1:
		s += "  1 region"
	default:
		s += fmt.Sprintf("  %d regions", n)
	}
	return s, col
}

// colourBar draws the normalised scale from 1 (top) to 0 (bottom), h
// pixels high, with ticks at 0, 0.25, 0.5 (the threshold), 0.75 and 1 and
// a mark at the pixel threshold.
func colourBar(dst *image.RGBA, x, y, h int, v *view) {
	for j := range h {
		t := 1 - float64(j)/float64(h-1)
		c := Heat(t)
		for i := range barWidth {
			dst.SetRGBA(x+i, y+j, c)
		}
	}
	yOf := func(t float64) int { return y + int(math.Round((1-t)*float64(h-1))) }
	tick := func(t float64, label string, col color.RGBA, long bool) {
		yy := yOf(t)
		n := 4
		if long {
			n = barWidth + 6
			for i := -2; i < n; i++ {
				dst.SetRGBA(x+i, yy, col)
			}
		} else {
			for i := 0; i < n; i++ {
				dst.SetRGBA(x+barWidth+i, yy, col)
			}
		}
		ty := min(max(yy+4, y+9), y+h)
		text(dst, x+barWidth+7, ty, label, col)
	}
	if !v.calibrated {
		tick(1, "max", ink, false)
		tick(0, "0", ink, false)
		return
	}
	labels := []float64{1, 0.75, 0.5, 0.25, 0}
	tick(1, "1", ink, false)
	tick(0.75, ".75", ink, false)
	tick(0.25, ".25", ink, false)
	tick(0, "0", ink, false)
	tick(0.5, ".5 image thr", ink, true)
	pl := float64(v.pixelLevel)
	if !(pl > 0 && pl < 0.5) {
		return
	}
	free := true // room for the pixel threshold's label between the others
	for _, t := range labels {
		if math.Abs(float64(yOf(t)-yOf(pl))) < 15 {
			free = false
		}
	}
	if free {
		tick(pl, fmt.Sprintf("%.2f pixel", pl), regionInk, false)
		return
	}
	// No room for text: a red mark on the bar's left edge.
	yy := yOf(pl)
	for i := -5; i < 0; i++ {
		dst.SetRGBA(x+i, yy, regionInk)
		dst.SetRGBA(x+i, yy+1, regionInk)
	}
}

// contour draws the boundary of the set in(x, y) of a w x h tile at off,
// two pixels wide, in col.
func contour(dst *image.RGBA, off image.Point, w, h int, in func(x, y int) bool, col color.RGBA) {
	inside := make([]bool, w*h)
	for y := range h {
		for x := range w {
			inside[y*w+x] = in(x, y)
		}
	}
	get := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && inside[y*w+x] }
	for y := range h {
		for x := range w {
			if !inside[y*w+x] {
				continue
			}
			edge := false
			for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-2, 0}, {2, 0}, {0, -2}, {0, 2}} {
				if !get(x+d[0], y+d[1]) {
					edge = true
					break
				}
			}
			if edge {
				dst.SetRGBA(off.X+x, off.Y+y, col)
			}
		}
	}
}

// text draws s with its baseline at (x, y) in basicfont's 7x13 face.
func text(dst *image.RGBA, x, y int, s string, col color.RGBA) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// EncodePNG writes img to w as PNG, compressed for speed (for answers
// sent at once).
func EncodePNG(w io.Writer, img image.Image) error {
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, img)
}

// WritePNG writes img as a PNG file at path (default compression).
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = png.Encode(bw, img) // files are kept: the default compression
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("report: writing %s", path), err)
	}
	return nil
}

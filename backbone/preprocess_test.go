package backbone

import (
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/x/pni/internal/tensor"
)

type preprocessCase struct {
	Name     string `json:"name"`
	Source   string `json:"source"`
	Box      []int  `json:"box"`
	Resize   []int  `json:"resize"`
	Crop     []int  `json:"crop"`
	Expected string `json:"expected"`
	Mode     string `json:"mode"`
	Size     []int  `json:"size"`
}

// load decodes the case's shared source image (its box, if any, as a
// sub-image) and returns it with the case's Preprocess.
func (c preprocessCase) load(t *testing.T, shared string) (image.Image, Preprocess) {
	t.Helper()
	src := decodePNG(t, filepath.Join(shared, c.Source))
	if c.Box != nil {
		src = src.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(c.Box[0], c.Box[1], c.Box[2], c.Box[3]))
	}
	var p Preprocess
	if c.Resize != nil {
		p.ResizeW, p.ResizeH = c.Resize[0], c.Resize[1]
	}
	if c.Crop != nil {
		p.CropW, p.CropH = c.Crop[0], c.Crop[1]
	}
	return src, p
}

func decodePNG(tb testing.TB, path string) image.Image {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return img
}

// denorm maps a normalised CHW input back to 0..255 RGB values.
func denorm(m *Model, data []float32, c, i, plane int) float64 {
	return (float64(data[c*plane+i])*float64(m.std[c]) + float64(m.mean[c])) * 255
}

// TestInputMatchesPIL compares Input with PIL's BILINEAR resize and
// torchvision's center crop (testdata/gen_preprocess.py) on shared images.
func TestInputMatchesPIL(t *testing.T) {
	shared := sharedDir(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "preprocess.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []preprocessCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	m := &Model{mean: ImageNetMean, std: ImageNetStd}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			src, p := c.load(t, shared)
			want := decodePNG(t, filepath.Join("testdata", c.Expected))
			// PIL rounds to 8 bits after each of its two passes; Input
			// resamples real values (as torch does), so it stays within one
			// level of PIL, for 8-bit and 16-bit sources alike.
			for _, img := range []image.Image{src, to16(src)} {
				maxd, meand := comparePIL(t, m, img, p, want)
				t.Logf("%s (%T): max |diff| %.3f/255, mean %.4f/255", c.Name, img, maxd, meand)
				if maxd > 1.001 {
					t.Errorf("%T: max |Go - PIL| = %.3f/255 > 1/255", img, maxd)
				}
			}
		})
	}
}

// to16 copies img into a 16-bit image of the same kind (Gray16 for Gray,
// NRGBA64 otherwise), origin kept.
func to16(img image.Image) image.Image {
	b := img.Bounds()
	if _, ok := img.(*image.Gray); ok {
		g := image.NewGray16(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g.Set(x, y, img.At(x, y))
			}
		}
		return g
	}
	n := image.NewNRGBA64(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			n.Set(x, y, img.At(x, y))
		}
	}
	return n
}

// comparePIL returns the largest and the mean absolute difference, in 1/255
// units, between Input(img, p) and PIL's result want.
func comparePIL(t *testing.T, m *Model, img image.Image, p Preprocess, want image.Image) (maxd, meand float64) {
	t.Helper()
	in, err := inputCHW(m, img, p)
	if err != nil {
		t.Fatal(err)
	}
	w, h := want.Bounds().Dx(), want.Bounds().Dy()
	if len(in.Shape) != 3 || in.Shape[0] != 3 || in.Shape[1] != h || in.Shape[2] != w {
		t.Fatalf("shape %v, want [3 %d %d]", in.Shape, h, w)
	}
	plane := w * h
	var sumd float64
	for y := range h {
		for x := range w {
			r, g, b, _ := want.At(x, y).RGBA()
			ref := [3]uint32{r >> 8, g >> 8, b >> 8}
			for ch := range 3 {
				d := math.Abs(denorm(m, in.Data, ch, y*w+x, plane) - float64(ref[ch]))
				maxd = math.Max(maxd, d)
				sumd += d
			}
		}
	}
	return maxd, sumd / float64(3*plane)
}

// TestInputMatchesTorch compares Input with torch's antialiased bilinear
// interpolate on the image as floats in [0,1] (testdata/gen_resize_torch.py):
// the same filter as PIL's without its 8-bit rounding, so the values agree
// to float32 precision (torch computes its weights in float32).
func TestInputMatchesTorch(t *testing.T) {
	shared := sharedDir(t)
	raw, err := os.ReadFile(filepath.Join("testdata", "resize_torch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		preprocessCase
		Shape []int `json:"shape"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	m := &Model{mean: [3]float32{}, std: [3]float32{1, 1, 1}} // the input is RGB in [0,1]
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			src, p := c.load(t, shared)
			want := readF32(t, filepath.Join("testdata", c.Expected))
			ch, h, w := c.Shape[0], c.Shape[1], c.Shape[2]
			in, err := inputCHW(m, src, p)
			if err != nil {
				t.Fatal(err)
			}
			if in.Shape[1] != h || in.Shape[2] != w || len(want) != ch*h*w {
				t.Fatalf("shape %v, torch %v", in.Shape, c.Shape)
			}
			var maxd float64
			for k := range 3 {
				ref := want[min(k, ch-1)*h*w:][:h*w] // gray: one torch channel, replicated
				for i, v := range in.Data[k*h*w : (k+1)*h*w] {
					maxd = math.Max(maxd, math.Abs(float64(v)-float64(ref[i])))
				}
			}
			t.Logf("max |Go - torch| = %.2g", maxd)
			if maxd > 1e-5 {
				t.Errorf("max |Go - torch| = %.3g > 1e-5", maxd)
			}
		})
	}
}

// TestInputImageTypes checks every image type against hand-computed values
// at the original size (no resize), with mean 0 and std 1 so the input is
// the RGB value in [0,1].
func TestInputImageTypes(t *testing.T) {
	m := &Model{mean: [3]float32{}, std: [3]float32{1, 1, 1}}
	r := image.Rect(0, 0, 2, 1)
	gray := image.NewGray(r)
	gray.Pix = []uint8{0, 255}
	gray16 := image.NewGray16(r)
	gray16.SetGray16(0, 0, color.Gray16{Y: 0x8000})
	gray16.SetGray16(1, 0, color.Gray16{Y: 0xffff})
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(0, 0, color.NRGBA{R: 255, G: 128, B: 0, A: 64}) // alpha ignored
	nrgba.SetNRGBA(1, 0, color.NRGBA{R: 10, G: 20, B: 30, A: 0})   // even when 0
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(0, 0, color.RGBA{R: 100, G: 50, B: 0, A: 200}) // premultiplied: straight = 100*255/200
	rgba.SetRGBA(1, 0, color.RGBA{R: 1, G: 2, B: 3, A: 255})
	nrgba64 := image.NewNRGBA64(r)
	nrgba64.SetNRGBA64(0, 0, color.NRGBA64{R: 0xffff, G: 0, B: 0x4000, A: 0x1000})
	pal := image.NewPaletted(r, color.Palette{color.RGBA{R: 255, A: 255}, color.NRGBA{G: 255, B: 51, A: 17}})
	pal.Pix = []uint8{1, 0}
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	ycc.Y = []uint8{128, 200}
	ycc.Cb = []uint8{128, 100}
	ycc.Cr = []uint8{128, 150}
	// JFIF's full-range conversion, in real arithmetic.
	jfif := func(y, cb, cr float64) (r, g, b float64) {
		return (y + 1.402*(cr-128)) / 255, (y - 0.344136*(cb-128) - 0.714136*(cr-128)) / 255, (y + 1.772*(cb-128)) / 255
	}
	yr0, yg0, yb0 := jfif(128, 128, 128)
	yr1, yg1, yb1 := jfif(200, 100, 150)
	cmyk := image.NewCMYK(r)
	cmyk.SetCMYK(0, 0, color.CMYK{C: 0, M: 255, Y: 255, K: 0}) // red
	cmyk.SetCMYK(1, 0, color.CMYK{K: 255})                     // black
	// A custom image type (no fast path): 4x4 offset sub-rectangle.
	alpha := image.NewAlpha16(r) // color.Alpha16 is premultiplied white
	alpha.SetAlpha16(0, 0, color.Alpha16{A: 0x8000})
	alpha.SetAlpha16(1, 0, color.Alpha16{A: 0})

	f := func(v ...float64) [][3]float64 {
		out := make([][3]float64, len(v)/3)
		for i := range out {
			out[i] = [3]float64{v[3*i], v[3*i+1], v[3*i+2]}
		}
		return out
	}
	cases := []struct {
		name string
		img  image.Image
		want [][3]float64
	}{
		{"Gray", gray, f(0, 0, 0, 1, 1, 1)},
		{"Gray16", gray16, f(0x8000/65535., 0x8000/65535., 0x8000/65535., 1, 1, 1)},
		{"NRGBA", nrgba, f(1, 128/255., 0, 10/255., 20/255., 30/255.)},
		{"RGBA", rgba, f(100/200., 50/200., 0, 1/255., 2/255., 3/255.)},
		{"NRGBA64", nrgba64, f(1, 0, 0x4000/65535., 0, 0, 0)},
		{"Paletted", pal, f(0, 1, 51/255., 1, 0, 0)},
		{"YCbCr", ycc, f(yr0, yg0, yb0, yr1, yg1, yb1)},
		{"CMYK", cmyk, f(1, 0, 0, 0, 0, 0)},
		{"Alpha16", alpha, f(1, 1, 1, 0, 0, 0)},
	}
	for _, c := range cases {
		in, err := inputCHW(m, c.img, Preprocess{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if in.Shape[0] != 3 || in.Shape[1] != 1 || in.Shape[2] != 2 {
			t.Fatalf("%s: shape %v", c.name, in.Shape)
		}
		for x := range 2 {
			for ch := range 3 {
				got := float64(in.Data[ch*2+x])
				tol := 1.0 / 65535
				if c.name == "YCbCr" { // Go's 8-bit fixed-point conversion vs real arithmetic
					tol = 1.0 / 255
				}
				if math.Abs(got-c.want[x][ch]) > tol {
					t.Errorf("%s: pixel %d channel %d = %.6f, want %.6f", c.name, x, ch, got, c.want[x][ch])
				}
			}
		}
	}
}

// TestInputNormalise checks (x-mean)/std and the CHW layout on a resize of a
// constant image (any resize of a constant is that constant).
func TestInputNormalise(t *testing.T) {
	m := &Model{mean: ImageNetMean, std: ImageNetStd}
	img := image.NewNRGBA(image.Rect(3, 5, 40, 30)) // non-zero origin
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 51, 102, 204, 255
	}
	in, err := inputCHW(m, img, Preprocess{ResizeW: 17, ResizeH: 11, CropW: 9})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{3, 11, 9}; in.Shape[0] != want[0] || in.Shape[1] != want[1] || in.Shape[2] != want[2] {
		t.Fatalf("shape %v, want %v", in.Shape, want)
	}
	rgb := [3]float64{0.2, 0.4, 0.8}
	for ch := range 3 {
		want := (rgb[ch] - float64(ImageNetMean[ch])) / float64(ImageNetStd[ch])
		for i := range 11 * 9 {
			if got := float64(in.Data[ch*99+i]); math.Abs(got-want) > 1e-4 {
				t.Fatalf("channel %d value %d = %v, want %v", ch, i, got, want)
			}
		}
	}
}

// TestInputCropOffsets checks the crop window position, including
// torchvision's round-half-to-even offsets, with an image whose pixel value
// encodes its column and row.
func TestInputCropOffsets(t *testing.T) {
	m := &Model{std: [3]float32{1, 1, 1}}
	img := image.NewNRGBA(image.Rect(0, 0, 13, 11))
	for y := range 11 {
		for x := range 13 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x), G: uint8(y), A: 255})
		}
	}
	for _, c := range []struct{ cw, ch, x0, y0 int }{
		{13, 11, 0, 0}, {12, 10, 0, 0}, // (13-12)/2 = 0.5 -> 0
		{10, 8, 2, 2}, // 1.5 -> 2
		{8, 6, 2, 2},  // 2.5 -> 2
		{6, 4, 4, 4},  // 3.5 -> 4
		{1, 1, 6, 5},
		{5, 0, 4, 0}, // height not cropped
	} {
		in, err := inputCHW(m, img, Preprocess{CropW: c.cw, CropH: c.ch})
		if err != nil {
			t.Fatal(err)
		}
		h := 11
		if c.ch > 0 {
			h = c.ch
		}
		if in.Shape[1] != h || in.Shape[2] != c.cw {
			t.Fatalf("crop %dx%d: shape %v", c.cw, c.ch, in.Shape)
		}
		gotX := math.Round(float64(in.Data[0]) * 255)
		gotY := math.Round(float64(in.Data[h*c.cw]) * 255)
		if int(gotX) != c.x0 || int(gotY) != c.y0 {
			t.Errorf("crop %dx%d starts at (%v,%v), want (%d,%d)", c.cw, c.ch, gotX, gotY, c.x0, c.y0)
		}
	}
	for _, c := range [][3]int{{257, 224, 16}, {259, 224, 18}, {256, 224, 16}} {
		g, err := (Preprocess{CropW: c[1], CropH: c[1]}).Geometry(c[0], c[0])
		if err != nil || g.CropX != c[2] || g.CropY != c[2] {
			t.Errorf("crop %d of %d: offset %d, %d (%v), want %d (half to even)", c[1], c[0], g.CropX, g.CropY, err, c[2])
		}
	}
}

// inputCHW is inputTensor with the leading batch dimension dropped.
func inputCHW(m *Model, img image.Image, p Preprocess) (*tensor.Tensor, error) {
	in, err := m.inputTensor(img, p)
	if err != nil {
		return nil, err
	}
	in.Shape = in.Shape[1:]
	return in, nil
}

func TestGeometrySizes(t *testing.T) {
	for _, c := range []struct {
		p          Preprocess
		sw, sh     int
		w, h       int
		shouldFail bool
	}{
		{Preprocess{}, 640, 480, 640, 480, false},
		{Preprocess{ResizeW: 256, ResizeH: 256, CropW: 224, CropH: 224}, 900, 700, 224, 224, false},
		{Preprocess{ResizeH: 240}, 640, 480, 320, 240, false},
		{Preprocess{ResizeW: 100}, 300, 201, 100, 67, false},
		{Preprocess{ResizeW: 100}, 1000, 1, 100, 1, false},
		{Preprocess{}, 0, 10, 0, 0, true},
		{Preprocess{}, 10, 0, 0, 0, true},
		{Preprocess{ResizeW: -1}, 10, 10, 0, 0, true},
		{Preprocess{CropW: 20}, 10, 10, 0, 0, true},
		{Preprocess{}, MaxInputSide + 1, 10, 0, 0, true},
		{Preprocess{ResizeW: MaxInputSide, ResizeH: MaxInputSide}, 10, 10, MaxInputSide, MaxInputSide, false},
		{Preprocess{ResizeW: 5000, ResizeH: 100, CropW: 100}, 10, 10, 0, 0, true},
	} {
		g, err := c.p.Geometry(c.sw, c.sh)
		if (err != nil) != c.shouldFail || g.InputW != c.w || g.InputH != c.h {
			t.Errorf("%+v.Geometry(%d, %d) = %+v, %v; want %dx%d, fail=%v", c.p, c.sw, c.sh, g, err, c.w, c.h, c.shouldFail)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v.Geometry(%d, %d): %v is not ErrInvalidArgument", c.p, c.sw, c.sh, err)
		}
	}
	m := &Model{std: [3]float32{1, 1, 1}}
	if _, err := inputCHW(m, image.NewGray(image.Rect(0, 0, 0, 5)), Preprocess{}); err == nil {
		t.Error("Input accepted an empty image")
	}
	if _, err := inputCHW(m, nil, Preprocess{}); err == nil {
		t.Error("Input accepted a nil image")
	}
	if _, err := inputCHW(m, image.NewGray(image.Rect(0, 0, 5000, 1)), Preprocess{}); err == nil {
		t.Error("Input accepted a 5000-pixel-wide input")
	}
}

// TestGeometryMaps checks the two directions of the geometry by hand on the
// MVTec protocol (900x700 -> 256x256 -> crop 224 at (16, 16)) and that
// ToSource reproduces a map that is linear in x.
func TestGeometryMaps(t *testing.T) {
	g, err := (Preprocess{ResizeW: 256, ResizeH: 256, CropW: 224, CropH: 224}).Geometry(900, 700)
	if err != nil {
		t.Fatal(err)
	}
	if g.CropX != 16 || g.CropY != 16 || g.ResizedW != 256 {
		t.Fatalf("geometry %+v", g)
	}
	// Input (0,0) is resized (16,16), i.e. source (16*900/256, 16*700/256).
	x, y := g.InputToSource(0, 0)
	if math.Abs(x-56.25) > 1e-9 || math.Abs(y-43.75) > 1e-9 {
		t.Errorf("InputToSource(0,0) = %v, %v", x, y)
	}
	if bx, by := g.SourceToInput(x, y); math.Abs(bx) > 1e-9 || math.Abs(by) > 1e-9 {
		t.Errorf("round trip (%v, %v)", bx, by)
	}
	if r := g.InputRectToSource(image.Rect(0, 0, 224, 224)); r != image.Rect(56, 43, 844, 657) {
		t.Errorf("InputRectToSource(whole input) = %v", r)
	}
	// A map equal to its input x coordinate (pixel centres) comes back as the
	// source pixel centres' input x coordinate, clamped at the crop's edges.
	m := make([]float32, g.InputW*g.InputH)
	for i := range m {
		m[i] = float32(i%g.InputW) + 0.5
	}
	src := g.ToSource(m)
	for _, sx := range []int{0, 100, 450, 899} {
		ix, _ := g.SourceToInput(float64(sx)+0.5, 0)
		want := math.Min(math.Max(ix, 0.5), float64(g.InputW)-0.5)
		if got := float64(src[350*g.SrcW+sx]); math.Abs(got-want) > 1e-4 {
			t.Errorf("ToSource at x=%d: %v, want %v", sx, got, want)
		}
	}
}

// TestGeometryResample checks Resample between two geometries of one image
// (an ensemble's members) against the map computed directly: a map that is
// linear in the original x coordinate stays linear.
func TestGeometryResample(t *testing.T) {
	a, _ := (Preprocess{ResizeW: 256, ResizeH: 256, CropW: 224, CropH: 224}).Geometry(900, 700)
	b, _ := (Preprocess{ResizeW: 480, ResizeH: 480}).Geometry(900, 700)
	// On b's input, the map value is the original x coordinate of the pixel centre.
	m := make([]float32, b.InputW*b.InputH)
	for i := range m {
		x, _ := b.InputToSource(float64(i%b.InputW)+0.5, 0)
		m[i] = float32(x)
	}
	got := b.Resample(m, a)
	for _, ax := range []int{0, 50, 111, 223} {
		want, _ := a.InputToSource(float64(ax)+0.5, 0)
		if v := float64(got[100*a.InputW+ax]); math.Abs(v-want) > 1e-3 {
			t.Errorf("a's pixel x=%d: %v, want original x %v", ax, v, want)
		}
	}
	// Resampling into the same geometry is the identity.
	if same := b.Resample(m, b); !slices.Equal(same, m) {
		t.Error("Resample into its own geometry changed the map")
	}
}

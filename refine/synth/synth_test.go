package synth

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"testing"
)

// kinds are the six image types kept as they are.
var kinds = []string{"gray", "gray16", "rgba", "nrgba", "rgba64", "nrgba64"}

// noiseImage is a textured test image of the given kind: every channel an
// independent hash of (x, y, channel, salt) at the type's full bit depth,
// opaque unless alpha is set (then alpha is in [128, 255] / [32768, 65535]).
// It is a sub-image (Min = (3, 5), stride wider than the row) to catch
// offset and stride mistakes.
func noiseImage(kind string, w, h int, salt uint64, alpha bool) image.Image {
	big := image.Rect(0, 0, w+7, h+9)
	r := image.Rect(3, 5, 3+w, 5+h)
	val := func(x, y, c int) uint64 { return mix64(salt ^ uint64(x)<<40 ^ uint64(y)<<20 ^ uint64(c)) }
	a8 := func(x, y int) uint8 {
		if !alpha {
			return 255
		}
		return 128 + uint8(val(x, y, 9)>>57)
	}
	a16 := func(x, y int) uint16 {
		if !alpha {
			return 65535
		}
		return 32768 + uint16(val(x, y, 9)>>49)
	}
	switch kind {
	case "gray":
		m := image.NewGray(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				m.SetGray(x, y, color.Gray{uint8(val(x, y, 0))})
			}
		}
		return m.SubImage(r)
	case "gray16":
		m := image.NewGray16(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				m.SetGray16(x, y, color.Gray16{uint16(val(x, y, 0))})
			}
		}
		return m.SubImage(r)
	case "rgba":
		m := image.NewRGBA(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				a := a8(x, y)
				p := func(c int) uint8 { return uint8(uint32(uint8(val(x, y, c))) * uint32(a) / 255) }
				m.SetRGBA(x, y, color.RGBA{p(0), p(1), p(2), a})
			}
		}
		return m.SubImage(r)
	case "nrgba":
		m := image.NewNRGBA(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				m.SetNRGBA(x, y, color.NRGBA{uint8(val(x, y, 0)), uint8(val(x, y, 1)), uint8(val(x, y, 2)), a8(x, y)})
			}
		}
		return m.SubImage(r)
	case "rgba64":
		m := image.NewRGBA64(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				a := a16(x, y)
				p := func(c int) uint16 { return uint16(uint32(uint16(val(x, y, c))) * uint32(a) / 65535) }
				m.SetRGBA64(x, y, color.RGBA64{p(0), p(1), p(2), a})
			}
		}
		return m.SubImage(r)
	case "nrgba64":
		m := image.NewNRGBA64(big)
		for y := big.Min.Y; y < big.Max.Y; y++ {
			for x := big.Min.X; x < big.Max.X; x++ {
				m.SetNRGBA64(x, y, color.NRGBA64{uint16(val(x, y, 0)), uint16(val(x, y, 1)), uint16(val(x, y, 2)), a16(x, y)})
			}
		}
		return m.SubImage(r)
	}
	panic("unknown kind " + kind)
}

// raw returns the bytes of pixel (x, y) (absolute coordinates) of one of the
// six direct types.
func raw(img image.Image, x, y int) []byte {
	switch m := img.(type) {
	case *image.Gray:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+1]
	case *image.Gray16:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+2]
	case *image.RGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+4]
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+4]
	case *image.RGBA64:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+8]
	case *image.NRGBA64:
		i := m.PixOffset(x, y)
		return m.Pix[i : i+8]
	}
	panic(fmt.Sprintf("raw: %T", img))
}

// allBytes concatenates every pixel's raw bytes.
func allBytes(img image.Image) []byte {
	var out []byte
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out = append(out, raw(img, x, y)...)
		}
	}
	return out
}

// textures for DRAEM: a colour, a gray and a YCbCr image of other sizes.
func testTextures() []image.Image {
	y := image.NewYCbCr(image.Rect(0, 0, 40, 30), image.YCbCrSubsampleRatio420)
	for i := range y.Y {
		y.Y[i] = uint8(mix64(uint64(i)))
	}
	for i := range y.Cb {
		y.Cb[i], y.Cr[i] = uint8(mix64(uint64(i)+1e6)), uint8(mix64(uint64(i)+2e6))
	}
	return []image.Image{noiseImage("nrgba", 50, 70, 77, false), noiseImage("gray16", 33, 20, 78, false), y}
}

type genCase struct {
	g Generator
	// bounds checks the mask area n (and bounding box) of a w x h sample.
	bounds func(t *testing.T, w, h, n int, bb image.Rectangle)
}

func generators() []genCase {
	anyArea := func(t *testing.T, w, h, n int, _ image.Rectangle) {
		t.Helper()
		if n <= 0 || n >= w*h {
			t.Errorf("mask area %d of %d pixels, want in (0, %d)", n, w*h, w*h)
		}
	}
	return []genCase{
		{CutPaste{}, checkCutPaste},
		{Scar{}, checkScar},
		{DRAEM{}, anyArea},
		{DRAEM{Textures: testTextures()}, anyArea},
		{Strokes{}, anyArea},
		{Default(nil), anyArea},
	}
}

func checkCutPaste(t *testing.T, w, h, n int, bb image.Rectangle) {
	t.Helper()
	A := float64(w * h)
	lo, hi := int(math.Ceil(CutPasteMinArea*A)), int(math.Floor(CutPasteMaxArea*A))
	if n < lo || n > hi {
		t.Errorf("cutpaste area %d (%.2f%%), want %d-%d px (2-15%% of %dx%d)", n, 100*float64(n)/A, lo, hi, w, h)
	}
	if n != bb.Dx()*bb.Dy() {
		t.Errorf("cutpaste mask is not a filled rectangle: %d px in bounding box %v", n, bb)
	}
	// Aspect within bounds up to one pixel of rounding on each side.
	rw, rh := float64(bb.Dx()), float64(bb.Dy())
	if (rw+1)/math.Max(rh-1, 1) < CutPasteMinAspect || (rw-1)/(rh+1) > CutPasteMaxAspect {
		t.Errorf("cutpaste rectangle %vx%v: aspect %.2f outside %.1f-%.1f", rw, rh, rw/rh, CutPasteMinAspect, CutPasteMaxAspect)
	}
}

func scarBounds(w, h int) (wmin, wmax, lmin, lmax int) {
	side := float64(min(w, h))
	wmin, lmin = scarSize(side, 0, 0)
	wmax, lmax = scarSize(side, 1, 1)
	return
}

func checkScar(t *testing.T, w, h, n int, bb image.Rectangle) {
	t.Helper()
	wmin, wmax, lmin, lmax := scarBounds(w, h)
	lo := max(1, int(0.5*float64(wmin*lmin))-1)
	hi := (wmax + 2) * (lmax + 2)
	if n < lo || n > hi {
		t.Errorf("scar area %d px, want %d-%d (width %d-%d, length %d-%d px)", n, lo, hi, wmin, wmax, lmin, lmax)
	}
	if d := lmax + wmax + 2; bb.Dx() > d || bb.Dy() > d {
		t.Errorf("scar bounding box %v larger than %d px (length + width)", bb, d)
	}
}

// stats accumulate over the samples of one generator and image kind.
type stats struct {
	samples, fewChanged int
	changed16, on257    int
	masks               map[uint64]int
}

// checkSample checks the invariants of one sample and returns the fraction
// of mask pixels that changed.
func checkSample(t *testing.T, gc genCase, src image.Image, s Sample, st *stats) {
	t.Helper()
	b := src.Bounds()
	if s.Image == nil || s.Mask == nil {
		t.Fatalf("nil image or mask")
	}
	if s.Image.Bounds() != b || s.Mask.Bounds() != b {
		t.Fatalf("bounds %v / mask %v, want %v", s.Image.Bounds(), s.Mask.Bounds(), b)
	}
	if fmt.Sprintf("%T", s.Image) != fmt.Sprintf("%T", src) {
		t.Fatalf("output %T, want %T", s.Image, src)
	}
	n, changed := 0, 0
	bb := image.Rectangle{}
	h := fnv.New64a()
	bpc := 1
	switch src.(type) {
	case *image.Gray16, *image.RGBA64, *image.NRGBA64:
		bpc = 2
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			m := s.Mask.GrayAt(x, y).Y
			a, o := raw(src, x, y), raw(s.Image, x, y)
			switch m {
			case 0:
				if !bytes.Equal(a, o) {
					t.Fatalf("pixel (%d,%d) outside the mask changed: %v -> %v", x, y, a, o)
				}
			case 255:
				n++
				bb = bb.Union(image.Rect(x, y, x+1, y+1))
				if !bytes.Equal(a, o) {
					changed++
				}
				if bpc == 2 {
					// 16-bit precision: count changed colour channels that
					// are exact 8-bit values (multiples of 257).
					for c := 0; c+1 < len(o) && c < 6; c += 2 {
						if a[c] != o[c] || a[c+1] != o[c+1] {
							// 0 and 65535 (clamped values) are exact in both.
							if v := uint16(o[c])<<8 | uint16(o[c+1]); v != 0 && v != 65535 {
								st.changed16++
								if v%257 == 0 {
									st.on257++
								}
							}
						}
					}
				}
			default:
				t.Fatalf("mask value %d at (%d,%d), want 0 or 255", m, x, y)
			}
		}
	}
	h.Write(s.Mask.Pix)
	st.masks[h.Sum64()]++
	st.samples++
	gc.bounds(t, b.Dx(), b.Dy(), n, bb.Sub(b.Min))
	if changed == 0 {
		t.Errorf("no pixel inside the %d-px mask changed", n)
	}
	if 2*changed < n {
		st.fewChanged++
	}
}

// TestInvariants runs every generator on every image kind and size over
// many seeds and checks the package's promises on each sample.
func TestInvariants(t *testing.T) {
	sizes := []struct{ w, h, seeds int }{
		{97, 61, 200},
		{16, 16, 50},
		{300, 200, 6},
	}
	if testing.Short() {
		sizes[0].seeds = 40
	}
	for _, gc := range generators() {
		name := gc.g.Name()
		if d, ok := gc.g.(DRAEM); ok && len(d.Textures) > 0 {
			name += "+textures"
		}
		t.Run(name, func(t *testing.T) {
			for _, kind := range kinds {
				for _, sz := range sizes {
					t.Run(fmt.Sprintf("%s-%dx%d", kind, sz.w, sz.h), func(t *testing.T) {
						src := noiseImage(kind, sz.w, sz.h, uint64(sz.w), false)
						before := allBytes(src)
						st := &stats{masks: map[uint64]int{}}
						for seed := range uint64(sz.seeds) {
							s, err := gc.g.Generate(src, seed)
							if err != nil {
								t.Fatalf("%s %dx%d seed %d: %v", kind, sz.w, sz.h, seed, err)
							}
							checkSample(t, gc, src, s, st)
							if t.Failed() {
								t.Fatalf("%s %dx%d seed %d failed", kind, sz.w, sz.h, seed)
							}
							if seed%10 == 0 { // determinism
								s2, _ := gc.g.Generate(src, seed)
								if !bytes.Equal(s.Mask.Pix, s2.Mask.Pix) || !bytes.Equal(allBytes(s.Image), allBytes(s2.Image)) {
									t.Fatalf("%s %dx%d seed %d: two calls differ", kind, sz.w, sz.h, seed)
								}
							}
						}
						if !bytes.Equal(before, allBytes(src)) {
							t.Fatalf("%s %dx%d: source image modified", kind, sz.w, sz.h)
						}
						dups := st.samples - len(st.masks)
						if dups*50 > st.samples { // > 2% repeated masks
							t.Errorf("%s %dx%d: %d of %d seeds repeat another seed's mask", kind, sz.w, sz.h, dups, st.samples)
						}
						// On a noise image almost every pasted, blended or painted
						// pixel differs; allow 2% of samples below half.
						if st.fewChanged*50 > st.samples {
							t.Errorf("%s %dx%d: %d of %d samples changed under half of their mask", kind, sz.w, sz.h, st.fewChanged, st.samples)
						}
						if st.changed16 > 0 && st.on257*20 > st.changed16 {
							t.Errorf("%s %dx%d: %d of %d changed 16-bit values are 8-bit values (x257): precision lost", kind, sz.w, sz.h, st.on257, st.changed16)
						}
					})
				}
			}
		})
	}
}

// TestAlphaKept: generators change colour only; alpha stays, inside the mask
// too, and premultiplied colour never exceeds alpha.
func TestAlphaKept(t *testing.T) {
	for _, gc := range generators() {
		for _, kind := range []string{"rgba", "nrgba", "rgba64", "nrgba64"} {
			src := noiseImage(kind, 61, 97, 5, true)
			for seed := range uint64(10) {
				s, err := gc.g.Generate(src, seed)
				if err != nil {
					t.Fatal(err)
				}
				b := src.Bounds()
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						a, o := raw(src, x, y), raw(s.Image, x, y)
						k := len(a) / 4 // bytes a channel
						if !bytes.Equal(a[3*k:], o[3*k:]) {
							t.Fatalf("%s %s seed %d: alpha at (%d,%d) changed %v -> %v", gc.g.Name(), kind, seed, x, y, a, o)
						}
						if kind == "rgba" || kind == "rgba64" {
							c := s.Image.At(x, y).(interface{ RGBA() (r, g, b, a uint32) })
							r, g, bl, al := c.RGBA()
							if r > al || g > al || bl > al {
								t.Fatalf("%s %s: premultiplied colour above alpha at (%d,%d)", gc.g.Name(), kind, x, y)
							}
						}
					}
				}
			}
		}
	}
}

// TestOtherTypes: YCbCr and paletted inputs give NRGBA output that equals
// the NRGBA conversion of the input outside the mask.
func TestOtherTypes(t *testing.T) {
	ycc := testTextures()[2].(*image.YCbCr)
	pal := image.NewPaletted(image.Rect(0, 0, 40, 30), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(mix64(uint64(i)) % 3)
	}
	for _, src := range []image.Image{ycc, pal} {
		conv := image.NewNRGBA(src.Bounds())
		draw.Draw(conv, conv.Bounds(), src, src.Bounds().Min, draw.Src)
		for _, gc := range generators() {
			s, err := gc.g.Generate(src, 3)
			if err != nil {
				t.Fatal(err)
			}
			out, ok := s.Image.(*image.NRGBA)
			if !ok {
				t.Fatalf("%s on %T gave %T, want *image.NRGBA", gc.g.Name(), src, s.Image)
			}
			for i, m := range s.Mask.Pix {
				if m == 0 && !bytes.Equal(out.Pix[4*i:4*i+4], conv.Pix[4*i:4*i+4]) {
					t.Fatalf("%s on %T: pixel %d outside the mask differs from the NRGBA conversion", gc.g.Name(), src, i)
				}
			}
		}
	}
}

// TestScaleInvariance: the same seed on a 96x72 and a 384x288 image gives a
// mask of about the same fraction of the image, since every size is
// relative.
func TestScaleInvariance(t *testing.T) {
	small := noiseImage("gray", 96, 72, 1, false)
	large := noiseImage("gray", 384, 288, 1, false)
	frac := func(m *image.Gray) float64 {
		n := 0
		for _, v := range m.Pix {
			if v != 0 {
				n++
			}
		}
		return float64(n) / float64(len(m.Pix))
	}
	for _, g := range []Generator{CutPaste{}, Scar{}, DRAEM{}, Strokes{}} {
		const seeds = 12
		off := 0
		for seed := range uint64(seeds) {
			a, err := g.Generate(small, seed)
			if err != nil {
				t.Fatal(err)
			}
			b, err := g.Generate(large, seed)
			if err != nil {
				t.Fatal(err)
			}
			fa, fb := frac(a.Mask), frac(b.Mask)
			if r := fa / fb; r < 0.6 || r > 1.67 {
				off++
				t.Logf("%s seed %d: mask fraction %.4f at 96x72, %.4f at 384x288", g.Name(), seed, fa, fb)
			}
		}
		if off > seeds/6 {
			t.Errorf("%s: %d of %d seeds give mask fractions more than 1.67x apart at 96x72 and 384x288", g.Name(), off, seeds)
		}
	}
}

// TestCutPasteSize: the rectangle stays within the area bounds and the image
// for extreme draws and shapes.
func TestCutPasteSize(t *testing.T) {
	for _, sz := range [][2]int{{16, 16}, {16, 400}, {400, 16}, {97, 61}, {2048, 2048}} {
		W, H := sz[0], sz[1]
		A := float64(W * H)
		lo, hi := int(math.Ceil(CutPasteMinArea*A)), int(math.Floor(CutPasteMaxArea*A))
		for _, f := range []float64{CutPasteMinArea, 0.08, CutPasteMaxArea - 1e-12} {
			for _, a := range []float64{CutPasteMinAspect, 1, CutPasteMaxAspect - 1e-12} {
				w, h := cutPasteSize(W, H, f, a)
				if w < 1 || h < 1 || w > W || h > H || w*h < lo || w*h > hi {
					t.Errorf("%dx%d frac %.2f aspect %.2f: %dx%d (area %d, want %d-%d)", W, H, f, a, w, h, w*h, lo, hi)
				}
			}
		}
	}
}

// TestDRAEMFallback: with no tries left the halfway threshold still gives a
// mask that is neither empty nor full.
func TestDRAEMFallback(t *testing.T) {
	src := noiseImage("gray", 40, 30, 1, false)
	for seed := range uint64(50) {
		j, err := start("DRAEM", src, seed, streamDRAEM)
		if err != nil {
			t.Fatal(err)
		}
		perlinMask(j, 0)
		n := 0
		for _, v := range j.mask {
			if v != 0 {
				n++
			}
		}
		if n == 0 || n == len(j.mask) {
			t.Fatalf("seed %d: fallback mask has %d of %d pixels", seed, n, len(j.mask))
		}
	}
}

// TestConcurrent: one generator value used from several goroutines gives
// the same samples as sequential calls.
func TestConcurrent(t *testing.T) {
	g := Default(testTextures())
	src := noiseImage("nrgba", 64, 48, 2, false)
	const n = 32
	want := make([][]byte, n)
	for i := range want {
		s, err := g.Generate(src, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = append(allBytes(s.Image), s.Mask.Pix...)
	}
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := w; i < n; i += 4 {
				s, err := g.Generate(src, uint64(i))
				if err == nil && !bytes.Equal(want[i], append(allBytes(s.Image), s.Mask.Pix...)) {
					err = fmt.Errorf("seed %d differs from the sequential sample", i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestMixPick(t *testing.T) {
	m := Default(nil)
	counts := map[string]int{}
	const n = 4000
	for seed := range uint64(n) {
		g, _, err := m.Pick(seed)
		if err != nil {
			t.Fatal(err)
		}
		counts[g.Name()]++
	}
	for _, name := range []string{"cutpaste", "scar", "draem", "strokes"} {
		if c := counts[name]; c < n/4-150 || c > n/4+150 {
			t.Errorf("%s picked %d of %d times, want about %d", name, c, n, n/4)
		}
	}
	only := &Mix{Generators: m.Generators, Weights: []float64{0, 1, 0, 0}}
	for seed := range uint64(200) {
		if g, _, _ := only.Pick(seed); g.Name() != "scar" {
			t.Fatalf("weights 0,1,0,0 picked %s", g.Name())
		}
	}
	last := &Mix{Generators: m.Generators, Weights: []float64{1, 0, 0, 0}}
	for seed := range uint64(200) {
		if g, _, _ := last.Pick(seed); g.Name() != "cutpaste" {
			t.Fatalf("weights 1,0,0,0 picked %s", g.Name())
		}
	}
	if got := m.Name(); got != "mix(cutpaste,scar,draem,strokes)" {
		t.Errorf("Name %q", got)
	}
}

func TestErrors(t *testing.T) {
	good := noiseImage("rgba", 32, 32, 1, false)
	var nilRGBA *image.RGBA
	var nilGray16 *image.Gray16
	shortPix := &image.RGBA{Pix: make([]uint8, 100), Stride: 128, Rect: image.Rect(0, 0, 32, 32)}
	badStride := &image.Gray{Pix: make([]uint8, 32*32), Stride: 8, Rect: image.Rect(0, 0, 32, 32)}
	imgCases := []struct {
		name string
		img  image.Image
		want error
	}{
		{"nil", nil, ErrNilImage},
		{"typed nil RGBA", nilRGBA, ErrNilImage},
		{"typed nil Gray16", nilGray16, ErrNilImage},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 0)), ErrEmptyImage},
		{"inverted", &image.Gray{Rect: image.Rectangle{Min: image.Pt(40, 40), Max: image.Pt(0, 0)}}, ErrEmptyImage},
		{"15 wide", image.NewGray(image.Rect(0, 0, 15, 100)), ErrTooSmall},
		{"15 high", image.NewNRGBA64(image.Rect(0, 0, 100, 15)), ErrTooSmall},
		{"short Pix", shortPix, ErrBadImage},
		{"short stride", badStride, ErrBadImage},
		{"zero value", &image.NRGBA{Rect: image.Rect(0, 0, 20, 20)}, ErrBadImage},
		{"index past palette", &image.Paletted{Pix: bytes.Repeat([]byte{7}, 400), Stride: 20, Rect: image.Rect(0, 0, 20, 20), Palette: color.Palette{color.Black}}, ErrBadImage},
		{"short YCbCr", &image.YCbCr{Rect: image.Rect(0, 0, 20, 20), SubsampleRatio: image.YCbCrSubsampleRatio444}, ErrBadImage},
	}
	for _, gc := range generators() {
		for _, c := range imgCases {
			_, err := gc.g.Generate(c.img, 1)
			if !errors.Is(err, c.want) {
				t.Errorf("%s on %s: error %v, want %v", gc.g.Name(), c.name, err, c.want)
			} else if !strings.Contains(err.Error(), "synth:") {
				t.Errorf("%s on %s: error %q does not say where it comes from", gc.g.Name(), c.name, err)
			}
		}
	}
	gens := []Generator{CutPaste{}, Scar{}}
	mixCases := []struct {
		name string
		m    *Mix
		want error
	}{
		{"nil mix", nil, ErrNoGenerator},
		{"empty mix", &Mix{}, ErrNoGenerator},
		{"nil generator", &Mix{Generators: []Generator{CutPaste{}, nil}}, ErrNoGenerator},
		{"too few weights", &Mix{Generators: gens, Weights: []float64{1}}, ErrBadWeights},
		{"negative", &Mix{Generators: gens, Weights: []float64{1, -1}}, ErrBadWeights},
		{"NaN", &Mix{Generators: gens, Weights: []float64{math.NaN(), 1}}, ErrBadWeights},
		{"Inf", &Mix{Generators: gens, Weights: []float64{math.Inf(1), 1}}, ErrBadWeights},
		{"all zero", &Mix{Generators: gens, Weights: []float64{0, 0}}, ErrBadWeights},
		{"sum overflows", &Mix{Generators: gens, Weights: []float64{math.MaxFloat64, math.MaxFloat64}}, ErrBadWeights},
	}
	for _, c := range mixCases {
		if _, err := c.m.Generate(good, 1); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := (&Mix{Generators: gens}).Generate(good, 1); err != nil {
		t.Errorf("nil weights: %v", err)
	}
	texCases := []struct {
		name string
		tex  image.Image
		want error
	}{
		{"nil texture", nil, ErrNilImage},
		{"typed nil texture", nilRGBA, ErrNilImage},
		{"empty texture", image.NewGray(image.Rect(0, 0, 0, 5)), ErrEmptyImage},
		{"short texture", shortPix, ErrBadImage},
	}
	for _, c := range texCases {
		d := DRAEM{Textures: []image.Image{good, c.tex}}
		_, err := d.Generate(good, 1)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "Textures[1]") {
			t.Errorf("%s: error %v, want %v naming Textures[1]", c.name, err, c.want)
		}
	}
	// A 1x1 texture is fine.
	if _, err := (DRAEM{Textures: []image.Image{image.NewGray(image.Rect(0, 0, 1, 1))}}).Generate(good, 1); err != nil {
		t.Errorf("1x1 texture: %v", err)
	}
}

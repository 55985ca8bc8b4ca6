// Command synthgallery draws a gallery of the synthetic defects of package
// refine/synth: one row per generator (CutPaste, Scar, DRAEM, Strokes), N
// samples per row, each shown twice side by side: the defective image as the
// refinement network would see it, and the same image with the mask's
// contour drawn in red.
//
//	go run ./examples/synthgallery -data ../shared/data/mvtec_ad/bottle -o /tmp/gallery.png
//
// Images come from the train/good folder of each -data folder (an MVTec AD
// layout; a folder of images works too; -data may be repeated, samples then
// take turns between the folders), or, without -data, from a procedural test
// image. Each generator runs on the full-size image; only the tiles are
// downscaled. -textures DIR gives DRAEM a folder of texture images instead of
// its procedural textures.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/x/pni/imageio"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/refine/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "synthgallery:", err)
		os.Exit(1)
	}
}

// source is one image folder.
type source struct {
	name  string   // short name for captions
	files []string // image paths, sorted
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synthgallery", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dirs []string
	fs.Func("data", "MVTec-layout folder whose train/good images are used (or a folder of images); may be repeated", func(s string) error {
		dirs = append(dirs, s)
		return nil
	})
	out := fs.String("o", "synth-gallery.png", "output PNG")
	n := fs.Int("n", 4, "samples per generator")
	tile := fs.Int("tile", 128, "tile size in px (each sample takes two tiles)")
	seed := fs.Uint64("seed", 1, "first seed; sample k of a row uses seed+k")
	texDir := fs.String("textures", "", "folder of texture images for DRAEM (default: procedural textures)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags go before them; see -h)", fs.Args())
	}
	if *n < 1 || *n > 64 {
		return fmt.Errorf("-n %d: give 1 to 64 samples per generator", *n)
	}
	if *tile < 32 || *tile > 1024 {
		return fmt.Errorf("-tile %d: give a tile size from 32 to 1024 px", *tile)
	}
	var sources []source
	for _, d := range dirs {
		s, err := openSource(d)
		if err != nil {
			return err
		}
		sources = append(sources, s)
	}
	var textures []image.Image
	if *texDir != "" {
		files, err := listImages(*texDir)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("-textures %s: no .png or .jpg images in it", *texDir)
		}
		for _, f := range files {
			img, err := imageio.Load(f)
			if err != nil {
				return err
			}
			textures = append(textures, img)
		}
	}
	gens := []synth.Generator{synth.CutPaste{}, synth.Scar{}, synth.DRAEM{Textures: textures}, synth.Strokes{}}
	g, err := render(gens, sources, *n, *tile, *seed)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, g); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d generators x %d samples, %dx%d px\n", *out, len(gens), *n, g.Bounds().Dx(), g.Bounds().Dy())
	return nil
}

// openSource lists dir/train/good, or dir itself when it has no train/good.
func openSource(dir string) (source, error) {
	name := filepath.Base(filepath.Clean(dir))
	sub := filepath.Join(dir, "train", mvtec.Good)
	if st, err := os.Stat(sub); err == nil && st.IsDir() {
		dir = sub
	}
	files, err := listImages(dir)
	if err != nil {
		return source{}, fmt.Errorf("-data: %w", err)
	}
	if len(files) == 0 {
		return source{}, fmt.Errorf("-data: no .png or .jpg images in %s (give an MVTec-layout folder with train/good)", dir)
	}
	return source{name: name, files: files}, nil
}

func listImages(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && (ext == ".png" || ext == ".jpg" || ext == ".jpeg") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	return files, nil
}

// Layout, in px.
const (
	margin  = 6
	labelW  = 70
	titleH  = 20
	captH   = 15
	cellGap = 10
)

var (
	bg      = color.NRGBA{28, 28, 30, 255}
	fg      = color.NRGBA{230, 230, 230, 255}
	contour = color.NRGBA{255, 32, 32, 255}
)

// render draws the gallery.
func render(gens []synth.Generator, sources []source, n, tile int, seed uint64) (*image.NRGBA, error) {
	cellW := 2*tile + 2
	W := margin + labelW + n*cellW + (n-1)*cellGap + margin
	rowH := tile + captH
	H := titleH + len(gens)*(rowH+margin) + margin
	g := image.NewNRGBA(image.Rect(0, 0, W, H))
	draw.Draw(g, g.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	text(g, margin, 14, "synth defects: left the sample, right its mask contour (red)")
	cache := map[string]image.Image{}
	procedural := testImage()
	for i, gen := range gens {
		y0 := titleH + i*(rowH+margin)
		text(g, margin, y0+tile/2+4, gen.Name())
		for k := range n {
			s := seed + uint64(k)
			src, caption := image.Image(procedural), fmt.Sprintf("procedural s%d", s)
			if len(sources) > 0 {
				so := sources[k%len(sources)]
				// A different image per row and sample, the same for a seed.
				file := so.files[int((uint64(i)*7919+uint64(k/len(sources))*104729+s*31)%uint64(len(so.files)))]
				img, ok := cache[file]
				if !ok {
					var err error
					if img, err = imageio.Load(file); err != nil {
						return nil, err
					}
					cache[file] = img
				}
				src, caption = img, fmt.Sprintf("%s/%s s%d", shortName(so.name), filepath.Base(file), s)
			}
			sm, err := gen.Generate(src, s)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", gen.Name(), caption, err)
			}
			x0 := margin + labelW + k*(cellW+cellGap)
			left := image.Rect(x0, y0, x0+tile, y0+tile)
			right := left.Add(image.Pt(tile+2, 0))
			fit(g, left, sm.Image)
			fit(g, right, sm.Image)
			drawContour(g, right, sm.Image.Bounds(), sm.Mask)
			text(g, x0, y0+tile+12, caption)
		}
	}
	return g, nil
}

func shortName(s string) string {
	return strings.TrimPrefix(s, "mvtec3d_")
}

// placement is where an image of size sz goes inside r, keeping its aspect.
func placement(r image.Rectangle, sz image.Point) image.Rectangle {
	t := r.Dx()
	w, h := t, t
	if sz.X > sz.Y {
		h = max(1, t*sz.Y/sz.X)
	} else {
		w = max(1, t*sz.X/sz.Y)
	}
	off := image.Pt((t-w)/2, (t-h)/2)
	return image.Rectangle{Min: r.Min.Add(off), Max: r.Min.Add(off).Add(image.Pt(w, h))}
}

// fit draws img downscaled into the square r.
func fit(dst draw.Image, r image.Rectangle, img image.Image) {
	draw.BiLinear.Scale(dst, placement(r, img.Bounds().Size()), img, img.Bounds(), draw.Src, nil)
}

// drawContour marks in red the boundary of the mask as scaled into r: a tile
// pixel is in the mask when any mask pixel under it is (so thin defects stay
// visible), and on the contour when one of its four neighbours is not.
func drawContour(dst *image.NRGBA, r image.Rectangle, b image.Rectangle, m *image.Gray) {
	p := placement(r, b.Size())
	w, h := p.Dx(), p.Dy()
	on := make([]bool, w*h)
	for y := range b.Dy() {
		ty := y * h / b.Dy()
		for x := range b.Dx() {
			if m.Pix[y*m.Stride+x] != 0 {
				on[ty*w+x*w/b.Dx()] = true
			}
		}
	}
	at := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && on[y*w+x] }
	for y := range h {
		for x := range w {
			if at(x, y) && (!at(x-1, y) || !at(x+1, y) || !at(x, y-1) || !at(x, y+1)) {
				dst.SetNRGBA(p.Min.X+x, p.Min.Y+y, contour)
			}
		}
	}
}

func text(dst draw.Image, x, y int, s string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(fg), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// testImage is a procedural 256x256 part: a shaded ring on a woven texture.
func testImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			v := 70 + 30*((x/6+y/6)%2) + (x*7+y*13)%17
			c := color.NRGBA{uint8(v), uint8(v), uint8(v + 25), 255}
			dx, dy := x-128, y-128
			if d := dx*dx + dy*dy; d < 90*90 && d > 40*40 {
				c = color.NRGBA{uint8(140 + x/3), uint8(110 + y/4), 70, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

package mvtec

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x/pni/internal/testenv"

	"github.com/x/pni/imageio"
)

// sharedData finds $PNI_SHARED/data (default ../shared relative to the repo
// root): missing data fails the test in CI and skips it elsewhere.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PNI_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "mvtec_ad", "grid")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data not found at %s (set PNI_SHARED): %v", data, err)
		}
		t.Skipf("shared data not found at %s (set PNI_SHARED to run this test)", data)
	}
	return data
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeSet lays out a small dataset: 3 train images, test good (2), crack (2,
// one jpg), scratch (1); masks for the defects if withGT.
func makeSet(t *testing.T, withGT bool) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range []string{"002.png", "000.png", "001.png"} {
		writePNG(t, filepath.Join(root, "train", "good", n), testenv.Gradient(8, 6))
	}
	os.WriteFile(filepath.Join(root, "train", "good", "notes.txt"), []byte("ignored"), 0o644)
	os.WriteFile(filepath.Join(root, "train", "good", ".hidden.png"), []byte("ignored"), 0o644)
	writePNG(t, filepath.Join(root, "test", "good", "001.png"), testenv.Gray(8, 6, 50))
	writePNG(t, filepath.Join(root, "test", "good", "000.png"), testenv.Gray(8, 6, 50))
	writePNG(t, filepath.Join(root, "test", "scratch", "000.png"), testenv.Gradient(8, 6))
	writePNG(t, filepath.Join(root, "test", "crack", "000.png"), testenv.Gradient(8, 6))
	f, err := os.Create(filepath.Join(root, "test", "crack", "001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, testenv.Gradient(8, 6), nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.MkdirAll(filepath.Join(root, "test", "empty_kind"), 0o755)
	if withGT {
		for _, p := range []string{"crack/000_mask.png", "crack/001_mask.png", "scratch/000_mask.png"} {
			writePNG(t, filepath.Join(root, "ground_truth", p), testenv.Gray(8, 6, 255))
		}
	}
	return root
}

func TestOpenSynthetic(t *testing.T) {
	root := makeSet(t, true)
	ds, err := Open(root + "/")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Root != root || !ds.HasMasks {
		t.Errorf("Root %q HasMasks %v", ds.Root, ds.HasMasks)
	}
	if got := strings.Join(ds.Kinds, ","); got != "good,crack,scratch" {
		t.Errorf("Kinds %s", got)
	}
	var train []string
	for _, s := range ds.Train {
		train = append(train, filepath.Base(s.Path))
		if s.Kind != Good || s.Label || s.MaskPath != "" {
			t.Errorf("train sample %+v", s)
		}
	}
	if got := strings.Join(train, ","); got != "000.png,001.png,002.png" {
		t.Errorf("train %s", got)
	}
	want := []Sample{
		{filepath.Join(root, "test/good/000.png"), "good", false, ""},
		{filepath.Join(root, "test/good/001.png"), "good", false, ""},
		{filepath.Join(root, "test/crack/000.png"), "crack", true, filepath.Join(root, "ground_truth/crack/000_mask.png")},
		{filepath.Join(root, "test/crack/001.jpg"), "crack", true, filepath.Join(root, "ground_truth/crack/001_mask.png")},
		{filepath.Join(root, "test/scratch/000.png"), "scratch", true, filepath.Join(root, "ground_truth/scratch/000_mask.png")},
	}
	if len(ds.Test) != len(want) {
		t.Fatalf("test samples %+v", ds.Test)
	}
	for i := range want {
		if ds.Test[i] != want[i] {
			t.Errorf("test[%d] = %+v, want %+v", i, ds.Test[i], want[i])
		}
	}
	// Every sample loads; the jpg too.
	for _, s := range append(ds.Train, ds.Test...) {
		img, err := imageio.Load(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 8 || img.Bounds().Dy() != 6 {
			t.Errorf("%s: %v", s.Path, img.Bounds())
		}
		if s.MaskPath != "" {
			m, err := LoadMask(s.MaskPath)
			if err != nil {
				t.Fatal(err)
			}
			if m.W != 8 || m.H != 6 || len(m.Pix) != 48 || !m.Pix[0] {
				t.Errorf("mask %s: %dx%d", s.MaskPath, m.W, m.H)
			}
		}
	}
}

func TestOpenNoGroundTruth(t *testing.T) {
	ds, err := Open(makeSet(t, false))
	if err != nil {
		t.Fatal(err)
	}
	if ds.HasMasks {
		t.Error("HasMasks without ground_truth")
	}
	for _, s := range ds.Test {
		if s.MaskPath != "" {
			t.Errorf("mask for %s", s.Path)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Open(missing); !errors.Is(err, ErrLayout) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}

	root := makeSet(t, true)
	os.Remove(filepath.Join(root, "ground_truth", "crack", "001_mask.png"))
	_, err := Open(root)
	if !errors.Is(err, ErrMissingMask) || !strings.Contains(err.Error(), filepath.Join("crack", "001.jpg")) {
		t.Errorf("missing mask: %v", err)
	}

	root = makeSet(t, false)
	os.RemoveAll(filepath.Join(root, "train", "good"))
	if _, err := Open(root); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "train") {
		t.Errorf("no train/good: %v", err)
	}

	root = makeSet(t, false)
	for _, n := range []string{"000.png", "001.png", "002.png"} {
		os.Remove(filepath.Join(root, "train", "good", n))
	}
	if _, err := Open(root); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "no images") {
		t.Errorf("empty train: %v", err)
	}

	root = makeSet(t, false)
	os.RemoveAll(filepath.Join(root, "test"))
	if _, err := Open(root); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "test") {
		t.Errorf("no test dir: %v", err)
	}
	os.MkdirAll(filepath.Join(root, "test", "good"), 0o755)
	if _, err := Open(root); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "no test images") {
		t.Errorf("no test images: %v", err)
	}

	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(file); !errors.Is(err, ErrLayout) {
		t.Errorf("file as dir: %v", err)
	}
}

// pngHeader builds a PNG signature plus an IHDR chunk (valid CRC) for a w x h
// 8-bit grayscale image, and no pixel data.
func TestLoadMaskKinds(t *testing.T) {
	dir := t.TempDir()
	// Gray with values 0, 1, 255.
	g := testenv.Gray(4, 2, 0)
	g.Pix[1], g.Pix[6] = 1, 255
	// RGB: black, red, (0,0,1), black with alpha 0.
	c := image.NewNRGBA(image.Rect(0, 0, 4, 1))
	c.Set(1, 0, color.NRGBA{255, 0, 0, 255})
	c.Set(2, 0, color.NRGBA{0, 0, 1, 255})
	c.Set(3, 0, color.NRGBA{255, 255, 255, 0})
	c.Set(0, 0, color.NRGBA{0, 0, 0, 255})
	// Paletted: index 0 black, 1 white.
	p := image.NewPaletted(image.Rect(0, 0, 3, 1), color.Palette{color.Black, color.White})
	p.Pix[2] = 1
	for name, tc := range map[string]struct {
		img  image.Image
		want string
	}{
		"gray.png": {g, "01000010"},
		"rgb.png":  {c, "0110"},
		"pal.png":  {p, "001"},
	} {
		path := filepath.Join(dir, name)
		writePNG(t, path, tc.img)
		m, err := LoadMask(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := bitString(m.Pix); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
}

func bitString(p []bool) string {
	var sb strings.Builder
	for _, v := range p {
		if v {
			sb.WriteByte('1')
		} else {
			sb.WriteByte('0')
		}
	}
	return sb.String()
}

// TestMaskFixtures compares Resize with PIL's NEAREST resize and CenterCrop
// with torchvision's center_crop (testdata/gen_fixtures.py).
func TestMaskFixtures(t *testing.T) {
	b, err := os.ReadFile("testdata/masks.json")
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		W, H int
		Pix  string
	}
	var fx struct {
		W, H   int
		Src    string
		Resize []out
		Crop   []out
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMask("testdata/mask.png")
	if err != nil {
		t.Fatal(err)
	}
	if m.W != fx.W || m.H != fx.H || bitString(m.Pix) != fx.Src {
		t.Fatalf("mask.png: %dx%d, decoded bits differ from PIL's nonzero test", m.W, m.H)
	}
	if len(fx.Resize) == 0 || len(fx.Crop) == 0 {
		t.Fatal("empty fixture")
	}
	for _, o := range fx.Resize {
		r := m.Resize(o.W, o.H)
		if r.W != o.W || r.H != o.H || bitString(r.Pix) != o.Pix {
			t.Errorf("Resize(%d, %d) differs from PIL NEAREST", o.W, o.H)
		}
	}
	for _, o := range fx.Crop {
		r := m.CenterCrop(o.W, o.H)
		if r.W != o.W || r.H != o.H || bitString(r.Pix) != o.Pix {
			t.Errorf("CenterCrop(%d, %d) differs from torchvision", o.W, o.H)
		}
	}
}

func TestMaskEdgeCases(t *testing.T) {
	m := &Mask{W: 2, H: 2, Pix: []bool{true, false, false, true}}
	for _, r := range []*Mask{m.Resize(0, 5), m.Resize(-1, -1), m.CenterCrop(0, 1)} {
		if r.W != 0 || r.H != 0 || len(r.Pix) != 0 {
			t.Errorf("non-positive size: %+v", r)
		}
	}
	if r := (&Mask{}).Resize(3, 2); r.W != 3 || r.H != 2 || bitString(r.Pix) != "000000" {
		t.Errorf("empty resize: %+v", r)
	}
	// Upscaling 2x2 -> 4x4 repeats each pixel twice.
	if got := bitString(m.Resize(4, 4).Pix); got != "1100110000110011" {
		t.Errorf("2x upscale: %s", got)
	}
	// Odd crop margins: 5 -> 2 leaves 3, round(1.5) = 2 (half to even).
	row := &Mask{W: 5, H: 1, Pix: []bool{false, false, true, true, false}}
	if got := bitString(row.CenterCrop(2, 1).Pix); got != "11" {
		t.Errorf("crop 5->2: %s", got)
	}
	// 5 -> 4 leaves 1: round(0.5) = 0.
	if got := bitString(row.CenterCrop(4, 1).Pix); got != "0011" {
		t.Errorf("crop 5->4: %s", got)
	}
}

func TestSharedDatasets(t *testing.T) {
	data := sharedData(t)
	for _, c := range []struct {
		set      string
		train    int
		test     map[string]int
		hasMasks bool
	}{
		{"mvtec_ad/grid", 25, map[string]int{"good": 3, "bent": 3, "broken": 2, "glue": 2, "metal_contamination": 2, "thread": 2}, true},
		{"mvtec3d_tire", 210, map[string]int{"good": 25, "combined": 5, "contamination": 28, "cut": 27, "hole": 27}, true},
		{"mvtec_ad/bottle", 209, map[string]int{"good": 20, "broken_large": 20, "broken_small": 22, "contamination": 21}, false},
	} {
		ds, err := Open(filepath.Join(data, c.set))
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Train) != c.train || ds.HasMasks != c.hasMasks || ds.Kinds[0] != Good || len(ds.Kinds) != len(c.test) {
			t.Errorf("%s: %d train, HasMasks %v, kinds %v", c.set, len(ds.Train), ds.HasMasks, ds.Kinds)
		}
		got := map[string]int{}
		for _, s := range ds.Test {
			got[s.Kind]++
			if s.Label != (s.Kind != Good) || (s.MaskPath != "") != (c.hasMasks && s.Label) {
				t.Errorf("%s: sample %+v", c.set, s)
			}
		}
		for k, n := range c.test {
			if got[k] != n {
				t.Errorf("%s: %d test images of kind %s, want %d", c.set, got[k], k, n)
			}
		}
		if !c.hasMasks {
			continue
		}
		// One defect image and its mask load and agree in size; the mask has
		// defect pixels and survives the MVTec protocol's resize + crop.
		s := ds.Test[len(ds.Test)-1]
		img, err := imageio.Load(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadMask(s.MaskPath)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != m.W || img.Bounds().Dy() != m.H {
			t.Errorf("%s: image %v, mask %dx%d", s.Path, img.Bounds(), m.W, m.H)
		}
		defects := 0
		for _, v := range m.Resize(256, 256).CenterCrop(224, 224).Pix {
			if v {
				defects++
			}
		}
		if defects == 0 {
			t.Errorf("%s: no defect pixel after resize/crop", s.MaskPath)
		}
	}
}

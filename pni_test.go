package pni

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/x/pni/backbone"
	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/binenc"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

const tinyBackbone = "testdata/tiny_backbone.onnx"

// texture draws a 64x64 image of diagonal stripes, shifted by phase; with
// defect, a bright square sits at (40..52, 16..28).
func texture(phase int, defect bool) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			v := uint8(60)
			if (x+y+phase)%8 < 4 {
				v = 180
			}
			if defect && x >= 40 && x < 52 && y >= 16 && y < 28 {
				v = 255
				img.SetRGBA(x, y, color.RGBA{v, 20, 20, 255})
				continue
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return img
}

func normals(n int) []image.Image {
	imgs := make([]image.Image, n)
	for i := range imgs {
		imgs[i] = texture(i%8, false)
	}
	return imgs
}

func tinyOpts(extra ...Option) []Option {
	return append([]Option{WithBackbone(tinyBackbone), WithResize(64, 64), WithCoresetRatio(0.5),
		WithBlurSigma(1), WithSeed(1), WithEmbedDim(12)}, extra...)
}

func fitTiny(t *testing.T, extra ...Option) *Model {
	t.Helper()
	m, err := Fit(context.Background(), normals(8), tinyOpts(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPatchScoresAllowedSet checks S(x) on a hand-made model whose allowed
// sets are known: the nearest element is excluded where p(c|x) is zero.
func TestPatchScoresAllowedSet(t *testing.T) {
	// Three 2-d bank elements; two grid positions.
	bk := &bank{dim: 2, nDist: 3, emb: []float32{0, 0, 10, 0, 0, 5}, distOf: []int32{0, 1, 2}}
	if err := bk.derive(); err != nil {
		t.Fatal(err)
	}
	m := &member{bank: bk, cfg: memberConfig{GridH: 1, GridW: 2, TauScale: 1},
		// Position 0 allows only element 1; position 1 allows elements 0 and 2.
		pos: &position.Hist{H: 1, W: 2, K: 3, Off: []int32{0, 1, 3}, Idx: []int32{1, 0, 2}, P: []float32{1, 0.5, 0.5}},
	}
	feats := []float32{1, 0, 9, 1} // nearest overall: element 0 for x=0, element 1 for x=1
	got, err := m.patchScores(context.Background(), feats, nil)
	if err != nil {
		t.Fatal(err)
	}
	// x=0 may only use element 1 at (10,0): distance 9. x=1 uses 0 or 2: min(|(9,1)|, |(9,-4)|) = sqrt(82).
	want := []float32{9, float32(math.Sqrt(82))}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Errorf("S(x=%d) = %v, want %v", i, got[i], want[i])
		}
	}
	// Excluding element 1 (as leave-one-image-out does for the scored
	// image's own elements) leaves x=0 nothing allowed but element 1: it
	// falls back to every other element (0 at distance 1); x=1 keeps its set.
	got, err = m.patchScores(context.Background(), feats, []int32{1})
	if err != nil {
		t.Fatal(err)
	}
	want = []float32{1, float32(math.Sqrt(82))}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Errorf("excluding element 1: S(x=%d) = %v, want %v", i, got[i], want[i])
		}
	}
	// Without the position part (PatchCore mode) the plain nearest neighbours count.
	m.pos = nil
	got, _ = m.patchScores(context.Background(), feats, nil)
	want = []float32{1, float32(math.Sqrt(2))}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Errorf("PatchCore S(x=%d) = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestAllowedSetParts checks A(x) = {c : p(c|Omega) > tau} by hand for the
// neighbourhood part alone and for both parts (docs/algorithm.md, section 5): K = 4,
// C_dist = the first 2 elements, elements 2 and 3 mapped to C_dist 0 and 1,
// tau = 1/(2K) = 0.125.
func TestAllowedSetParts(t *testing.T) {
	bk := &bank{dim: 1, nDist: 2, emb: []float32{0, 1, 2, 3}, distOf: []int32{0, 1, 0, 1}}
	if err := bk.derive(); err != nil {
		t.Fatal(err)
	}
	m := &member{bank: bk, cfg: memberConfig{GridH: 1, GridW: 1, TauScale: 1}}
	pnb := []float32{0.9, 0.1} // p(C_dist | neighbours), shared by the 2 elements mapped to each
	mask := make([]bool, 4)
	check := func(name string, want []bool) {
		t.Helper()
		for c := range want {
			if mask[c] != want[c] {
				t.Errorf("%s: element %d allowed = %v, want %v (mask %v)", name, c, mask[c], want[c], mask)
			}
		}
	}
	// Neighbourhood alone: p = 0.45, 0.05, 0.45, 0.05.
	m.allowed(0, pnb, 0.125, mask)
	check("neighbourhood", []bool{true, false, true, false})
	// Both, position row {1: 1.0}: p = 0.225, 0.525, 0.225, 0.025.
	m.pos = &position.Hist{H: 1, W: 1, K: 4, Off: []int32{0, 1}, Idx: []int32{1}, P: []float32{1}}
	for i := range mask {
		mask[i] = true // the scratch's contents on entry must not matter
	}
	m.allowed(0, pnb, 0.125, mask)
	check("both", []bool{true, true, true, false})
	// A stricter tau (x4 = 0.5) keeps only element 1.
	m.allowed(0, pnb, 0.5, mask)
	check("both, tau x4", []bool{false, true, false, false})
	// Position alone: only the row's elements above tau.
	m.allowed(0, nil, 0.125, mask)
	check("position", []bool{false, true, false, false})
}

func TestFitScoreFindsDefect(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"patchcore", []Option{WithPosition(false), WithNeighborhood(false)}},
		{"position", []Option{WithNeighborhood(false)}},
		{"pni", []Option{WithNeighborhood(true), WithMinValTop1(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fitTiny(t, tc.opts...)
			ctx := context.Background()
			good, err := m.Score(ctx, texture(3, false))
			if err != nil {
				t.Fatal(err)
			}
			bad, err := m.Score(ctx, texture(3, true))
			if err != nil {
				t.Fatal(err)
			}
			if !(bad.Score > good.Score) {
				t.Errorf("defect score %v not above normal %v", bad.Score, good.Score)
			}
			// The map's maximum lies in or near the defect square (40..52, 16..28).
			bi := 0
			for i, v := range bad.Map {
				if v > bad.Map[bi] {
					bi = i
				}
			}
			x, y := bi%bad.MapW, bi/bad.MapW
			if x < 32 || y < 8 || y > 36 {
				t.Errorf("map peak at (%d,%d), defect at (40..52,16..28)", x, y)
			}
			if bad.MapW != 64 || bad.MapH != 64 || bad.OrigW != 64 || len(bad.Original) != 64*64 || bad.GridW != 8 {
				t.Errorf("shapes: map %dx%d orig %dx%d grid %dx%d", bad.MapW, bad.MapH, bad.OrigW, bad.OrigH, bad.GridW, bad.GridH)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Run("D=12", func(t *testing.T) {
		saveLoadRoundTrip(t, fitTiny(t, WithNeighborhood(true), WithMinValTop1(0)))
	})
	// The default D (1024) is wider than the tiny backbone's 9*(8+8) values
	// per position; PatchCore accepts that and so must a loaded model.
	t.Run("default D", func(t *testing.T) {
		saveLoadRoundTrip(t, fitTiny(t, WithEmbedDim(backbone.DefaultDim)))
	})
}

func saveLoadRoundTrip(t *testing.T, m *Model) {
	t.Helper()
	var a bytes.Buffer
	if err := m.Save(&a); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m2.Save(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("Save(Load(Save(m))) differs from Save(m)")
	}
	img := texture(5, true)
	r1, _ := m.Score(context.Background(), img)
	r2, err := m2.Score(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Score != r2.Score || maxAbsDiff(r1.Map, r2.Map) != 0 {
		t.Errorf("loaded model scores differently: %v vs %v", r1.Score, r2.Score)
	}
	if !reflect.DeepEqual(m.Info(), m2.Info()) {
		t.Errorf("Info differs: %+v vs %+v", m.Info(), m2.Info())
	}
}

func TestLoadRejectsDamagedFiles(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(false))
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x40
	version := bytes.Clone(good)
	version[8] = 99
	for name, data := range map[string][]byte{
		"empty":     nil,
		"foreign":   []byte("\x89PNG\r\n\x1a\n this is not a model at all, just bytes"),
		"truncated": good[:len(good)-100],
		"bitflip":   flip,
		"version":   version,
		"padded":    append(bytes.Clone(good), 0),
	} {
		_, err := Unmarshal(data)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FormatError", name, err)
		}
	}
}

func TestFitDeterministic(t *testing.T) {
	save := func() []byte {
		var b bytes.Buffer
		if err := fitTiny(t, WithNeighborhood(false)).Save(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(save(), save()) {
		t.Error("two fits with the same seed differ")
	}
}

func TestConcurrentScore(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(true), WithMinValTop1(0))
	want, err := m.Score(context.Background(), texture(2, true))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				r, err := m.Score(context.Background(), texture(2, true))
				if err != nil {
					errs <- err
					return
				}
				if r.Score != want.Score {
					errs <- errors.New("concurrent Score gave a different result")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFitErrors checks that each bad input gives the error it is about.
func TestFitErrors(t *testing.T) {
	ctx := context.Background()
	invalid := func(name string, err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an ErrInvalidArgument error mentioning %q", name, err, want)
		}
	}
	_, err := Fit(ctx, nil, WithBackbone(tinyBackbone))
	invalid("no images", err, "no training images")
	_, err = Fit(ctx, normals(2))
	invalid("no backbone", err, "no backbone")
	_, err = Fit(ctx, normals(2), WithBackbone(tinyBackbone), WithCoresetRatio(2))
	invalid("ratio 2", err, "WithCoresetRatio(2)")
	_, err = Fit(ctx, normals(2), WithPreset("huge"))
	invalid("unknown preset", err, `unknown preset "huge"`)
	_, err = Fit(ctx, normals(2), WithBackbone(tinyBackbone), WithCrop(10, 0))
	invalid("half a crop", err, "WithCrop(10, 0)")
	_, err = Fit(ctx, normals(2), WithBackbone(tinyBackbone), WithResize(64, 64), WithCrop(100, 100))
	invalid("crop larger than the resize", err, "larger than the resized image")
	// A bad MLP configuration fails at once, before any feature extraction
	// (the progress callback never sees the features stage).
	var stages []Stage
	_, err = Fit(ctx, normals(2), append(tinyOpts(WithProgress(func(p Progress) { stages = append(stages, p.Stage) })),
		WithNeighborhood(true), WithNeighborhoodConfig(neighborhood.Config{Hidden: []int{4, -1}}))...)
	invalid("bad MLP config", err, "Config.Hidden")
	if len(stages) != 0 {
		t.Errorf("bad MLP config: Fit ran stages %v before failing", stages)
	}

	var ie *ImageError
	_, err = Fit(ctx, []image.Image{texture(0, false), nil}, WithBackbone(tinyBackbone))
	if !errors.As(err, &ie) || ie.Index != 1 || !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil image: got %v, want an *ImageError for image 1", err)
	}
	_, err = FitFiles(ctx, []string{"testdata/missing.png"}, tinyOpts()...)
	if !errors.As(err, &ie) || ie.Path != "testdata/missing.png" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want an *ImageError naming it, wrapping fs.ErrNotExist", err)
	}
	notImage := filepath.Join(t.TempDir(), "notes.png")
	os.WriteFile(notImage, []byte("not an image"), 0o644)
	var fe *imageio.FormatError
	if _, err = FitFiles(ctx, []string{notImage}, tinyOpts()...); !errors.As(err, &ie) || !errors.As(err, &fe) || strings.Contains(err.Error(), "mvtec") {
		t.Errorf("not an image: got %v, want an *ImageError wrapping an imageio.FormatError", err)
	}

	if _, err := Fit(ctx, normals(2), WithBackbone("testdata/missing.onnx")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing backbone: got %v, want fs.ErrNotExist", err)
	}
	var bfe *backbone.FormatError
	if _, err := Fit(ctx, normals(2), WithBackboneBytes([]byte("not onnx at all"))); !errors.As(err, &bfe) {
		t.Errorf("malformed backbone: got %v, want a *backbone.FormatError", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fit(cctx, normals(4), tinyOpts()...); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fit: got %v, want context.Canceled", err)
	}
	var m Model
	if _, err := m.Score(ctx, texture(0, false)); !errors.Is(err, ErrNotFitted) {
		t.Errorf("Score on a zero Model: got %v", err)
	}
	fm := fitTiny(t, WithNeighborhood(false))
	if _, err := fm.Score(ctx, image.NewRGBA(image.Rect(0, 0, 0, 0))); !errors.As(err, &ie) || !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Score of an empty image: %v", err)
	}
	if _, err := fm.Score(ctx, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Score of nil: %v", err)
	}
	if _, err := fm.Score(cctx, texture(0, false)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Score: got %v", err)
	}
}

// TestPresetOrderIndependent checks that an option overrides the preset's
// value wherever WithPreset stands among the options.
func TestPresetOrderIndependent(t *testing.T) {
	for _, opts := range [][]Option{
		{WithNeighborhood(true), WithPreset(PresetDefault), WithBlurSigma(2), WithWindow(3)},
		{WithPreset(PresetDefault), WithNeighborhood(true), WithBlurSigma(2), WithWindow(3)},
		{WithWindow(3), WithBlurSigma(2), WithNeighborhood(true), WithPreset(PresetDefault)},
	} {
		c, err := resolveOptions(opts)
		if err != nil {
			t.Fatal(err)
		}
		if !c.neighborhood || c.sigma != 2 || c.window != 3 || c.resizeW != 480 || c.preset != PresetDefault {
			t.Errorf("resolved %+v", c)
		}
	}
	// The last preset wins; the MVTec preset's own values apply.
	c, err := resolveOptions([]Option{WithPreset(PresetPaper), WithPosition(false), WithPreset(PresetMVTec)})
	if err != nil || c.preset != PresetMVTec || c.cropW != 224 || c.position || !c.neighborhood {
		t.Errorf("last preset: %+v, %v", c, err)
	}
}

func TestProgressReported(t *testing.T) {
	var stages []Stage
	fitTiny(t, WithProgress(func(p Progress) { stages = append(stages, p.Stage) }), WithNeighborhood(true), WithMinValTop1(0))
	seen := map[Stage]bool{}
	for _, s := range stages {
		seen[s] = true
	}
	for _, s := range []Stage{StageFeatures, StageCoreset, StageAssign, StagePosition, StageNeighborhood, StageDone} {
		if !seen[s] {
			t.Errorf("no progress report for stage %q", s)
		}
	}
}

// rewrite re-encodes a model file with its sections changed by edit.
func rewrite(t *testing.T, data []byte, edit func([]section) []section) []byte {
	t.Helper()
	secs, err := readSections(data[headerLen : len(data)-4])
	if err != nil {
		t.Fatal(err)
	}
	var body binenc.Writer
	for _, s := range edit(secs) {
		body.String(s.name)
		body.String(s.description)
		body.Bool(s.optional)
		body.Blob(s.payload)
	}
	out := append([]byte{}, data[:headerLen]...)
	binary.LittleEndian.PutUint64(out[12:], uint64(len(body.Bytes())))
	out = append(out, body.Bytes()...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(body.Bytes(), castagnoli))
}

// TestModelFileSections checks the sectioned format: the sections a model
// writes, a newer file's unknown section refused by name, an unknown
// optional section skipped, a missing or repeated section refused, and a
// version-1 file refused naming both versions.
func TestModelFileSections(t *testing.T) {
	m := fitTiny(t, WithNeighborhood(true), WithMinValTop1(0))
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	secs, err := readSections(data[headerLen : len(data)-4])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secs {
		names = append(names, s.name)
	}
	if want := []string{"config", "member.0.config", "member.0.backbone", "member.0.bank", "member.0.position", "member.0.neighborhood", "calibration"}; !slices.Equal(names, want) {
		t.Errorf("sections %v, want %v", names, want)
	}

	newer := rewrite(t, data, func(s []section) []section {
		return append(s, section{name: "illumination", description: "a lighting model", payload: []byte{1, 2}})
	})
	_, err = Unmarshal(newer)
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Section != "illumination" || !strings.Contains(err.Error(), "lighting model") {
		t.Errorf("unknown section: got %v, want an *UnsupportedError naming it", err)
	}
	path := filepath.Join(t.TempDir(), "newer.pni")
	os.WriteFile(path, newer, 0o644)
	if _, err := LoadFile(path); !errors.As(err, &ue) || ue.Path != path {
		t.Errorf("LoadFile of a newer file: %v", err)
	}

	extra := rewrite(t, data, func(s []section) []section {
		return append(s, section{name: "notes", description: "free text", optional: true, payload: []byte("hello")})
	})
	if m2, err := Unmarshal(extra); err != nil || !reflect.DeepEqual(m2.Info(), m.Info()) {
		t.Errorf("optional unknown section: %v", err)
	}

	var fe *FormatError
	for name, edit := range map[string]func([]section) []section{
		"no bank": func(s []section) []section {
			return slices.DeleteFunc(s, func(x section) bool { return x.name == "member.0.bank" })
		},
		"two configs":  func(s []section) []section { return append(s, s[0]) },
		"bad position": func(s []section) []section { s[4].payload = s[4].payload[:len(s[4].payload)-3]; return s },
		"a second member without its parts": func(s []section) []section {
			return append(s, section{name: "member.1.config", payload: s[1].payload})
		},
		"position of another grid": func(s []section) []section {
			h := &position.Hist{H: 1, W: 1, K: m.members[0].bank.size(), Off: []int32{0, 1}, Idx: []int32{0}, P: []float32{1}}
			s[4].payload, _ = h.MarshalBinary()
			return s
		},
	} {
		if _, err := Unmarshal(rewrite(t, data, edit)); !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FormatError", name, err)
		}
	}

	for _, v := range []uint32{1, 2} {
		old := bytes.Clone(data)
		binary.LittleEndian.PutUint32(old[8:], v)
		if _, err := Unmarshal(old); !errors.As(err, &fe) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", v)) || !strings.Contains(err.Error(), "version 3") {
			t.Errorf("version %d file: got %v, want a *FormatError naming versions %d and 3", v, err, v)
		}
	}
}

// TestFitFilesBadImages checks that FitFiles names every unreadable file,
// or leaves them out with WithSkipBadImages.
func TestFitFilesBadImages(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, img := range normals(6) {
		p := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		f, _ := os.Create(p)
		png.Encode(f, img)
		f.Close()
		paths = append(paths, p)
	}
	trunc := filepath.Join(dir, "truncated.png")
	b, _ := os.ReadFile(paths[0])
	os.WriteFile(trunc, b[:len(b)/2], 0o644)
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("not an image"), 0o644)
	all := []string{paths[0], trunc, paths[1], paths[2], text, paths[3], paths[4], paths[5]}
	ctx := context.Background()
	_, err := FitFiles(ctx, all, tinyOpts()...)
	var ie *ImagesError
	if !errors.As(err, &ie) || len(ie.Errors) != 2 || ie.Errors[0].Path != trunc || ie.Errors[1].Path != text || ie.Total != 8 {
		t.Fatalf("got %v, want an *ImagesError naming both bad files", err)
	}
	var fe *imageio.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), trunc) || !strings.Contains(err.Error(), text) {
		t.Errorf("the error does not name both files or lost the cause: %v", err)
	}
	var skipped []string
	m, err := FitFiles(ctx, all, tinyOpts(WithSkipBadImages(true), WithProgress(func(p Progress) {
		if strings.HasPrefix(p.Message, "unreadable") {
			skipped = append(skipped, p.Message)
		}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	if in := m.Info(); in.TrainImages != 6 || in.Skipped != 2 || len(skipped) != 2 {
		t.Errorf("skip: %d images used, %d skipped, %d reports", in.TrainImages, in.Skipped, len(skipped))
	}
	if _, err := FitFiles(ctx, []string{trunc, text}, tinyOpts(WithSkipBadImages(true))...); !errors.As(err, &ie) {
		t.Errorf("nothing readable: %v", err)
	}
}

// TestAssignImagesBounded checks that the assign stage looks up the
// patches of at most maxAssignImages evenly spaced images when the training
// set is larger, and every image when it is not.
func TestAssignImagesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 520 images")
	}
	for _, n := range []int{12, maxAssignImages + 20} {
		var total int
		var msg string
		_, err := Fit(context.Background(), normals(n), tinyOpts(WithProgress(func(p Progress) {
			switch p.Stage {
			case StageAssign:
				total = p.Total
			case StagePosition:
				msg = p.Message
			}
		}))...)
		if err != nil {
			t.Fatal(err)
		}
		want := min(n, maxAssignImages)
		if total != want {
			t.Errorf("n = %d: the assign stage went over %d images, want %d", n, total, want)
		}
		if !strings.Contains(msg, fmt.Sprintf("from %d images", want)) {
			t.Errorf("n = %d: position message %q does not say the histograms count %d images", n, msg, want)
		}
	}
	idx := evenly(2000, maxAssignImages)
	for j := 1; j < len(idx); j++ {
		if d := idx[j] - idx[j-1]; d < 3 || d > 5 {
			t.Fatalf("evenly(2000, %d): step %d at %d, want 4 apart (evenly spaced)", maxAssignImages, d, j)
		}
	}
}

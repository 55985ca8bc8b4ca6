package pni

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/procstat"
)

// augmented returns image i of an n-image training set built from the base
// images by flips, crops (90-100% of each side) and brightness/contrast
// jitter, deterministic in i: variant i/len(base) of base image i%len(base).
// Nothing is written to disk.
func augmented(base []string, i int) (image.Image, error) {
	src, err := imageio.Load(base[i%len(base)])
	if err != nil {
		return nil, err
	}
	v := i / len(base)
	if v == 0 {
		return src, nil
	}
	rng := rand.New(rand.NewPCG(uint64(i), 11))
	b := src.Bounds()
	cw, ch := b.Dx()*(90+rng.IntN(11))/100, b.Dy()*(90+rng.IntN(11))/100
	x0, y0 := rng.IntN(b.Dx()-cw+1), rng.IntN(b.Dy()-ch+1)
	fx, fy := v&1 == 1, v&2 == 2
	gain, bias := 0.9+0.2*rng.Float64(), -10+20*rng.Float64()
	out := image.NewNRGBA(image.Rect(0, 0, cw, ch))
	for y := 0; y < ch; y++ {
		for x := 0; x < cw; x++ {
			sx, sy := x, y
			if fx {
				sx = cw - 1 - x
			}
			if fy {
				sy = ch - 1 - y
			}
			r, g, bl, _ := src.At(b.Min.X+x0+sx, b.Min.Y+y0+sy).RGBA()
			p := out.Pix[out.PixOffset(x, y):]
			for c, val := range []uint32{r, g, bl} {
				p[c] = uint8(min(max(float64(val>>8)*gain+bias, 0), 255))
			}
			p[3] = 255
		}
	}
	return out, nil
}

// BenchmarkFitScale fits PNI_FIT_N images (default 200) at the preset
// PNI_FIT_PRESET (default "default"), built from the shared tire set by augmented, and reports Fit's
// time, its stages and the process's peak resident memory. Run one size
// per process, so that the peak is that Fit's:
//
//	PNI_FIT_N=2000 go test . -run X -bench FitScale -benchtime 1x -timeout 0
func BenchmarkFitScale(b *testing.B) {
	dir := sharedDir(b)
	n := 200
	if s := os.Getenv("PNI_FIT_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 2 {
			b.Fatalf("PNI_FIT_N=%q: want a number of images >= 2", s)
		}
	}
	base, _ := filepath.Glob(filepath.Join(dir, "data", "mvtec3d_tire", "train", "good", "*.png"))
	sort.Strings(base)
	if len(base) == 0 {
		b.Fatal("no tire training images")
	}
	bb := filepath.Join(dir, "models", "resnet50-imagenet-l23.onnx")
	preset := Preset(cmp.Or(os.Getenv("PNI_FIT_PRESET"), string(PresetDefault)))
	for b.Loop() {
		start := time.Now()
		m, err := fit(context.Background(), n, func(i int) (image.Image, error) { return augmented(base, i) },
			[]Option{WithBackbone(bb), WithPreset(preset)})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "fit-s")
		for _, st := range m.FitTimes() {
			b.ReportMetric(st.Seconds, string(st.Stage)+"-s")
		}
		b.ReportMetric(float64(m.Info().EmbSize), "bank")
	}
	runtime.GC()
	b.ReportMetric(procstat.PeakRSSMB(), "peak-MB")
	fmt.Fprintf(os.Stderr, "FitScale N=%d done\n", n)
}

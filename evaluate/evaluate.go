// Package evaluate fits a pni model on an MVTec-AD-layout folder and measures
// it with the MVTec AD protocol: image AUROC, pixel AUROC and AUPRO up to a
// false-positive rate of 0.3 (see package metrics), overall and per defect kind.
// The examples/mvtec command is a thin front end to Run.
package evaluate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/backbone"
	"github.com/x/pni/imageio"
	"github.com/x/pni/metrics"
	"github.com/x/pni/mvtec"
)

// Options configures Run; the zero value works (but pni.Fit needs a backbone
// among FitOptions).
type Options struct {
	// FitOptions are passed to pni.FitFiles.
	FitOptions []pni.Option
	// Progress, when not nil, receives a one-line progress bar (carriage
	// returns, for a terminal's stderr).
	Progress io.Writer
	// KeepOriginalMaps keeps each test image's map at its original size in the
	// results (for heatmap overlays); maps at the network input size are always kept.
	KeepOriginalMaps bool
	// AUPROLimit is the FPR up to which AUPRO integrates (0 = metrics.DefaultPROLimit, 0.3).
	AUPROLimit float64
}

// Metrics are the protocol's figures for a set of test images. A figure that
// cannot be computed (no masks, or a single class) is NaN.
type Metrics struct {
	Kind       string // defect kind, or "all"
	Images     int    // test images counted (the good ones included)
	ImageAUROC float64
	PixelAUROC float64
	AUPRO      float64
}

// Scored is one test image's outcome.
type Scored struct {
	mvtec.Sample
	Score      float32
	Map        []float32 // at the network input size, MapW x MapH
	MapW, MapH int
	Mask       []bool    // ground truth resized and cropped as the image; nil without masks
	Original   []float32 // map at the original size (KeepOriginalMaps), OrigW x OrigH
	OrigW      int
	OrigH      int
}

// Report is what Run measured.
type Report struct {
	Dataset         string
	Model           *pni.Model
	NTrain, NTest   int
	Overall         Metrics
	PerKind         []Metrics // one per defect kind, with the good images included in each
	Results         []Scored
	FitSeconds      float64
	ScoreMsPerImage float64
	PeakRSSMB       float64
}

// Run fits a model on ds.Train and scores every test image.
func Run(ctx context.Context, ds *mvtec.Dataset, opt Options) (*Report, error) {
	if ds == nil || len(ds.Train) == 0 || len(ds.Test) == 0 {
		return nil, errors.New("evaluate: dataset has no training or no test images")
	}
	bar := newBar(opt.Progress)
	paths := make([]string, len(ds.Train))
	for i, s := range ds.Train {
		paths[i] = s.Path
	}
	fitOpts := append([]pni.Option{pni.WithProgress(func(p pni.Progress) {
		bar.update(string(p.Stage), p.Done, p.Total, p.Message)
	})}, opt.FitOptions...)
	start := time.Now()
	model, err := pni.FitFiles(ctx, paths, fitOpts...)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dataset: ds.Root, Model: model, NTrain: len(ds.Train), NTest: len(ds.Test),
		FitSeconds: time.Since(start).Seconds()}

	var scoreTime time.Duration
	for i, s := range ds.Test {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := imageio.Load(s.Path)
		if err != nil {
			return nil, fmt.Errorf("evaluate: test image: %w", err)
		}
		t0 := time.Now()
		res, err := model.Score(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", s.Path, err)
		}
		scoreTime += time.Since(t0)
		sc := Scored{Sample: s, Score: res.Score, Map: res.Map, MapW: res.MapW, MapH: res.MapH}
		if opt.KeepOriginalMaps {
			sc.Original, sc.OrigW, sc.OrigH = res.Original, res.OrigW, res.OrigH
		}
		if ds.HasMasks {
			sc.Mask, err = groundTruth(s, res.Geometry)
			if err != nil {
				return nil, err
			}
		}
		rep.Results = append(rep.Results, sc)
		bar.update("score", i+1, len(ds.Test), "")
	}
	bar.done()
	rep.ScoreMsPerImage = scoreTime.Seconds() * 1000 / float64(len(ds.Test))
	lim := cmp.Or(opt.AUPROLimit, metrics.DefaultPROLimit)
	rep.Overall = measure("all", rep.Results, ds.HasMasks, lim)
	for _, k := range ds.Kinds {
		if k == mvtec.Good {
			continue
		}
		var sub []Scored
		for _, r := range rep.Results {
			if r.Kind == k || r.Kind == mvtec.Good {
				sub = append(sub, r)
			}
		}
		rep.PerKind = append(rep.PerKind, measure(k, sub, ds.HasMasks, lim))
	}
	rep.PeakRSSMB = PeakRSSMB()
	return rep, nil
}

// groundTruth loads a test image's mask and brings it to the map's frame
// by the image's geometry: nearest-neighbour resize as the image, then the
// same crop. Good images (no mask) are all normal.
func groundTruth(s mvtec.Sample, g backbone.Geometry) ([]bool, error) {
	if s.MaskPath == "" {
		return make([]bool, g.InputW*g.InputH), nil
	}
	mk, err := mvtec.LoadMask(s.MaskPath)
	if err != nil {
		return nil, err
	}
	if mk.W != g.SrcW || mk.H != g.SrcH {
		return nil, fmt.Errorf("evaluate: mask %s is %dx%d, its image %s is %dx%d", s.MaskPath, mk.W, mk.H, s.Path, g.SrcW, g.SrcH)
	}
	mk = mk.Resize(g.ResizedW, g.ResizedH)
	if g.InputW != g.ResizedW || g.InputH != g.ResizedH {
		mk = mk.CenterCrop(g.InputW, g.InputH)
	}
	return mk.Pix, nil
}

func measure(kind string, rs []Scored, masks bool, limit float64) Metrics {
	m := Metrics{Kind: kind, Images: len(rs), ImageAUROC: math.NaN(), PixelAUROC: math.NaN(), AUPRO: math.NaN()}
	scores := make([]float32, len(rs))
	labels := make([]bool, len(rs))
	for i, r := range rs {
		scores[i], labels[i] = r.Score, r.Label
	}
	if v, err := metrics.AUROC(scores, labels); err == nil {
		m.ImageAUROC = v
	}
	if !masks {
		return m
	}
	maps := make([][]float32, len(rs))
	gts := make([][]bool, len(rs))
	widths := make([]int, len(rs))
	for i, r := range rs {
		maps[i], gts[i], widths[i] = r.Map, r.Mask, r.MapW
	}
	if v, err := metrics.PixelAUROC(maps, gts); err == nil {
		m.PixelAUROC = v
	}
	if v, err := metrics.AUPRO(maps, gts, widths, limit); err == nil {
		m.AUPRO = v
	}
	return m
}

// PeakRSSMB is the process's peak resident set size in MiB (VmHWM from
// /proc/self/status), or NaN where that is not available.
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

// bar draws a one-line progress bar.
type bar struct {
	w     io.Writer
	stage string
	last  time.Time
}

func newBar(w io.Writer) *bar { return &bar{w: w} }

func (b *bar) update(stage string, done, total int, msg string) {
	if b.w == nil {
		return
	}
	if msg != "" {
		fmt.Fprintf(b.w, "\r\033[K%s: %s\n", stage, msg)
		return
	}
	now := time.Now()
	if stage == b.stage && done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.stage, b.last = stage, now
	const width = 30
	fill := 0
	if total > 0 {
		fill = min(width, done*width/total)
	}
	fmt.Fprintf(b.w, "\r\033[K%-12s [%s%s] %d/%d", stage, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), done, total)
}

func (b *bar) done() {
	if b.w != nil {
		fmt.Fprintln(b.w)
	}
}

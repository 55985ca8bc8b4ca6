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
	"image"
	"io"
	"math"
	"strings"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/backbone"
	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/procstat"
	"github.com/x/pni/metrics"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/refine"
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
	// OnScore, when not nil, is called after each test image is scored,
	// from Run's goroutine, with the decoded image and its full result (for
	// per-image outputs such as review panels, without keeping every map)
	// and, when results are refined, the result before refinement (else
	// nil); its error stops Run.
	OnScore func(s mvtec.Sample, img image.Image, res, unrefined *pni.Result) error
	// AUPROLimit is the FPR up to which AUPRO integrates (0 = metrics.DefaultPROLimit, 0.3).
	AUPROLimit float64
	// Refiner, when not nil, is attached to the fitted model (Model.SetRefiner
	// with RefineBlend, 0 = the default blend) and every result is refined.
	Refiner     *refine.Net
	RefineBlend float64
	// Refine refines every result with the model's own net (a model fitted
	// WithRefinement).
	Refine bool
	// Model, when not nil, is scored instead of fitting one (FitOptions are
	// then unused).
	Model *pni.Model
}

// Metrics are the protocol's figures for a set of test images. A figure that
// cannot be computed (no masks, or a single class) is NaN.
type Metrics struct {
	Kind       string // defect kind, or "all"
	Images     int    // test images counted (the good ones included)
	ImageAUROC float64
	PixelAUROC float64
	AUPRO      float64

	// The calibrated decision (NaN for an uncalibrated model):
	// FalseRejects is the fraction of good images flagged anomalous, Caught
	// the fraction of defective images flagged; RegionF1 is the pixel F1 of
	// the regions (Result.AnomalyMask) against the masks at the original
	// size, ThresholdF1 that of the plain pixel threshold (NormMap >=
	// PixelLevel), over all the images counted.
	FalseRejects, Caught  float64
	RegionF1, ThresholdF1 float64
}

// Scored is one test image's outcome.
type Scored struct {
	mvtec.Sample
	Score      float32
	Normalized float32 // NaN for an uncalibrated model
	Anomalous  bool
	Regions    []pni.Region
	// pixel confusion counts at the original size (regions, plain threshold)
	region, plain confusion
	Map           []float32 // at the network input size, MapW x MapH
	MapW, MapH    int
	Mask          []bool    // ground truth resized and cropped as the image; nil without masks
	Original      []float32 // map at the original size (KeepOriginalMaps), OrigW x OrigH
	OrigW         int
	OrigH         int
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
	Refined         bool // every result was refined (Options.Refiner or Options.Refine)
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
	model := opt.Model
	if model == nil {
		var err error
		if model, err = pni.FitFiles(ctx, paths, fitOpts...); err != nil {
			return nil, err
		}
	}
	if opt.Refiner != nil {
		if err := model.SetRefiner(opt.Refiner, opt.RefineBlend, false); err != nil {
			return nil, err
		}
	}
	rep := &Report{Dataset: ds.Root, Model: model, NTrain: len(ds.Train), NTest: len(ds.Test),
		FitSeconds: time.Since(start).Seconds(), Refined: opt.Refine || opt.Refiner != nil}

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
		var unrefined *pni.Result
		if err == nil && (opt.Refine || opt.Refiner != nil) {
			unrefined = res
			res, err = model.Refine(ctx, img, res)
		}
		if err != nil {
			return nil, fmt.Errorf("evaluate: %s: %w", s.Path, err)
		}
		scoreTime += time.Since(t0)
		sc := Scored{Sample: s, Score: res.Score, Map: res.Map, MapW: res.MapW, MapH: res.MapH,
			Normalized: float32(math.NaN()), Anomalous: res.Anomalous, Regions: res.Regions}
		if res.NormMap != nil {
			sc.Normalized = res.Normalized
		}
		if opt.KeepOriginalMaps {
			sc.Original, sc.OrigW, sc.OrigH = res.Original, res.OrigW, res.OrigH
		}
		if ds.HasMasks {
			sc.Mask, err = groundTruth(s, res.Geometry)
			if err != nil {
				return nil, err
			}
			if res.NormMap != nil {
				if sc.region, sc.plain, err = decisionCounts(s, res); err != nil {
					return nil, err
				}
			}
		}
		if opt.OnScore != nil {
			if err := opt.OnScore(s, img, res, unrefined); err != nil {
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

// confusion counts pixels: true positives, false positives, false negatives.
type confusion struct{ tp, fp, fn int64 }

func (c confusion) add(o confusion) confusion {
	return confusion{c.tp + o.tp, c.fp + o.fp, c.fn + o.fn}
}

func (c confusion) f1() float64 {
	if c.tp == 0 {
		if c.fp == 0 && c.fn == 0 {
			return math.NaN()
		}
		return 0
	}
	return 2 * float64(c.tp) / float64(2*c.tp+c.fp+c.fn)
}

// decisionCounts compares a result's regions and its plain pixel threshold
// with the image's ground truth at the original size.
func decisionCounts(s mvtec.Sample, res *pni.Result) (region, plain confusion, err error) {
	var gt []bool
	if s.MaskPath != "" {
		mk, err := mvtec.LoadMask(s.MaskPath)
		if err != nil {
			return region, plain, err
		}
		if mk.W != res.OrigW || mk.H != res.OrigH {
			return region, plain, fmt.Errorf("evaluate: mask %s is %dx%d, its image %dx%d", s.MaskPath, mk.W, mk.H, res.OrigW, res.OrigH)
		}
		gt = mk.Pix
	}
	count := func(c *confusion, pred, truth bool) {
		switch {
		case pred && truth:
			c.tp++
		case pred:
			c.fp++
		case truth:
			c.fn++
		}
	}
	mask := res.AnomalyMask()
	for p, v := range res.NormMap {
		truth := gt != nil && gt[p]
		count(&region, mask[p], truth)
		count(&plain, v >= res.PixelLevel, truth)
	}
	return region, plain, nil
}

func measure(kind string, rs []Scored, masks bool, limit float64) Metrics {
	m := Metrics{Kind: kind, Images: len(rs), ImageAUROC: math.NaN(), PixelAUROC: math.NaN(), AUPRO: math.NaN(),
		FalseRejects: math.NaN(), Caught: math.NaN(), RegionF1: math.NaN(), ThresholdF1: math.NaN()}
	var good, flaggedGood, bad, caught int
	var region, plain confusion
	calibrated := len(rs) > 0 && !math.IsNaN(float64(rs[0].Normalized))
	for _, r := range rs {
		if r.Label {
			bad++
			if r.Anomalous {
				caught++
			}
		} else {
			good++
			if r.Anomalous {
				flaggedGood++
			}
		}
		region, plain = region.add(r.region), plain.add(r.plain)
	}
	if calibrated {
		if good > 0 {
			m.FalseRejects = float64(flaggedGood) / float64(good)
		}
		if bad > 0 {
			m.Caught = float64(caught) / float64(bad)
		}
		if masks {
			m.RegionF1, m.ThresholdF1 = region.f1(), plain.f1()
		}
	}
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
func PeakRSSMB() float64 { return procstat.PeakRSSMB() }

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

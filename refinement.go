package pni

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/x/pni/backbone"
	"github.com/x/pni/internal/binenc"
	"github.com/x/pni/refine"
)

// DefaultRefineBlend is the weight a of the refined map in
// final = (1-a)*map + a*pred, the released PNI code's value.
const DefaultRefineBlend = 0.1

// refiner is the model's pixel-wise refinement: the model file's "refine"
// section (its settings, then the net's ONNX bytes).
type refiner struct {
	Blend float64 `json:"blend"` // a in final = (1-a)*map + a*pred
	Auto  bool    `json:"auto"`  // Score refines by itself
	Name  string  `json:"name,omitempty"`
	net   *refine.Net
}

func (r *refiner) MarshalBinary() ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var w binenc.Writer
	w.U32(1)
	w.Blob(js)
	w.Blob(r.net.Bytes())
	return w.Bytes(), nil
}

func (r *refiner) UnmarshalBinary(b []byte) error {
	rd := binenc.NewReader(b)
	if err := rd.Version(1, "refinement"); err != nil {
		return err
	}
	js, net := rd.Blob(), rd.Blob()
	if err := rd.Done(); err != nil {
		return err
	}
	var d refiner
	if err := json.Unmarshal(js, &d); err != nil {
		return err
	}
	if !(d.Blend > 0 && d.Blend <= 1) {
		return fmt.Errorf("refinement blend %v outside (0, 1]", d.Blend)
	}
	n, err := refine.LoadBytes(net)
	if err != nil {
		return err
	}
	d.net = n
	*r = d
	return nil
}

// SetRefiner attaches a refinement net to a calibrated model (nil removes
// it): Refine then blends the net's map into the model's with weight blend
// (0 means DefaultRefineBlend), and, with auto, Score refines by itself. The
// net is saved with the model. Safe while other goroutines Score.
func (m *Model) SetRefiner(net *refine.Net, blend float64, auto bool) error {
	if m == nil || len(m.members) == 0 {
		return ErrNotFitted
	}
	if net == nil {
		m.refine.Store(nil)
		return nil
	}
	if m.cal.Load() == nil {
		return badArg("SetRefiner: the model is not calibrated; the refinement net works on the normalised map: call Calibrate first")
	}
	if blend == 0 {
		blend = DefaultRefineBlend
	}
	if !(blend > 0 && blend <= 1) {
		return badArg("SetRefiner: blend %v: want a weight in (0, 1]", blend)
	}
	m.refine.Store(&refiner{Blend: blend, Auto: auto, net: net})
	return nil
}

// Refine returns r (a result of Score on img) with its maps refined by the
// model's refinement net (SetRefiner): the image at the net's working
// size and r's normalised map go through the net, its map is blended in,
// final = (1-a)*map + a*pred, and brought back to the image's size; the
// score, both maps, the decision and the regions are then those of the
// refined map. r is not modified.
func (m *Model) Refine(ctx context.Context, img image.Image, r *Result) (*Result, error) {
	if m == nil || len(m.members) == 0 {
		return nil, ErrNotFitted
	}
	rf, c := m.refine.Load(), m.cal.Load()
	if rf == nil {
		return nil, badArg("Refine: the model has no refinement net (SetRefiner, or Fit with WithRefinement)")
	}
	if c == nil {
		return nil, badArg("Refine: the model is not calibrated")
	}
	if img == nil || r == nil || r.NormMap == nil || img.Bounds().Dx() != r.OrigW || img.Bounds().Dy() != r.OrigH {
		return nil, badArg("Refine: give the image and the calibrated result Score returned for it")
	}
	return m.refineWith(ctx, rf, c, img, r)
}

func (m *Model) refineWith(ctx context.Context, rf *refiner, c *calibration, img image.Image, r *Result) (*Result, error) {
	w, h := rf.net.Size()
	pp := backbone.Preprocess{ResizeW: w, ResizeH: h}
	in, err := m.members[m.ref].bb.Input(img, pp)
	if err != nil {
		return nil, &ImageError{Index: -1, Err: err}
	}
	g, err := pp.Geometry(r.OrigW, r.OrigH)
	if err != nil {
		return nil, err
	}
	src := backbone.Geometry{SrcW: r.OrigW, SrcH: r.OrigH, ResizedW: r.OrigW, ResizedH: r.OrigH, InputW: r.OrigW, InputH: r.OrigH}
	amap := src.Resample(r.NormMap, g)
	pred, err := rf.net.Run(ctx, in, amap)
	if err != nil {
		return nil, err
	}
	a := float32(rf.Blend)
	for i, p := range pred {
		amap[i] = (1-a)*amap[i] + a*p
	}
	norm := g.ToSource(amap)
	out := *r
	out.Original = make([]float32, len(norm))
	for i, v := range norm {
		out.Original[i] = c.denormalize(v)
	}
	out.Map = src.Resample(out.Original, r.Geometry)
	out.Score = maxOf(out.Map)
	c.decide(&out)
	return &out, nil
}

// denormalize is normalize's inverse: the raw score whose normalised value
// is n (clamped into the open interval).
func (c *calibration) denormalize(n float32) float32 {
	p := math.Min(math.Max(float64(n), 1e-6), 1-1e-6)
	return float32(c.unlog(c.imageT + c.spread*math.Log(p/(1-p))))
}

// RefinementConfig configures WithRefinement.
type RefinementConfig struct {
	// Samples configures the cross-fitted training samples (its Size is
	// taken from Train.Size).
	Samples RefinementSamplesConfig
	// Train configures the net and its training.
	Train refine.TrainConfig
	// Blend is the refined map's weight a (0 means DefaultRefineBlend);
	// Auto makes Score refine by itself.
	Blend float64
	Auto  bool
}

// WithRefinement makes Fit also train a refinement net for the product
// (package refine): after the model itself, it builds cross-fitted
// training samples from the same good images (RefinementSamples: models
// fitted on folds of them, scoring synthetic defects on the other folds),
// trains the net on them in pure Go (refine.Train) and attaches it
// (SetRefiner). Fit's progress reports the stages; Model.RefinementReport
// the training.
func WithRefinement(rc RefinementConfig) Option {
	return func(c *config) error {
		if err := rc.Train.Validate(); err != nil {
			return fmt.Errorf("pni: WithRefinement: %w", err)
		}
		if !(rc.Blend >= 0 && rc.Blend <= 1) {
			return badArg("WithRefinement: blend %v: want a weight in [0, 1] (0 = the default)", rc.Blend)
		}
		c.refinement = &rc
		return nil
	}
}

// RefinementReport returns the training report of the refinement net Fit
// trained (WithRefinement); ok is false otherwise (also for a loaded model).
func (m *Model) RefinementReport() (rep refine.TrainReport, ok bool) {
	if m.refineReport == nil {
		return rep, false
	}
	return *m.refineReport, true
}

// fitRefinement trains and attaches the product's refinement net (see
// WithRefinement); opts are Fit's options, reused for the fold models.
func (f *fitter) fitRefinement(ctx context.Context, n int, load func(int) (image.Image, error), opts []Option) error {
	rc := *f.cfg.refinement
	sc := rc.Samples
	sc.Size = cmp.Or(rc.Train.Size, refine.DefaultTrainSize)
	sc.Seed = cmp.Or(sc.Seed, f.cfg.seed)
	foldOpts := append(slices.Clone(opts), func(c *config) error { c.refinement, c.progress = nil, nil; return nil })
	var samples []refine.TrainSample
	err := refinementSamples(ctx, n, load, sc, func(s RefinementSample) error {
		samples = append(samples, refine.TrainSample{Image: s.Image, Map: s.Map, Mask: s.Mask, Source: s.Source})
		f.report(Progress{Stage: StageRefine, Done: len(samples), Total: 0})
		return nil
	}, foldOpts)
	if err != nil {
		return err
	}
	tc := rc.Train
	tc.Seed = cmp.Or(tc.Seed, f.cfg.seed)
	user := tc.Progress
	tc.Progress = func(e refine.Epoch) {
		if user != nil {
			user(e)
		}
		f.report(Progress{Stage: StageRefine, Done: e.N, Total: 0, Message: fmt.Sprintf(
			"epoch %d: train loss %.5f, validation loss %.5f (%.1fs)", e.N, e.TrainLoss, e.ValLoss, e.Elapsed.Seconds())})
	}
	net, rep, err := refine.Train(ctx, samples, tc)
	if err != nil {
		return err
	}
	f.m.refineReport = &rep
	f.report(Progress{Stage: StageRefine, Done: 1, Total: 1, Message: fmt.Sprintf(
		"%d samples: validation loss %.5f against the unrefined map's %.5f, %.1fs per epoch, %.1f ms per image",
		len(samples), rep.BestValLoss, rep.IdentityValLoss, rep.SecondsPerEpoch, rep.MillisecondsPerRun)})
	return f.m.SetRefiner(net, rc.Blend, rc.Auto)
}

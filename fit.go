package pni

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"time"

	"github.com/x/pni/backbone"
	"github.com/x/pni/coreset"
	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// Fit learns a model of normal appearance from images of good parts. All
// images are resized (and cropped) to the same input size, so they may differ
// in size. It needs a backbone (WithBackbone). Every option is validated and
// every setting resolved before the first image is read. ctx cancels the
// work promptly.
//
// Memory: Fit keeps every training patch feature (N x grid x D values, as
// float32 up to WithFeatureMemory and float16 past it) plus their 128-d
// projection for the coreset, and reports the total in its first progress
// message. Set a soft memory limit (runtime/debug.SetMemoryLimit or
// GOMEMLIMIT) so that the coreset's short-lived garbage does not grow the
// heap to twice that.
func Fit(ctx context.Context, images []image.Image, opts ...Option) (*Model, error) {
	for i, img := range images {
		if img == nil {
			return nil, &ImageError{Index: i, Err: badArg("Fit: nil image")}
		}
	}
	return fit(ctx, len(images), func(i int) (image.Image, error) { return images[i], nil }, opts)
}

// FitFiles is Fit on image files (PNG, JPEG, GIF, BMP, TIFF, WebP; see
// package imageio), read one at a time so that the decoded images are never
// all in memory. A file that cannot be read is an *ImageError naming it.
func FitFiles(ctx context.Context, paths []string, opts ...Option) (*Model, error) {
	return fit(ctx, len(paths), func(i int) (image.Image, error) {
		img, err := imageio.Load(paths[i])
		if err != nil {
			return nil, &ImageError{Index: i, Path: paths[i], Err: err}
		}
		return img, nil
	}, opts)
}

// fitter runs Fit's stages in order: features, coreset, assign (position
// histograms and MLP targets), neighborhood (the MLP). newFitter resolves
// and validates every setting first; each stage method then only computes.
type fitter struct {
	cfg    config
	n      int
	load   func(int) (image.Image, error)
	report func(Progress)

	bb      *backbone.Model
	bbBytes []byte
	pp      backbone.Preprocess
	gridH   int
	gridW   int
	rows    int // grid positions per image
	total   int // training patches
	k       int // |C_emb|
	nDist   int // |C_dist|
	radius  int // position box radius
	nbCfg   neighborhood.Config
	reduced int // the MLP's reduced feature width

	// Stage results.
	order   []int // the greedy order: C_emb's training rows
	dim     int
	store   *featureStore
	proj    *coreset.Projection
	z       []float32 // projected features for the coreset, total x projDim
	m       *Model
	targets []int32 // nearest C_dist element of every training patch (the MLP's targets)
}

func newFitter(n int, load func(int) (image.Image, error), opts []Option) (*fitter, error) {
	cfg, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, badArg("Fit: no training images: give at least one image of a good part")
	}
	f := &fitter{cfg: cfg, n: n, load: load, report: func(Progress) {}}
	if cfg.progress != nil {
		f.report = cfg.progress
	}
	f.pp = backbone.Preprocess{ResizeW: cfg.resizeW, ResizeH: cfg.resizeH, CropW: cfg.cropW, CropH: cfg.cropH}
	if cfg.cropW > cfg.resizeW || cfg.cropH > cfg.resizeH {
		return nil, badArg("Fit: crop %dx%d is larger than the resized image %dx%d", cfg.cropW, cfg.cropH, cfg.resizeW, cfg.resizeH)
	}
	f.bbBytes = cfg.backboneBytes
	if f.bbBytes == nil {
		if cfg.backbonePath == "" {
			return nil, badArg("Fit: no backbone: pass WithBackbone(path to an ONNX file with layer2 and layer3 outputs)")
		}
		if f.bbBytes, err = os.ReadFile(cfg.backbonePath); err != nil {
			return nil, fmt.Errorf("pni: Fit: reading the backbone: %w", err)
		}
	}
	if f.bb, err = backbone.LoadBytes(f.bbBytes, nil); err != nil {
		return nil, fmt.Errorf("pni: Fit: %w", err)
	}
	// Every image gets the same input size (the resize is fixed), hence the same grid.
	g, err := f.bb.Geometry(cfg.resizeW, cfg.resizeH, f.pp)
	if err != nil {
		return nil, fmt.Errorf("pni: Fit: %w", err)
	}
	f.gridH, f.gridW = g.GridH, g.GridW
	f.rows = f.gridH * f.gridW
	f.total = n * f.rows
	f.k = coreset.Size(cfg.ratio, f.total)
	f.nDist = min(cfg.maxDist, f.k)
	f.radius = cfg.radius
	if f.radius < 0 {
		f.radius = position.DefaultRadius(f.gridW)
	}
	f.nbCfg = cfg.nb
	f.nbCfg.Window, f.nbCfg.Seed = cfg.window, cfg.seed
	if err := f.nbCfg.Validate(); err != nil {
		return nil, fmt.Errorf("pni: Fit: %w", err)
	}
	f.reduced = neighborhoodReducedDim
	return f, nil
}

// neighborhoodReducedDim is the width each neighbour feature is projected to
// before it enters the MLP (docs/algorithm.md, "Neighbourhood").
const neighborhoodReducedDim = 64

func fit(ctx context.Context, n int, load func(int) (image.Image, error), opts []Option) (*Model, error) {
	f, err := newFitter(n, load, opts)
	if err != nil {
		return nil, err
	}
	stages := []struct {
		stage Stage
		on    bool
		run   func(context.Context) error
	}{
		{StageFeatures, true, f.features},
		{StageCoreset, true, f.coreset},
		{StageAssign, f.cfg.position || f.cfg.neighborhood, f.assign},
		{StageNeighborhood, f.cfg.neighborhood, f.neighborhood},
		{StageCalibrate, true, f.calibrate},
	}
	var times []StageTime
	for _, s := range stages {
		if !s.on {
			continue
		}
		start := time.Now()
		if err := s.run(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil, err
			}
			return nil, fmt.Errorf("pni: Fit: %s: %w", s.stage, err)
		}
		times = append(times, StageTime{Stage: s.stage, Seconds: time.Since(start).Seconds()})
	}
	f.m.fitTimes = times
	msg := "PatchCore mode (both PNI parts off)"
	if f.cfg.position || f.cfg.neighborhood {
		msg = ""
	}
	for _, t := range times {
		if msg != "" {
			msg += ", "
		}
		msg += fmt.Sprintf("%s %.1fs", t.Stage, t.Seconds)
	}
	f.report(Progress{Stage: StageDone, Done: 1, Total: 1, Message: msg})
	return f.m, nil
}

// features extracts every training image's patch features into the store
// (and their projection for the coreset).
func (f *fitter) features(ctx context.Context) error {
	for i := 0; i < f.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := f.load(i)
		if err != nil {
			return err
		}
		if img == nil {
			return &ImageError{Index: i, Err: badArg("nil image")}
		}
		feats, err := f.bb.Features(ctx, img, f.pp)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ImageError{Index: i, Err: err}
		}
		if feats.H != f.gridH || feats.W != f.gridW {
			return fmt.Errorf("image %d gave a %dx%d grid, expected %dx%d", i, feats.W, feats.H, f.gridW, f.gridH)
		}
		if f.store == nil {
			f.dim = feats.D
			f.store = newFeatureStore(f.total, f.dim, f.cfg.featureBudget)
			if f.cfg.projDim > 0 {
				if f.proj, err = coreset.NewProjection(f.dim, f.cfg.projDim, f.cfg.seed); err != nil {
					return err
				}
				f.z = make([]float32, f.total*f.cfg.projDim)
			}
			f.report(Progress{Stage: StageFeatures, Done: 0, Total: f.n, Message: fmt.Sprintf(
				"%d images x %dx%d grid x %d dims: %.0f MB of features (%s), %.0f MB of projections",
				f.n, f.gridW, f.gridH, f.dim, float64(f.store.bytes())/1e6, f.store.kind(), float64(len(f.z))*4/1e6)})
		}
		f.store.set(i*f.rows, feats.Data)
		if f.proj != nil {
			r := f.cfg.projDim
			f.proj.Apply(feats.Data, f.rows, f.z[i*f.rows*r:(i+1)*f.rows*r])
		}
		f.report(Progress{Stage: StageFeatures, Done: i + 1, Total: f.n})
	}
	return nil
}

// coreset selects C_emb and C_dist by one greedy order and builds the model
// around the bank.
func (f *fitter) coreset(ctx context.Context) error {
	g := coreset.Greedy{ProjDim: f.cfg.projDim, Seed: f.cfg.seed, Progress: func(done, tot int) {
		f.report(Progress{Stage: StageCoreset, Done: done, Total: tot})
	}}
	var order []int
	var err error
	if f.proj != nil {
		order, err = g.SelectProjected(ctx, f.z, f.total, f.cfg.projDim, f.k)
	} else {
		order, err = g.Select(ctx, f.store.all(), f.total, f.dim, f.k)
	}
	if err != nil {
		return err
	}
	f.z = nil
	f.order = order
	emb := make([]float32, f.k*f.dim)
	for j, r := range order {
		f.store.row(r, emb[j*f.dim:(j+1)*f.dim])
	}
	bk, err := newBank(emb, f.k, f.dim, f.nDist)
	if err != nil {
		return err
	}
	c := f.cfg
	f.m = &Model{backboneBytes: f.bbBytes, bb: f.bb, bank: bk, cfg: modelConfig{
		Preset: c.preset, ResizeW: c.resizeW, ResizeH: c.resizeH, CropW: c.cropW, CropH: c.cropH,
		GridW: f.gridW, GridH: f.gridH, Ratio: c.ratio, Sigma: c.sigma, TauScale: c.tauScale, Position: c.position,
		Neighborhood: c.neighborhood, Window: c.window, Seed: c.seed, NTrain: f.n,
	}}
	if c.position {
		f.m.cfg.Radius = f.radius
	}
	f.report(Progress{Stage: StageCoreset, Done: f.k, Total: f.k,
		Message: fmt.Sprintf("|C_emb| = %d of %d patches, |C_dist| = %d", f.k, f.total, f.nDist)})
	return nil
}

// assign finds the nearest C_emb element of every training patch (for the
// position histograms) and its nearest C_dist element (the MLP's targets).
func (f *fitter) assign(ctx context.Context) error {
	var hb *position.Builder
	var err error
	if f.cfg.position {
		if hb, err = position.NewBuilder(f.gridH, f.gridW, f.k, f.radius); err != nil {
			return err
		}
	}
	var distIndex *knn.Index
	if f.cfg.neighborhood {
		f.targets = make([]int32, f.total)
		if distIndex, err = knn.Build(f.m.bank.emb[:f.nDist*f.dim], f.nDist, f.dim, searchDim); err != nil {
			return err
		}
	}
	buf := make([]float32, f.rows*f.dim)
	idx := make([]int32, f.rows)
	dist := make([]float32, f.rows)
	for i := 0; i < f.n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		feats := f.store.image(i, f.rows, buf)
		if hb != nil {
			f.m.bank.index.Search(feats, f.rows, nil, idx, dist)
			if err := hb.Add(idx); err != nil {
				return err
			}
		}
		if distIndex != nil {
			distIndex.Search(feats, f.rows, nil, f.targets[i*f.rows:(i+1)*f.rows], dist)
		}
		f.report(Progress{Stage: StageAssign, Done: i + 1, Total: f.n})
	}
	if hb != nil {
		f.m.pos = hb.Build()
		f.report(Progress{Stage: StagePosition, Done: 1, Total: 1,
			Message: fmt.Sprintf("histograms of %d positions, radius %d", f.rows, f.radius)})
	}
	return nil
}

// neighborhood trains the MLP on reduced features and keeps it if it learned.
func (f *fitter) neighborhood(ctx context.Context) error {
	nc := f.nbCfg
	userProgress := nc.Progress
	epochs := cmp.Or(nc.Epochs, neighborhood.DefaultEpochs)
	nc.Progress = func(e neighborhood.Epoch) {
		if userProgress != nil {
			userProgress(e)
		}
		f.report(Progress{Stage: StageNeighborhood, Done: e.N, Total: max(epochs, e.N),
			Message: fmt.Sprintf("epoch %d: train loss %.3f, val loss %.3f, val top-1 %.3f (%.1fs)", e.N, e.TrainLoss, e.ValLoss, e.ValTop1, e.Elapsed.Seconds())})
	}
	red, err := neighborhood.NewReducer(f.dim, f.reduced, f.cfg.seed)
	if err != nil {
		return err
	}
	rfeat := make([]float32, f.total*f.reduced)
	buf := make([]float32, f.rows*f.dim)
	for i := 0; i < f.n; i++ {
		red.Apply(f.store.image(i, f.rows, buf), f.rows, rfeat[i*f.rows*f.reduced:(i+1)*f.rows*f.reduced])
	}
	nbm, err := neighborhood.Train(ctx, red, rfeat, f.n, f.gridH, f.gridW, f.targets, f.nDist, nc)
	if err != nil {
		return err
	}
	rep := nbm.Report()
	switch {
	case rep.Skipped:
		f.m.cfg.NbSkipped = rep.Reason
	case rep.BestValTop1 < f.cfg.minValTop1:
		f.m.cfg.NbSkipped = fmt.Sprintf("validation top-1 %.3f < %.3f: the MLP did not learn p(c|neighbours) from %d images; scoring without it",
			rep.BestValTop1, f.cfg.minValTop1, f.n)
	default:
		f.m.nb = nbm
	}
	msg := fmt.Sprintf("validation top-1 %.3f", rep.BestValTop1)
	if f.m.cfg.NbSkipped != "" {
		msg = "left out: " + f.m.cfg.NbSkipped
	}
	f.report(Progress{Stage: StageNeighborhood, Done: 1, Total: 1, Message: msg})
	return nil
}

// calibrate estimates how unseen good parts score by leave-one-image-out:
// each calibration image (up to maxCalibrationImages of the training
// images) is scored against the memory bank without the elements taken
// from that image, which stand in for the parts of a good image the bank
// has never seen. The position histograms and the MLP are used as they are
// (they saw the image: a small optimism the bank's exclusion dominates).
func (f *fitter) calibrate(ctx context.Context) error {
	defer func() { f.store = nil }()
	if f.n < 2 {
		f.report(Progress{Stage: StageCalibrate, Done: 1, Total: 1,
			Message: "not calibrated: one training image leaves none to estimate how good parts score; call Model.Calibrate with good images"})
		return nil
	}
	own := make([][]int32, f.n)
	for c, r := range f.order {
		i := r / f.rows
		own[i] = append(own[i], int32(c))
	}
	g, err := f.bb.Geometry(f.cfg.resizeW, f.cfg.resizeH, f.pp)
	if err != nil {
		return err
	}
	imgs := calibrationImages(f.n)
	buf := make([]float32, f.rows*f.dim)
	var imageScores, pixelScores []float64
	for j, i := range imgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		patches, err := f.m.patchScores(ctx, f.store.image(i, f.rows, buf), own[i])
		if err != nil {
			return err
		}
		mp, score := f.m.inputMap(patches, g.InputW, g.InputH)
		imageScores = append(imageScores, float64(score))
		pixelScores = appendPixelSample(pixelScores, mp)
		f.report(Progress{Stage: StageCalibrate, Done: j + 1, Total: len(imgs)})
	}
	c, err := newCalibration("leave-one-image-out", imageScores, pixelScores, f.cfg.frr, f.cfg.imageThreshold, f.cfg.pixelThreshold)
	if err != nil {
		return err
	}
	f.m.cal.Store(c)
	ci := c.info()
	f.report(Progress{Stage: StageCalibrate, Done: len(imgs), Total: len(imgs), Message: fmt.Sprintf(
		"%d images: good scores %.3g..%.3g, image threshold %.4g (false-reject rate %g), pixel threshold %.4g",
		len(imgs), ci.GoodScores[0], ci.GoodScores[len(ci.GoodScores)-1], ci.ImageThreshold, ci.FalseRejectRate, ci.PixelThreshold)})
	return nil
}

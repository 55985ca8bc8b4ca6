package pni

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
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
// in size. It needs a backbone (WithBackbone, or WithMembers for an
// ensemble). Every option is validated and every setting resolved before
// the first image is read. ctx cancels the work promptly.
//
// Fit then calibrates the model (see Model.Calibration): it estimates how
// unseen good parts score by scoring up to 64 training images against the
// memory bank without the elements taken from each image itself
// (leave-one-image-out), and sets the thresholds from that.
//
// Memory: Fit keeps every training patch feature of the member being fitted
// (N x grid x D values, as float32 up to WithFeatureMemory and float16 past
// it) plus their 128-d projection for the coreset, and reports the total in
// its first progress message. Set a soft memory limit
// (runtime/debug.SetMemoryLimit or GOMEMLIMIT) so that the coreset's
// short-lived garbage does not grow the heap to twice that.
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
// all in memory. Files that cannot be read are all reported, in one
// *ImagesError, after every file has been tried; with
// WithSkipBadImages(true) they are left out instead (Info.Skipped counts
// them, and progress reports name them).
func FitFiles(ctx context.Context, paths []string, opts ...Option) (*Model, error) {
	return fit(ctx, len(paths), func(i int) (image.Image, error) {
		img, err := imageio.Load(paths[i])
		if err != nil {
			return nil, &ImageError{Index: i, Path: paths[i], Err: err}
		}
		return img, nil
	}, opts)
}

// ImagesError lists the training images Fit could not read.
type ImagesError struct {
	Total  int           // images given
	Errors []*ImageError // one per unreadable image, in order
}

func (e *ImagesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pni: Fit: %d of %d training images cannot be read (leave them out with WithSkipBadImages(true)):", len(e.Errors), e.Total)
	for i, ie := range e.Errors {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Errors)-10)
			break
		}
		b.WriteString("\n  " + ie.Error())
	}
	return b.String()
}

// Unwrap returns the images' errors.
func (e *ImagesError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, ie := range e.Errors {
		out[i] = ie
	}
	return out
}

// fitter runs Fit: for each member, its stages in order (features, coreset,
// assign: position histograms and MLP targets, neighborhood: the MLP,
// calibration maps), then the model's calibration. newFitter resolves and
// validates every setting first; each stage method then only computes.
type fitter struct {
	cfg    config
	n      int
	load   func(int) (image.Image, error)
	report func(Progress)

	members []*memberFitter
	used    []int    // indices of the training images fitted on (all but the unreadable)
	sizes   [][2]int // original size of each used image
	bad     []*ImageError
	m       *Model
	times   []StageTime
}

// memberFitter fits one member.
type memberFitter struct {
	index   int
	cfg     memberConfig // resolved settings (grid, radius, ...)
	bb      *backbone.Model
	bbBytes []byte
	pp      backbone.Preprocess
	rows    int // grid positions per image
	nbCfg   neighborhood.Config

	// Stage results.
	total, k, nDist int
	dim             int
	store           *featureStore
	proj            *coreset.Projection
	z               []float32 // projected features for the coreset, total x projDim
	order           []int     // the greedy order: C_emb's training rows
	mb              *member
	targets         []int32     // nearest C_dist element of every training patch (the MLP's targets)
	calScores       []float64   // leave-one-image-out image scores of the calibration images
	calPixels       []float64   // a sample of their pixel scores
	calMaps         [][]float32 // their maps at the member's input size (ensembles only)
}

// neighborhoodReducedDim is the width each neighbour feature is projected to
// before it enters the MLP (docs/algorithm.md, section 4).
const neighborhoodReducedDim = 64

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
	if cfg.cropW > cfg.resizeW || cfg.cropH > cfg.resizeH {
		return nil, badArg("Fit: crop %dx%d is larger than the resized image %dx%d", cfg.cropW, cfg.cropH, cfg.resizeW, cfg.resizeH)
	}
	specs := cfg.members
	if len(specs) > 1 && (cfg.imageThreshold > 0 || cfg.pixelThreshold > 0) {
		return nil, badArg("Fit: WithThresholds applies to single-member models; an ensemble's scores are set by its calibration")
	}
	if len(specs) == 0 {
		if cfg.backboneBytes == nil && cfg.backbonePath == "" {
			return nil, badArg("Fit: no backbone: pass WithBackbone(path to an ONNX file with layer2 and layer3 outputs)")
		}
		specs = []Member{{Backbone: cfg.backbonePath, BackboneBytes: cfg.backboneBytes}}
	}
	for i, sp := range specs {
		mf, err := newMemberFitter(i, cfg, sp)
		if err != nil {
			if len(specs) > 1 {
				return nil, fmt.Errorf("pni: Fit: member %d: %w", i, err)
			}
			return nil, fmt.Errorf("pni: Fit: %w", err)
		}
		f.members = append(f.members, mf)
	}
	return f, nil
}

// newMemberFitter resolves one member's settings: its backbone, input size
// (the model's, or sp.Size with the crop, blur and window scaled to it),
// grid, box radius and MLP configuration.
func newMemberFitter(index int, cfg config, sp Member) (*memberFitter, error) {
	bbBytes := sp.BackboneBytes
	name := ""
	if bbBytes == nil {
		var err error
		if bbBytes, err = os.ReadFile(sp.Backbone); err != nil {
			return nil, fmt.Errorf("reading the backbone: %w", err)
		}
		name = filepath.Base(sp.Backbone)
	}
	bb, err := backbone.LoadBytes(bbBytes, nil)
	if err != nil {
		return nil, err
	}
	c := memberConfig{Backbone: name, ResizeW: cfg.resizeW, ResizeH: cfg.resizeH, CropW: cfg.cropW, CropH: cfg.cropH,
		Ratio: cfg.ratio, Sigma: cfg.sigma, TauScale: cfg.tauScale, Position: cfg.position, Neighborhood: cfg.neighborhood,
		Window: cfg.window}
	if sp.Size > 0 && (sp.Size != cfg.resizeW || sp.Size != cfg.resizeH) {
		scale := float64(sp.Size) / float64(cfg.resizeW)
		c.ResizeW, c.ResizeH = sp.Size, sp.Size
		if cfg.cropW > 0 {
			c.CropW, c.CropH = int(math.Round(float64(cfg.cropW)*scale)), int(math.Round(float64(cfg.cropH)*float64(sp.Size)/float64(cfg.resizeH)))
		}
		c.Sigma = cfg.sigma * scale
		c.Window = max(3, int(math.Round(float64(cfg.window)*scale))|1)
	}
	pp := backbone.Preprocess{ResizeW: c.ResizeW, ResizeH: c.ResizeH, CropW: c.CropW, CropH: c.CropH}
	// Every image gets the same input size (the resize is fixed), hence the same grid.
	g, err := bb.Geometry(c.ResizeW, c.ResizeH, pp)
	if err != nil {
		return nil, err
	}
	c.GridW, c.GridH = g.GridW, g.GridH
	if c.Position {
		c.Radius = cfg.radius
		if c.Radius < 0 {
			c.Radius = position.DefaultRadius(c.GridW)
		}
	}
	nc := cfg.nb
	nc.Window, nc.Seed = c.Window, cfg.seed
	if err := nc.Validate(); err != nil {
		return nil, err
	}
	return &memberFitter{index: index, cfg: c, bb: bb, bbBytes: bbBytes, pp: pp, rows: c.GridW * c.GridH, nbCfg: nc}, nil
}

func fit(ctx context.Context, n int, load func(int) (image.Image, error), opts []Option) (*Model, error) {
	f, err := newFitter(n, load, opts)
	if err != nil {
		return nil, err
	}
	run := func(stage Stage, member int, fn func(context.Context) error) error {
		start := time.Now()
		if err := fn(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return err
			}
			var ie *ImagesError
			if errors.As(err, &ie) {
				return err
			}
			if len(f.members) > 1 {
				return fmt.Errorf("pni: Fit: member %d: %s: %w", member, stage, err)
			}
			return fmt.Errorf("pni: Fit: %s: %w", stage, err)
		}
		f.times = append(f.times, StageTime{Stage: stage, Member: member, Seconds: time.Since(start).Seconds()})
		return nil
	}
	for _, mf := range f.members {
		stages := []struct {
			stage Stage
			on    bool
			fn    func(context.Context) error
		}{
			{StageFeatures, true, func(ctx context.Context) error { return f.features(ctx, mf) }},
			{StageCoreset, true, mf.coreset(f)},
			{StageAssign, mf.cfg.Position || mf.cfg.Neighborhood, mf.assign(f)},
			{StageNeighborhood, mf.cfg.Neighborhood, mf.neighborhood(f)},
			{StageCalibrate, true, mf.calibrationMaps(f)},
		}
		for _, s := range stages {
			if s.on {
				if err := run(s.stage, mf.index, s.fn); err != nil {
					return nil, err
				}
			}
		}
		mf.store, mf.z = nil, nil
	}
	f.m = &Model{cfg: modelConfig{Preset: f.cfg.preset, Seed: f.cfg.seed, NTrain: len(f.used), Members: len(f.members), Skipped: len(f.bad)}}
	for _, mf := range f.members {
		f.m.members = append(f.m.members, mf.mb)
	}
	f.m.ref = pickRef(f.m.members)
	if err := run(StageCalibrate, 0, f.calibrate); err != nil {
		return nil, err
	}
	f.m.fitTimes = f.times
	var msg []string
	for _, t := range f.times {
		name := string(t.Stage)
		if len(f.members) > 1 {
			name = fmt.Sprintf("%s[%d]", t.Stage, t.Member)
		}
		msg = append(msg, fmt.Sprintf("%s %.1fs", name, t.Seconds))
	}
	f.report(Progress{Stage: StageDone, Done: 1, Total: 1, Message: strings.Join(msg, ", ")})
	return f.m, nil
}

// features extracts every training image's patch features into the member's
// store (and their projection for the coreset). The first member reads
// every image and finds the unreadable ones: they are all reported at the
// end, or left out with WithSkipBadImages.
func (f *fitter) features(ctx context.Context, mf *memberFitter) error {
	first := mf.index == 0
	images := f.used
	if first {
		images = make([]int, f.n)
		for i := range images {
			images[i] = i
		}
	}
	var used []int
	for _, i := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := f.load(i)
		if err == nil && img == nil {
			err = &ImageError{Index: i, Err: badArg("nil image")}
		}
		if err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) {
				ie = &ImageError{Index: i, Err: err}
			}
			if !first {
				return ie // it was read by the first member
			}
			f.bad = append(f.bad, ie)
			f.report(Progress{Stage: StageFeatures, Done: i + 1, Total: f.n, Message: "unreadable: " + ie.Error()})
			continue
		}
		if first && len(f.bad) > 0 && !f.cfg.skipBad {
			continue // only reading the rest, to report every unreadable image
		}
		feats, err := mf.bb.Features(ctx, img, mf.pp)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ImageError{Index: i, Err: err}
		}
		if feats.H != mf.cfg.GridH || feats.W != mf.cfg.GridW {
			return fmt.Errorf("image %d gave a %dx%d grid, expected %dx%d", i, feats.W, feats.H, mf.cfg.GridW, mf.cfg.GridH)
		}
		if mf.store == nil {
			if err := mf.allocate(f, feats.D, len(images)); err != nil {
				return err
			}
		}
		j := len(used)
		mf.store.set(j*mf.rows, feats.Data)
		if mf.proj != nil {
			r := f.cfg.projDim
			mf.proj.Apply(feats.Data, mf.rows, mf.z[j*mf.rows*r:(j+1)*mf.rows*r])
		}
		used = append(used, i)
		if first {
			b := img.Bounds()
			f.sizes = append(f.sizes, [2]int{b.Dx(), b.Dy()})
		}
		f.report(Progress{Stage: StageFeatures, Done: len(used), Total: len(images)})
	}
	if first {
		if len(f.bad) > 0 && !f.cfg.skipBad {
			return &ImagesError{Total: f.n, Errors: f.bad}
		}
		if len(used) == 0 {
			return &ImagesError{Total: f.n, Errors: f.bad}
		}
		f.used = used
	}
	mf.total = len(f.used) * mf.rows
	mf.k = coreset.Size(mf.cfg.Ratio, mf.total)
	mf.nDist = min(f.cfg.maxDist, mf.k)
	return nil
}

// allocate makes the member's feature store and projection for up to n images.
func (mf *memberFitter) allocate(f *fitter, dim, n int) error {
	mf.dim = dim
	rows := n * mf.rows
	mf.store = newFeatureStore(rows, dim, f.cfg.featureBudget)
	if f.cfg.projDim > 0 {
		var err error
		if mf.proj, err = coreset.NewProjection(dim, f.cfg.projDim, f.cfg.seed); err != nil {
			return err
		}
		mf.z = make([]float32, rows*f.cfg.projDim)
	}
	f.report(Progress{Stage: StageFeatures, Done: 0, Total: n, Message: fmt.Sprintf(
		"member %d: %d images x %dx%d grid x %d dims: %.0f MB of features (%s), %.0f MB of projections",
		mf.index, n, mf.cfg.GridW, mf.cfg.GridH, dim, float64(mf.store.bytes())/1e6, mf.store.kind(), float64(len(mf.z))*4/1e6)})
	return nil
}

// coreset selects C_emb and C_dist by one greedy order and builds the
// member around its bank.
func (mf *memberFitter) coreset(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		g := coreset.Greedy{ProjDim: f.cfg.projDim, Seed: f.cfg.seed, Progress: func(done, tot int) {
			f.report(Progress{Stage: StageCoreset, Done: done, Total: tot})
		}}
		var order []int
		var err error
		if mf.proj != nil {
			order, err = g.SelectProjected(ctx, mf.z, mf.total, f.cfg.projDim, mf.k)
		} else {
			order, err = g.Select(ctx, mf.store.all(), mf.total, mf.dim, mf.k)
		}
		if err != nil {
			return err
		}
		mf.z = nil
		mf.order = order
		emb := make([]float32, mf.k*mf.dim)
		for j, r := range order {
			mf.store.row(r, emb[j*mf.dim:(j+1)*mf.dim])
		}
		bk, err := newBank(emb, mf.k, mf.dim, mf.nDist)
		if err != nil {
			return err
		}
		mf.mb = &member{cfg: mf.cfg, backboneBytes: mf.bbBytes, bb: mf.bb, bank: bk}
		f.report(Progress{Stage: StageCoreset, Done: mf.k, Total: mf.k,
			Message: fmt.Sprintf("|C_emb| = %d of %d patches, |C_dist| = %d", mf.k, mf.total, mf.nDist)})
		return nil
	}
}

// assign finds the nearest C_emb element of every training patch (for the
// position histograms) and its nearest C_dist element (the MLP's targets).
func (mf *memberFitter) assign(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		var hb *position.Builder
		var err error
		c, n := mf.cfg, len(f.used)
		if c.Position {
			if hb, err = position.NewBuilder(c.GridH, c.GridW, mf.k, c.Radius); err != nil {
				return err
			}
		}
		var distIndex *knn.Index
		if c.Neighborhood {
			mf.targets = make([]int32, mf.total)
			if distIndex, err = knn.Build(mf.mb.bank.emb[:mf.nDist*mf.dim], mf.nDist, mf.dim, searchDim); err != nil {
				return err
			}
		}
		buf := make([]float32, mf.rows*mf.dim)
		idx := make([]int32, mf.rows)
		dist := make([]float32, mf.rows)
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			feats := mf.store.image(i, mf.rows, buf)
			if hb != nil {
				mf.mb.bank.index.Search(feats, mf.rows, nil, idx, dist)
				if err := hb.Add(idx); err != nil {
					return err
				}
			}
			if distIndex != nil {
				distIndex.Search(feats, mf.rows, nil, mf.targets[i*mf.rows:(i+1)*mf.rows], dist)
			}
			f.report(Progress{Stage: StageAssign, Done: i + 1, Total: n})
		}
		if hb != nil {
			mf.mb.pos = hb.Build()
			f.report(Progress{Stage: StagePosition, Done: 1, Total: 1,
				Message: fmt.Sprintf("histograms of %d positions, radius %d", mf.rows, c.Radius)})
		}
		return nil
	}
}

// neighborhood trains the MLP on reduced features and keeps it if it learned.
func (mf *memberFitter) neighborhood(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		nc := mf.nbCfg
		n := len(f.used)
		userProgress := nc.Progress
		epochs := cmp.Or(nc.Epochs, neighborhood.DefaultEpochs)
		nc.Progress = func(e neighborhood.Epoch) {
			if userProgress != nil {
				userProgress(e)
			}
			f.report(Progress{Stage: StageNeighborhood, Done: e.N, Total: max(epochs, e.N),
				Message: fmt.Sprintf("epoch %d: train loss %.3f, val loss %.3f, val top-1 %.3f (%.1fs)", e.N, e.TrainLoss, e.ValLoss, e.ValTop1, e.Elapsed.Seconds())})
		}
		const r = neighborhoodReducedDim
		red, err := neighborhood.NewReducer(mf.dim, r, f.cfg.seed)
		if err != nil {
			return err
		}
		rfeat := make([]float32, mf.total*r)
		buf := make([]float32, mf.rows*mf.dim)
		for i := 0; i < n; i++ {
			red.Apply(mf.store.image(i, mf.rows, buf), mf.rows, rfeat[i*mf.rows*r:(i+1)*mf.rows*r])
		}
		nbm, err := neighborhood.Train(ctx, red, rfeat, n, mf.cfg.GridH, mf.cfg.GridW, mf.targets, mf.nDist, nc)
		if err != nil {
			return err
		}
		rep := nbm.Report()
		switch {
		case rep.Skipped:
			mf.mb.cfg.NbSkipped = rep.Reason
		case rep.BestValTop1 < f.cfg.minValTop1:
			mf.mb.cfg.NbSkipped = fmt.Sprintf("validation top-1 %.3f < %.3f: the MLP did not learn p(c|neighbours) from %d images; scoring without it",
				rep.BestValTop1, f.cfg.minValTop1, n)
		default:
			mf.mb.nb = nbm
		}
		msg := fmt.Sprintf("validation top-1 %.3f", rep.BestValTop1)
		if mf.mb.cfg.NbSkipped != "" {
			msg = "left out: " + mf.mb.cfg.NbSkipped
		}
		f.report(Progress{Stage: StageNeighborhood, Done: 1, Total: 1, Message: msg})
		return nil
	}
}

// calibrationMaps scores the calibration images by leave-one-image-out:
// each (up to maxCalibrationImages of the training images) is scored
// against the member's bank without the elements taken from that image,
// which stand in for the parts of a good image the bank has never seen. The
// position histograms and the MLP are used as they are (they saw the image:
// a small optimism that the bank's exclusion dominates).
func (mf *memberFitter) calibrationMaps(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		if len(f.used) < 2 {
			return nil // see fitter.calibrate
		}
		own := make([][]int32, len(f.used))
		for c, r := range mf.order {
			i := r / mf.rows
			own[i] = append(own[i], int32(c))
		}
		iw, ih := mf.cfg.ResizeW, mf.cfg.ResizeH
		if mf.cfg.CropW > 0 {
			iw, ih = mf.cfg.CropW, mf.cfg.CropH
		}
		imgs := calibrationImages(len(f.used))
		buf := make([]float32, mf.rows*mf.dim)
		for j, i := range imgs {
			if err := ctx.Err(); err != nil {
				return err
			}
			patches, err := mf.mb.patchScores(ctx, mf.store.image(i, mf.rows, buf), own[i])
			if err != nil {
				return err
			}
			mp, score := mf.mb.inputMap(patches, iw, ih)
			mf.calScores = append(mf.calScores, float64(score))
			mf.calPixels = appendPixelSample(mf.calPixels, mp)
			if len(f.members) > 1 {
				mf.calMaps = append(mf.calMaps, mp)
			}
			f.report(Progress{Stage: StageCalibrate, Done: j + 1, Total: len(imgs)})
		}
		return nil
	}
}

// calibrate sets the model's calibration from the members' calibration
// maps: a single member's scores directly; for an ensemble, each member's
// own statistics standardise its maps, and the model is calibrated on the
// combined maps of the same images.
func (f *fitter) calibrate(ctx context.Context) error {
	if len(f.used) < 2 {
		f.report(Progress{Stage: StageCalibrate, Done: 1, Total: 1,
			Message: "not calibrated: one training image leaves none to estimate how good parts score; call Model.Calibrate with good images"})
		return nil
	}
	scores, pixels := f.members[0].calScores, f.members[0].calPixels
	if len(f.members) > 1 {
		for _, mf := range f.members {
			c, err := newCalibration("leave-one-image-out", mf.calScores, mf.calPixels, f.cfg.frr, 0, 0, false)
			if err != nil {
				return err
			}
			mf.mb.stdz = c
		}
		scores, pixels = nil, nil
		for j, i := range calibrationImages(len(f.used)) {
			if err := ctx.Err(); err != nil {
				return err
			}
			maps := make([]*memberMap, len(f.members))
			for k, mf := range f.members {
				g, err := mf.bb.Geometry(f.sizes[i][0], f.sizes[i][1], mf.pp)
				if err != nil {
					return err
				}
				maps[k] = &memberMap{g: g, mp: mf.calMaps[j]}
			}
			r := f.m.combine(maps)
			scores = append(scores, float64(r.Score))
			pixels = appendPixelSample(pixels, r.Map)
		}
		for _, mf := range f.members {
			mf.calMaps = nil
		}
	}
	c, err := newCalibration("leave-one-image-out", scores, pixels, f.cfg.frr, f.cfg.imageThreshold, f.cfg.pixelThreshold, len(f.members) > 1)
	if err != nil {
		return err
	}
	f.m.cal.Store(c)
	ci := c.info()
	f.report(Progress{Stage: StageCalibrate, Done: 1, Total: 1, Message: fmt.Sprintf(
		"%d images: good scores %.3g..%.3g, image threshold %.4g (false-reject rate %g), pixel threshold %.4g",
		ci.Images, ci.GoodScores[0], ci.GoodScores[len(ci.GoodScores)-1], ci.ImageThreshold, ci.FalseRejectRate, ci.PixelThreshold)})
	return nil
}

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
	"runtime/debug"
	"strings"
	"time"

	"github.com/x/pni/backbone"
	"github.com/x/pni/coreset"
	"github.com/x/pni/imageio"
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
	"github.com/x448/float16"
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
// Memory is bounded by WithMemoryBudget, not by the number of images: the
// coreset runs in two levels (coreset.Stream), keeping per image only its
// most distinct patches' features; the full features that later stages
// read again (every image's for the position histograms and the MLP, the
// calibration images' otherwise) are kept in memory while they fit half
// the budget and spilled to a float16 file in a temporary directory
// (WithTempDir) past it, removed when Fit returns. Fit lowers the Go
// runtime's soft memory limit to the budget while it runs (never raising a
// lower limit the caller set) and restores it.
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

	members      []*memberFitter
	used         []int    // indices of the training images fitted on (all but the unreadable)
	sizes        [][2]int // original size of each used image
	cal          []int    // positions in used of the calibration images
	samples      []sample // what the backbone sees: each used image, or each tile of each (WithTiles)
	imageSamples [][]int  // each used image's samples
	bad          []*ImageError
	m            *Model
	times        []StageTime
}

// sample is one backbone input of Fit: a used image (its position in
// fitter.used) or one tile of it.
type sample struct {
	image int
	rect  image.Rectangle // in the image's pixels (the whole image without tiles)
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
	proj            *coreset.Projection
	exact           bool            // the exact greedy over every row (affordable), else the two-level one
	zAll            []float32       // exact: every row's projection
	stream          *coreset.Stream // two-level: the candidates
	candRow         []int32         // each candidate's training row (image position in used x rows + row)
	cand32          []float32       // the candidates' full features, float32 ...
	cand16          []uint16        // ... or float16 (when float32 would take over a quarter of the budget)
	store           *featureStore   // full features of the images later stages read again
	slot            map[int]int     // position in used -> store slot
	order           []int           // the greedy order: C_emb's training rows
	mb              *member
	targets         map[int][]int32 // nearest C_dist element of every patch of the MLP's images (its targets)
	calScores       []float64       // leave-one-image-out image scores of the calibration images
	calPixels       []float64       // a sample of their pixel scores
	calMaps         [][]float32     // their maps at the member's input size (ensembles only)
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
	if len(specs) > 1 && cfg.tiles.on() {
		return nil, badArg("Fit: WithTiles applies to single-member models, not to ensembles (WithMembers)")
	}
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
	bb, err := backbone.LoadBytes(bbBytes, &backbone.Options{Dim: backboneDim(cfg.dim)})
	if err != nil {
		return nil, err
	}
	c := memberConfig{Backbone: name, Dim: cmp.Or(cfg.dim, backbone.DefaultDim), ResizeW: cfg.resizeW, ResizeH: cfg.resizeH, CropW: cfg.cropW, CropH: cfg.cropH,
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
	defer func() {
		for _, mf := range f.members {
			mf.store.close()
		}
	}()
	if limit := f.cfg.memBudget * 5 / 4; limit < debug.SetMemoryLimit(-1) {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
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
		mf.store.close()
		mf.store, mf.stream, mf.cand32, mf.cand16 = nil, nil, nil, nil
	}
	f.m = &Model{cfg: modelConfig{Preset: f.cfg.preset, Seed: f.cfg.seed, NTrain: len(f.used), Members: len(f.members),
		Skipped: len(f.bad), Tiles: f.cfg.tiles}}
	for _, mf := range f.members {
		f.m.members = append(f.m.members, mf.mb)
	}
	f.m.ref = pickRef(f.m.members)
	if err := run(StageCalibrate, 0, f.calibrate); err != nil {
		return nil, err
	}
	if f.cfg.refinement != nil {
		if f.m.cal.Load() == nil {
			return nil, badArg("Fit: WithRefinement needs a calibrated model (at least 2 good images)")
		}
		refineLoad := func(j int) (image.Image, error) { return load(f.used[j]) }
		if err := run(StageRefine, 0, func(ctx context.Context) error { return f.fitRefinement(ctx, len(f.used), refineLoad, opts) }); err != nil {
			return nil, err
		}
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

// features extracts every training image's patch features: each image's
// projection goes through the coreset's first level (coreset.Stream),
// which keeps the image's most distinct patches as candidates, whose full
// features are kept; the full features of the images that later stages
// read again (all of them for the position histograms and the MLP, the
// calibration images otherwise) go to the feature store, in memory or
// spilled to disk within the memory budget. The first member reads every
// image and finds the unreadable ones: they are all reported at the end,
// or left out with WithSkipBadImages.
func (f *fitter) features(ctx context.Context, mf *memberFitter) error {
	first := mf.index == 0
	images := f.used
	if first {
		images = make([]int, f.n)
		for i := range images {
			images[i] = i
		}
	}
	calSet := map[int]bool{}
	for _, i := range calibrationImages(f.n) {
		calSet[i] = true
	}
	keepAll := mf.cfg.Position || mf.cfg.Neighborhood
	var used []int
	nSample := 0
	allocated := false
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
		j := len(used)
		b := img.Bounds()
		rects := []image.Rectangle{image.Rect(0, 0, b.Dx(), b.Dy())}
		if f.cfg.tiles.on() {
			rects = f.cfg.tiles.rects(b.Dx(), b.Dy())
		}
		for _, r := range rects {
			in := img
			if f.cfg.tiles.on() {
				in = crop(img, r)
			}
			feats, err := mf.bb.Features(ctx, in, mf.pp)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return &ImageError{Index: i, Err: err}
			}
			if feats.H != mf.cfg.GridH || feats.W != mf.cfg.GridW {
				return fmt.Errorf("image %d gave a %dx%d grid, expected %dx%d", i, feats.W, feats.H, mf.cfg.GridW, mf.cfg.GridH)
			}
			if !allocated {
				n := len(images) * len(rects) // an estimate with tiles: images may differ in size
				mf.exact = f.exactAffordable(mf, n)
				keepAll = keepAll || mf.exact // the exact greedy's bank rows are read back from the store
				slots := n
				if !keepAll {
					slots = len(calSet) * len(rects)
				}
				if err := mf.allocate(f, feats.D, n, slots); err != nil {
					return err
				}
				allocated = true
			}
			if err := mf.add(ctx, f, nSample, feats.Data); err != nil {
				return err
			}
			if keepAll || calSet[i] {
				if err := mf.keep(f, nSample, feats.Data); err != nil {
					return err
				}
			}
			if first {
				f.samples = append(f.samples, sample{image: j, rect: r})
			}
			nSample++
		}
		used = append(used, i)
		if first {
			f.sizes = append(f.sizes, [2]int{b.Dx(), b.Dy()})
		}
		f.report(Progress{Stage: StageFeatures, Done: len(used), Total: len(images)})
	}
	if first {
		if len(f.bad) > 0 && !f.cfg.skipBad || len(used) == 0 {
			return &ImagesError{Total: f.n, Errors: f.bad}
		}
		f.used = used
		f.imageSamples = make([][]int, len(used))
		for s, sm := range f.samples {
			f.imageSamples[sm.image] = append(f.imageSamples[sm.image], s)
		}
		for j, i := range used {
			if calSet[i] {
				f.cal = append(f.cal, j)
			}
		}
	}
	mf.total = len(f.samples) * mf.rows
	mf.k = coreset.Size(mf.cfg.Ratio, mf.total)
	if !mf.exact {
		mf.k = min(mf.k, mf.stream.Candidates())
	}
	mf.nDist = min(f.cfg.maxDist, mf.k)
	return nil
}

// exactWork bounds the exact greedy's work (rows x coreset size): the
// shared sets' largest, 756k patches x 7.6k at 480 px, is 5.7e9 and takes
// about 20 s on 2 cores; past the bound Fit runs the two-level coreset,
// whose cost grows linearly with the number of images.
const exactWork = 1e10

// exactAffordable reports whether the exact greedy fits the work bound and
// the budget (every row's projection in a quarter of it) for n samples.
func (f *fitter) exactAffordable(mf *memberFitter, n int) bool {
	if f.cfg.forceStream {
		return false
	}
	rows := int64(n) * int64(mf.rows)
	k := int64(coreset.Size(mf.cfg.Ratio, int(rows)))
	r := int64(f.cfg.projDim)
	if r <= 0 {
		r = 1024
	}
	return float64(rows)*float64(k) <= exactWork && rows*r*4 <= f.cfg.memBudget/4
}

// keep stores sample s's full features for the later passes, growing the
// store when tiles made the first estimate of the samples too small.
func (mf *memberFitter) keep(f *fitter, s int, x []float32) error {
	if len(mf.slot) == mf.store.slots {
		if err := mf.store.grow(f.cfg.memBudget/2, f.cfg.tempDir); err != nil {
			return err
		}
	}
	mf.slot[s] = len(mf.slot)
	return mf.store.set(mf.slot[s], x)
}

// allocate makes the member's projection, coreset stream, candidate
// storage and feature store (slots images) for up to n images.
func (mf *memberFitter) allocate(f *fitter, dim, n, slots int) error {
	mf.dim = dim
	r := f.projDim(dim)
	var err error
	if f.cfg.projDim > 0 {
		if mf.proj, err = coreset.NewProjection(dim, r, f.cfg.seed); err != nil {
			return err
		}
	}
	budget := f.cfg.memBudget
	estCand := int64(0)
	if mf.exact {
		mf.zAll = make([]float32, 0, int64(n)*int64(mf.rows)*int64(r))
	} else {
		mf.stream = &coreset.Stream{R: r, Ratio: mf.cfg.Ratio, Seed: f.cfg.seed}
		// The candidates: at most Oversample x ratio of all rows.
		estCand = int64(math.Ceil(coreset.DefaultOversample*mf.cfg.Ratio*float64(mf.rows))) * int64(n)
		if estCand*int64(dim)*4 > budget/4 {
			mf.cand16 = make([]uint16, 0, estCand*int64(dim))
		} else {
			mf.cand32 = make([]float32, 0, estCand*int64(dim))
		}
	}
	if mf.store, err = newFeatureStore(slots, mf.rows, dim, budget/2, f.cfg.tempDir); err != nil {
		return err
	}
	mf.slot = map[int]int{}
	kind := "float32"
	if mf.cand16 != nil {
		kind = "float16"
	}
	coreDesc := fmt.Sprintf("exact coreset over every patch (%.0f MB of projections)", float64(cap(mf.zAll))*4/1e6)
	if !mf.exact {
		per := 4.0
		if mf.cand16 != nil {
			per = 2
		}
		coreDesc = fmt.Sprintf("two-level coreset, candidates (%s) up to %.0f MB", kind, float64(estCand)*float64(dim)*per/1e6)
	}
	f.report(Progress{Stage: StageFeatures, Done: 0, Total: n, Message: fmt.Sprintf(
		"member %d: %d images x %dx%d grid x %d dims; %s; %d images' features kept (%s, %.0f MB)",
		mf.index, n, mf.cfg.GridW, mf.cfg.GridH, dim, coreDesc, slots, mf.store.kind(), float64(mf.store.bytes())/1e6)})
	return nil
}

// add runs one image's features (rows x dim) through the coreset's first
// level and keeps the candidates' features.
func (mf *memberFitter) add(ctx context.Context, f *fitter, j int, x []float32) error {
	z := x // no projection: in the full dimension
	if mf.proj != nil {
		z = make([]float32, mf.rows*mf.proj.R)
		mf.proj.Apply(x, mf.rows, z)
	}
	if mf.exact {
		mf.zAll = append(mf.zAll, z...)
		return nil
	}
	keep, err := mf.stream.Add(ctx, z, mf.rows)
	if err != nil {
		return err
	}
	for _, q := range keep {
		mf.candRow = append(mf.candRow, int32(j*mf.rows+q))
		row := x[q*mf.dim : (q+1)*mf.dim]
		if mf.cand16 != nil {
			for _, v := range row {
				mf.cand16 = append(mf.cand16, uint16(float16.Fromfloat32(v)))
			}
		} else {
			mf.cand32 = append(mf.cand32, row...)
		}
	}
	return nil
}

// projDim is the row length the coreset runs on: the projection's, or the
// features' own for the exact greedy (WithProjectionDim(-1)).
func (f *fitter) projDim(dim int) int {
	if f.cfg.projDim > 0 {
		return f.cfg.projDim
	}
	return dim
}

// candidate copies candidate c's full features into dst.
func (mf *memberFitter) candidate(c int, dst []float32) {
	if mf.cand16 != nil {
		for i, v := range mf.cand16[c*mf.dim : (c+1)*mf.dim] {
			dst[i] = float16.Float16(v).Float32()
		}
		return
	}
	copy(dst, mf.cand32[c*mf.dim:(c+1)*mf.dim])
}

// image returns sample j's full features from the store.
func (mf *memberFitter) image(j int, buf []float32) ([]float32, error) {
	s, ok := mf.slot[j]
	if !ok {
		return nil, fmt.Errorf("internal: sample %d's features were not kept", j)
	}
	return mf.store.image(s, buf)
}

// coreset runs the coreset's second level over the candidates: one greedy
// order gives C_emb and its prefix C_dist; the member is built around the
// bank.
func (mf *memberFitter) coreset(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		progress := func(done, tot int) { f.report(Progress{Stage: StageCoreset, Done: done, Total: tot}) }
		emb := make([]float32, mf.k*mf.dim)
		var nc int
		if mf.exact {
			r := len(mf.zAll) / mf.total
			order, err := coreset.Greedy{Seed: f.cfg.seed, Progress: progress}.SelectProjected(ctx, mf.zAll, mf.total, r, mf.k)
			if err != nil {
				return err
			}
			mf.zAll = nil
			for j, row := range order {
				slot, ok := mf.slot[row/mf.rows]
				if !ok {
					return fmt.Errorf("internal: sample %d's features were not kept", row/mf.rows)
				}
				if err := mf.store.row(slot, row%mf.rows, emb[j*mf.dim:(j+1)*mf.dim]); err != nil {
					return err
				}
			}
			mf.order, nc = order, mf.total
		} else {
			order, err := mf.stream.Select(ctx, mf.k, progress)
			if err != nil {
				return err
			}
			mf.order = make([]int, len(order))
			for j, c := range order {
				mf.candidate(c, emb[j*mf.dim:(j+1)*mf.dim])
				mf.order[j] = int(mf.candRow[c])
			}
			nc = mf.stream.Candidates()
			mf.stream, mf.cand32, mf.cand16, mf.candRow = nil, nil, nil, nil
		}
		bk, err := newBank(emb, mf.k, mf.dim, mf.nDist)
		if err != nil {
			return err
		}
		mf.mb = &member{cfg: mf.cfg, backboneBytes: mf.bbBytes, bb: mf.bb, bank: bk}
		f.report(Progress{Stage: StageCoreset, Done: mf.k, Total: mf.k,
			Message: fmt.Sprintf("|C_emb| = %d of %d patches (%d candidates), |C_dist| = %d", mf.k, mf.total, nc, mf.nDist)})
		return nil
	}
}

// maxAssignImages bounds the training images whose patches the assign stage
// looks up in the bank for the position histograms. The lookup costs
// rows x |C_emb| per image and |C_emb| grows with the number of images N, so
// over every image the stage would cost N² (at 761 images of 480 px it
// already took 60% as long as the backbone); over at most maxAssignImages
// evenly spaced images it grows as N. Five hundred images give each grid
// position 500 x (2·radius+1)² counts (40500 at 480 px, whose default radius is 4), far
// more than the histograms' threshold needs to tell where a bank element
// appears, and every set up to 500 images (every MVTec AD category) is
// counted in full.
const maxAssignImages = 500

// assignImages returns the training images the position histograms count.
func (mf *memberFitter) assignImages(n int) []int { return evenly(n, maxAssignImages) }

// mlpImages returns the training images whose reduced features train the
// MLP: at most a quarter of the memory budget's worth of them, evenly spaced.
func (mf *memberFitter) mlpImages(f *fitter) []int {
	return evenly(len(f.samples), max(2, int(f.cfg.memBudget/4/int64(mf.rows*neighborhoodReducedDim*4))))
}

// assign finds the nearest C_emb element of the patches of assignImages
// (for the position histograms) and the nearest C_dist element of those of
// mlpImages (the MLP's targets), in one pass over the union.
func (mf *memberFitter) assign(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		var hb *position.Builder
		var err error
		c, n := mf.cfg, len(f.samples)
		inHist, inMLP := map[int]bool{}, map[int]bool{}
		if c.Position {
			if hb, err = position.NewBuilder(c.GridH, c.GridW, mf.k, c.Radius); err != nil {
				return err
			}
			for _, i := range mf.assignImages(n) {
				inHist[i] = true
			}
		}
		var distIndex *knn.Index
		if c.Neighborhood {
			mf.targets = map[int][]int32{}
			if distIndex, err = knn.Build(mf.mb.bank.emb[:mf.nDist*mf.dim], mf.nDist, mf.dim, searchDim); err != nil {
				return err
			}
			for _, i := range mf.mlpImages(f) {
				inMLP[i] = true
			}
		}
		var todo []int
		for i := 0; i < n; i++ {
			if inHist[i] || inMLP[i] {
				todo = append(todo, i)
			}
		}
		if hb != nil && len(inHist) < n {
			f.report(Progress{Stage: StageAssign, Done: 0, Total: len(todo),
				Message: fmt.Sprintf("the position histograms count %d of the %d images (evenly spaced)", len(inHist), n)})
		}
		buf := make([]float32, mf.rows*mf.dim)
		idx := make([]int32, mf.rows)
		dist := make([]float32, mf.rows)
		for j, i := range todo {
			if err := ctx.Err(); err != nil {
				return err
			}
			feats, err := mf.image(i, buf)
			if err != nil {
				return err
			}
			if inHist[i] {
				mf.mb.bank.index.Search(feats, mf.rows, nil, idx, dist)
				if err := hb.Add(idx); err != nil {
					return err
				}
			}
			if inMLP[i] {
				t := make([]int32, mf.rows)
				distIndex.Search(feats, mf.rows, nil, t, dist)
				mf.targets[i] = t
			}
			f.report(Progress{Stage: StageAssign, Done: j + 1, Total: len(todo)})
		}
		if hb != nil {
			mf.mb.pos = hb.Build()
			f.report(Progress{Stage: StagePosition, Done: 1, Total: 1,
				Message: fmt.Sprintf("histograms of %d positions from %d images, radius %d", mf.rows, len(inHist), c.Radius)})
		}
		return nil
	}
}

// neighborhood trains the MLP on reduced features and keeps it if it learned.
func (mf *memberFitter) neighborhood(f *fitter) func(context.Context) error {
	return func(ctx context.Context) error {
		nc := mf.nbCfg
		n := len(f.samples)
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
		imgs := mf.mlpImages(f)
		if len(imgs) < n {
			f.report(Progress{Stage: StageNeighborhood, Done: 0, Total: epochs,
				Message: fmt.Sprintf("the MLP trains on %d of the %d images (the memory budget's share)", len(imgs), n)})
		}
		rfeat := make([]float32, len(imgs)*mf.rows*r)
		targets := make([]int32, len(imgs)*mf.rows)
		buf := make([]float32, mf.rows*mf.dim)
		for j, i := range imgs {
			feats, err := mf.image(i, buf)
			if err != nil {
				return err
			}
			red.Apply(feats, mf.rows, rfeat[j*mf.rows*r:(j+1)*mf.rows*r])
			copy(targets[j*mf.rows:(j+1)*mf.rows], mf.targets[i])
		}
		nbm, err := neighborhood.Train(ctx, red, rfeat, len(imgs), mf.cfg.GridH, mf.cfg.GridW, targets, mf.nDist, nc)
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
		if len(f.cal) < 2 {
			return nil // see fitter.calibrate
		}
		own := make([][]int32, len(f.used)) // each image's elements, from any of its samples
		for c, r := range mf.order {
			j := f.samples[r/mf.rows].image
			own[j] = append(own[j], int32(c))
		}
		iw, ih := mf.cfg.ResizeW, mf.cfg.ResizeH
		if mf.cfg.CropW > 0 {
			iw, ih = mf.cfg.CropW, mf.cfg.CropH
		}
		buf := make([]float32, mf.rows*mf.dim)
		for n, j := range f.cal {
			if err := ctx.Err(); err != nil {
				return err
			}
			var tileMaps [][]float32
			var rects []image.Rectangle
			var mp []float32
			var score float32
			for _, s := range f.imageSamples[j] {
				feats, err := mf.image(s, buf)
				if err != nil {
					return err
				}
				patches, err := mf.mb.patchScores(ctx, feats, own[j])
				if err != nil {
					return err
				}
				mp, score = mf.mb.inputMap(patches, iw, ih)
				if f.cfg.tiles.on() {
					r := f.samples[s].rect
					g, err := mf.bb.Geometry(r.Dx(), r.Dy(), mf.pp)
					if err != nil {
						return err
					}
					tileMaps, rects = append(tileMaps, g.ToSource(mp)), append(rects, r)
				}
			}
			if f.cfg.tiles.on() {
				mp = f.cfg.tiles.stitch(rects, tileMaps, f.sizes[j][0], f.sizes[j][1])
				score = maxOf(mp)
			}
			mf.calScores = append(mf.calScores, float64(score))
			mf.calPixels = appendPixelSample(mf.calPixels, mp)
			if len(f.members) > 1 {
				mf.calMaps = append(mf.calMaps, mp)
			}
			f.report(Progress{Stage: StageCalibrate, Done: n + 1, Total: len(f.cal)})
		}
		return nil
	}
}

// calibrate sets the model's calibration from the members' calibration
// maps: a single member's scores directly; for an ensemble, each member's
// own statistics standardise its maps, and the model is calibrated on the
// combined maps of the same images.
func (f *fitter) calibrate(ctx context.Context) error {
	if len(f.cal) < 2 {
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
		for j, i := range f.cal {
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

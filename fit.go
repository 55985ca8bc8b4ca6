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
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// Fit learns a model of normal appearance from images of good parts. All
// images are resized (and cropped) to the same input size, so they may differ
// in size. It needs a backbone (WithBackbone). ctx cancels the work promptly.
//
// Memory: Fit keeps every training patch feature (N x grid x D float32, as
// float16 past WithFeatureMemory, 1 GiB by default) plus their 128-d
// projection. At PresetMVTec a 209-image category holds 670 MB of features and
// 84 MB of projections (measured peak RSS 2.2 GB); at PresetDefault or
// PresetPaper a 210-image one holds 1.5 GB (float16) and 390 MB (measured peak
// RSS 3.1-3.3 GB with a 3 GiB soft limit, runtime/debug.SetMemoryLimit or
// GOMEMLIMIT; without a limit the Go collector lets the coreset's short-lived
// garbage grow the heap to 4.8 GB).
func Fit(ctx context.Context, images []image.Image, opts ...Option) (*Model, error) {
	for i, img := range images {
		if img == nil {
			return nil, fmt.Errorf("pni: Fit: image %d is nil", i)
		}
	}
	return fit(ctx, len(images), func(i int) (image.Image, error) { return images[i], nil }, opts)
}

// FitFiles is Fit on image files (PNG, JPEG, BMP, TIFF, WebP), read one at a
// time so that the decoded images are never all in memory.
func FitFiles(ctx context.Context, paths []string, opts ...Option) (*Model, error) {
	return fit(ctx, len(paths), func(i int) (image.Image, error) { return mvtec.LoadImage(paths[i]) }, opts)
}

func fit(ctx context.Context, n int, load func(int) (image.Image, error), opts []Option) (*Model, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, errors.New("pni: Fit: no training images: give at least one image of a good part")
	}
	if cfg.cropW > cfg.resizeW || cfg.cropH > cfg.resizeH {
		return nil, fmt.Errorf("pni: Fit: crop %dx%d is larger than the resized image %dx%d", cfg.cropW, cfg.cropH, cfg.resizeW, cfg.resizeH)
	}
	report := func(p Progress) {
		if cfg.progress != nil {
			cfg.progress(p)
		}
	}
	bbBytes := cfg.backboneBytes
	if bbBytes == nil {
		if cfg.backbonePath == "" {
			return nil, errors.New("pni: Fit: no backbone: pass WithBackbone(path to an ONNX file with layer2 and layer3 outputs)")
		}
		var err error
		if bbBytes, err = os.ReadFile(cfg.backbonePath); err != nil {
			return nil, fmt.Errorf("pni: Fit: reading the backbone: %w", err)
		}
	}
	bb, err := backbone.LoadBytes(bbBytes, nil)
	if err != nil {
		return nil, fmt.Errorf("pni: Fit: %w", err)
	}
	m := &Model{backboneBytes: bbBytes, bb: bb, cfg: modelConfig{
		Preset: cfg.preset, ResizeW: cfg.resizeW, ResizeH: cfg.resizeH, CropW: cfg.cropW, CropH: cfg.cropH,
		Ratio: cfg.ratio, Sigma: cfg.sigma, TauScale: cfg.tauScale, Position: cfg.position,
		Neighborhood: cfg.neighborhood, Window: cfg.window, Seed: cfg.seed, NTrain: n,
	}}

	// 1. Features of every training image.
	start := time.Now()
	var store *featureStore
	var proj *coreset.Projection
	var z []float32 // projected features for the coreset, rows x projDim
	pp := m.preprocess()
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := load(i)
		if err != nil {
			return nil, fmt.Errorf("pni: Fit: image %d: %w", i, err)
		}
		in, err := bb.Input(img, pp)
		if err != nil {
			return nil, fmt.Errorf("pni: Fit: image %d: %w", i, err)
		}
		in.Shape = append([]int{1}, in.Shape...)
		f, err := bb.FeaturesTensor(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("pni: Fit: image %d: %w", i, err)
		}
		if store == nil {
			m.gridH, m.gridW, m.dim = f.H, f.W, f.D
			store = newFeatureStore(n*f.H*f.W, f.D, cfg.featureBudget)
			if cfg.projDim > 0 {
				proj = coreset.NewProjection(f.D, cfg.projDim, cfg.seed)
				z = make([]float32, n*f.H*f.W*cfg.projDim)
			}
		}
		rows := f.H * f.W
		store.set(i*rows, f.Image(0))
		if proj != nil {
			proj.Apply(f.Image(0), rows, z[i*rows*cfg.projDim:(i+1)*rows*cfg.projDim])
		}
		report(Progress{Stage: StageFeatures, Done: i + 1, Total: n})
	}
	featTime := time.Since(start)
	rowsPer := m.gridH * m.gridW
	total := n * rowsPer

	// 2. Coreset: one greedy order gives C_emb and its prefix C_dist.
	start = time.Now()
	k := coreset.Size(cfg.ratio, total)
	g := coreset.Greedy{ProjDim: cfg.projDim, Seed: cfg.seed, Progress: func(done, tot int) {
		report(Progress{Stage: StageCoreset, Done: done, Total: tot})
	}}
	var order []int
	if proj != nil {
		order, err = g.SelectProjected(ctx, z, total, cfg.projDim, k)
	} else {
		order, err = g.Select(ctx, store.all(), total, m.dim, k)
	}
	if err != nil {
		return nil, fmt.Errorf("pni: Fit: coreset: %w", err)
	}
	z = nil
	m.emb = make([]float32, k*m.dim)
	for j, r := range order {
		store.row(r, m.emb[j*m.dim:(j+1)*m.dim])
	}
	m.nDist = min(cfg.maxDist, k)
	m.distOf = coreset.MapToPrefix(m.emb, k, m.nDist, m.dim)
	if err := m.derive(); err != nil {
		return nil, fmt.Errorf("pni: Fit: %w", err)
	}
	coreTime := time.Since(start)
	report(Progress{Stage: StageCoreset, Done: k, Total: k,
		Message: fmt.Sprintf("|C_emb| = %d of %d patches, |C_dist| = %d (features %.1fs, coreset %.1fs)", k, total, m.nDist, featTime.Seconds(), coreTime.Seconds())})

	if !cfg.position && !cfg.neighborhood {
		report(Progress{Stage: StageDone, Done: 1, Total: 1, Message: "PatchCore mode (both PNI parts off)"})
		return m, nil
	}

	// 3. Nearest C_emb (position) and C_dist (neighbourhood targets) of every training patch.
	start = time.Now()
	var hb *position.Builder
	if cfg.position {
		m.cfg.Radius = cfg.radius
		if m.cfg.Radius < 0 {
			m.cfg.Radius = position.DefaultRadius(m.gridW)
		}
		if hb, err = position.NewBuilder(m.gridH, m.gridW, k, m.cfg.Radius); err != nil {
			return nil, fmt.Errorf("pni: Fit: %w", err)
		}
	}
	var targets []int32
	if cfg.neighborhood {
		targets = make([]int32, total)
	}
	buf := make([]float32, rowsPer*m.dim)
	idx := make([]int32, rowsPer)
	dist := make([]float32, rowsPer)
	var distIndex *knn.Index
	if targets != nil {
		if distIndex, err = knn.Build(m.emb[:m.nDist*m.dim], m.nDist, m.dim, searchDim); err != nil {
			return nil, fmt.Errorf("pni: Fit: %w", err)
		}
	}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		feats := store.image(i, rowsPer, buf)
		if hb != nil {
			m.index.Search(feats, rowsPer, nil, idx, dist)
			if err := hb.Add(idx); err != nil {
				return nil, fmt.Errorf("pni: Fit: %w", err)
			}
		}
		if targets != nil {
			distIndex.Search(feats, rowsPer, nil, targets[i*rowsPer:(i+1)*rowsPer], dist)
		}
		report(Progress{Stage: StageAssign, Done: i + 1, Total: n})
	}
	if hb != nil {
		m.pos = hb.Build()
		report(Progress{Stage: StagePosition, Done: 1, Total: 1,
			Message: fmt.Sprintf("histograms of %d positions, radius %d (nearest-neighbour pass %.1fs)", rowsPer, m.cfg.Radius, time.Since(start).Seconds())})
	}

	// 4. Neighbourhood MLP.
	if cfg.neighborhood {
		start = time.Now()
		nc := cfg.nb
		nc.Window = cfg.window
		nc.Seed = cfg.seed
		userProgress := nc.Progress
		nc.Progress = func(e neighborhood.Epoch) {
			if userProgress != nil {
				userProgress(e)
			}
			report(Progress{Stage: StageNeighborhood, Done: e.N, Total: max(cmp.Or(nc.Epochs, neighborhood.DefaultEpochs), e.N),
				Message: fmt.Sprintf("epoch %d: train loss %.3f, val loss %.3f, val top-1 %.3f (%.1fs)", e.N, e.TrainLoss, e.ValLoss, e.ValTop1, e.Elapsed.Seconds())})
		}
		const reduced = 64
		red := neighborhood.NewReducer(m.dim, reduced, cfg.seed)
		rfeat := make([]float32, total*reduced)
		for i := 0; i < n; i++ {
			red.Apply(store.image(i, rowsPer, buf), rowsPer, rfeat[i*rowsPer*reduced:(i+1)*rowsPer*reduced])
		}
		store = nil
		nbm, err := neighborhood.Train(ctx, red, rfeat, n, m.gridH, m.gridW, targets, m.nDist, nc)
		if err != nil {
			return nil, fmt.Errorf("pni: Fit: neighbourhood model: %w", err)
		}
		top1 := nbm.Report.BestValTop1
		switch {
		case nbm.Report.Skipped:
			m.cfg.NbSkipped = nbm.Report.Reason
		case top1 < cfg.minValTop1:
			m.cfg.NbSkipped = fmt.Sprintf("validation top-1 %.3f < %.3f: the MLP did not learn p(c|neighbours) from %d images; scoring without it", top1, cfg.minValTop1, n)
		default:
			m.nb = nbm
		}
		msg := fmt.Sprintf("trained in %.1fs, validation top-1 %.3f", time.Since(start).Seconds(), top1)
		if m.cfg.NbSkipped != "" {
			msg = "left out: " + m.cfg.NbSkipped
		}
		report(Progress{Stage: StageNeighborhood, Done: 1, Total: 1, Message: msg})
	}
	report(Progress{Stage: StageDone, Done: 1, Total: 1})
	return m, nil
}

// searchDim is the PCA dimension of the nearest-neighbour index: the
// projected distances are lower bounds that spare most exact distances.
const searchDim = 64

// derive computes what follows from the coresets: squared norms, the C_dist
// counts and the search index. Fit and Unmarshal both call it.
func (m *Model) derive() error {
	k := len(m.distOf)
	m.distCount = make([]int32, m.nDist)
	for _, d := range m.distOf {
		m.distCount[d]++
	}
	ix, err := knn.Build(m.emb, k, m.dim, searchDim)
	if err != nil {
		return err
	}
	m.index = ix
	m.embNorm = ix.Norm
	return nil
}

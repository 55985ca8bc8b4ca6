package pni

import (
	"context"
	"image"
	"math"
	"sync"
	"sync/atomic"

	"github.com/x/pni/refine"

	"github.com/x/pni/backbone"
)

// Model is a fitted PNI model: one member, or an ensemble of members, each
// a backbone at an input size with its memory bank (the embedding coreset
// C_emb and its prefix, the distribution coreset C_dist) and, when enabled,
// its position histograms and neighbourhood MLP; and the calibration that
// turns scores into decisions. A Model is safe for concurrent Score calls;
// only Calibrate and SetFalseRejectRate change it, atomically.
type Model struct {
	cfg     modelConfig
	members []*member
	ref     int // the member whose input frame an ensemble's maps are combined in (the largest input)

	cal    atomic.Pointer[calibration] // nil when not calibrated; swapped whole by Calibrate
	refine atomic.Pointer[refiner]     // nil without a refinement net

	fitTimes     []StageTime         // Fit's stage timings; nil for a loaded model
	refineReport *refine.TrainReport // WithRefinement's training; nil otherwise
}

// modelConfig is the model-level configuration, saved with the model.
type modelConfig struct {
	Preset  Preset `json:"preset"`
	Seed    int64  `json:"seed"`
	NTrain  int    `json:"n_train"`
	Members int    `json:"members"`
	Skipped int    `json:"skipped_images,omitempty"` // training images left out as unreadable (WithSkipBadImages)
	Tiles   tiling `json:"tiles"`
}

// pickRef returns the index of the member with the largest input.
func pickRef(ms []*member) int {
	ref, best := 0, 0
	for i, mb := range ms {
		w, h := mb.cfg.ResizeW, mb.cfg.ResizeH
		if mb.cfg.CropW > 0 {
			w, h = mb.cfg.CropW, mb.cfg.CropH
		}
		if w*h > best {
			ref, best = i, w*h
		}
	}
	return ref
}

// MemberInfo describes one member of a model.
type MemberInfo struct {
	Backbone           string // the backbone file's base name, when known
	ResizeW, ResizeH   int    // every image is resized to this first
	CropW, CropH       int    // then center-cropped to this (0 = no crop)
	InputW, InputH     int    // network input size (after resize and crop)
	GridW, GridH       int    // patch-feature grid
	Dim                int    // feature dimension D
	EmbSize, DistSize  int    // |C_emb|, |C_dist|
	Position           bool
	Neighborhood       bool   // the MLP is part of the member
	NeighborhoodReport string // why the MLP was left out, if it was
}

// Info describes a fitted model. The member fields describe its first
// member; Members lists all of them.
type Info struct {
	Preset Preset
	MemberInfo
	Members     []MemberInfo
	TrainImages int
	Skipped     int // training images left out as unreadable
	Seed        int64
	Calibrated  bool // thresholds are known (see Model.Calibration)
}

func (mb *member) info() MemberInfo {
	c := mb.cfg
	iw, ih := c.ResizeW, c.ResizeH
	if c.CropW > 0 {
		iw, ih = c.CropW, c.CropH
	}
	return MemberInfo{Backbone: c.Backbone, ResizeW: c.ResizeW, ResizeH: c.ResizeH, CropW: c.CropW, CropH: c.CropH,
		InputW: iw, InputH: ih, GridW: c.GridW, GridH: c.GridH, Dim: mb.bank.dim, EmbSize: mb.bank.size(),
		DistSize: mb.bank.nDist, Position: mb.pos != nil, Neighborhood: mb.nb != nil, NeighborhoodReport: c.NbSkipped}
}

// Info reports the model's shape and settings.
func (m *Model) Info() Info {
	in := Info{Preset: m.cfg.Preset, TrainImages: m.cfg.NTrain, Skipped: m.cfg.Skipped, Seed: m.cfg.Seed, Calibrated: m.cal.Load() != nil}
	for _, mb := range m.members {
		in.Members = append(in.Members, mb.info())
	}
	if len(in.Members) > 0 {
		in.MemberInfo = in.Members[0]
	}
	return in
}

// StageTime is how long one stage of Fit took.
type StageTime struct {
	Stage   Stage
	Member  int // the member the stage fitted (0 for stages of the whole model)
	Seconds float64
}

// FitTimes returns the wall time of each stage Fit ran, in order; nil for a
// model read from a file.
func (m *Model) FitTimes() []StageTime { return m.fitTimes }

// Geometry returns how an image of w x h pixels maps to the input and
// feature grid of the model's maps (for an ensemble, the member with the
// largest input; see backbone.Geometry).
func (m *Model) Geometry(w, h int) (backbone.Geometry, error) {
	if m == nil || len(m.members) == 0 {
		return backbone.Geometry{}, ErrNotFitted
	}
	if m.cfg.Tiles.on() { // maps are at the original size
		return backbone.Geometry{SrcW: w, SrcH: h, ResizedW: w, ResizedH: h, InputW: w, InputH: h}, nil
	}
	mb := m.members[m.ref]
	return mb.bb.Geometry(w, h, mb.preprocess())
}

// Result is the outcome of scoring one image.
type Result struct {
	// Score is the image's anomaly score: the maximum of Map. For a single
	// member it is a distance in feature space; for an ensemble, the mean
	// over members of their standardised scores (z = (ln s - mean)/spread
	// of each member's good-part statistics).
	Score float32
	// Map is the anomaly map at the network input's resolution (the resized,
	// possibly cropped image), MapW x MapH, row-major.
	Map        []float32
	MapW, MapH int
	// Original is the anomaly map at the original image's size, OrigW x OrigH.
	// With a crop, pixels outside the cropped field take the nearest edge value.
	Original     []float32
	OrigW, OrigH int
	// Patches holds the patch scores S(x) (Euclidean distances) on the feature
	// grid, GridW x GridH, before upsampling and blur (of the member whose
	// frame Map is in).
	Patches      []float32
	GridW, GridH int
	// Geometry is how the image mapped to Map's input and grid.
	Geometry backbone.Geometry

	// The decision, from the model's calibration (see Model.Calibration);
	// zero values when the model is not calibrated.
	//
	// Anomalous is true when Score is above the image threshold.
	Anomalous bool
	// Normalized is Score on the calibrated scale: 0.5 exactly at the image
	// threshold, monotone in Score, in (0, 1); good parts mostly score well
	// below 0.5.
	Normalized float32
	// NormMap is Original on the same scale (OrigW x OrigH).
	NormMap []float32
	// PixelLevel is the pixel threshold on the normalised scale: regions are
	// made of NormMap pixels at or above it.
	PixelLevel float32
	// Regions are the anomalous areas, sorted by peak (highest first); empty
	// when Anomalous is false.
	Regions []Region
}

// Score computes the anomaly score and maps of img and, for a calibrated
// model, the decision: whether the part is anomalous, the normalised score
// and map, and the anomalous regions. It is safe to call from many
// goroutines at once. A nil or empty image is an *ImageError matching
// ErrInvalidArgument.
func (m *Model) Score(ctx context.Context, img image.Image) (*Result, error) {
	r, err := m.scoreRaw(ctx, img)
	if err != nil {
		return nil, err
	}
	if c := m.cal.Load(); c != nil {
		c.decide(r)
		if rf := m.refine.Load(); rf != nil && rf.Auto {
			return m.refineWith(ctx, rf, c, img, r)
		}
	}
	return r, nil
}

// scoreRaw is Score without the decision. An ensemble's members run
// concurrently.
func (m *Model) scoreRaw(ctx context.Context, img image.Image) (*Result, error) {
	if m == nil || len(m.members) == 0 {
		return nil, ErrNotFitted
	}
	if img == nil {
		return nil, &ImageError{Index: -1, Err: badArg("Score: nil image")}
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, &ImageError{Index: -1, Err: badArg("Score: empty image (%dx%d)", b.Dx(), b.Dy())}
	}
	if m.cfg.Tiles.on() {
		return m.scoreTiledRaw(ctx, img)
	}
	maps := make([]*memberMap, len(m.members))
	errs := make([]error, len(m.members))
	if len(m.members) == 1 {
		maps[0], errs[0] = m.members[0].score(ctx, img)
	} else {
		var wg sync.WaitGroup
		for i, mb := range m.members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				maps[i], errs[i] = mb.score(ctx, img)
			}()
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return m.combine(maps), nil
}

// combine turns the members' raw maps of one image into the model's
// result: a single member's map as it is; for an ensemble, the mean of the
// members' standardised maps (z = (ln s - mean)/spread of each member's
// good-part statistics), each resampled into the reference member's input
// frame.
func (m *Model) combine(maps []*memberMap) *Result {
	ref := maps[m.ref]
	g := ref.g
	mp, score := ref.mp, ref.score
	if len(maps) > 1 {
		mp = make([]float32, len(ref.mp))
		inv := 1 / float64(len(maps))
		for i, mm := range maps {
			src := mm.mp
			if i != m.ref {
				src = mm.g.Resample(mm.mp, g)
			}
			c := m.members[i].stdz
			for p, v := range src {
				mp[p] += float32(c.z(v) * inv)
			}
		}
		score = float32(math.Inf(-1))
		for _, v := range mp {
			score = max(score, v)
		}
	}
	return &Result{Score: score, Map: mp, MapW: g.InputW, MapH: g.InputH, Patches: ref.patches,
		GridW: m.members[m.ref].cfg.GridW, GridH: m.members[m.ref].cfg.GridH,
		Original: g.ToSource(mp), OrigW: g.SrcW, OrigH: g.SrcH, Geometry: g}
}

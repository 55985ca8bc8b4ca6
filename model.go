package pni

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"
	"sync/atomic"

	"github.com/x/pni/backbone"
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// Model is a fitted PNI model: the backbone, the memory bank (the embedding
// coreset C_emb and its prefix, the distribution coreset C_dist) and, when
// enabled, the position histograms and the neighbourhood MLP. A Model is
// immutable after Fit or Load and safe for concurrent Score calls.
type Model struct {
	cfg modelConfig

	backboneBytes []byte
	bb            *backbone.Model

	bank *bank
	pos  *position.Hist      // nil when the position part is off
	nb   *neighborhood.Model // nil when the neighbourhood part is off or was left out

	cal atomic.Pointer[calibration] // nil when not calibrated; swapped whole by Calibrate

	fitTimes []StageTime // Fit's stage timings; nil for a loaded model
}

// modelConfig is the part of the configuration that scoring needs; it is saved
// with the model.
type modelConfig struct {
	Preset       Preset  `json:"preset"`
	ResizeW      int     `json:"resize_w"`
	ResizeH      int     `json:"resize_h"`
	CropW        int     `json:"crop_w"`
	CropH        int     `json:"crop_h"`
	GridW        int     `json:"grid_w"`
	GridH        int     `json:"grid_h"`
	Ratio        float64 `json:"ratio"`
	Sigma        float64 `json:"sigma"`
	TauScale     float64 `json:"tau_scale"`
	Position     bool    `json:"position"`
	Neighborhood bool    `json:"neighborhood"`
	Radius       int     `json:"radius"`
	Window       int     `json:"window"`
	Seed         int64   `json:"seed"`
	NTrain       int     `json:"n_train"`
	NbSkipped    string  `json:"neighborhood_skipped,omitempty"`
}

// validate checks the settings a decoded file gives.
func (c modelConfig) validate() error {
	if c.ResizeW <= 0 || c.ResizeH <= 0 || c.CropW < 0 || c.CropH < 0 || c.CropW > c.ResizeW || c.CropH > c.ResizeH ||
		c.ResizeW > backbone.MaxInputSide || c.ResizeH > backbone.MaxInputSide || !(c.TauScale > 0) || c.Sigma < 0 || c.Sigma > 64 ||
		c.GridW <= 0 || c.GridH <= 0 || c.GridW*c.GridH > 1<<22 {
		return fmt.Errorf("bad settings %+v", c)
	}
	return nil
}

// Info describes a fitted model.
type Info struct {
	Preset             Preset
	ResizeW, ResizeH   int // every image is resized to this first
	CropW, CropH       int // then center-cropped to this (0 = no crop)
	InputW, InputH     int // network input size (after resize and crop)
	GridW, GridH       int // patch-feature grid
	Dim                int // feature dimension D
	EmbSize, DistSize  int // |C_emb|, |C_dist|
	Position           bool
	Neighborhood       bool   // the MLP is part of the model
	NeighborhoodReport string // why the MLP was left out, if it was
	TrainImages        int
	Seed               int64
	Calibrated         bool // thresholds are known (see Model.Calibration)
}

// Info reports the model's shape and settings.
func (m *Model) Info() Info {
	pp := m.preprocess()
	iw, ih := m.cfg.ResizeW, m.cfg.ResizeH
	if pp.CropW > 0 {
		iw, ih = pp.CropW, pp.CropH
	}
	return Info{
		Preset: m.cfg.Preset, ResizeW: m.cfg.ResizeW, ResizeH: m.cfg.ResizeH, CropW: m.cfg.CropW, CropH: m.cfg.CropH,
		InputW: iw, InputH: ih, GridW: m.cfg.GridW, GridH: m.cfg.GridH, Dim: m.bank.dim,
		EmbSize: m.bank.size(), DistSize: m.bank.nDist, Position: m.pos != nil,
		Neighborhood: m.nb != nil, NeighborhoodReport: m.cfg.NbSkipped, TrainImages: m.cfg.NTrain, Seed: m.cfg.Seed,
		Calibrated: m.cal.Load() != nil,
	}
}

// StageTime is how long one stage of Fit took.
type StageTime struct {
	Stage   Stage
	Seconds float64
}

// FitTimes returns the wall time of each stage Fit ran, in order; nil for a
// model read from a file.
func (m *Model) FitTimes() []StageTime { return m.fitTimes }

func (m *Model) preprocess() backbone.Preprocess {
	return backbone.Preprocess{ResizeW: m.cfg.ResizeW, ResizeH: m.cfg.ResizeH, CropW: m.cfg.CropW, CropH: m.cfg.CropH}
}

// Geometry returns how an image of w x h pixels maps to the model's input
// and feature grid (see backbone.Geometry).
func (m *Model) Geometry(w, h int) (backbone.Geometry, error) {
	if m == nil || m.bb == nil {
		return backbone.Geometry{}, ErrNotFitted
	}
	return m.bb.Geometry(w, h, m.preprocess())
}

// Result is the outcome of scoring one image.
type Result struct {
	// Score is the image's anomaly score: the maximum of Map.
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
	// grid, GridW x GridH, before upsampling and blur.
	Patches      []float32
	GridW, GridH int
	// Geometry is how the image mapped to the input and the grid.
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
	}
	return r, nil
}

// scoreRaw is Score without the decision.
func (m *Model) scoreRaw(ctx context.Context, img image.Image) (*Result, error) {
	if m == nil || m.bb == nil {
		return nil, ErrNotFitted
	}
	if img == nil {
		return nil, &ImageError{Index: -1, Err: badArg("Score: nil image")}
	}
	b := img.Bounds()
	g, err := m.Geometry(b.Dx(), b.Dy())
	if err != nil {
		return nil, &ImageError{Index: -1, Err: err}
	}
	f, err := m.bb.Features(ctx, img, m.preprocess())
	if err != nil {
		return nil, fmt.Errorf("pni: Score: %w", err)
	}
	if f.H != m.cfg.GridH || f.W != m.cfg.GridW || f.D != m.bank.dim {
		return nil, fmt.Errorf("pni: Score: backbone gave a %dx%dx%d grid, the model was fitted on %dx%dx%d",
			f.H, f.W, f.D, m.cfg.GridH, m.cfg.GridW, m.bank.dim)
	}
	patches, err := m.patchScores(ctx, f.Data, nil)
	if err != nil {
		return nil, err
	}
	return m.result(patches, g), nil
}

// result turns patch scores into the maps and the image score.
func (m *Model) result(patches []float32, g backbone.Geometry) *Result {
	mp, score := m.inputMap(patches, g.InputW, g.InputH)
	return &Result{Score: score, Map: mp, MapW: g.InputW, MapH: g.InputH, Patches: patches, GridW: m.cfg.GridW, GridH: m.cfg.GridH,
		Original: g.ToSource(mp), OrigW: g.SrcW, OrigH: g.SrcH, Geometry: g}
}

// inputMap upsamples patch scores to the iw x ih input and blurs them: the
// anomaly map and its maximum, the image score.
func (m *Model) inputMap(patches []float32, iw, ih int) ([]float32, float32) {
	mp := resizeBilinear(patches, m.cfg.GridH, m.cfg.GridW, ih, iw)
	gaussianBlur(mp, ih, iw, m.cfg.Sigma)
	score := float32(math.Inf(-1))
	for _, v := range mp {
		score = max(score, v)
	}
	return mp, score
}

// patchScores computes S(x) for every grid position of one image's features
// (gridH*gridW x dim): the distance to the nearest C_emb element in the
// allowed set A(x) = {c : p(c|Omega) > tau}. The elements listed in exclude
// are never used (Fit's leave-one-image-out calibration excludes the
// elements taken from the scored image itself); if that leaves A(x) empty,
// every other element is allowed.
func (m *Model) patchScores(ctx context.Context, feats []float32, exclude []int32) ([]float32, error) {
	bk := m.bank
	n := m.cfg.GridH * m.cfg.GridW
	k := bk.size()
	out := make([]float32, n)
	idx := make([]int32, n)
	var allow knn.Allow
	if m.pos != nil || m.nb != nil {
		var pnb []float32
		if m.nb != nil {
			var err error
			if pnb, err = m.nb.Predict(feats, m.cfg.GridH, m.cfg.GridW); err != nil {
				return nil, fmt.Errorf("pni: neighbourhood model: %w", err)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tau := float32(m.cfg.TauScale / (2 * float64(k)))
		allow = func(i int, mask []bool) []bool {
			m.allowed(i, pnb, tau, mask)
			return mask
		}
	}
	if exclude != nil {
		parts := allow
		allow = func(i int, mask []bool) []bool {
			if parts != nil {
				parts(i, mask)
			} else {
				for j := range mask {
					mask[j] = true
				}
			}
			for _, c := range exclude {
				mask[c] = false
			}
			if !slices.Contains(mask, true) {
				for j := range mask {
					mask[j] = true
				}
				for _, c := range exclude {
					mask[c] = false
				}
			}
			return mask
		}
	}
	bk.index.Search(feats, n, allow, idx, out)
	for i, v := range out {
		if idx[i] < 0 { // nothing allowed: cannot happen when p sums to 1 (or exclude leaves some); fall back to all
			var d [1]float32
			var j [1]int32
			bk.index.Search(feats[i*bk.dim:(i+1)*bk.dim], 1, nil, j[:], d[:])
			v = d[0]
		}
		out[i] = float32(math.Sqrt(float64(v)))
	}
	return out, ctx.Err()
}

// allowed writes the allowed set A(x) = {c : p(c|Omega) > tau} of grid
// position pos into mask (K long), p(c|Omega) being the mean of the enabled
// parts' distributions over C_emb (docs/algorithm.md, "Score"). The
// neighbourhood part is dense (each C_emb element gets its C_dist element's
// probability, shared among the elements mapped to it); the position part is
// sparse, so elements outside its row get the neighbourhood term alone.
func (m *Model) allowed(pos int, pnb []float32, tau float32, mask []bool) {
	var idx []int32
	var p []float32
	parts := float32(0)
	if m.pos != nil {
		idx, p = m.pos.Row(pos)
		parts++
	}
	if pnb == nil {
		clear(mask)
		for j, c := range idx {
			mask[c] = p[j] > tau
		}
		return
	}
	parts++
	bk := m.bank
	row := pnb[pos*bk.nDist : (pos+1)*bk.nDist]
	nbTerm := func(c int) float32 {
		d := bk.distOf[c]
		return row[d] / float32(bk.distCount[d])
	}
	for c := range mask {
		mask[c] = nbTerm(c)/parts > tau
	}
	for j, c := range idx {
		mask[c] = (p[j]+nbTerm(int(c)))/parts > tau
	}
}

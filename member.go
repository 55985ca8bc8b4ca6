package pni

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/x/pni/backbone"
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// member is one backbone at one input size, fitted on the model's training
// images: its memory bank and, when enabled, its position histograms and
// neighbourhood MLP. A model is one member, or an ensemble of several whose
// calibrated maps are combined (see Model.Score).
type member struct {
	cfg memberConfig

	backboneBytes []byte
	bb            *backbone.Model

	bank *bank
	pos  *position.Hist      // nil when the position part is off
	nb   *neighborhood.Model // nil when the neighbourhood part is off or was left out

	// stdz standardises the member's scores in an ensemble: its own
	// leave-one-image-out statistics, whose ln-score mean and spread map a
	// raw map to z = (ln s - mean)/spread. nil for a single-member model.
	stdz *calibration
}

// memberConfig is the part of a member's configuration that scoring needs;
// it is saved with the model.
type memberConfig struct {
	Backbone     string  `json:"backbone,omitempty"` // the backbone file's base name, for reports
	Dim          int     `json:"dim"`                // the patch-feature dimension D (backbone.Options.Dim)
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
	NbSkipped    string  `json:"neighborhood_skipped,omitempty"`
}

// validate checks the settings a decoded file gives.
func (c memberConfig) validate() error {
	if c.ResizeW <= 0 || c.ResizeH <= 0 || c.CropW < 0 || c.CropH < 0 || c.CropW > c.ResizeW || c.CropH > c.ResizeH ||
		c.ResizeW > backbone.MaxInputSide || c.ResizeH > backbone.MaxInputSide || !(c.TauScale > 0) || c.Sigma < 0 || c.Sigma > 64 ||
		c.GridW <= 0 || c.GridH <= 0 || c.GridW*c.GridH > 1<<22 || c.Dim <= 0 || c.Dim > 1<<16 {
		return fmt.Errorf("bad member settings %+v", c)
	}
	return nil
}

func (mb *member) preprocess() backbone.Preprocess {
	return backbone.Preprocess{ResizeW: mb.cfg.ResizeW, ResizeH: mb.cfg.ResizeH, CropW: mb.cfg.CropW, CropH: mb.cfg.CropH}
}

// checkParts checks that the decoded components agree with each other and
// with the settings, so that a crafted file cannot make Score index out of
// range.
func (mb *member) checkParts() error {
	c, k := mb.cfg, mb.bank.size()
	if h := mb.pos; h != nil && (h.H != c.GridH || h.W != c.GridW || h.K != k) {
		return fmt.Errorf("position histogram is %dx%d over %d elements, the member has a %dx%d grid and %d", h.W, h.H, h.K, c.GridW, c.GridH, k)
	}
	if nb := mb.nb; nb != nil && (nb.Classes() != mb.bank.nDist || nb.FeatureDim() != mb.bank.dim) {
		return fmt.Errorf("neighbourhood model has %d classes over %d-dim features, the bank has |C_dist| = %d and %d dims",
			nb.Classes(), nb.FeatureDim(), mb.bank.nDist, mb.bank.dim)
	}
	return nil
}

// memberMap is one member's raw anomaly map of an image.
type memberMap struct {
	g       backbone.Geometry // the image under the member's preprocessing
	patches []float32         // patch scores on the grid
	mp      []float32         // the map at the member's input size
	score   float32           // its maximum
}

// score computes the member's raw map of img.
func (mb *member) score(ctx context.Context, img image.Image) (*memberMap, error) {
	b := img.Bounds()
	g, err := mb.bb.Geometry(b.Dx(), b.Dy(), mb.preprocess())
	if err != nil {
		return nil, &ImageError{Index: -1, Err: err}
	}
	f, err := mb.bb.Features(ctx, img, mb.preprocess())
	if err != nil {
		return nil, fmt.Errorf("pni: Score: %w", err)
	}
	if f.H != mb.cfg.GridH || f.W != mb.cfg.GridW || f.D != mb.bank.dim {
		return nil, fmt.Errorf("pni: Score: backbone gave a %dx%dx%d grid, the model was fitted on %dx%dx%d",
			f.H, f.W, f.D, mb.cfg.GridH, mb.cfg.GridW, mb.bank.dim)
	}
	patches, err := mb.patchScores(ctx, f.Data, nil)
	if err != nil {
		return nil, err
	}
	mp, s := mb.inputMap(patches, g.InputW, g.InputH)
	return &memberMap{g: g, patches: patches, mp: mp, score: s}, nil
}

// inputMap upsamples patch scores to the iw x ih input and blurs them: the
// anomaly map and its maximum, the image score.
func (mb *member) inputMap(patches []float32, iw, ih int) ([]float32, float32) {
	mp := resizeBilinear(patches, mb.cfg.GridH, mb.cfg.GridW, ih, iw)
	gaussianBlur(mp, ih, iw, mb.cfg.Sigma)
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
func (mb *member) patchScores(ctx context.Context, feats []float32, exclude []int32) ([]float32, error) {
	bk := mb.bank
	n := mb.cfg.GridH * mb.cfg.GridW
	k := bk.size()
	out := make([]float32, n)
	idx := make([]int32, n)
	var allow knn.Allow
	if mb.pos != nil || mb.nb != nil {
		var pnb []float32
		if mb.nb != nil {
			var err error
			if pnb, err = mb.nb.Predict(feats, mb.cfg.GridH, mb.cfg.GridW); err != nil {
				return nil, fmt.Errorf("pni: neighbourhood model: %w", err)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tau := float32(mb.cfg.TauScale / (2 * float64(k)))
		allow = func(i int, mask []bool) []bool {
			mb.allowed(i, pnb, tau, mask)
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
// parts' distributions over C_emb (docs/algorithm.md, section 5). The
// neighbourhood part is dense (each C_emb element gets its C_dist element's
// probability, shared among the elements mapped to it); the position part is
// sparse, so elements outside its row get the neighbourhood term alone.
func (mb *member) allowed(pos int, pnb []float32, tau float32, mask []bool) {
	var idx []int32
	var p []float32
	parts := float32(0)
	if mb.pos != nil {
		idx, p = mb.pos.Row(pos)
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
	bk := mb.bank
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

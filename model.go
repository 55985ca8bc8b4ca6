package pni

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/x/pni/backbone"
	"github.com/x/pni/internal/knn"
	"github.com/x/pni/neighborhood"
	"github.com/x/pni/position"
)

// ErrNotFitted is returned when a Model that was neither fitted nor loaded is used.
var ErrNotFitted = errors.New("pni: model is not fitted: use Fit or Load")

// Model is a fitted PNI model: the backbone, the embedding coreset C_emb, the
// distribution coreset C_dist (a prefix of C_emb) and, when enabled, the
// position histograms and the neighbourhood MLP. A Model is immutable after
// Fit or Load and safe for concurrent Score calls.
type Model struct {
	cfg modelConfig

	backboneBytes []byte
	bb            *backbone.Model

	gridH, gridW, dim int
	emb               []float32  // K x dim, C_emb in greedy order
	embNorm           []float32  // K squared norms
	nDist             int        // |C_dist|: C_dist = emb[:nDist]
	distOf            []int32    // K: C_emb element -> its nearest C_dist element
	distCount         []int32    // nDist: how many C_emb elements map to each C_dist element
	index             *knn.Index // exact nearest-neighbour search over C_emb

	pos *position.Hist      // nil when the position part is off
	nb  *neighborhood.Model // nil when the neighbourhood part is off or was skipped
}

// modelConfig is the part of the configuration that scoring needs; it is saved
// with the model.
type modelConfig struct {
	Preset       Preset  `json:"preset"`
	ResizeW      int     `json:"resize_w"`
	ResizeH      int     `json:"resize_h"`
	CropW        int     `json:"crop_w"`
	CropH        int     `json:"crop_h"`
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
}

// Info reports the model's shape and settings.
func (m *Model) Info() Info {
	iw, ih := m.inputSize()
	return Info{
		Preset: m.cfg.Preset, ResizeW: m.cfg.ResizeW, ResizeH: m.cfg.ResizeH, CropW: m.cfg.CropW, CropH: m.cfg.CropH, InputW: iw, InputH: ih, GridW: m.gridW, GridH: m.gridH, Dim: m.dim,
		EmbSize: len(m.emb) / max(m.dim, 1), DistSize: m.nDist, Position: m.pos != nil,
		Neighborhood: m.nb != nil, NeighborhoodReport: m.cfg.NbSkipped, TrainImages: m.cfg.NTrain, Seed: m.cfg.Seed,
	}
}

func (m *Model) inputSize() (w, h int) {
	if m.cfg.CropW > 0 {
		return m.cfg.CropW, m.cfg.CropH
	}
	return m.cfg.ResizeW, m.cfg.ResizeH
}

func (m *Model) preprocess() backbone.Preprocess {
	return backbone.Preprocess{ResizeW: m.cfg.ResizeW, ResizeH: m.cfg.ResizeH, CropW: m.cfg.CropW, CropH: m.cfg.CropH}
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
}

// Score computes the anomaly score and maps of img. It is safe to call from
// many goroutines at once.
func (m *Model) Score(ctx context.Context, img image.Image) (*Result, error) {
	if m == nil || m.bb == nil {
		return nil, ErrNotFitted
	}
	if img == nil {
		return nil, errors.New("pni: Score: nil image")
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("pni: Score: empty image (%dx%d)", b.Dx(), b.Dy())
	}
	in, err := m.bb.Input(img, m.preprocess())
	if err != nil {
		return nil, fmt.Errorf("pni: Score: %w", err)
	}
	in.Shape = append([]int{1}, in.Shape...)
	f, err := m.bb.FeaturesTensor(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("pni: Score: %w", err)
	}
	if f.H != m.gridH || f.W != m.gridW || f.D != m.dim {
		return nil, fmt.Errorf("pni: Score: backbone gave a %dx%dx%d grid, the model was fitted on %dx%dx%d",
			f.H, f.W, f.D, m.gridH, m.gridW, m.dim)
	}
	patches, err := m.patchScores(ctx, f.Image(0))
	if err != nil {
		return nil, err
	}
	return m.result(patches, b.Dx(), b.Dy()), nil
}

// result turns patch scores into the maps and the image score.
func (m *Model) result(patches []float32, origW, origH int) *Result {
	iw, ih := m.inputSize()
	mp := resizeBilinear(patches, m.gridH, m.gridW, ih, iw)
	gaussianBlur(mp, ih, iw, m.cfg.Sigma)
	score := float32(math.Inf(-1))
	for _, v := range mp {
		score = max(score, v)
	}
	r := &Result{Score: score, Map: mp, MapW: iw, MapH: ih, Patches: patches, GridW: m.gridW, GridH: m.gridH,
		OrigW: origW, OrigH: origH}
	resW, resH := m.cfg.ResizeW, m.cfg.ResizeH
	r.Original = toOriginal(mp, iw, ih, resW, resH, origW, origH)
	return r
}

// patchScores computes S(x) for every grid position of one image's features
// (gridH*gridW x dim): the distance to the nearest C_emb element in the
// allowed set A(x) = {c : p(c|Omega) > tau}.
func (m *Model) patchScores(ctx context.Context, feats []float32) ([]float32, error) {
	n := m.gridH * m.gridW
	k := len(m.embNorm)
	out := make([]float32, n)
	idx := make([]int32, n)
	var allow knn.Allow
	if m.pos != nil || m.nb != nil {
		var pnb []float32
		if m.nb != nil {
			var err error
			if pnb, err = m.nb.Predict(feats, m.gridH, m.gridW); err != nil {
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
	m.index.Search(feats, n, allow, idx, out)
	for i, v := range out {
		if idx[i] < 0 { // nothing allowed: cannot happen when p sums to 1; fall back to all
			var d [1]float32
			var j [1]int32
			m.index.Search(feats[i*m.dim:(i+1)*m.dim], 1, nil, j[:], d[:])
			v = d[0]
		}
		out[i] = float32(math.Sqrt(float64(v)))
	}
	return out, ctx.Err()
}

// allowed writes the allowed set A(x) = {c : p(c|Omega) > tau} of grid
// position pos into mask (K long), p(c|Omega) being the mean of the enabled
// parts' distributions over C_emb (PNI.md section 5). The neighbourhood part
// is dense (each C_emb element gets its C_dist element's probability, shared
// among the elements mapped to it); the position part is sparse, so elements
// outside its row get the neighbourhood term alone.
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
	row := pnb[pos*m.nDist : (pos+1)*m.nDist]
	nbTerm := func(c int) float32 {
		d := m.distOf[c]
		return row[d] / float32(m.distCount[d])
	}
	for c := range mask {
		mask[c] = nbTerm(c)/parts > tau
	}
	for j, c := range idx {
		mask[c] = (p[j]+nbTerm(int(c)))/parts > tau
	}
}

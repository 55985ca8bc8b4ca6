package pni

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/x/pni/internal/label"
)

// DefaultFalseRejectRate is the target fraction of good parts that the
// image threshold flags as anomalous, when WithFalseRejectRate is not given.
const DefaultFalseRejectRate = 0.01

// maxCalibrationImages bounds the training images Fit scores to calibrate
// (evenly spaced when there are more), so that calibration costs a small,
// fixed share of Fit.
const maxCalibrationImages = 64

// minLogSpread floors the spread (standard deviation of ln image scores) of
// the calibration: with a few near-identical good images the estimate could
// be ~0, which would make the threshold hug the largest score and the
// normalised score a step.
const minLogSpread = 0.02

// floorFraction sets the calibration's score floor: scores below this
// fraction of the largest good image score count as that floor. Down there
// the differences between good scores say nothing about the upper tail, and
// near-zero scores (a part identical to a training image) would otherwise
// dominate the log-normal fit.
const floorFraction = 0.05

// pixelProbs are the probabilities at which the calibration keeps the
// quantiles of good pixels' scores (for reporting; the maximum last).
var pixelProbs = []float64{0.5, 0.9, 0.99, 0.999, 0.9999, 1}

// calibration is how unseen good parts score, and the decision it gives:
// the model file's "calibration" section (JSON).
//
// Image scores of good parts are modelled as log-normal: u = ln(score) is
// normal with the calibration images' mean and standard deviation. The
// image threshold is the upper limit of the 1-FRR one-sided prediction
// interval of a new good part's u (Student's t with n-1 degrees of
// freedom, which widens it for the 10-25 images small sets have). The pixel
// threshold is the image threshold: an image's score is its map's maximum,
// so a pixel is anomalous where the map exceeds what a new good part's
// highest pixel reaches but at the target false-reject rate, and an image
// is anomalous exactly when one of its pixels is. (A lower pixel level, the
// median good image score, was measured first: its regions spread over the
// blurred map's tails, and their pixel F1 against the masks was 0.06-0.36
// on the shared sets against 0.25-0.60 at the image threshold.) The
// normalised score is logistic((u - u_image)/spread): 0.5 exactly at the
// image threshold, monotone, in (0, 1).
type calibration struct {
	Method      string    `json:"method"` // "leave-one-image-out" (Fit) or "good images" (Calibrate)
	Images      int       `json:"images"`
	ImageScores []float64 `json:"image_scores"` // each calibration image's score, ascending
	PixelQ      []float64 `json:"pixel_q"`      // good pixels' scores at pixelProbs
	FRR         float64   `json:"false_reject_rate"`
	// Linear is set for an ensemble's model-level calibration, whose scores
	// (means of members' standardised ln scores) are used as they are: no
	// log, no floor.
	Linear bool `json:"linear,omitempty"`
	// Thresholds given explicitly (WithThresholds), in raw score units; 0
	// means derived from the statistics.
	ImageOverride float64 `json:"image_override,omitempty"`
	PixelOverride float64 `json:"pixel_override,omitempty"`

	// Derived by derive, never saved.
	floor          float64 // scores below it count as it (floorFraction of the largest)
	mean           float64 // mean ln image score
	imageT, pixelT float64 // ln thresholds
	spread         float64 // the logistic's width, in ln units
}

// newCalibration builds a calibration from the image scores and a sample
// of pixel scores of good images.
func newCalibration(method string, imageScores, pixelScores []float64, frr, imageOverride, pixelOverride float64, linear bool) (*calibration, error) {
	if len(imageScores) < 2 {
		return nil, badArg("calibration needs at least 2 good images, got %d", len(imageScores))
	}
	c := &calibration{Method: method, Images: len(imageScores), ImageScores: slices.Clone(imageScores), FRR: frr,
		ImageOverride: imageOverride, PixelOverride: pixelOverride, Linear: linear}
	slices.Sort(c.ImageScores)
	px := slices.Clone(pixelScores)
	slices.Sort(px)
	for _, p := range pixelProbs {
		c.PixelQ = append(c.PixelQ, quantileSorted(px, p))
	}
	return c, c.derive()
}

// quantileSorted is the p-quantile of ascending xs by linear interpolation
// between order statistics (numpy's default); NaN for an empty slice.
func quantileSorted(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	f := p * float64(len(xs)-1)
	i := int(f)
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (xs[i+1]-xs[i])*(f-float64(i))
}

// derive computes the thresholds and the spread from the statistics, the
// target false-reject rate and the overrides; it also validates a decoded
// calibration.
func (c *calibration) derive() error {
	n := len(c.ImageScores)
	if n < 2 || c.Images != n || !(c.FRR > 0 && c.FRR < 1) || c.ImageOverride < 0 || c.PixelOverride < 0 ||
		(c.ImageOverride > 0 && c.PixelOverride > c.ImageOverride) || !slices.IsSorted(c.ImageScores) {
		return fmt.Errorf("calibration: %d image scores for %d images, false-reject rate %v, overrides %v/%v",
			n, c.Images, c.FRR, c.ImageOverride, c.PixelOverride)
	}
	for _, v := range c.ImageScores {
		if math.IsNaN(v) || math.IsInf(v, 0) || (v < 0 && !c.Linear) {
			return errors.New("calibration: image score not finite and non-negative")
		}
	}
	if c.Linear && (c.ImageOverride > 0 || c.PixelOverride > 0) {
		return errors.New("calibration: explicit thresholds apply to single-member models")
	}
	c.floor = max(floorFraction*c.ImageScores[n-1], 1e-12)
	logs := make([]float64, n)
	var mean float64
	for i, v := range c.ImageScores {
		logs[i] = c.log(v)
		mean += logs[i]
	}
	mean /= float64(n)
	c.mean = mean
	var ss float64
	for _, v := range logs {
		ss += (v - mean) * (v - mean)
	}
	c.spread = max(math.Sqrt(ss/float64(n-1)), minLogSpread)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1 - c.FRR)
	c.imageT = mean + t*c.spread*math.Sqrt(1+1/float64(n))
	if c.ImageOverride > 0 {
		c.imageT = math.Log(c.ImageOverride)
	}
	c.pixelT = c.imageT
	if c.PixelOverride > 0 {
		c.pixelT = math.Log(c.PixelOverride)
	}
	c.pixelT = min(c.pixelT, c.imageT)
	return nil
}

// log is ln of a score, floored at the calibration's floor (the score
// itself for a linear calibration).
func (c *calibration) log(v float64) float64 {
	if c.Linear {
		return v
	}
	return math.Log(max(v, c.floor))
}

// z standardises a score by the calibration images' ln scores.
func (c *calibration) z(v float32) float64 { return (c.log(float64(v)) - c.mean) / c.spread }

// unlog maps a calibrated level back to score units.
func (c *calibration) unlog(u float64) float64 {
	if c.Linear {
		return u
	}
	return math.Exp(u)
}

// normalize maps a raw score to the normalised scale: 0.5 at the image
// threshold, monotone, in (0, 1).
func (c *calibration) normalize(v float32) float32 {
	return float32(1 / (1 + math.Exp(-(c.log(float64(v))-c.imageT)/c.spread)))
}

// Region is one connected area of an image that the calibration marks
// anomalous: the 8-connected pixels of the normalised map at or above the
// pixel threshold, in a component whose peak reaches the image threshold
// (0.5). Regions therefore exist exactly when the image is Anomalous.
type Region struct {
	Bounds image.Rectangle // bounding box in original-image pixels
	Area   int             // pixels of the original image
	Peak   float32         // highest normalised score in the region
	Mean   float32         // mean normalised score over the region
}

// regions finds the Regions of a normalised map (w x h) whose pixel
// threshold is pix, sorted by peak (then area), and, when withMask, the
// mask of their pixels.
func regions(norm []float32, w, h int, pix float32, withMask bool) ([]Region, []bool) {
	mask := make([]bool, len(norm))
	any := false
	for i, v := range norm {
		if v >= pix {
			mask[i] = true
			any = true
		}
	}
	if !any {
		return nil, maskOrNil(mask, withMask)
	}
	lab := make([]int32, len(norm))
	sizes, _ := label.Regions(mask, w, lab, 1, nil, nil)
	type acc struct {
		r              Region
		sum            float64
		x0, y0, x1, y1 int
	}
	accs := make([]acc, len(sizes))
	for i := range accs {
		accs[i] = acc{x0: w, y0: h, x1: -1, y1: -1}
	}
	for p, l := range lab {
		if l == 0 {
			continue
		}
		a := &accs[l-1]
		x, y, v := p%w, p/w, norm[p]
		a.x0, a.y0, a.x1, a.y1 = min(a.x0, x), min(a.y0, y), max(a.x1, x), max(a.y1, y)
		a.r.Peak = max(a.r.Peak, v)
		a.sum += float64(v)
		a.r.Area++
	}
	var out []Region
	for _, a := range accs {
		if a.r.Peak < 0.5 {
			continue
		}
		a.r.Bounds = image.Rect(a.x0, a.y0, a.x1+1, a.y1+1)
		a.r.Mean = float32(a.sum / float64(a.r.Area))
		out = append(out, a.r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Peak != out[j].Peak {
			return out[i].Peak > out[j].Peak
		}
		return out[i].Area > out[j].Area
	})
	if withMask {
		for p, l := range lab {
			mask[p] = l != 0 && accs[l-1].r.Peak >= 0.5
		}
	}
	return out, maskOrNil(mask, withMask)
}

func maskOrNil(mask []bool, keep bool) []bool {
	if keep {
		return mask
	}
	return nil
}

// AnomalyMask returns the pixels of the original image (OrigW x OrigH,
// row-major) that belong to a region; nil for an uncalibrated model.
func (r *Result) AnomalyMask() []bool {
	if r.NormMap == nil {
		return nil
	}
	_, mask := regions(r.NormMap, r.OrigW, r.OrigH, r.PixelLevel, true)
	return mask
}

// decide fills the calibrated fields of r: the normalised score and map,
// the decision and the regions.
func (c *calibration) decide(r *Result) {
	d := c.log(float64(r.Score)) - c.imageT
	r.Anomalous = d > 0
	r.Normalized = float32(1 / (1 + math.Exp(-d/c.spread)))
	r.NormMap = make([]float32, len(r.Original))
	for i, v := range r.Original {
		r.NormMap[i] = c.normalize(v)
	}
	r.PixelLevel = float32(1 / (1 + math.Exp(-(c.pixelT-c.imageT)/c.spread)))
	r.Regions, _ = regions(r.NormMap, r.OrigW, r.OrigH, r.PixelLevel, false)
}

// Calibration describes how a model decides.
type Calibration struct {
	// Method is "leave-one-image-out" (estimated by Fit from its training
	// images, see Fit) or "good images" (by Calibrate), "" when the model
	// is not calibrated (Fit had a single image).
	Method string
	// Images is the number of good images the statistics come from.
	Images int
	// FalseRejectRate is the target fraction of good parts flagged.
	FalseRejectRate float64
	// ImageThreshold is the raw image score above which a part is
	// anomalous (Result.Normalized 0.5); PixelThreshold the raw map level of
	// regions (Result.NormMap PixelLevel).
	ImageThreshold, PixelThreshold float64
	// PixelLevel is PixelThreshold on the normalised scale.
	PixelLevel float64
	// Explicit is true when the thresholds were given (WithThresholds).
	Explicit bool
	// GoodScores are the calibration images' raw image scores, ascending.
	GoodScores []float64
	// GoodPixels are good pixels' raw scores at the probabilities 0.5,
	// 0.9, 0.99, 0.999, 0.9999 and the maximum.
	GoodPixels []float64
}

func (c *calibration) info() Calibration {
	if c == nil {
		return Calibration{}
	}
	ci := Calibration{Method: c.Method, Images: c.Images, FalseRejectRate: c.FRR,
		ImageThreshold: c.unlog(c.imageT), PixelThreshold: c.unlog(c.pixelT),
		PixelLevel: 1 / (1 + math.Exp(-(c.pixelT-c.imageT)/c.spread)),
		Explicit:   c.ImageOverride > 0 || c.PixelOverride > 0}
	ci.GoodScores = slices.Clone(c.ImageScores)
	ci.GoodPixels = slices.Clone(c.PixelQ)
	return ci
}

// Calibration reports how the model decides (the zero value when it is not
// calibrated).
func (m *Model) Calibration() Calibration { return m.cal.Load().info() }

// Calibrate re-estimates the thresholds from good images the model has
// never seen (more, or more recent, than Fit had), keeping the target
// false-reject rate and any explicit thresholds. The new statistics
// replace the old ones. It is safe to call while other goroutines Score:
// each Score uses either the old or the new calibration.
func (m *Model) Calibrate(ctx context.Context, good []image.Image) error {
	if m == nil || len(m.members) == 0 {
		return ErrNotFitted
	}
	if len(good) < 2 {
		return badArg("Calibrate: give at least 2 good images, got %d", len(good))
	}
	var imageScores, pixelScores []float64
	for i, img := range good {
		if img == nil {
			return &ImageError{Index: i, Err: badArg("Calibrate: nil image")}
		}
		r, err := m.scoreRaw(ctx, img)
		if err != nil {
			return err
		}
		imageScores = append(imageScores, float64(r.Score))
		pixelScores = appendPixelSample(pixelScores, r.Map)
	}
	old := m.cal.Load()
	frr, io, po := DefaultFalseRejectRate, 0.0, 0.0
	if old != nil {
		frr, io, po = old.FRR, old.ImageOverride, old.PixelOverride
	}
	c, err := newCalibration("good images", imageScores, pixelScores, frr, io, po, len(m.members) > 1)
	if err != nil {
		return err
	}
	m.cal.Store(c)
	return nil
}

// SetFalseRejectRate changes the target false-reject rate of a calibrated
// model and re-derives its thresholds from the stored statistics (no image
// is scored). Explicit thresholds stay as they were.
func (m *Model) SetFalseRejectRate(frr float64) error {
	if err := checkFRR("SetFalseRejectRate", frr); err != nil {
		return err
	}
	old := m.cal.Load()
	if old == nil {
		return badArg("SetFalseRejectRate: the model is not calibrated: call Calibrate with good images first")
	}
	c := *old
	c.FRR = frr
	if err := c.derive(); err != nil {
		return err
	}
	m.cal.Store(&c)
	return nil
}

func checkFRR(where string, frr float64) error {
	if !(frr > 0 && frr <= 0.5) {
		return badArg("%s(%v): want a false-reject rate in (0, 0.5]", where, frr)
	}
	return nil
}

// pixelSampleStep subsamples calibration maps' pixels for the pixel
// statistics (every 7th pixel: coprime with common widths).
const pixelSampleStep = 7

// appendPixelSample appends the scores of a subsample of a map's pixels.
func appendPixelSample(dst []float64, mp []float32) []float64 {
	for i := 0; i < len(mp); i += pixelSampleStep {
		dst = append(dst, float64(mp[i]))
	}
	return dst
}

// calibrationImages returns up to maxCalibrationImages of n image indices,
// evenly spaced.
func calibrationImages(n int) []int { return evenly(n, maxCalibrationImages) }

// evenly returns min(n, k) of the indices 0..n-1, evenly spaced.
func evenly(n, k int) []int {
	k = min(n, k)
	idx := make([]int, k)
	for j := range idx {
		idx[j] = j * n / k
	}
	return idx
}

package report

import (
	"github.com/x/pni"
)

// Result is the JSON form of a pni.Result's decision, the record the pni
// command and the HTTP service (package serve) write for a scored image.
type Result struct {
	// Score is the raw image score (pni.Result.Score).
	Score float32 `json:"score"`
	// Normalized is the score on the calibrated scale (0.5 at the image
	// threshold); null when the model is not calibrated.
	Normalized *float32 `json:"normalized"`
	// Anomalous is the decision (false when the model is not calibrated).
	Anomalous bool `json:"anomalous"`
	// Calibrated tells whether the model could decide at all.
	Calibrated bool `json:"calibrated"`
	// PixelLevel is the pixel threshold on the normalised scale; null when
	// not calibrated.
	PixelLevel *float32 `json:"pixel_level"`
	// Width and Height are the image's size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Regions are the anomalous areas, highest peak first (empty when the
	// part is good).
	Regions []Region `json:"regions"`
}

// Region is the JSON form of a pni.Region: its bounding box (X, Y, W, H
// in original-image pixels), area in pixels and peak and mean normalised
// score.
type Region struct {
	X    int     `json:"x"`
	Y    int     `json:"y"`
	W    int     `json:"w"`
	H    int     `json:"h"`
	Area int     `json:"area"`
	Peak float32 `json:"peak"`
	Mean float32 `json:"mean"`
}

// NewResult converts a result to its JSON form.
func NewResult(r *pni.Result) Result {
	out := Result{Score: r.Score, Anomalous: r.Anomalous, Width: r.OrigW, Height: r.OrigH, Regions: []Region{}}
	if r.NormMap != nil {
		n, pl := r.Normalized, r.PixelLevel
		out.Normalized, out.PixelLevel, out.Calibrated = &n, &pl, true
	}
	for _, g := range r.Regions {
		out.Regions = append(out.Regions, Region{X: g.Bounds.Min.X, Y: g.Bounds.Min.Y, W: g.Bounds.Dx(), H: g.Bounds.Dy(),
			Area: g.Area, Peak: g.Peak, Mean: g.Mean})
	}
	return out
}

// Model is the JSON form of what a model is and how it decides: its
// settings (pni.Info) and calibration (pni.Calibration).
type Model struct {
	Preset      string   `json:"preset"`
	Seed        int64    `json:"seed"`
	TrainImages int      `json:"train_images"`
	Skipped     int      `json:"skipped_images"`
	Members     []Member `json:"members"`
	// Calibration is null when the model is not calibrated.
	Calibration *Calibration `json:"calibration"`
}

// Member is the JSON form of a pni.MemberInfo.
type Member struct {
	Backbone           string `json:"backbone"`
	Resize             [2]int `json:"resize"`
	Crop               [2]int `json:"crop"` // 0 x 0: no crop
	Input              [2]int `json:"input"`
	Grid               [2]int `json:"grid"`
	Dim                int    `json:"dim"`
	EmbSize            int    `json:"bank_emb"`
	DistSize           int    `json:"bank_dist"`
	Position           bool   `json:"position"`
	Neighborhood       bool   `json:"neighborhood"`
	NeighborhoodReport string `json:"neighborhood_report,omitempty"`
}

// Calibration is the JSON form of a pni.Calibration.
type Calibration struct {
	Method          string    `json:"method"`
	Images          int       `json:"images"`
	FalseRejectRate float64   `json:"false_reject_rate"`
	ImageThreshold  float64   `json:"image_threshold"`
	PixelThreshold  float64   `json:"pixel_threshold"`
	PixelLevel      float64   `json:"pixel_level"`
	Explicit        bool      `json:"explicit"`
	GoodScores      []float64 `json:"good_scores"`
}

// NewModel describes a model from its Info and Calibration.
func NewModel(in pni.Info, c pni.Calibration) Model {
	out := Model{Preset: string(in.Preset), Seed: in.Seed, TrainImages: in.TrainImages, Skipped: in.Skipped, Members: []Member{}}
	for _, m := range in.Members {
		out.Members = append(out.Members, Member{Backbone: m.Backbone, Resize: [2]int{m.ResizeW, m.ResizeH},
			Crop: [2]int{m.CropW, m.CropH}, Input: [2]int{m.InputW, m.InputH}, Grid: [2]int{m.GridW, m.GridH},
			Dim: m.Dim, EmbSize: m.EmbSize, DistSize: m.DistSize, Position: m.Position, Neighborhood: m.Neighborhood,
			NeighborhoodReport: m.NeighborhoodReport})
	}
	if c.Method != "" {
		out.Calibration = &Calibration{Method: c.Method, Images: c.Images, FalseRejectRate: c.FalseRejectRate,
			ImageThreshold: c.ImageThreshold, PixelThreshold: c.PixelThreshold, PixelLevel: c.PixelLevel,
			Explicit: c.Explicit, GoodScores: c.GoodScores}
	}
	return out
}

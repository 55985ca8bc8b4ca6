package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/x/pni/evaluate"
	"github.com/x/pni/imageio"
	"github.com/x/pni/metrics"
)

// metricsJSON is metrics.json: exactly these keys.
type metricsJSON struct {
	Dataset         string   `json:"dataset"`
	NTrain          int      `json:"n_train"`
	NTest           int      `json:"n_test"`
	ImageAUROC      *float64 `json:"image_auroc"`
	PixelAUROC      *float64 `json:"pixel_auroc"`
	AUPRO           *float64 `json:"aupro"`
	FitSeconds      float64  `json:"fit_seconds"`
	ScoreMsPerImage float64  `json:"score_ms_per_image"`
	PeakRSSMB       float64  `json:"peak_rss_mb"`
}

func orNull(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func writeOutputs(dir string, rep *evaluate.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mj := metricsJSON{Dataset: rep.Dataset, NTrain: rep.NTrain, NTest: rep.NTest,
		ImageAUROC: orNull(rep.Overall.ImageAUROC), PixelAUROC: orNull(rep.Overall.PixelAUROC), AUPRO: orNull(rep.Overall.AUPRO),
		FitSeconds: rep.FitSeconds, ScoreMsPerImage: rep.ScoreMsPerImage, PeakRSSMB: rep.PeakRSSMB}
	b, err := json.MarshalIndent(mj, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeScores(filepath.Join(dir, "scores.csv"), rep); err != nil {
		return err
	}
	if err := rep.Model.SaveFile(filepath.Join(dir, "model.pni")); err != nil {
		return err
	}
	if err := writeHeatmaps(filepath.Join(dir, "heatmaps"), rep); err != nil {
		return err
	}
	return writeCurves(dir, rep)
}

func writeScores(path string, rep *evaluate.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "kind", "label", "score"})
	for _, r := range rep.Results {
		label := "0"
		if r.Label {
			label = "1"
		}
		w.Write([]string{r.Path, r.Kind, label, strconv.FormatFloat(float64(r.Score), 'g', 8, 32)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeHeatmaps blends each test image with a jet-coloured anomaly map, scaled
// over the whole test set so that overlays are comparable.
func writeHeatmaps(dir string, rep *evaluate.Report) error {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, r := range rep.Results {
		for _, v := range r.Original {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	for _, r := range rep.Results {
		if r.Original == nil {
			continue
		}
		img, err := imageio.Load(r.Path)
		if err != nil {
			return err
		}
		b := img.Bounds()
		out := image.NewRGBA(image.Rect(0, 0, r.OrigW, r.OrigH))
		for y := 0; y < r.OrigH; y++ {
			for x := 0; x < r.OrigW; x++ {
				cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				t := float64((r.Original[y*r.OrigW+x] - lo) / (hi - lo))
				jr, jg, jb := jet(t)
				const a = 0.45
				out.SetRGBA(x, y, color.RGBA{
					R: uint8((1-a)*float64(cr>>8) + a*jr), G: uint8((1-a)*float64(cg>>8) + a*jg),
					B: uint8((1-a)*float64(cb>>8) + a*jb), A: 255})
			}
		}
		name := strings.TrimSuffix(filepath.Base(r.Path), filepath.Ext(r.Path)) + ".png"
		p := filepath.Join(dir, r.Kind, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := png.Encode(f, out); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// jet maps t in [0,1] to the classic jet colour map, 0..255 per channel.
func jet(t float64) (r, g, b float64) {
	t = math.Max(0, math.Min(1, t))
	c := func(x float64) float64 { return 255 * math.Max(0, math.Min(1, 1.5-math.Abs(4*t-x))) }
	return c(3), c(2), c(1)
}

func writeCurves(dir string, rep *evaluate.Report) error {
	scores := make([]float32, len(rep.Results))
	labels := make([]bool, len(rep.Results))
	for i, r := range rep.Results {
		scores[i], labels[i] = r.Score, r.Label
	}
	if fpr, tpr, err := metrics.ROC(scores, labels); err == nil {
		if err := linePlot(filepath.Join(dir, "roc.png"), "Image ROC", "false-positive rate", "true-positive rate", fpr, tpr); err != nil {
			return err
		}
	}
	if rep.Results[0].Mask == nil {
		return nil
	}
	maps := make([][]float32, len(rep.Results))
	masks := make([][]bool, len(rep.Results))
	widths := make([]int, len(rep.Results))
	for i, r := range rep.Results {
		maps[i], masks[i], widths[i] = r.Map, r.Mask, r.MapW
	}
	fpr, pro, err := metrics.PROCurve(maps, masks, widths, 1)
	if err != nil {
		return nil // no defect regions: no curve
	}
	return linePlot(filepath.Join(dir, "pro.png"), fmt.Sprintf("PRO curve (AUPRO@0.3 = %.4f)", rep.Overall.AUPRO),
		"false-positive rate", "per-region overlap", fpr, pro)
}

func linePlot(path, title, xl, yl string, x, y []float64) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xl, yl
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i].X, pts[i].Y = x[i], y[i]
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	p.Add(l)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	return p.Save(5*vg.Inch, 5*vg.Inch, path)
}

package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/x/pni/evaluate"
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
	if err := writeCurves(dir, rep); err != nil {
		return err
	}
	return writeIndex(dir, rep)
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

func writeCurves(dir string, rep *evaluate.Report) error {
	scores := make([]float32, len(rep.Results))
	labels := make([]bool, len(rep.Results))
	for i, r := range rep.Results {
		scores[i], labels[i] = r.Score, r.Label
	}
	if fpr, tpr, err := metrics.ROC(scores, labels); err == nil {
		if err := linePlot(filepath.Join(dir, "roc.png"), fmt.Sprintf("Image ROC (AUROC = %.4f)", rep.Overall.ImageAUROC), "false-positive rate", "true-positive rate", fpr, tpr); err != nil {
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

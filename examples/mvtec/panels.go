package main

import (
	"fmt"
	"html/template"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/x/pni"
	"github.com/x/pni/evaluate"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/report"
)

// panelPath is where a test image's review panel goes, relative to -out:
// panels/<kind>/<name>.png.
func panelPath(s mvtec.Sample) string {
	name := strings.TrimSuffix(filepath.Base(s.Path), filepath.Ext(s.Path)) + ".png"
	return filepath.Join("panels", s.Kind, name)
}

// panelWriter returns the evaluate.Options.OnScore hook that writes each
// test image's panel (input | overlay before refinement when refining |
// overlay | regions | ground truth when the set has masks) under dir as it
// is scored.
func panelWriter(dir string, hasMasks bool) func(mvtec.Sample, image.Image, *pni.Result, *pni.Result) error {
	return func(s mvtec.Sample, img image.Image, res, unrefined *pni.Result) error {
		opt := report.Options{Title: fmt.Sprintf("%s/%s", s.Kind, filepath.Base(s.Path)), Unrefined: unrefined}
		if hasMasks {
			opt.Truth = make([]bool, res.OrigW*res.OrigH) // a good image: nothing to find
			if s.MaskPath != "" {
				mk, err := mvtec.LoadMask(s.MaskPath)
				if err != nil {
					return err
				}
				if mk.W != res.OrigW || mk.H != res.OrigH {
					return fmt.Errorf("mask %s is %dx%d, its image %dx%d", s.MaskPath, mk.W, mk.H, res.OrigW, res.OrigH)
				}
				opt.Truth = mk.Pix
			}
		}
		p, err := report.Panel(img, res, opt)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, panelPath(s))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return report.WritePNG(path, p)
	}
}

// indexRow is one test image in index.html.
type indexRow struct {
	Rank       int
	Path       string
	Kind       string
	Defective  bool
	Score      string
	Normalized string
	Decision   string
	Right      bool // the decision matches the label
	Regions    int
	Panel      string
}

type indexMetrics struct {
	Kind                                                         string
	Images                                                       int
	IAUROC, PAUROC, AUPRO, FalseRejects, Caught, RegionF1, ThrF1 string
	Overall                                                      bool
}

type indexPage struct {
	Dataset       string
	NTrain, NTest int
	Model         string
	Calibration   string
	Timing        string
	Metrics       []indexMetrics
	ROC, PRO      bool
	Refined       bool
	Rows          []indexRow
}

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>pni: {{.Dataset}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .3em; } h2 { font-size: 1.15em; margin: 1.4em 0 .5em; }
.meta { color: #555; margin: .15em 0; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
tr.overall td { font-weight: bold; }
.curves img { width: 380px; margin-right: 1em; border: 1px solid #ddd; background: #fff; }
.item { background: #fff; border: 1px solid #ddd; margin: .8em 0; padding: .5em; }
.item img { max-width: 100%; display: block; margin-top: .4em; }
.bad { color: #c8001e; font-weight: bold; } .good { color: #00823a; font-weight: bold; }
.wrong { background: #fff0f0; border-color: #e99; }
.tag { display: inline-block; padding: 0 .4em; border-radius: 3px; background: #eee; }
</style></head><body>
<h1>pni review: {{.Dataset}}</h1>
<p class="meta">{{.NTrain}} training images, {{.NTest}} test images. {{.Model}}</p>
<p class="meta">{{.Calibration}}</p>
<p class="meta">{{.Timing}}</p>
<h2>Metrics</h2>
<table>
<tr><th>kind</th><th>images</th><th>I-AUROC</th><th>P-AUROC</th><th>AUPRO@0.3</th><th>false rejects</th><th>caught</th><th>region F1</th><th>threshold F1</th></tr>
{{range .Metrics}}<tr{{if .Overall}} class="overall"{{end}}><td>{{.Kind}}</td><td>{{.Images}}</td><td>{{.IAUROC}}</td><td>{{.PAUROC}}</td><td>{{.AUPRO}}</td><td>{{.FalseRejects}}</td><td>{{.Caught}}</td><td>{{.RegionF1}}</td><td>{{.ThrF1}}</td></tr>
{{end}}</table>
<p class="meta">false rejects: good images flagged anomalous; caught: defective images flagged; region F1 / threshold F1: pixel F1 of the regions and of the plain pixel threshold against the masks. Each defect kind's row counts the good images too.</p>
{{if or .ROC .PRO}}<h2>Curves</h2><div class="curves">{{if .ROC}}<img src="roc.png" alt="image ROC curve">{{end}}{{if .PRO}}<img src="pro.png" alt="PRO curve">{{end}}</div>{{end}}
<h2>Test images, highest score first</h2>
<p class="meta">Each panel: input{{if .Refined}} | heatmap before refinement | refined heatmap{{else}} | heatmap overlay{{end}} on the normalised scale (0.5 = image threshold) | regions at the pixel threshold (red){{if .PRO}} | ground truth (green){{end}}. A red background marks a wrong decision.</p>
{{range .Rows}}<div class="item{{if not .Right}} wrong{{end}}" id="r{{.Rank}}">
<b>#{{.Rank}}</b> <span class="tag">{{.Kind}}</span> {{.Path}} &mdash; score {{.Score}}, normalized {{.Normalized}},
<span class="{{if eq .Decision "anomalous"}}bad{{else}}good{{end}}">{{.Decision}}</span>{{if .Regions}}, {{.Regions}} region(s){{end}}
<a href="{{.Panel}}"><img src="{{.Panel}}" loading="lazy" alt="panel of {{.Path}}"></a></div>
{{end}}
</body></html>
`))

// writeIndex writes index.html: the run's settings and metrics, the ROC
// and PRO plots and every test image's panel, sorted by score.
func writeIndex(dir string, rep *evaluate.Report) error {
	info := rep.Model.Info()
	pg := indexPage{Dataset: rep.Dataset, NTrain: rep.NTrain, NTest: rep.NTest, Refined: rep.Refined,
		Model: fmt.Sprintf("Preset %s, input %dx%d, grid %dx%d, |C_emb| %d, position %v, neighbourhood %v.",
			info.Preset, info.InputW, info.InputH, info.GridW, info.GridH, info.EmbSize, info.Position, info.Neighborhood),
		Timing: fmt.Sprintf("Fit %.1f s, score %.1f ms/image, peak RSS %.0f MB.", rep.FitSeconds, rep.ScoreMsPerImage, rep.PeakRSSMB)}
	if c := rep.Model.Calibration(); c.Method != "" {
		pg.Calibration = fmt.Sprintf("Calibration: %s on %d good images, false-reject rate %g: image threshold %.4g, pixel threshold %.4g.",
			c.Method, c.Images, c.FalseRejectRate, c.ImageThreshold, c.PixelThreshold)
	} else {
		pg.Calibration = "Not calibrated: no decisions."
	}
	for _, m := range append(slices.Clone(rep.PerKind), rep.Overall) {
		pg.Metrics = append(pg.Metrics, indexMetrics{Kind: m.Kind, Images: m.Images, IAUROC: fmtMetric(m.ImageAUROC),
			PAUROC: fmtMetric(m.PixelAUROC), AUPRO: fmtMetric(m.AUPRO), FalseRejects: fmtMetric(m.FalseRejects),
			Caught: fmtMetric(m.Caught), RegionF1: fmtMetric(m.RegionF1), ThrF1: fmtMetric(m.ThresholdF1), Overall: m.Kind == "all"})
	}
	_, err := os.Stat(filepath.Join(dir, "roc.png"))
	pg.ROC = err == nil
	_, err = os.Stat(filepath.Join(dir, "pro.png"))
	pg.PRO = err == nil
	rs := slices.Clone(rep.Results)
	slices.SortStableFunc(rs, func(a, b evaluate.Scored) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	for i, r := range rs {
		row := indexRow{Rank: i + 1, Path: r.Path, Kind: r.Kind, Defective: r.Label,
			Score: fmt.Sprintf("%.4g", r.Score), Normalized: "-", Decision: "no decision", Right: true,
			Regions: len(r.Regions), Panel: filepath.ToSlash(panelPath(r.Sample))}
		if !math.IsNaN(float64(r.Normalized)) {
			row.Normalized = fmt.Sprintf("%.3f", r.Normalized)
			row.Decision = "good"
			if r.Anomalous {
				row.Decision = "anomalous"
			}
			row.Right = r.Anomalous == r.Label
		}
		pg.Rows = append(pg.Rows, row)
	}
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	if err := indexTmpl.Execute(f, pg); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

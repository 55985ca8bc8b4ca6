package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/imageio"
	"github.com/x/pni/report"
)

// scoreRecord is one line of score's JSONL output: the image's path, its
// report.Result (absent when it failed), the scoring time, its panel and
// the error that stopped it.
type scoreRecord struct {
	Path string `json:"path"`
	*report.Result
	Milliseconds float64 `json:"ms"`
	Panel        string  `json:"panel,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// csvHeader is score's CSV header; boxes are the regions' "x y w h",
// separated by ";".
var csvHeader = []string{"path", "score", "normalized", "anomalous", "regions", "boxes", "width", "height", "ms", "panel", "error"}

func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("score", "score -m part.pni [-out DIR] [-format jsonl|csv] FILES|DIRS...",
		"Scores each image and writes one record per image to stdout: path, score, normalized (0.5 = the\n"+
			"threshold), anomalous, regions, ms (and error for an image that could not be scored: it is reported\n"+
			"on stderr too and the others are still scored). -out writes a review panel per image (input |\n"+
			"heatmap overlay | regions). Exit status: 0 all good, 1 some anomalous, 2 some image failed.", stderr)
	modelPath := fs.String("m", "", "the model file (required)")
	outDir := fs.String("out", "", "folder for one heatmap panel PNG per image")
	format := fs.String("format", "jsonl", "output format: jsonl or csv")
	maxPixels := fs.Int64("max-pixels", imageio.MaxPixels, "largest image (width x height) read")
	paths, code, done := parse(fs, args)
	if done {
		return code
	}
	if *modelPath == "" || len(paths) == 0 {
		fs.Usage()
		return fail(stderr, "score", "give -m MODEL and at least one image file or DIR")
	}
	if *format != "jsonl" && *format != "csv" {
		return fail(stderr, "score", "-format %q: use jsonl or csv", *format)
	}
	paths, err := expand(paths)
	if err != nil {
		return fail(stderr, "score", "%v", err)
	}
	m, err := pni.LoadFile(*modelPath)
	if err != nil {
		return fail(stderr, "score", "%v", err)
	}
	if *outDir != "" {
		if err := os.MkdirAll(*outDir, 0o755); err != nil {
			return fail(stderr, "score", "%v", err)
		}
	}
	if m.Calibration().Method == "" {
		fmt.Fprintln(stderr, "pni score: the model is not calibrated: scores only, no decisions (run pni calibrate with good images)")
	}

	var cw *csv.Writer
	enc := json.NewEncoder(stdout)
	if *format == "csv" {
		cw = csv.NewWriter(stdout)
		cw.Write(csvHeader)
	}
	dec := imageio.Decoder{MaxPixels: *maxPixels}
	panels := map[string]bool{}
	failed, anomalous := 0, 0
	for _, path := range paths {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "pni score: interrupted")
			return exitError
		}
		rec := scoreRecord{Path: path}
		img, err := dec.Load(path)
		var res *pni.Result
		if err == nil {
			t0 := time.Now()
			res, err = m.Score(ctx, img)
			rec.Milliseconds = float64(time.Since(t0).Microseconds()) / 1000
		}
		if err == nil && *outDir != "" {
			rec.Panel, err = writePanel(*outDir, path, img, res, panels)
		}
		if err != nil {
			rec.Error = cause(err)
			fmt.Fprintf(stderr, "pni score: %s: %s\n", path, rec.Error)
			failed++
		} else {
			r := report.NewResult(res)
			rec.Result = &r
			if res.Anomalous {
				anomalous++
			}
		}
		if cw != nil {
			cw.Write(csvRow(rec))
			cw.Flush()
		} else {
			enc.Encode(rec)
		}
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fail(stderr, "score", "%v", err)
		}
	}
	fmt.Fprintf(stderr, "pni score: %d images: %d good, %d anomalous, %d failed\n", len(paths), len(paths)-anomalous-failed, anomalous, failed)
	switch {
	case failed > 0:
		return exitError
	case anomalous > 0:
		return exitAnomalous
	}
	return exitOK
}

func csvRow(r scoreRecord) []string {
	row := []string{r.Path, "", "", "", "", "", "", "", strconv.FormatFloat(r.Milliseconds, 'f', 1, 64), r.Panel, r.Error}
	if res := r.Result; res != nil {
		row[1] = strconv.FormatFloat(float64(res.Score), 'g', 7, 32)
		if res.Normalized != nil {
			row[2] = strconv.FormatFloat(float64(*res.Normalized), 'f', 4, 32)
		}
		row[3] = strconv.FormatBool(res.Anomalous)
		row[4] = strconv.Itoa(len(res.Regions))
		var boxes []string
		for _, g := range res.Regions {
			boxes = append(boxes, fmt.Sprintf("%d %d %d %d", g.X, g.Y, g.W, g.H))
		}
		row[5] = strings.Join(boxes, ";")
		row[6], row[7] = strconv.Itoa(res.Width), strconv.Itoa(res.Height)
	}
	return row
}

// writePanel writes an image's review panel under dir as <name>.png
// (<folder>_<name>.png, then <folder>_<name>-2.png, ... when images share
// a name) and returns its path.
func writePanel(dir, path string, img image.Image, res *pni.Result, taken map[string]bool) (string, error) {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	name := base + ".png"
	if taken[name] { // another folder's image of the same name: prefix the folder's
		base = filepath.Base(filepath.Dir(path)) + "_" + base
		name = base + ".png"
	}
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d.png", base, i)
	}
	taken[name] = true
	p, err := report.Panel(img, res, report.Options{Title: path})
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	return out, report.WritePNG(out, p)
}

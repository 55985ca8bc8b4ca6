// Command mvtec fits a pni model on an MVTec-AD-layout folder (train/good,
// test/<kind>, optional ground_truth/<kind>/<name>_mask.png), scores every test
// image and prints image AUROC, pixel AUROC and AUPRO per defect kind and
// overall.
//
//	go run ./examples/mvtec -data ../shared/data/mvtec_ad/grid -preset mvtec -out /tmp/grid
//
// With -out it writes metrics.json, scores.csv, the fitted model (model.pni),
// a review panel per test image (panels/<kind>/<name>.png: input, heatmap
// overlay (with -refine, before and after refinement), regions, ground
// truth; see package report), the ROC and PRO
// curves (roc.png, pro.png) and index.html, which shows them all with the
// metrics table, test images sorted by score, for review in a browser.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/x/pni"
	"github.com/x/pni/evaluate"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/refine"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mvtec:", err)
		os.Exit(1)
	}
}

func defaultBackbone() string {
	shared := os.Getenv("PNI_SHARED")
	if shared == "" {
		shared = "../shared"
	}
	return filepath.Join(shared, "models", "densenet201-imagenet-l23.onnx")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mvtec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "MVTec-layout folder (required)")
	bb := fs.String("backbone", defaultBackbone(), "ONNX backbone with layer2 and layer3 outputs")
	preset := fs.String("preset", "default", "settings preset: default, mvtec or paper")
	out := fs.String("out", "", "folder for metrics.json, scores.csv, the model, heatmaps and curves")
	noPos := fs.Bool("no-position", false, "turn the position part off")
	noNb := fs.Bool("no-neighborhood", false, "turn the neighbourhood part off")
	nb := fs.Bool("neighborhood", false, "turn the neighbourhood part on (off in the default preset)")
	seed := fs.Int64("seed", 0, "random seed")
	ratio := fs.Float64("ratio", 0, "coreset ratio (0 = the preset's)")
	size := fs.Int("size", 0, "resize images to NxN (0 = the preset's size); the preset's crop fraction, blur and window scale with it")
	tau := fs.Float64("tau-scale", 1, "scale of the allowed-set threshold tau")
	radius := fs.Int("radius", -1, "position box radius (-1 = scaled with the grid)")
	window := fs.Int("window", 0, "neighbourhood window p (0 = the preset's)")
	memLimit := fs.Int64("memlimit-mb", 3072, "soft memory limit for the Go runtime in MiB (runtime/debug.SetMemoryLimit; 0 = leave GOMEMLIMIT as it is)")
	quiet := fs.Bool("q", false, "no progress bar")
	refineMode := fs.String("refine", "none", "refinement: none, product (train a net on this product's good images), default (the shipped generic net) or an ONNX file")
	blend := fs.Float64("blend", 0, "with -refine: the refined map's weight a in (1-a) map + a pred (0 = pni.DefaultRefineBlend)")
	var members memberFlags
	fs.Var(&members, "member", "an ensemble member BACKBONE[:SIZE] (repeat for several; replaces -backbone)")
	tiles := fs.String("tiles", "", "score in tiles SIZE[,OVERLAP] of original pixels (e.g. 480,64)")
	dim := fs.Int("dim", 0, "patch-feature dimension D (0 = 1024)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		fs.Usage()
		return fmt.Errorf("-data is required")
	}
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// Fit's garbage (coreset bookkeeping) would otherwise let the heap grow to
		// twice the live features before a collection.
		debug.SetMemoryLimit(*memLimit << 20)
	}
	ds, err := mvtec.Open(*data)
	if err != nil {
		return err
	}
	if *nb && *noNb {
		return fmt.Errorf("-neighborhood and -no-neighborhood contradict each other")
	}
	opts := []pni.Option{pni.WithPreset(pni.Preset(*preset)), pni.WithSeed(*seed), pni.WithTauScale(*tau)}
	if *size > 0 {
		// One member at that size: the preset's crop fraction, blur and window scale with it.
		opts = append(opts, pni.WithMembers(pni.Member{Backbone: *bb, Size: *size}))
	} else {
		opts = append(opts, pni.WithBackbone(*bb))
	}
	if *noPos {
		opts = append(opts, pni.WithPosition(false))
	}
	if *noNb || *nb {
		opts = append(opts, pni.WithNeighborhood(*nb))
	}
	if *radius >= 0 {
		opts = append(opts, pni.WithBoxRadius(*radius))
	}
	if *window > 0 {
		opts = append(opts, pni.WithWindow(*window))
	}
	if *ratio > 0 {
		opts = append(opts, pni.WithCoresetRatio(*ratio))
	}
	if len(members) > 0 {
		opts = append(opts, pni.WithMembers(members...))
	}
	if *dim > 0 {
		opts = append(opts, pni.WithEmbedDim(*dim))
	}
	if *tiles != "" {
		var size, overlap int
		if n, _ := fmt.Sscanf(strings.ReplaceAll(*tiles, ",", " "), "%d %d", &size, &overlap); n < 1 {
			return fmt.Errorf("-tiles %q: want SIZE or SIZE,OVERLAP", *tiles)
		}
		opts = append(opts, pni.WithTiles(size, overlap))
	}
	if !(*blend >= 0 && *blend <= 1) {
		return fmt.Errorf("-blend %v: want a weight in [0, 1] (0 = the default, %v)", *blend, pni.DefaultRefineBlend)
	}
	var refiner *refine.Net
	switch *refineMode {
	case "none":
	case "product":
		opts = append(opts, pni.WithRefinement(pni.RefinementConfig{Blend: *blend}))
	case "default":
		var err error
		if refiner, err = refine.Default(); err != nil {
			return err
		}
	default:
		var err error
		if refiner, err = refine.Load(*refineMode); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	eo := evaluate.Options{FitOptions: opts, Refiner: refiner, RefineBlend: *blend, Refine: *refineMode == "product"}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		eo.OnScore = panelWriter(*out, ds.HasMasks)
	}
	if !*quiet {
		eo.Progress = stderr
	}
	rep, err := evaluate.Run(ctx, ds, eo)
	if err != nil {
		return err
	}
	printTable(stdout, rep)
	if *out == "" {
		return nil
	}
	return writeOutputs(*out, rep)
}

func printTable(w io.Writer, rep *evaluate.Report) {
	info := rep.Model.Info()
	fmt.Fprintf(w, "dataset %s: %d train, %d test; preset %s, input %dx%d, grid %dx%d, |C_emb| %d, |C_dist| %d, position %v, neighbourhood %v\n",
		rep.Dataset, rep.NTrain, rep.NTest, info.Preset, info.InputW, info.InputH, info.GridW, info.GridH,
		info.EmbSize, info.DistSize, info.Position, info.Neighborhood)
	if info.NeighborhoodReport != "" {
		fmt.Fprintf(w, "neighbourhood part left out: %s\n", info.NeighborhoodReport)
	}
	if c := rep.Model.Calibration(); c.Method != "" {
		fmt.Fprintf(w, "calibration: %s on %d images, false-reject rate %g: image threshold %.4g, pixel threshold %.4g\n",
			c.Method, c.Images, c.FalseRejectRate, c.ImageThreshold, c.PixelThreshold)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\timages\tI-AUROC\tP-AUROC\tAUPRO\tgood flagged\tcaught\tregion F1\tthreshold F1\t")
	for _, m := range append(rep.PerKind, rep.Overall) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.Kind, m.Images, fmtMetric(m.ImageAUROC), fmtMetric(m.PixelAUROC), fmtMetric(m.AUPRO),
			fmtMetric(m.FalseRejects), fmtMetric(m.Caught), fmtMetric(m.RegionF1), fmtMetric(m.ThresholdF1))
	}
	tw.Flush()
	fmt.Fprintf(w, "fit %.1f s, score %.1f ms/image, peak RSS %.0f MB\n", rep.FitSeconds, rep.ScoreMsPerImage, rep.PeakRSSMB)
}

func fmtMetric(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// memberFlags collects -member BACKBONE[:SIZE] flags.
type memberFlags []pni.Member

func (m *memberFlags) String() string { return fmt.Sprint(*m) }

func (m *memberFlags) Set(v string) error {
	path, size := v, 0
	if i := strings.LastIndex(v, ":"); i > 0 {
		n, err := strconv.Atoi(v[i+1:])
		if err != nil {
			return fmt.Errorf("member %q: want BACKBONE[:SIZE]", v)
		}
		path, size = v[:i], n
	}
	*m = append(*m, pni.Member{Backbone: path, Size: size})
	return nil
}

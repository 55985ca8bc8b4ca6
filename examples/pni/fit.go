package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/x/pni"
)

func runFit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("fit", "fit -o part.pni [flags] DIR|FILES...",
		"Fits a model on images of good parts (DIR: the image files in it) and writes it, backbone included,\n"+
			"to one file. Progress goes to stderr; the stage timings and the calibration to stdout. Images that\n"+
			"cannot be read are all listed and nothing is written (exit 2), unless -skip-bad leaves them out.", stderr)
	out := fs.String("o", "", "the model file to write (required)")
	preset := fs.String("preset", "default", "settings preset: default, mvtec or paper")
	bb := fs.String("backbone", "", "ONNX backbone with layer2 and layer3 outputs (default $PNI_SHARED/models/"+backboneName+" or ../shared/models/...)")
	frr := fs.Float64("frr", 0, "target false-reject rate of the calibration, in (0, 0.5] (0 = 0.01)")
	seed := fs.Int64("seed", 0, "random seed")
	skipBad := fs.Bool("skip-bad", false, "leave unreadable images out instead of failing")
	size := fs.Int("size", 0, "resize images to NxN (0 = the preset's size); the preset's crop fraction, blur and window scale with it")
	ratio := fs.Float64("ratio", 0, "coreset ratio: the memory bank's share of training patches, in (0, 1] (0 = the preset's)")
	memLimit := fs.Int64("memlimit-mb", 3072, "soft memory limit of the Go runtime in MiB (0 = leave GOMEMLIMIT as it is)")
	quiet := fs.Bool("q", false, "no progress bar")
	paths, code, done := parse(fs, args)
	if done {
		return code
	}
	if *out == "" || len(paths) == 0 {
		fs.Usage()
		return fail(stderr, "fit", "give -o FILE and at least one DIR or image file")
	}
	paths, err := expand(paths)
	if err != nil {
		return fail(stderr, "fit", "%v", err)
	}
	if *bb == "" {
		*bb = defaultBackbone()
		if _, err := os.Stat(*bb); err != nil {
			return fail(stderr, "fit", "no backbone at %s: pass -backbone FILE (an ONNX file with layer2 and layer3 outputs) or set PNI_SHARED", *bb)
		}
	}
	opts := []pni.Option{pni.WithPreset(pni.Preset(*preset)), pni.WithSeed(*seed), pni.WithSkipBadImages(*skipBad)}
	if *size != 0 {
		// One member at that size: the preset's crop fraction, blur and
		// window scale with it.
		opts = append(opts, pni.WithMembers(pni.Member{Backbone: *bb, Size: *size}))
	} else {
		opts = append(opts, pni.WithBackbone(*bb))
	}
	if *frr != 0 {
		opts = append(opts, pni.WithFalseRejectRate(*frr))
	}
	if *ratio != 0 {
		opts = append(opts, pni.WithCoresetRatio(*ratio))
	}
	bar := &stageBar{w: stderr, quiet: *quiet}
	opts = append(opts, pni.WithProgress(bar.report))
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(*memLimit << 20))
	}

	start := time.Now()
	m, err := pni.FitFiles(ctx, paths, opts...)
	bar.stop(err == nil)
	if err != nil {
		var ie *pni.ImagesError
		if errors.As(err, &ie) {
			fmt.Fprintf(stderr, "pni fit: %d of %d images cannot be read; nothing was written:\n", len(ie.Errors), ie.Total)
			for _, e := range ie.Errors {
				fmt.Fprintf(stderr, "  %s: %s\n", e.Path, cause(e.Err))
			}
			fmt.Fprintln(stderr, "Remove or replace them, or pass -skip-bad to leave them out.")
			return exitError
		}
		return fail(stderr, "fit", "%v", err)
	}
	if err := m.SaveFile(*out); err != nil {
		return fail(stderr, "fit", "%v", err)
	}
	st, _ := os.Stat(*out)
	info := m.Info()
	fmt.Fprintf(stdout, "fitted %d images", info.TrainImages)
	if info.Skipped > 0 {
		fmt.Fprintf(stdout, " (%d unreadable left out)", info.Skipped)
	}
	fmt.Fprintf(stdout, " in %.1f s: preset %s, input %dx%d, grid %dx%d, |C_emb| %d, position %v, neighbourhood %v\n",
		time.Since(start).Seconds(), info.Preset, info.InputW, info.InputH, info.GridW, info.GridH, info.EmbSize,
		info.Position, info.Neighborhood)
	if info.NeighborhoodReport != "" {
		fmt.Fprintf(stdout, "neighbourhood part left out: %s\n", info.NeighborhoodReport)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tmember\tseconds")
	for _, t := range m.FitTimes() {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\n", t.Stage, t.Member, t.Seconds)
	}
	tw.Flush()
	printCalibration(stdout, m.Calibration())
	fmt.Fprintf(stdout, "wrote %s (%.1f MB)\n", *out, float64(st.Size())/1e6)
	return exitOK
}

// printCalibration prints how a model decides.
func printCalibration(w io.Writer, c pni.Calibration) {
	if c.Method == "" {
		fmt.Fprintln(w, "calibration: none (one training image): run pni calibrate with good images before relying on decisions")
		return
	}
	fmt.Fprintf(w, "calibration: %s on %d good images, false-reject rate %g\n", c.Method, c.Images, c.FalseRejectRate)
	fmt.Fprintf(w, "  image threshold %.4g (good scores %.4g .. %.4g), pixel threshold %.4g (normalised %.3f)",
		c.ImageThreshold, c.GoodScores[0], c.GoodScores[len(c.GoodScores)-1], c.PixelThreshold, c.PixelLevel)
	if c.Explicit {
		fmt.Fprint(w, ", set explicitly")
	}
	fmt.Fprintln(w)
}

// stageBar shows Fit's progress: one progress bar per stage, messages on
// lines of their own.
type stageBar struct {
	w     io.Writer
	quiet bool
	bar   *progressbar.ProgressBar
	stage pni.Stage
}

func (b *stageBar) report(p pni.Progress) {
	if p.Stage == pni.StageDone {
		return // the timings are printed at the end
	}
	if p.Message != "" {
		if b.bar != nil {
			b.bar.Clear()
		}
		fmt.Fprintf(b.w, "%s: %s\n", p.Stage, p.Message)
		return
	}
	if b.quiet {
		return
	}
	if b.bar == nil || p.Stage != b.stage {
		b.stop(true)
		b.stage = p.Stage
		b.bar = progressbar.NewOptions(max(p.Total, 1),
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-12s", p.Stage)),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }))
	}
	if p.Total > 0 && p.Total != b.bar.GetMax() {
		b.bar.ChangeMax(p.Total)
	}
	b.bar.Set(p.Done)
}

// stop ends the current stage's bar: completed, or where it stood when
// Fit failed.
func (b *stageBar) stop(completed bool) {
	if b.bar != nil && !b.bar.IsFinished() {
		if completed {
			b.bar.Finish()
		} else {
			b.bar.Exit()
			fmt.Fprintln(b.w)
		}
	}
	b.bar = nil
}

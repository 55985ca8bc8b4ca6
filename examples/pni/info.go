package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/x/pni"
	"github.com/x/pni/report"
)

func runInfo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("info", "info -m part.pni [-json]",
		"Describes a model: preset, seed, training images, each member's backbone, sizes, feature grid and\n"+
			"memory bank, and the calibration (thresholds, good scores).", stderr)
	modelPath := fs.String("m", "", "the model file (required)")
	asJSON := fs.Bool("json", false, "print JSON (the form GET /v1/models of pni serve gives)")
	rest, code, done := parse(fs, args)
	if done {
		return code
	}
	if *modelPath == "" || len(rest) > 0 {
		fs.Usage()
		return fail(stderr, "info", "give -m MODEL and no other argument")
	}
	m, err := pni.LoadFile(*modelPath)
	if err != nil {
		return fail(stderr, "info", "%v", err)
	}
	in, c := m.Info(), m.Calibration()
	if *asJSON {
		b, _ := json.MarshalIndent(report.NewModel(in, c), "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	st, _ := os.Stat(*modelPath)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%.1f MB)\n", *modelPath, float64(st.Size())/1e6)
	fmt.Fprintf(tw, "preset\t%s, seed %d\n", in.Preset, in.Seed)
	fmt.Fprintf(tw, "training images\t%d (%d unreadable left out)\n", in.TrainImages, in.Skipped)
	for i, mb := range in.Members {
		crop := "no crop"
		if mb.CropW > 0 {
			crop = fmt.Sprintf("crop %dx%d", mb.CropW, mb.CropH)
		}
		fmt.Fprintf(tw, "member %d\tbackbone %s\n", i, mb.Backbone)
		fmt.Fprintf(tw, "\tresize %dx%d, %s: input %dx%d, grid %dx%d, feature dim %d\n",
			mb.ResizeW, mb.ResizeH, crop, mb.InputW, mb.InputH, mb.GridW, mb.GridH, mb.Dim)
		fmt.Fprintf(tw, "\tbank |C_emb| %d, |C_dist| %d; position part %v, neighbourhood part %v\n",
			mb.EmbSize, mb.DistSize, mb.Position, mb.Neighborhood)
		if mb.NeighborhoodReport != "" {
			fmt.Fprintf(tw, "\tneighbourhood left out: %s\n", mb.NeighborhoodReport)
		}
	}
	if c.Method == "" {
		fmt.Fprintf(tw, "calibration\tnone: scores only (pni calibrate -m %s GOOD...)\n", *modelPath)
	} else {
		fmt.Fprintf(tw, "calibration\t%s on %d good images, false-reject rate %g\n", c.Method, c.Images, c.FalseRejectRate)
		fmt.Fprintf(tw, "\timage threshold %.4g, pixel threshold %.4g (normalised %.3f)", c.ImageThreshold, c.PixelThreshold, c.PixelLevel)
		if c.Explicit {
			fmt.Fprint(tw, ", set explicitly")
		}
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "\tgood scores %.4g .. %.4g\n", c.GoodScores[0], c.GoodScores[len(c.GoodScores)-1])
	}
	tw.Flush()
	return exitOK
}

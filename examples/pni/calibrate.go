package main

import (
	"context"
	"fmt"
	"image"
	"io"

	"github.com/x/pni"
	"github.com/x/pni/imageio"
)

func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("calibrate", "calibrate -m part.pni [-frr R] [-o out.pni] GOOD...",
		"Re-estimates the model's thresholds from images of good parts it has not seen (at least 2; DIR: the\n"+
			"image files in it) and writes the model back (to -o if given). Images that cannot be read are all\n"+
			"listed and nothing is written (exit 2).", stderr)
	modelPath := fs.String("m", "", "the model file (required)")
	frr := fs.Float64("frr", 0, "new target false-reject rate, in (0, 0.5] (0 = keep the model's)")
	outPath := fs.String("o", "", "write the calibrated model here instead of over -m")
	paths, code, done := parse(fs, args)
	if done {
		return code
	}
	if *modelPath == "" || len(paths) == 0 {
		fs.Usage()
		return fail(stderr, "calibrate", "give -m MODEL and good images (at least 2)")
	}
	paths, err := expand(paths)
	if err != nil {
		return fail(stderr, "calibrate", "%v", err)
	}
	if len(paths) < 2 {
		return fail(stderr, "calibrate", "give at least 2 good images, got %d", len(paths))
	}
	m, err := pni.LoadFile(*modelPath)
	if err != nil {
		return fail(stderr, "calibrate", "%v", err)
	}
	var imgs []image.Image
	var bad []string
	for _, p := range paths {
		img, err := imageio.Load(p)
		if err != nil {
			bad = append(bad, fmt.Sprintf("  %s: %s", p, cause(err)))
			continue
		}
		imgs = append(imgs, img)
	}
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "pni calibrate: %d of %d images cannot be read; the model was not changed:\n", len(bad), len(paths))
		for _, b := range bad {
			fmt.Fprintln(stderr, b)
		}
		return exitError
	}
	before := m.Calibration()
	if err := m.Calibrate(ctx, imgs); err != nil {
		return fail(stderr, "calibrate", "%v", err)
	}
	if *frr != 0 {
		if err := m.SetFalseRejectRate(*frr); err != nil {
			return fail(stderr, "calibrate", "%v", err)
		}
	}
	out := *modelPath
	if *outPath != "" {
		out = *outPath
	}
	if err := m.SaveFile(out); err != nil {
		return fail(stderr, "calibrate", "%v", err)
	}
	if before.Method != "" {
		fmt.Fprintf(stdout, "before: image threshold %.4g, pixel threshold %.4g (%s on %d images, false-reject rate %g)\n",
			before.ImageThreshold, before.PixelThreshold, before.Method, before.Images, before.FalseRejectRate)
	} else {
		fmt.Fprintln(stdout, "before: not calibrated")
	}
	printCalibration(stdout, m.Calibration())
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return exitOK
}

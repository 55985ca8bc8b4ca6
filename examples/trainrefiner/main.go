// Command trainrefiner trains a generic refinement net (package refine) on
// the good training images of several MVTec-layout folders: for each
// folder it builds cross-fitted samples (pni.RefinementSamplesFiles: a model
// fitted on one fold scores synthetic defects made from the other's good
// images), then trains one net on all of them and writes it as ONNX. Test
// images and masks are never read.
//
//	go run ./examples/trainrefiner -data ../shared/data/mvtec_ad/bottle \
//	    -data ../shared/data/mvtec_ad/grid -data ../shared/data/mvtec3d_tire -o refine/default.onnx
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/x/pni"
	"github.com/x/pni/mvtec"
	"github.com/x/pni/refine"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "trainrefiner:", err)
		os.Exit(1)
	}
}

type dirs []string

func (d *dirs) String() string     { return strings.Join(*d, ",") }
func (d *dirs) Set(v string) error { *d = append(*d, v); return nil }

func run(ctx context.Context, args []string, log io.Writer) error {
	fs := flag.NewFlagSet("trainrefiner", flag.ContinueOnError)
	fs.SetOutput(log)
	var data dirs
	fs.Var(&data, "data", "an MVTec-layout folder whose train/good images are used (repeat)")
	shared := os.Getenv("PNI_SHARED")
	if shared == "" {
		shared = "../shared"
	}
	bb := fs.String("backbone", filepath.Join(shared, "models", "resnet50-imagenet-l23.onnx"), "ONNX backbone of the models that make the maps")
	preset := fs.String("preset", "default", "preset of those models")
	out := fs.String("o", "", "output ONNX file (required)")
	size := fs.Int("size", refine.DefaultTrainSize, "working resolution")
	per := fs.Int("per-image", 3, "samples per good image (the first clean)")
	epochs := fs.Int("epochs", 10, "maximum epochs")
	seed := fs.Int64("seed", 0, "seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(data) == 0 || *out == "" {
		fs.Usage()
		return fmt.Errorf("give -data at least once and -o")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var samples []refine.TrainSample
	offset := 0
	for _, d := range data {
		ds, err := mvtec.Open(d)
		if err != nil {
			return err
		}
		paths := make([]string, len(ds.Train))
		for i, s := range ds.Train {
			paths[i] = s.Path
		}
		n0 := len(samples)
		err = pni.RefinementSamplesFiles(ctx, paths, pni.RefinementSamplesConfig{PerImage: *per, Size: *size, Seed: *seed},
			func(s pni.RefinementSample) error {
				samples = append(samples, refine.TrainSample{Image: s.Image, Map: s.Map, Mask: s.Mask, Source: offset + s.Source})
				return nil
			}, pni.WithBackbone(*bb), pni.WithPreset(pni.Preset(*preset)), pni.WithSeed(*seed))
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		offset += len(paths)
		fmt.Fprintf(log, "%s: %d samples from %d good images\n", d, len(samples)-n0, len(paths))
	}
	net, rep, err := refine.Train(ctx, samples, refine.TrainConfig{Size: *size, Epochs: *epochs, Seed: *seed,
		Progress: func(e refine.Epoch) {
			fmt.Fprintf(log, "epoch %d: train loss %.5f, validation loss %.5f (%.0fs)\n", e.N, e.TrainLoss, e.ValLoss, e.Elapsed.Seconds())
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "%s, %d parameters: best epoch %d, validation loss %.5f (unrefined map %.5f); %d train / %d validation samples; %.0fs in all, %.0fs per epoch; %.1f ms per run\n",
		rep.Config, rep.Params, rep.BestEpoch, rep.BestValLoss, rep.IdentityValLoss, rep.TrainSamples, rep.ValSamples,
		rep.TrainSeconds, rep.SecondsPerEpoch, rep.MillisecondsPerRun)
	return os.WriteFile(*out, net.Bytes(), 0o644)
}

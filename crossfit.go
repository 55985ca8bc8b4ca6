package pni

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/x/pni/backbone"
	"github.com/x/pni/imageio"
	"github.com/x/pni/refine/synth"
)

// RefinementSample is one training sample of a refinement net: a good
// image with a synthetic defect, at the net's working size, with the map a
// model that never saw the image gives it, and the defect's mask.
type RefinementSample struct {
	Image     []float32 // 3 x H x W, normalised as the backbone's input
	Map       []float32 // H x W, the normalised anomaly map (0.5 = the image threshold)
	Mask      []float32 // H x W, 1 inside the synthetic defect, 0 elsewhere
	W, H      int
	Source    int    // the training image it was made from
	Generator string // the synthetic defect's generator; "" for a clean sample (no defect)
	Fold      int
	// ModelImages are the training images of the model that made Map (Source
	// is never among them).
	ModelImages []int
}

// RefinementSamplesConfig configures RefinementSamples. Its zero value
// works.
type RefinementSamplesConfig struct {
	// Folds is the number of cross-fitting folds (0 means 2): a model is
	// fitted on all folds but one and scores the images of that one.
	Folds int
	// PerImage is the number of samples made from each image (0 means 3);
	// the first of each image's is clean (no defect), so that the net also
	// learns to leave good parts alone.
	PerImage int
	// Size is the working resolution (0 means 160 x 160).
	Size int
	// Generator makes the defects (nil means synth.Default(nil), the four
	// generators mixed equally).
	Generator synth.Generator
	// Seed fixes the folds and the defects.
	Seed int64
}

// RefinementSamples makes refinement training samples from good images by
// cross-fitting: the images are split into folds at random (by Seed); for
// each fold, a model is fitted with opts on the other folds' images, and
// each image of the fold, with synthetic defects, is scored by it. A model
// never scores an image it was fitted on, whose patches its memory bank
// would hold (scoring its own training images would teach the net that
// defects score low). Test images and ground-truth masks are never used.
// each receives every sample, in order, and may keep it or write it out, so
// memory stays bounded; its error stops the work.
func RefinementSamples(ctx context.Context, images []image.Image, cfg RefinementSamplesConfig, each func(RefinementSample) error, opts ...Option) error {
	for i, img := range images {
		if img == nil {
			return &ImageError{Index: i, Err: badArg("RefinementSamples: nil image")}
		}
	}
	return refinementSamples(ctx, len(images), func(i int) (image.Image, error) { return images[i], nil }, cfg, each, opts)
}

// RefinementSamplesFiles is RefinementSamples on image files, read when
// needed.
func RefinementSamplesFiles(ctx context.Context, paths []string, cfg RefinementSamplesConfig, each func(RefinementSample) error, opts ...Option) error {
	return refinementSamples(ctx, len(paths), func(i int) (image.Image, error) {
		img, err := imageio.Load(paths[i])
		if err != nil {
			return nil, &ImageError{Index: i, Path: paths[i], Err: err}
		}
		return img, nil
	}, cfg, each, opts)
}

func refinementSamples(ctx context.Context, n int, load func(int) (image.Image, error), cfg RefinementSamplesConfig, each func(RefinementSample) error, opts []Option) error {
	folds := cfg.Folds
	if folds == 0 {
		folds = 2
	}
	per := cfg.PerImage
	if per == 0 {
		per = 3
	}
	size := cfg.Size
	if size == 0 {
		size = 160
	}
	switch {
	case folds < 2:
		return badArg("RefinementSamples: %d folds: want at least 2", folds)
	case n < 2*folds:
		return badArg("RefinementSamples: %d images for %d folds: want at least two images per fold", n, folds)
	case per < 1 || size < 16 || size > 2048:
		return badArg("RefinementSamples: %d samples per image at %d px: want >= 1 sample and a size in [16, 2048]", per, size)
	case each == nil:
		return badArg("RefinementSamples: nil callback")
	}
	gen := cfg.Generator
	if gen == nil {
		gen = synth.Default(nil)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x706e692d666f6c64)) // "pni-fold"
	perm := rng.Perm(n)
	fold := make([]int, n)
	for k, i := range perm {
		fold[i] = k % folds
	}
	pp := backbone.Preprocess{ResizeW: size, ResizeH: size}
	for f := 0; f < folds; f++ {
		var trainIdx, scoreIdx []int
		for i := 0; i < n; i++ {
			if fold[i] == f {
				scoreIdx = append(scoreIdx, i)
			} else {
				trainIdx = append(trainIdx, i)
			}
		}
		m, err := fit(ctx, len(trainIdx), func(j int) (image.Image, error) { return load(trainIdx[j]) }, opts)
		if err != nil {
			return fmt.Errorf("pni: RefinementSamples: fold %d: %w", f, err)
		}
		c := m.cal.Load()
		if c == nil {
			return badArg("RefinementSamples: fold %d's model is not calibrated (it needs at least 2 images)", f)
		}
		bb := m.members[m.ref].bb
		for _, i := range scoreIdx {
			img, err := load(i)
			if err != nil {
				return err
			}
			for v := 0; v < per; v++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				s := RefinementSample{W: size, H: size, Source: i, Fold: f, ModelImages: trainIdx}
				in := img
				var mask *image.Gray
				if v > 0 {
					smp, err := gen.Generate(img, uint64(cfg.Seed)*1_000_003+uint64(i)*131+uint64(v))
					if err != nil {
						return fmt.Errorf("pni: RefinementSamples: image %d: %w", i, err)
					}
					in, mask = smp.Image, smp.Mask
					s.Generator = generatorName(gen, uint64(cfg.Seed)*1_000_003+uint64(i)*131+uint64(v))
				}
				r, err := m.Score(ctx, in)
				if err != nil {
					return err
				}
				if s.Image, err = bb.Input(in, pp); err != nil {
					return err
				}
				g, err := pp.Geometry(r.OrigW, r.OrigH)
				if err != nil {
					return err
				}
				src := backbone.Geometry{SrcW: r.OrigW, SrcH: r.OrigH, ResizedW: r.OrigW, ResizedH: r.OrigH, InputW: r.OrigW, InputH: r.OrigH}
				s.Map = src.Resample(r.NormMap, g)
				s.Mask = make([]float32, size*size)
				if mask != nil {
					full := make([]float32, r.OrigW*r.OrigH)
					b := mask.Bounds()
					for y := 0; y < r.OrigH; y++ {
						for x := 0; x < r.OrigW; x++ {
							if mask.GrayAt(b.Min.X+x, b.Min.Y+y).Y != 0 {
								full[y*r.OrigW+x] = 1
							}
						}
					}
					s.Mask = src.Resample(full, g)
				}
				if err := each(s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// generatorName names the generator a Mix picks for seed, or gen's own name.
func generatorName(gen synth.Generator, seed uint64) string {
	if mix, ok := gen.(*synth.Mix); ok {
		if g, _, err := mix.Pick(seed); err == nil {
			return g.Name()
		}
	}
	return gen.Name()
}

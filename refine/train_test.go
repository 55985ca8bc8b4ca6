package refine

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// squares makes samples whose map is a blurred, shifted, noisy version of
// a square mask (what an anomaly map of a defect looks like) and whose
// image carries the square's exact outline: a net that reads the image can
// sharpen the map, which the identity cannot.
func squares(n, s int, seed uint64) []TrainSample {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []TrainSample
	for i := 0; i < n; i++ {
		x0, y0, d := rng.IntN(s/2), rng.IntN(s/2), 4+rng.IntN(s/3)
		sm := TrainSample{Image: make([]float32, 3*s*s), Map: make([]float32, s*s), Mask: make([]float32, s*s), Source: i / 2}
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				in := x >= x0 && x < x0+d && y >= y0 && y < y0+d
				if in {
					sm.Mask[y*s+x] = 1
					for c := 0; c < 3; c++ {
						sm.Image[c*s*s+y*s+x] = 1.5
					}
				}
				// The map: the square grown by 3 pixels at half strength, plus noise.
				near := x >= x0-3 && x < x0+d+3 && y >= y0-3 && y < y0+d+3
				v := float32(0.1)
				if near {
					v = 0.6
				}
				sm.Map[y*s+x] = v + 0.05*float32(rng.NormFloat64())
			}
		}
		out = append(out, sm)
	}
	return out
}

func TestTrainLearns(t *testing.T) {
	samples := squares(48, 32, 3)
	cfg := TrainConfig{Size: 32, Base: 4, Depth: 2, Epochs: 12, LR: 3e-3, Seed: 5}
	var epochs int
	cfg.Progress = func(Epoch) { epochs++ }
	net, rep, err := Train(context.Background(), samples, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if epochs != len(rep.Epochs) || rep.TrainSamples+rep.ValSamples != 48 || rep.ValSamples == 0 {
		t.Errorf("report %+v, %d progress calls", rep, epochs)
	}
	if !(rep.BestValLoss < 0.7*rep.IdentityValLoss) {
		t.Errorf("validation loss %.4f, not well below the identity's %.4f", rep.BestValLoss, rep.IdentityValLoss)
	}
	if w, h := net.Size(); w != 32 || h != 32 {
		t.Errorf("net size %dx%d", w, h)
	}
	// Deterministic given the seed.
	cfg.Progress = nil
	net2, _, err := Train(context.Background(), samples, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(net.Bytes(), net2.Bytes()) {
		t.Error("two trainings with one seed give different nets")
	}
}

func TestTrainErrors(t *testing.T) {
	ctx := context.Background()
	samples := squares(4, 32, 1)
	for name, c := range map[string]TrainConfig{
		"size not a multiple": {Size: 30, Depth: 2},
		"depth 9":             {Size: 32, Depth: 9},
		"val fraction 1":      {Size: 32, Depth: 2, ValFraction: 1},
	} {
		if _, _, err := Train(ctx, samples, c); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := Train(ctx, samples, TrainConfig{Size: 64, Depth: 2}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("samples of another size: %v", err)
	}
	one := squares(2, 32, 1) // one source
	if _, _, err := Train(ctx, one, TrainConfig{Size: 32, Depth: 2}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("one source: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Train(cctx, samples, TrainConfig{Size: 32, Base: 2, Depth: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

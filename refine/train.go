package refine

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/x/pni/internal/errs"
	"github.com/x/pni/internal/nn"
)

// TrainSample is one training sample at the working size S x S: the
// normalised image (3 x S x S, the backbone's normalisation), the
// normalised anomaly map a model gave it (S x S) and the synthetic
// defect's mask (S x S, 1 inside, 0 elsewhere), the target. Source groups
// the samples of one training image (validation holds whole sources out).
type TrainSample struct {
	Image, Map, Mask []float32
	Source           int
}

// TrainConfig configures Train; its zero value gives the defaults.
type TrainConfig struct {
	// Size is the working resolution (square; 0 means DefaultTrainSize). It
	// must be a multiple of 2^Depth.
	Size int
	// Base and Depth shape the U-Net (0 means 8 and 3: about 0.1M
	// parameters, a few tens of milliseconds per image at 128 px on 2 cores).
	Base, Depth int
	// Epochs is the maximum number of passes over the training samples (0
	// means 12); BatchSize the mini-batch (0 means 8); LR Adam's learning
	// rate (0 means 1e-3).
	Epochs, BatchSize int
	LR                float64
	// ValFraction of the sources is held out for validation and early
	// stopping (0 means 0.15; at least one source).
	ValFraction float64
	// Patience is the number of epochs without a lower validation loss
	// after which training stops (0 means 3); the best epoch's weights are
	// kept.
	Patience int
	// Seed fixes the initialisation, the split, the order and the flips.
	Seed int64
	// Progress, when not nil, is called after every epoch.
	Progress func(Epoch)
}

// DefaultTrainSize is the working resolution Train uses when TrainConfig.Size is 0.
const DefaultTrainSize = 128

// Epoch reports one training epoch.
type Epoch struct {
	N         int
	TrainLoss float64 // mean loss over the epoch's batches
	ValLoss   float64 // loss on the validation samples
	Elapsed   time.Duration
}

// TrainReport summarises a training run.
type TrainReport struct {
	Epochs             []Epoch
	TrainSamples       int
	ValSamples         int
	BestEpoch          int
	BestValLoss        float64
	IdentityValLoss    float64 // the loss of returning the input map unchanged, for comparison
	Params             int
	Config             string
	TrainSeconds       float64
	SecondsPerEpoch    float64
	MillisecondsPerRun float64 // the exported net on one input, measured after training
}

type trainCfg struct {
	size, base, depth, epochs, batch, patience int
	lr, val                                    float64
}

func (c TrainConfig) resolve() (trainCfg, error) {
	r := trainCfg{size: cmp.Or(c.Size, DefaultTrainSize), base: cmp.Or(c.Base, 8), depth: cmp.Or(c.Depth, 3),
		epochs: cmp.Or(c.Epochs, 12), batch: cmp.Or(c.BatchSize, 8), patience: cmp.Or(c.Patience, 3),
		lr: cmp.Or(c.LR, 1e-3), val: cmp.Or(c.ValFraction, 0.15)}
	switch {
	case r.depth < 1 || r.depth > 5 || r.base < 1 || r.base > 64:
		return r, errs.Arg("refine: TrainConfig: base %d, depth %d: want 1..64 and 1..5", r.base, r.depth)
	case r.size < 16 || r.size > 1024 || r.size%(1<<r.depth) != 0:
		return r, errs.Arg("refine: TrainConfig: size %d must be in [16, 1024] and a multiple of 2^depth = %d", r.size, 1<<r.depth)
	case r.epochs < 1 || r.batch < 1 || r.patience < 1 || !(r.lr > 0) || !(r.val > 0 && r.val < 1):
		return r, errs.Arg("refine: TrainConfig: epochs %d, batch %d, patience %d, LR %v, validation fraction %v out of range",
			r.epochs, r.batch, r.patience, r.lr, r.val)
	}
	return r, nil
}

// Validate reports whether c can be used (the error Train would give).
func (c TrainConfig) Validate() error {
	_, err := c.resolve()
	return err
}

// Train trains a refinement net in pure Go on samples: a compact U-Net over
// the image and the map (pred = map + f(image, map), internal/nn) with the
// PNI loss l = (l_reg + l_grad)/2 against the mask, Adam, shuffled
// mini-batches, random flips, whole sources held out for validation, and
// early stopping that keeps the best epoch's weights. It is deterministic
// given the seed and the samples' order, and returns the net exported to
// ONNX and loaded back (so it runs exactly as a saved one). ctx is checked
// between batches.
func Train(ctx context.Context, samples []TrainSample, cfg TrainConfig) (*Net, TrainReport, error) {
	var rep TrainReport
	rc, err := cfg.resolve()
	if err != nil {
		return nil, rep, err
	}
	s := rc.size
	for i, x := range samples {
		if len(x.Image) != 3*s*s || len(x.Map) != s*s || len(x.Mask) != s*s {
			return nil, rep, errs.Arg("refine: Train: sample %d has %d/%d/%d values, want 3x%d x %d, %d x %d and %d x %d",
				i, len(x.Image), len(x.Map), len(x.Mask), s, s, s, s, s, s)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x706e692d726e6574)) // "pni-rnet"
	// Hold out whole sources.
	var sources []int
	for _, x := range samples {
		sources = append(sources, x.Source)
	}
	slices.Sort(sources)
	sources = slices.Compact(sources)
	if len(sources) < 2 {
		return nil, rep, errs.Arg("refine: Train: samples from %d source images; want at least 2 (one is held out)", len(sources))
	}
	rng.Shuffle(len(sources), func(i, j int) { sources[i], sources[j] = sources[j], sources[i] })
	nVal := max(1, int(math.Round(rc.val*float64(len(sources)))))
	valSrc := map[int]bool{}
	for _, v := range sources[:nVal] {
		valSrc[v] = true
	}
	var train, val []int
	for i, x := range samples {
		if valSrc[x.Source] {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	rep.TrainSamples, rep.ValSamples = len(train), len(val)
	u, err := nn.NewUNet(nn.Config{InChannels: 4, Base: rc.base, Depth: rc.depth}, uint64(cfg.Seed))
	if err != nil {
		return nil, rep, err
	}
	rep.Params, rep.Config = u.NumParams(), u.Config.String()
	opt := nn.NewAdam(u.NumParams(), rc.lr)
	x, t := nn.NewTensor(rc.batch, 4, s, s), nn.NewTensor(rc.batch, 1, s, s)
	fill := func(j int, idx int, fx, fy bool) {
		sm := samples[idx]
		for c := 0; c < 4; c++ {
			src := sm.Map
			if c < 3 {
				src = sm.Image[c*s*s : (c+1)*s*s]
			}
			flipInto(x.Data[(j*4+c)*s*s:(j*4+c+1)*s*s], src, s, fx, fy)
		}
		flipInto(t.Data[j*s*s:(j+1)*s*s], sm.Mask, s, fx, fy)
	}
	evalLoss := func() float64 {
		var sum float64
		for lo := 0; lo < len(val); lo += rc.batch {
			b := min(rc.batch, len(val)-lo)
			xb, tb := nn.NewTensor(b, 4, s, s), nn.NewTensor(b, 1, s, s)
			x, t = xb, tb
			for j := 0; j < b; j++ {
				fill(j, val[lo+j], false, false)
			}
			l, _ := nn.Loss(u.Forward(xb), tb, nil)
			sum += l * float64(b)
		}
		return sum / float64(len(val))
	}
	// The identity baseline: the map itself.
	{
		var sum float64
		for _, i := range val {
			mp := &nn.Tensor{N: 1, C: 1, H: s, W: s, Data: samples[i].Map}
			mk := &nn.Tensor{N: 1, C: 1, H: s, W: s, Data: samples[i].Mask}
			l, _ := nn.Loss(mp, mk, nil)
			sum += l
		}
		rep.IdentityValLoss = sum / float64(len(val))
	}
	best := math.Inf(1)
	var bestW []float32
	stale := 0
	start := time.Now()
	for ep := 1; ep <= rc.epochs; ep++ {
		t0 := time.Now()
		order := slices.Clone(train)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sum float64
		steps := 0
		for lo := 0; lo+rc.batch <= len(order) || (lo < len(order) && steps == 0); lo += rc.batch {
			if err := ctx.Err(); err != nil {
				return nil, rep, err
			}
			b := min(rc.batch, len(order)-lo)
			if x.N != b {
				x, t = nn.NewTensor(b, 4, s, s), nn.NewTensor(b, 1, s, s)
			}
			for j := 0; j < b; j++ {
				fill(j, order[lo+j], rng.IntN(2) == 1, rng.IntN(2) == 1)
			}
			sum += u.Step(x, t, opt)
			steps++
		}
		e := Epoch{N: ep, TrainLoss: sum / float64(steps), ValLoss: evalLoss(), Elapsed: time.Since(t0)}
		x, t = nn.NewTensor(rc.batch, 4, s, s), nn.NewTensor(rc.batch, 1, s, s)
		if math.IsNaN(e.TrainLoss) || math.IsInf(e.TrainLoss, 0) {
			return nil, rep, fmt.Errorf("refine: Train: training diverged at epoch %d; lower TrainConfig.LR", ep)
		}
		rep.Epochs = append(rep.Epochs, e)
		if cfg.Progress != nil {
			cfg.Progress(e)
		}
		if e.ValLoss < best {
			best, rep.BestEpoch, stale = e.ValLoss, ep, 0
			bestW = slices.Clone(u.Params.Data)
		} else if stale++; stale >= rc.patience {
			break
		}
	}
	copy(u.Params.Data, bestW)
	rep.BestValLoss = best
	rep.TrainSeconds = time.Since(start).Seconds()
	rep.SecondsPerEpoch = rep.TrainSeconds / float64(len(rep.Epochs))
	data, err := u.ExportONNX(nn.ExportOptions{Width: s, Height: s, Metadata: map[string]string{
		"pni.refine.trained": fmt.Sprintf("%d samples, best epoch %d of %d, val loss %.5f (identity %.5f)", len(train), rep.BestEpoch, len(rep.Epochs), best, rep.IdentityValLoss),
	}})
	if err != nil {
		return nil, rep, err
	}
	net, err := LoadBytes(data)
	if err != nil {
		return nil, rep, err
	}
	t1 := time.Now()
	if _, err := net.Run(ctx, make([]float32, 3*s*s), make([]float32, s*s)); err != nil {
		return nil, rep, err
	}
	rep.MillisecondsPerRun = float64(time.Since(t1).Microseconds()) / 1000
	return net, rep, nil
}

// flipInto copies the s x s plane src into dst, flipped horizontally (fx)
// and/or vertically (fy).
func flipInto(dst, src []float32, s int, fx, fy bool) {
	for y := 0; y < s; y++ {
		sy := y
		if fy {
			sy = s - 1 - y
		}
		row := src[sy*s : (sy+1)*s]
		out := dst[y*s : (y+1)*s]
		if !fx {
			copy(out, row)
			continue
		}
		for x := range out {
			out[x] = row[s-1-x]
		}
	}
}

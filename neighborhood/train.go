package neighborhood

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

type resolved struct {
	window, epochs, batch, patience int
	maxRows                         int // < 0: all rows
	hidden                          []int
	lr, valFrac, temp               float64
}

// Validate reports whether cfg can be used: the error Train would return
// for it, before any data is given (zero fields take their defaults).
func (cfg Config) Validate() error {
	_, err := cfg.resolve()
	return err
}

func (cfg *Config) resolve() (resolved, error) {
	r := resolved{
		window:   cmp.Or(cfg.Window, DefaultWindow),
		epochs:   cmp.Or(cfg.Epochs, DefaultEpochs),
		batch:    cmp.Or(cfg.BatchSize, DefaultBatchSize),
		patience: cmp.Or(cfg.Patience, DefaultPatience),
		maxRows:  cmp.Or(cfg.MaxRowsPerEpoch, DefaultMaxRowsPerEpoch),
		hidden:   cfg.Hidden,
		lr:       cmp.Or(cfg.LR, DefaultLR),
		valFrac:  cmp.Or(cfg.ValFraction, DefaultValFraction),
		temp:     cmp.Or(cfg.Temperature, DefaultTemperature),
	}
	if r.window < 3 || r.window%2 == 0 {
		return r, badArg("Config.Window", fmt.Sprintf("%d: must be odd and at least 3 (or 0 for %d)", r.window, DefaultWindow))
	}
	if r.hidden == nil {
		r.hidden = DefaultHidden
	}
	for _, hw := range r.hidden {
		if hw <= 0 {
			return r, badArg("Config.Hidden", fmt.Sprintf("%v: widths must be positive", r.hidden))
		}
	}
	switch {
	case r.epochs < 0:
		return r, badArg("Config.Epochs", fmt.Sprintf("%d: must be positive (or 0 for %d)", r.epochs, DefaultEpochs))
	case r.batch < 0:
		return r, badArg("Config.BatchSize", fmt.Sprintf("%d: must be positive (or 0 for %d)", r.batch, DefaultBatchSize))
	case r.patience < 0:
		return r, badArg("Config.Patience", fmt.Sprintf("%d: must be positive (or 0 for %d)", r.patience, DefaultPatience))
	case !(r.lr > 0) || math.IsInf(r.lr, 0):
		return r, badArg("Config.LR", fmt.Sprintf("%v: must be positive and finite", r.lr))
	case !(r.valFrac < 1) || math.IsNaN(r.valFrac):
		return r, badArg("Config.ValFraction", fmt.Sprintf("%v: must be below 1 (negative disables validation)", r.valFrac))
	case !(r.temp > 0) || math.IsInf(r.temp, 0):
		return r, badArg("Config.Temperature", fmt.Sprintf("%v: must be positive and finite", r.temp))
	}
	return r, nil
}

// Train learns p(c | N_p(x)). reduced holds n images × h × w × R features,
// already passed through red (red may be nil, then R = len(reduced)/(n·h·w)
// and only PredictReduced works on the result); targets holds n × h × w class
// indices in [0, classes): for each position, the index of the C_dist element
// nearest to the true centre feature; classes = |C_dist|.
//
// The MLP has ReLU hidden layers (cfg.Hidden) and is trained with softmax
// cross-entropy and Adam on seeded shuffled mini-batches, whose inputs are
// assembled on the fly; each epoch draws a fresh sample of at most
// cfg.MaxRowsPerEpoch training positions. Whole images are held out for validation; training
// stops early when the validation loss has not improved for cfg.Patience
// epochs, and the weights of the best validation epoch are kept. Features are
// standardised per reduced dimension with statistics of the training images.
//
// Train checks ctx between mini-batches and returns ctx's error when it is
// cancelled. Bad shapes or values give an error matching ErrInvalidArgument.
func Train(ctx context.Context, red *Reducer, reduced []float32, n, h, w int, targets []int32, classes int, cfg Config) (*Model, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	switch {
	case n <= 0 || h <= 0 || w <= 0:
		return nil, badArg("shape", fmt.Sprintf("n=%d h=%d w=%d: all must be positive", n, h, w))
	case n*h*w > math.MaxInt32:
		return nil, badArg("shape", fmt.Sprintf("n*h*w = %d positions is more than 2^31-1", n*h*w))
	case classes <= 0:
		return nil, badArg("classes", fmt.Sprintf("%d: must be positive (|C_dist|)", classes))
	case len(targets) != n*h*w:
		return nil, badArg("targets", fmt.Sprintf("has %d entries, want n*h*w = %d", len(targets), n*h*w))
	}
	rows := n * h * w
	var r int
	if red != nil {
		if err := red.check(); err != nil {
			return nil, err
		}
		r = red.r
		if len(reduced) != rows*r {
			return nil, badArg("reduced", fmt.Sprintf("has %d values, want n*h*w*R = %d*%d*%d*%d = %d", len(reduced), n, h, w, r, rows*r))
		}
	} else {
		if len(reduced) == 0 || len(reduced)%rows != 0 {
			return nil, badArg("reduced", fmt.Sprintf("has %d values, not a positive multiple of n*h*w = %d", len(reduced), rows))
		}
		r = len(reduced) / rows
	}
	for i, t := range targets {
		if t < 0 || int(t) >= classes {
			return nil, badArg("targets", fmt.Sprintf("targets[%d] = %d is outside [0, classes=%d)", i, t, classes))
		}
	}

	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_4e49_6e62_6864))
	offs := offsets(rc.window)
	in := len(offs) * r
	m := &Model{reducer: red, window: rc.window, temperature: float32(rc.temp), classes: classes}

	// Split by image.
	var trainRows, valRows []int32
	m.report.ValImages, trainRows, valRows = splitByImage(rng, n, h*w, rc.valFrac)
	perEpoch := len(trainRows)
	if rc.maxRows > 0 {
		perEpoch = min(perEpoch, rc.maxRows)
		valRows = sampleRows(rng, valRows, max(rc.maxRows/3, MinValRows))
	}

	// Standardisation statistics over the training images.
	mean, scale, err := standardise(reduced, r, trainRows)
	if err != nil {
		return nil, err
	}
	m.inMean, m.inScale = mean, scale

	sizes := append(append([]int{in}, rc.hidden...), classes)
	if classes == 1 {
		m.layers = []dense{{In: in, Out: 1, W: make([]float32, in), B: make([]float32, 1)}}
		m.report.Skipped, m.report.BestValTop1 = true, math.NaN()
		m.report.Reason = "a single class: p(c|N_p(x)) = 1 everywhere, nothing to learn"
		return m, nil
	}
	nt := initNet(sizes, rng)
	opt := newAdam(nt, rc.lr)
	bsz := min(rc.batch, perEpoch)
	ws := newWorkspace(sizes, bsz, true)
	var evalWS *workspace
	if len(valRows) > 0 {
		evalWS = newWorkspace(sizes, min(max(rc.batch, predictChunk), len(valRows)), false)
	}
	var bestW, bestB [][]float32
	bestLoss, bestTop1 := math.Inf(1), math.NaN()
	stale := 0
	batchTargets := make([]int32, bsz)
	for ep := 1; ep <= rc.epochs; ep++ {
		start := time.Now()
		epochRows := partialShuffle(rng, trainRows, perEpoch)
		var sum float64
		for lo := 0; lo < perEpoch; lo += bsz {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hi := min(lo+bsz, perEpoch)
			b := hi - lo
			batch := epochRows[lo:hi]
			assemble(reduced, h, w, r, offs, mean, scale, batch, ws.acts[0][:b*in])
			for i, k := range batch {
				batchTargets[i] = targets[k]
			}
			forward(sizes, nt.w, nt.b, ws, b)
			loss, _ := lossGrad(sizes, ws, b, batchTargets[:b], true)
			backward(nt, ws, b)
			opt.step(nt, ws)
			sum += loss
		}
		e := Epoch{N: ep, Rows: perEpoch, ValRows: len(valRows), TrainLoss: sum / float64(perEpoch), ValLoss: math.NaN(), ValTop1: math.NaN()}
		if math.IsNaN(e.TrainLoss) || math.IsInf(e.TrainLoss, 0) {
			return nil, fmt.Errorf("neighborhood: training diverged at epoch %d (loss %v); lower Config.LR", ep, e.TrainLoss)
		}
		if evalWS != nil {
			vl, vc, err := evaluate(ctx, nt, sizes, evalWS, reduced, h, w, r, offs, mean, scale, valRows, targets)
			if err != nil {
				return nil, err
			}
			e.ValLoss, e.ValTop1 = vl, vc
		}
		e.Elapsed = time.Since(start)
		m.report.Epochs = append(m.report.Epochs, e)
		if cfg.Progress != nil {
			cfg.Progress(e)
		}
		if evalWS == nil {
			continue
		}
		if e.ValLoss < bestLoss {
			bestLoss, bestTop1, stale = e.ValLoss, e.ValTop1, 0
			bestW, bestB = snapshot(nt.w, bestW), snapshot(nt.b, bestB)
		} else if stale++; stale >= rc.patience {
			break
		}
	}
	if bestW != nil {
		nt.w, nt.b = bestW, bestB
	}
	m.report.BestValTop1 = bestTop1
	for l := 0; l < len(sizes)-1; l++ {
		m.layers = append(m.layers, dense{In: sizes[l], Out: sizes[l+1], W: nt.w[l], B: nt.b[l]})
	}
	return m, nil
}

// evaluate returns the mean cross-entropy and top-1 accuracy over rows.
func evaluate(ctx context.Context, nt *net, sizes []int, ws *workspace, grid []float32, h, w, r int, offs [][2]int,
	mean, scale []float32, rows []int32, targets []int32) (float64, float64, error) {
	in := sizes[0]
	tg := make([]int32, ws.bsz)
	var loss float64
	var correct int
	for lo := 0; lo < len(rows); lo += ws.bsz {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		hi := min(lo+ws.bsz, len(rows))
		b := hi - lo
		assemble(grid, h, w, r, offs, mean, scale, rows[lo:hi], ws.acts[0][:b*in])
		for i, k := range rows[lo:hi] {
			tg[i] = targets[k]
		}
		forward(sizes, nt.w, nt.b, ws, b)
		l, c := lossGrad(sizes, ws, b, tg[:b], false)
		loss += l
		correct += c
	}
	return loss / float64(len(rows)), float64(correct) / float64(len(rows)), nil
}

// standardise returns per-dimension mean and 1/std of the reduced features at
// rows (float64 accumulation); a dimension with no spread gets scale 1.
func standardise(grid []float32, r int, rows []int32) ([]float32, []float32, error) {
	s := make([]float64, r)
	s2 := make([]float64, r)
	for _, k := range rows {
		for j, v := range grid[int(k)*r : (int(k)+1)*r] {
			f := float64(v)
			s[j] += f
			s2[j] += f * f
		}
	}
	mean := make([]float32, r)
	scale := make([]float32, r)
	cnt := float64(len(rows))
	for j := range s {
		if math.IsNaN(s2[j]) || math.IsInf(s2[j], 0) {
			return nil, nil, badArg("reduced", "contains NaN or Inf values")
		}
		mu := s[j] / cnt
		v := s2[j]/cnt - mu*mu
		mean[j] = float32(mu)
		scale[j] = 1
		if v > 1e-12*(mu*mu+1) {
			scale[j] = float32(1 / math.Sqrt(v))
		}
	}
	return mean, scale, nil
}

func initNet(sizes []int, rng *rand.Rand) *net {
	L := len(sizes) - 1
	nt := &net{sizes: sizes, w: make([][]float32, L), b: make([][]float32, L)}
	for l := 0; l < L; l++ {
		in, out := sizes[l], sizes[l+1]
		std := math.Sqrt(2 / float64(in)) // He init for ReLU layers
		if l == L-1 {
			std = math.Sqrt(1 / float64(in))
		}
		wl := make([]float32, in*out)
		for i := range wl {
			wl[i] = float32(rng.NormFloat64() * std)
		}
		nt.w[l] = wl
		nt.b[l] = make([]float32, out)
	}
	return nt
}

func snapshot(src, dst [][]float32) [][]float32 {
	if dst == nil {
		dst = make([][]float32, len(src))
		for i := range src {
			dst[i] = make([]float32, len(src[i]))
		}
	}
	for i := range src {
		copy(dst[i], src[i])
	}
	return dst
}

// sampleRows returns rows unchanged when it has at most k entries, else a
// uniform sample of k of them drawn with rng, in increasing order.
func sampleRows(rng *rand.Rand, rows []int32, k int) []int32 {
	if len(rows) <= k {
		return rows
	}
	s := partialShuffle(rng, slices.Clone(rows), k)
	slices.Sort(s)
	return s
}

// partialShuffle runs the first k steps of a Fisher–Yates shuffle of rows in
// place and returns rows[:k]: a uniform sample of k rows without
// replacement, in random order.
func partialShuffle(rng *rand.Rand, rows []int32, k int) []int32 {
	for i := range k {
		j := i + rng.IntN(len(rows)-i)
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows[:k]
}

// splitByImage draws round(n·frac) validation images (at least 1 when n > 1
// and frac > 0, at most n−1) and returns them sorted, with the position rows
// (image·hw + position) of the training and validation images.
func splitByImage(rng *rand.Rand, n, hw int, frac float64) (valImages []int, trainRows, valRows []int32) {
	perm := rng.Perm(n)
	nVal := 0
	if n > 1 && frac > 0 {
		nVal = min(max(1, int(math.Round(float64(n)*frac))), n-1)
	}
	isVal := make([]bool, n)
	for _, i := range perm[:nVal] {
		isVal[i] = true
	}
	trainRows = make([]int32, 0, (n-nVal)*hw)
	valRows = make([]int32, 0, nVal*hw)
	for img := 0; img < n; img++ {
		if isVal[img] {
			valImages = append(valImages, img)
		}
		for p := 0; p < hw; p++ {
			k := int32(img*hw + p)
			if isVal[img] {
				valRows = append(valRows, k)
			} else {
				trainRows = append(trainRows, k)
			}
		}
	}
	return valImages, trainRows, valRows
}

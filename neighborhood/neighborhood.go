package neighborhood

import (
	"fmt"
	"time"
)

// Defaults used for zero Config fields.
//
// Cost per training step (BenchmarkStep: R=64, 2048 classes, 2 cores shared
// with other work at load average ≈ 3), reported per 50,000-row epoch
// without validation, for batch 128/256/512: p=5 (1536 inputs) hidden
// {256,256} 5.3/4.6/4.2 s, {512} 8.5/7.2/6.6 s, {512,512} 10.4/8.6/7.8 s,
// {1024,1024} 20.9/18.1/16.1 s; p=9 (5120 inputs) {512,512} 16.7/14.0/12.8 s.
// The defaults (at most 5 epochs of 50,000 sampled rows, {512,512}, batch
// 256) keep a 200-image category under a minute at a 28×28 grid and around
// 1.5 minutes at 60×60 with p=9 on that loaded machine (see the package
// documentation). Full passes (3 × 156,800 rows at 28×28) reached
// validation top-1 0.73 on MVTec bottle; the sampled default sees at most
// 250,000 rows, and its accuracy on real features was not measured here.
const (
	DefaultWindow      = 5
	DefaultEpochs      = 5
	DefaultBatchSize   = 256
	DefaultLR          = 1e-3
	DefaultValFraction = 0.1
	DefaultPatience    = 2
	DefaultTemperature = 2
	// DefaultMaxRowsPerEpoch is the number of training rows sampled per
	// epoch when Config.MaxRowsPerEpoch is 0.
	DefaultMaxRowsPerEpoch = 50000
	// MinValRows is the least number of validation rows kept when
	// validation is capped (see Config.MaxRowsPerEpoch).
	MinValRows = 20000
)

// DefaultHidden is the hidden-layer widths used when Config.Hidden is nil.
var DefaultHidden = []int{512, 512}

// Config controls Train. Its zero value gives the documented defaults.
type Config struct {
	// Window is p: the neighbourhood is the p×p box around a position minus
	// the centre, zero-padded outside the grid. Must be odd and ≥ 3; 0 means
	// DefaultWindow (5). PNI uses 9 on a 60×60 grid: the caller sets it.
	Window int
	// Hidden holds the hidden-layer widths (ReLU); nil means DefaultHidden.
	// An empty non-nil slice gives a linear (softmax-regression) model.
	Hidden []int
	// Epochs is the maximum number of epochs; 0 means DefaultEpochs.
	Epochs int
	// MaxRowsPerEpoch bounds the cost of an epoch: each epoch trains on a
	// fresh seeded uniform sample (without replacement) of this many training
	// rows (positions), or on all of them when there are fewer. It also caps
	// validation at max(MaxRowsPerEpoch/3, MinValRows) positions of the
	// held-out images, sampled once. 0 means DefaultMaxRowsPerEpoch; a
	// negative value trains every epoch on all training rows and validates
	// on all held-out positions.
	MaxRowsPerEpoch int
	// BatchSize is the mini-batch size; 0 means DefaultBatchSize.
	BatchSize int
	// LR is Adam's learning rate (β1 0.9, β2 0.999, ε 1e-8); 0 means DefaultLR.
	LR float64
	// ValFraction is the fraction of whole images held out for validation
	// (rounded, at least one image when there are two or more images); 0 means
	// DefaultValFraction, a negative value disables validation (and so early
	// stopping: the last epoch's weights are kept).
	ValFraction float64
	// Patience is the number of epochs without a lower validation loss after
	// which training stops; 0 means DefaultPatience.
	Patience int
	// Temperature T of softmax(logits/T) at prediction; 0 means
	// DefaultTemperature (2, as the released PNI code).
	Temperature float64
	// Seed drives weight initialisation, the validation split and batch
	// shuffling. Training is deterministic given the seed, the inputs and
	// GOMAXPROCS-independent kernels.
	Seed int64
	// Progress, if non-nil, is called after every epoch.
	Progress func(Epoch)
}

// Epoch describes one finished training epoch.
type Epoch struct {
	N         int     // 1-based epoch number
	Rows      int     // training rows (positions) used in this epoch
	ValRows   int     // validation rows evaluated; 0 without validation
	TrainLoss float64 // mean training cross-entropy over the epoch (T = 1)
	ValLoss   float64 // validation cross-entropy (T = 1); NaN without validation
	ValTop1   float64 // fraction of validation positions whose argmax is the target; NaN without validation
	Elapsed   time.Duration
}

// Report summarises a training run.
type Report struct {
	Epochs []Epoch
	// BestValTop1 is the validation top-1 accuracy of the kept weights (the
	// epoch with the lowest validation loss); NaN without validation.
	BestValTop1 float64
	// Skipped is true when no optimisation was run because there was nothing
	// to learn (a single class): the model then predicts that class with
	// probability 1 everywhere. Reason says why.
	Skipped bool
	Reason  string
	// ValImages lists, in increasing order, the images held out for
	// validation (their positions were never trained on).
	ValImages []int
}

// Dense is one fully connected layer: out = in·W + B.
type Dense struct {
	In, Out int
	W       []float32 // In×Out, row-major
	B       []float32 // Out
}

// Model is a trained neighbourhood MLP. Its exported fields are the complete
// state (the root package may serialise them); prediction reads Layers as
// they are (no cached copies), so a Model may be built field by field.
type Model struct {
	// Reducer maps full-dimension features for Predict; nil allows only
	// PredictReduced.
	Reducer *Reducer
	// Window is p (odd, ≥ 3).
	Window int
	// Temperature T of softmax(logits/T).
	Temperature float32
	// Classes is |C_dist|, the width of the output layer.
	Classes int
	// InMean and InScale (length R each, or nil) standardise each reduced
	// neighbour before it enters the MLP: (v − InMean)·InScale. Zero padding
	// outside the grid is applied after standardisation.
	InMean, InScale []float32
	// Layers are the dense layers, ReLU between them, none after the last.
	Layers []Dense
	// Report is the training report.
	Report Report
}

// InputError reports an argument that cannot be used, and why.
type InputError struct {
	Arg     string // the offending argument or field
	Problem string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("neighborhood: invalid %s: %s", e.Arg, e.Problem)
}

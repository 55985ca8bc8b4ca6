package neighborhood

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Defaults used for zero Config fields.
//
// Cost was measured on 2 shared cores (BenchmarkStep, extrapolated to one
// epoch over a 200-image category at a 28×28 grid: 156,800 rows, R=64, p=5,
// 2048 classes): hidden {256,256} 20 s, {512} 30 s, {512,512} 36 s,
// {1024,1024} 79 s per epoch at batch 256; batch 512 saves 10-20%, batch 128
// costs 25-30% more. {512,512} at batch 256 keeps a 6-epoch run to a few
// minutes while staying close to the prototype's (1024,1024). Accuracy on
// real features was not measured here.
const (
	DefaultWindow      = 5
	DefaultEpochs      = 6
	DefaultBatchSize   = 256
	DefaultLR          = 1e-3
	DefaultValFraction = 0.1
	DefaultPatience    = 2
	DefaultTemperature = 2
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
	// Epochs is the maximum number of passes over the training rows;
	// 0 means DefaultEpochs.
	Epochs int
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
// state (the root package may serialise them); an internal cache of
// transposed weights is built on first prediction, so do not modify Layers
// after predicting, and
// do not copy a Model by value (use *Model).
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

	cache atomic.Pointer[predCache]
}

// InputError reports an argument that cannot be used, and why.
type InputError struct {
	Arg     string // the offending argument or field
	Problem string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("neighborhood: invalid %s: %s", e.Arg, e.Problem)
}

package neighborhood

import (
	"time"

	"github.com/x/pni/internal/errs"
)

// Defaults used for zero Config fields. They keep an epoch's cost fixed
// whatever the grid (DefaultMaxRowsPerEpoch sampled rows): the README has
// the measured cost per epoch.
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

// dense is one fully connected layer: out = in·W + B.
type dense struct {
	In, Out int
	W       []float32 // In×Out, row-major
	B       []float32 // Out
}

// Model is a trained neighbourhood MLP. It is immutable and safe for
// concurrent Predict calls; it serialises itself (MarshalBinary /
// UnmarshalBinary).
type Model struct {
	reducer     *Reducer // maps full-dimension features for Predict; nil allows only PredictReduced
	window      int      // p (odd, >= 3)
	temperature float32  // T of softmax(logits/T)
	classes     int      // |C_dist|, the width of the output layer
	// inMean and inScale (length R each, or nil) standardise each reduced
	// neighbour before it enters the MLP: (v − inMean)·inScale. Zero padding
	// outside the grid is applied after standardisation.
	inMean, inScale []float32
	layers          []dense // ReLU between them, none after the last
	report          Report
}

// Window returns the neighbourhood window p.
func (m *Model) Window() int { return m.window }

// Classes returns the number of output classes, |C_dist|.
func (m *Model) Classes() int { return m.classes }

// FeatureDim returns the feature dimension D that Predict takes, or 0 for a
// model without a reducer (PredictReduced only).
func (m *Model) FeatureDim() int {
	if m.reducer == nil {
		return 0
	}
	return m.reducer.d
}

// Report returns the training report (the zero Report for a decoded model:
// the report is not serialised).
func (m *Model) Report() Report { return m.report }

// ErrInvalidArgument matches (errors.Is) every error this package returns
// for bad arguments; it is the same value as pni.ErrInvalidArgument.
var ErrInvalidArgument = errs.ErrInvalidArgument

// badArg is the package's invalid-argument error.
func badArg(arg, problem string) error {
	return errs.Arg("neighborhood: invalid %s: %s", arg, problem)
}

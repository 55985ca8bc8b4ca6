package pni

import (
	"fmt"
	"io"
	"math"
	"os"

	"github.com/x/pni/neighborhood"
)

// Preset names a family of settings: input size, crop, coreset ratio, blur,
// the PNI parts' window and which parts are on. Any other option overrides
// the preset's value for its setting, wherever it stands among the options.
type Preset string

const (
	// PresetDefault keeps the whole field of view: images are resized to
	// 480x480 without cropping (a 60x60 feature grid), 1% coreset, blur sigma
	// 8, position part on, neighbourhood MLP off (WithNeighborhood(true)
	// turns it on; see the README for why it is off). Resolution moves
	// accuracy most, and the MVTec center crop throws away the border where
	// real defects occur.
	PresetDefault Preset = "default"
	// PresetMVTec is the MVTec AD benchmark protocol of PatchCore: resize to
	// 256x256, center crop 224 (a 28x28 grid), 10% coreset, blur sigma 4.
	// Use it to compare with published tables. Both PNI parts are on.
	PresetMVTec Preset = "mvtec"
	// PresetPaper is the PNI paper's protocol: resize to 512x512, center crop
	// 480 (a 60x60 grid), 1% coreset, blur sigma 8, box radius 4, window 9,
	// both PNI parts on.
	PresetPaper Preset = "paper"
)

// Stage names a step of Fit or Score in Progress reports.
type Stage string

// The stages Fit reports, in order.
const (
	StageFeatures     Stage = "features"
	StageCoreset      Stage = "coreset"
	StageAssign       Stage = "assign"
	StagePosition     Stage = "position"
	StageNeighborhood Stage = "neighborhood"
	StageCalibrate    Stage = "calibrate"
	StageRefine       Stage = "refine"
	StageDone         Stage = "done"
)

// Progress is one report of long-running work. Done and Total count the
// stage's units (images, coreset elements, epochs); Message, when not empty, is
// a human-readable remark (for example why a part was skipped).
type Progress struct {
	Stage       Stage
	Done, Total int
	Message     string
}

// config is everything Fit is told. The part that Score needs is saved with
// the model (see modelConfig).
type config struct {
	preset        Preset
	backbonePath  string
	backboneBytes []byte

	resizeW, resizeH int
	cropW, cropH     int
	ratio            float64
	maxDist          int
	projDim          int
	sigma            float64 // blur sigma in input pixels
	position         bool
	neighborhood     bool
	radius           int // position box radius; -1 = scale with the grid
	window           int // neighbourhood window p
	tauScale         float64
	minValTop1       float64
	nb               neighborhood.Config
	seed             int64
	progress         func(Progress)
	memBudget        int64  // bytes Fit may hold
	tempDir          string // the feature spill file's directory
	frr              float64
	imageThreshold   float64 // explicit thresholds (raw score units); 0 = derived
	pixelThreshold   float64
	members          []Member // an ensemble's members; nil = one member, the backbone above
	tiles            tiling
	skipBad          bool // leave unreadable training images out
	forceStream      bool // tests: the two-level coreset even where the exact one is affordable
	refinement       *RefinementConfig
	dim              int // patch-feature dimension; 0 = backbone.DefaultDim
}

// defaultConfig returns the settings of preset p before any other option.
func defaultConfig(p Preset) (config, error) {
	c := config{
		preset:     p,
		maxDist:    2048,
		projDim:    128,
		position:   true,
		radius:     -1,
		tauScale:   1,
		minValTop1: 0.05,
		memBudget:  DefaultMemoryBudget,
		frr:        DefaultFalseRejectRate,
	}
	switch p {
	case PresetDefault:
		c.resizeW, c.resizeH, c.cropW, c.cropH = 480, 480, 0, 0
		c.ratio, c.sigma, c.window = 0.01, 8, 9
		c.neighborhood = false // measured: no gain on any shared set, 2-8x the cost (README)
	case PresetMVTec:
		c.resizeW, c.resizeH, c.cropW, c.cropH = 256, 256, 224, 224
		c.ratio, c.sigma, c.window = 0.1, 4, 5
		c.neighborhood = true
	case PresetPaper:
		c.resizeW, c.resizeH, c.cropW, c.cropH = 512, 512, 480, 480
		c.ratio, c.sigma, c.window = 0.01, 8, 9
		c.neighborhood = true
	default:
		return c, badArg("unknown preset %q (want %q, %q or %q)", p, PresetDefault, PresetMVTec, PresetPaper)
	}
	return c, nil
}

// resolveOptions applies opts over the defaults of the preset they name
// (the last WithPreset, else PresetDefault), so that the result does not
// depend on where WithPreset stands: options are applied once to find the
// preset, then again over its defaults. It returns the first invalid
// option's error.
func resolveOptions(opts []Option) (config, error) {
	probe := config{preset: PresetDefault}
	for _, o := range opts {
		if err := o(&probe); err != nil {
			return config{}, err
		}
	}
	c, err := defaultConfig(probe.preset)
	if err != nil {
		return config{}, err
	}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// Option configures Fit. Each option validates its argument; Fit returns the
// first invalid option's error (matching ErrInvalidArgument) before doing
// any work.
type Option func(*config) error

// WithPreset selects a preset (default PresetDefault). Every other option
// overrides the preset's value for its own setting, before or after
// WithPreset alike.
func WithPreset(p Preset) Option {
	return func(c *config) error {
		if _, err := defaultConfig(p); err != nil {
			return err
		}
		c.preset = p
		return nil
	}
}

// WithBackbone names the ONNX backbone file (see package backbone for what it
// must contain). The file's bytes are stored in the fitted model, so a saved
// model is self-contained. Required unless WithBackboneBytes is given.
func WithBackbone(path string) Option {
	return func(c *config) error {
		if path == "" {
			return badArg("WithBackbone: empty path")
		}
		c.backbonePath = path
		return nil
	}
}

// WithBackboneBytes gives the ONNX backbone as bytes (see WithBackbone).
func WithBackboneBytes(data []byte) Option {
	return func(c *config) error {
		if len(data) == 0 {
			return badArg("WithBackboneBytes: empty model")
		}
		c.backboneBytes = data
		return nil
	}
}

// WithResize sets the size every image is resized to before the backbone
// (non-square images are squashed, as in the MVTec protocol). The feature grid
// is 1/8 of it.
func WithResize(w, h int) Option {
	return func(c *config) error {
		if w < 32 || h < 32 || w > 4096 || h > 4096 {
			return badArg("WithResize(%d, %d): each side must be in [32, 4096]", w, h)
		}
		c.resizeW, c.resizeH = w, h
		return nil
	}
}

// WithCrop sets a center crop applied after the resize; (0, 0) means no crop.
func WithCrop(w, h int) Option {
	return func(c *config) error {
		if (w == 0) != (h == 0) || w < 0 || h < 0 {
			return badArg("WithCrop(%d, %d): give both sides, or (0, 0) for no crop", w, h)
		}
		c.cropW, c.cropH = w, h
		return nil
	}
}

// WithCoresetRatio sets |C_emb| as a fraction of all training patches
// (PresetMVTec 0.1, the others 0.01).
func WithCoresetRatio(r float64) Option {
	return func(c *config) error {
		if !(r > 0 && r <= 1) {
			return badArg("WithCoresetRatio(%v): want a ratio in (0, 1]", r)
		}
		c.ratio = r
		return nil
	}
}

// WithProjectionDim sets the random-projection dimension of the approximate
// greedy coreset (default 128); a negative value runs the exact greedy in the
// full feature dimension (slow).
func WithProjectionDim(d int) Option {
	return func(c *config) error {
		if d == 0 {
			return badArg("WithProjectionDim(0): use a positive dimension, or -1 for exact selection")
		}
		c.projDim = d
		return nil
	}
}

// WithPosition turns the position part p(c|x) on or off (default on).
func WithPosition(on bool) Option {
	return func(c *config) error { c.position = on; return nil }
}

// WithNeighborhood turns the neighbourhood part p(c|N_p(x)) on or off (on in
// PresetMVTec and PresetPaper, off in PresetDefault). With both parts off the
// model is PatchCore (1-NN over C_emb).
func WithNeighborhood(on bool) Option {
	return func(c *config) error { c.neighborhood = on; return nil }
}

// WithBoxRadius sets the radius r of the (2r+1)^2 box that smooths the
// position histogram (default: 4 on a 60-wide grid, scaled with the grid).
func WithBoxRadius(r int) Option {
	return func(c *config) error {
		if r < 0 {
			return badArg("WithBoxRadius(%d): want r >= 0", r)
		}
		c.radius = r
		return nil
	}
}

// WithWindow sets the neighbourhood window p (odd, >= 3): the p x p box around
// a patch, the patch itself excluded (PresetMVTec 5, the others 9).
func WithWindow(p int) Option {
	return func(c *config) error {
		if p < 3 || p%2 == 0 {
			return badArg("WithWindow(%d): want an odd window >= 3", p)
		}
		c.window = p
		return nil
	}
}

// WithTauScale multiplies the allowed-set threshold tau = 1/(2|C_emb|)
// (default 1, the paper's).
func WithTauScale(s float64) Option {
	return func(c *config) error {
		if !(s > 0) || math.IsInf(s, 0) {
			return badArg("WithTauScale(%v): want a positive finite scale", s)
		}
		c.tauScale = s
		return nil
	}
}

// WithBlurSigma sets the Gaussian blur of the anomaly map in input pixels
// (PresetMVTec 4, the others 8); 0 turns the blur off.
func WithBlurSigma(s float64) Option {
	return func(c *config) error {
		if s < 0 || math.IsNaN(s) || s > 64 {
			return badArg("WithBlurSigma(%v): want 0 <= sigma <= 64", s)
		}
		c.sigma = s
		return nil
	}
}

// WithNeighborhoodConfig sets the MLP's training configuration (layer sizes,
// epochs, learning rate, temperature...); its zero fields keep their
// defaults. The window comes from WithWindow and the seed from WithSeed. The
// configuration is validated here, before any image is read.
func WithNeighborhoodConfig(nc neighborhood.Config) Option {
	return func(c *config) error {
		if err := nc.Validate(); err != nil {
			return fmt.Errorf("pni: WithNeighborhoodConfig: %w", err)
		}
		c.nb = nc
		return nil
	}
}

// WithMinValTop1 sets the validation top-1 accuracy below which Fit judges
// that the neighbourhood MLP did not learn and leaves it out of the model
// (default 0.05; its flat output would only re-admit what the position part
// excluded). 0 keeps the MLP whatever it learned.
func WithMinValTop1(a float64) Option {
	return func(c *config) error {
		if a < 0 || a > 1 {
			return badArg("WithMinValTop1(%v): want an accuracy in [0, 1]", a)
		}
		c.minValTop1 = a
		return nil
	}
}

// WithSeed sets the seed of every random choice in Fit (default 0). The seed is
// saved with the model.
func WithSeed(seed int64) Option {
	return func(c *config) error { c.seed = seed; return nil }
}

// WithProgress calls fn with progress reports during Fit. fn is called from
// Fit's goroutine and should return quickly.
func WithProgress(fn func(Progress)) Option {
	return func(c *config) error { c.progress = fn; return nil }
}

// WithProgressWriter writes one line per progress report to w (os.Stderr
// when w is nil).
func WithProgressWriter(w io.Writer) Option {
	if w == nil {
		w = os.Stderr
	}
	return WithProgress(func(p Progress) {
		if p.Message != "" {
			fmt.Fprintf(w, "pni: %s: %s\n", p.Stage, p.Message)
			return
		}
		fmt.Fprintf(w, "pni: %s %d/%d\n", p.Stage, p.Done, p.Total)
	})
}

// DefaultMemoryBudget is Fit's memory budget when WithMemoryBudget is not
// given: 2 GiB, which keeps a whole Fit under 3 GB of resident memory.
const DefaultMemoryBudget = 2 << 30

// WithMemoryBudget bounds the memory Fit holds (default
// DefaultMemoryBudget; at least 256 MiB): half of it for the full features
// of the images that later stages read again (past it they are spilled to
// a temporary file), a quarter for the coreset candidates in float32
// (float16 past it), and the Go runtime's soft memory limit is lowered to
// it while Fit runs.
func WithMemoryBudget(bytes int64) Option {
	return func(c *config) error {
		if bytes < 256<<20 {
			return badArg("WithMemoryBudget(%d): want at least 256 MiB (268435456 bytes)", bytes)
		}
		c.memBudget = bytes
		return nil
	}
}

// WithTempDir sets the directory of Fit's feature spill file (default: the
// system's temporary directory, os.TempDir). The file is removed when Fit
// returns.
func WithTempDir(dir string) Option {
	return func(c *config) error {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return badArg("WithTempDir(%q): not a directory", dir)
		}
		c.tempDir = dir
		return nil
	}
}

// WithFalseRejectRate sets the calibration's one knob: the target fraction
// of good parts whose image score lies above the image threshold (default
// DefaultFalseRejectRate, 1%). A lower rate raises the threshold: fewer
// good parts rejected, fewer defects caught. Model.SetFalseRejectRate
// changes it after Fit.
func WithFalseRejectRate(frr float64) Option {
	return func(c *config) error {
		if err := checkFRR("WithFalseRejectRate", frr); err != nil {
			return err
		}
		c.frr = frr
		return nil
	}
}

// WithThresholds sets the image threshold (raw score above which a part is
// anomalous) and the pixel threshold (raw map level of its regions)
// explicitly, overriding the calibration's estimates; pixel 0 makes the
// pixel threshold the image threshold (the default). The calibration statistics
// are still estimated, for the normalised scale.
func WithThresholds(image, pixel float64) Option {
	return func(c *config) error {
		if !(image > 0) || math.IsInf(image, 0) || pixel < 0 || pixel > image || math.IsNaN(pixel) {
			return badArg("WithThresholds(%v, %v): want 0 < image and 0 <= pixel <= image (0 = estimated)", image, pixel)
		}
		c.imageThreshold, c.pixelThreshold = image, pixel
		return nil
	}
}

// Member is one member of an ensemble: a backbone and the input size it
// sees. Every other setting (preset, coreset ratio, PNI parts, seed) is the
// model's; a member at another size than the preset's gets the preset's
// crop fraction, blur and neighbourhood window scaled to its size.
type Member struct {
	Backbone      string // the ONNX backbone file (see WithBackbone)
	BackboneBytes []byte // or its bytes
	Size          int    // the square size images are resized to; 0 = the preset's (WithResize)
}

// WithMembers makes the model an ensemble of the given members, fitted on
// the same images (it takes the place of WithBackbone). Score runs the
// members concurrently and combines their maps per pixel: each member's map
// is standardised by how its own good parts score (so that backbones and
// sizes on different scales weigh alike), the standardised maps are
// averaged in the frame of the member with the largest input, and the
// model is calibrated on the combined maps. One member is a plain model.
func WithMembers(members ...Member) Option {
	return func(c *config) error {
		if len(members) == 0 {
			return badArg("WithMembers: give at least one member")
		}
		for i, m := range members {
			if m.Backbone == "" && len(m.BackboneBytes) == 0 {
				return badArg("WithMembers: member %d has no backbone (Backbone or BackboneBytes)", i)
			}
			if m.Size != 0 && (m.Size < 32 || m.Size > 4096) {
				return badArg("WithMembers: member %d: size %d must be in [32, 4096] (0 = the preset's)", i, m.Size)
			}
		}
		c.members = append([]Member(nil), members...)
		return nil
	}
}

// WithSkipBadImages makes FitFiles leave out training images that cannot
// be read (corrupt, truncated, not an image, too large) instead of failing;
// each is named in a progress report and Info.Skipped counts them. Without
// it (the default) FitFiles tries every file and then fails with an
// *ImagesError listing all the unreadable ones.
func WithSkipBadImages(skip bool) Option {
	return func(c *config) error { c.skipBad = skip; return nil }
}

// WithTiles makes the model see images in overlapping square tiles of
// size x size original pixels (overlap pixels shared by neighbours), each
// resized to the model's input size, instead of shrinking the whole image:
// a high-resolution camera's small defects are then seen at full
// resolution (size = the input size, 480 at PresetDefault, means no
// resizing at all). Fit learns from the tiles of the good images; Score
// scores every tile and blends their maps over the overlaps into one map at
// the original size (no seams), where the regions are found. Images
// smaller than a tile are one tile. The position part, when on, learns
// positions within a tile. A tiled model is a single member (no
// WithMembers); its Result.Map is at the original size.
func WithTiles(size, overlap int) Option {
	return func(c *config) error {
		if size < 32 || size > 8192 || overlap < 0 || overlap >= size/2 {
			return badArg("WithTiles(%d, %d): want a size in [32, 8192] and 0 <= overlap < size/2", size, overlap)
		}
		c.tiles = tiling{Size: size, Overlap: overlap}
		return nil
	}
}

// WithEmbedDim sets the patch-feature dimension D to which PatchCore's
// embedding reduces the two layers (default 1024, backbone.DefaultDim;
// see backbone.Options.Dim). A smaller D makes the memory bank and its
// search cheaper.
func WithEmbedDim(d int) Option {
	return func(c *config) error {
		if d < 1 || d > 1<<16 {
			return badArg("WithEmbedDim(%d): want a dimension in [1, 65536]", d)
		}
		c.dim = d
		return nil
	}
}

package synth

import (
	"fmt"
	"image"
	"math"
	"strings"
)

// Mix is a Generator that draws one of Generators per sample, with
// probability proportional to Weights, and lets it make the sample. The draw
// and the sample both follow from the seed.
type Mix struct {
	// Generators to choose from; none may be nil.
	Generators []Generator
	// Weights, one per generator, finite, >= 0 and not all 0; nil gives
	// every generator the same weight.
	Weights []float64
}

var (
	_ Generator = CutPaste{}
	_ Generator = Scar{}
	_ Generator = DRAEM{}
	_ Generator = Strokes{}
	_ Generator = (*Mix)(nil)
)

// Default returns a Mix of CutPaste, Scar, DRAEM (with textures, or
// procedural textures when textures is empty) and Strokes with equal
// weights: PNI trains its refinement network on all four together.
func Default(textures []image.Image) *Mix {
	return &Mix{
		Generators: []Generator{CutPaste{}, Scar{}, DRAEM{Textures: textures}, Strokes{}},
		Weights:    []float64{1, 1, 1, 1},
	}
}

// Name returns "mix(" followed by the generators' names and ")".
func (m *Mix) Name() string {
	if m == nil {
		return "mix()"
	}
	names := make([]string, len(m.Generators))
	for i, g := range m.Generators {
		if g == nil {
			names[i] = "nil"
		} else {
			names[i] = g.Name()
		}
	}
	return "mix(" + strings.Join(names, ",") + ")"
}

// Pick returns the generator that Generate uses for seed, and the seed it
// passes on to it.
func (m *Mix) Pick(seed uint64) (Generator, uint64, error) {
	if m == nil || len(m.Generators) == 0 {
		return nil, 0, fmt.Errorf("%w: Mix has no generators; add some, or use synth.Default", ErrNoGenerator)
	}
	for i, g := range m.Generators {
		if g == nil {
			return nil, 0, fmt.Errorf("%w: Mix.Generators[%d] is nil", ErrNoGenerator, i)
		}
	}
	w := m.Weights
	if w != nil && len(w) != len(m.Generators) {
		return nil, 0, fmt.Errorf("%w: %d weights for %d generators; give one weight per generator, or nil for equal weights",
			ErrBadWeights, len(w), len(m.Generators))
	}
	var total float64
	for i := range m.Generators {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if math.IsNaN(wi) || math.IsInf(wi, 0) || wi < 0 {
			return nil, 0, fmt.Errorf("%w: Mix.Weights[%d] is %v; weights must be finite and >= 0", ErrBadWeights, i, wi)
		}
		total += wi
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, 0, fmt.Errorf("%w: Mix.Weights sum to %v; at least one must be > 0 (and the sum finite)", ErrBadWeights, total)
	}
	r := newRNG(seed, streamMix)
	u := r.float() * total
	pick := len(m.Generators) - 1
	var acc float64
	for i := range m.Generators {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		acc += wi
		if u < acc && wi > 0 {
			pick = i
			break
		}
	}
	for w != nil && w[pick] == 0 { // rounding at the top end: last positive weight
		pick--
	}
	return m.Generators[pick], r.u64(), nil
}

// Generate returns a defective copy of src made by the generator Pick
// chooses for seed.
func (m *Mix) Generate(src image.Image, seed uint64) (Sample, error) {
	g, s, err := m.Pick(seed)
	if err != nil {
		return Sample{}, err
	}
	return g.Generate(src, s)
}

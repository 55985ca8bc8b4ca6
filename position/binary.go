package position

import (
	"errors"
	"fmt"
	"math"

	"github.com/x/pni/internal/binenc"
)

// histVersion is the version of Hist's binary encoding.
const histVersion = 1

// Validate checks that h is well formed: positive sizes, H*W+1 offsets
// rising from 0 to len(Idx), one probability per index, indices in [0,K)
// and ascending within each row, probabilities finite and non-negative, and
// each non-empty row summing to 1 (within 1e-3). Build's result is always
// valid; a Hist assembled by hand or decoded from bytes is checked with it.
func (h *Hist) Validate() error {
	if h == nil {
		return errors.New("position: nil histogram")
	}
	if h.H <= 0 || h.W <= 0 || h.K <= 0 || h.Radius < 0 || int64(h.H)*int64(h.W) > math.MaxInt32/4 || int64(h.K) > math.MaxInt32 {
		return fmt.Errorf("position: histogram sizes H=%d W=%d K=%d radius %d out of range", h.H, h.W, h.K, h.Radius)
	}
	if len(h.Off) != h.H*h.W+1 || len(h.Idx) != len(h.P) || h.Off[0] != 0 || int(h.Off[len(h.Off)-1]) != len(h.Idx) {
		return fmt.Errorf("position: histogram arrays disagree (%d offsets for %dx%d positions, %d indices, %d probabilities)",
			len(h.Off), h.W, h.H, len(h.Idx), len(h.P))
	}
	for x := 0; x < h.H*h.W; x++ {
		lo, hi := h.Off[x], h.Off[x+1]
		if hi < lo {
			return fmt.Errorf("position: histogram offsets decrease at position %d", x)
		}
		sum := 0.0
		for j := lo; j < hi; j++ {
			c, p := h.Idx[j], h.P[j]
			if c < 0 || int(c) >= h.K || (j > lo && c <= h.Idx[j-1]) {
				return fmt.Errorf("position: position %d: element %d out of range [0,%d) or out of order", x, c, h.K)
			}
			if !(p >= 0) || math.IsInf(float64(p), 0) {
				return fmt.Errorf("position: position %d: probability %v", x, p)
			}
			sum += float64(p)
		}
		if hi > lo && math.Abs(sum-1) > 1e-3 {
			return fmt.Errorf("position: position %d: probabilities sum to %v, not 1", x, sum)
		}
	}
	return nil
}

// MarshalBinary encodes h (version byte, sizes, offsets, indices,
// probabilities, little-endian).
func (h *Hist) MarshalBinary() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	var w binenc.Writer
	w.U32(histVersion)
	w.Ints(h.H, h.W, h.K, h.Radius)
	w.I32s(h.Off)
	w.I32s(h.Idx)
	w.F32s(h.P)
	return w.Bytes(), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote and validates it; on
// error h is left unchanged.
func (h *Hist) UnmarshalBinary(b []byte) error {
	r := binenc.NewReader(b)
	if err := r.Version(histVersion, "position: histogram"); err != nil {
		return err
	}
	d := Hist{H: r.Int(), W: r.Int(), K: r.Int(), Radius: r.Int()}
	d.Off, d.Idx, d.P = r.I32s(), r.I32s(), r.F32s()
	if err := r.Done(); err != nil {
		return fmt.Errorf("position: histogram: %w", err)
	}
	if err := d.Validate(); err != nil {
		return err
	}
	*h = d
	return nil
}

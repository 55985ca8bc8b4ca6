package neighborhood

import (
	"errors"
	"fmt"

	"github.com/x/pni/internal/binenc"
)

// modelVersion is the version of Model's binary encoding.
const modelVersion = 1

// Validate checks that m is well formed: an odd window of at least 3, a
// positive temperature, layer shapes that chain from (p·p−1)·R inputs to
// Classes outputs, standardisation vectors of length R (or none), and a
// reducer whose output is R. Train's result is always valid; a decoded
// model is checked with it.
func (m *Model) Validate() error {
	if m == nil {
		return errors.New("neighborhood: nil model")
	}
	if m.reducer != nil {
		if err := m.reducer.check(); err != nil {
			return err
		}
	}
	_, _, err := m.shapes()
	return err
}

// MarshalBinary encodes the model's state (the training report is not
// kept).
func (m *Model) MarshalBinary() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var w binenc.Writer
	w.U32(modelVersion)
	w.Bool(m.reducer != nil)
	if r := m.reducer; r != nil {
		w.Ints(r.d, r.r)
		w.F32s(r.w)
	}
	w.Ints(m.window, m.classes, len(m.layers))
	w.F32s([]float32{m.temperature})
	w.F32s(m.inMean)
	w.F32s(m.inScale)
	for _, l := range m.layers {
		w.Ints(l.In, l.Out)
		w.F32s(l.W)
		w.F32s(l.B)
	}
	return w.Bytes(), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote and validates it; on
// error m is left unchanged.
func (m *Model) UnmarshalBinary(b []byte) error {
	r := binenc.NewReader(b)
	if err := r.Version(modelVersion, "neighborhood: model"); err != nil {
		return err
	}
	var d Model
	if r.Bool() {
		d.reducer = &Reducer{d: r.Int(), r: r.Int()}
		d.reducer.w = r.F32s()
	}
	d.window, d.classes = r.Int(), r.Int()
	layers := r.Int()
	if t := r.F32s(); len(t) == 1 {
		d.temperature = t[0]
	} else {
		r.Fail(errors.New("temperature missing"))
	}
	d.inMean, d.inScale = r.F32s(), r.F32s()
	for i := 0; i < layers && r.Err() == nil; i++ {
		l := dense{In: r.Int(), Out: r.Int()}
		l.W, l.B = r.F32s(), r.F32s()
		d.layers = append(d.layers, l)
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("neighborhood: model: %w", err)
	}
	if err := d.Validate(); err != nil {
		return err
	}
	*m = d
	return nil
}

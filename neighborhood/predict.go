package neighborhood

import "fmt"

// predictChunk is the number of positions run through the MLP at once.
const predictChunk = 512

// Predict returns, for one image's full-dimension features feats (h×w×D,
// row-major), the h·w × Classes probabilities softmax(logits/T), row-major.
// It needs m.reducer. It is safe for concurrent use.
func (m *Model) Predict(feats []float32, h, w int) ([]float32, error) {
	if m == nil || m.reducer == nil {
		return nil, badArg("Model", "has no reducer; use PredictReduced with reduced features")
	}
	if err := m.reducer.check(); err != nil {
		return nil, err
	}
	if h <= 0 || w <= 0 {
		return nil, badArg("shape", fmt.Sprintf("h=%d w=%d: both must be positive", h, w))
	}
	d, r := m.reducer.d, m.reducer.r
	if len(feats) != h*w*d {
		return nil, badArg("feats", fmt.Sprintf("has %d values, want h*w*D = %d*%d*%d = %d", len(feats), h, w, d, h*w*d))
	}
	red := make([]float32, h*w*r)
	m.reducer.Apply(feats, h*w, red)
	return m.PredictReduced(red, h, w)
}

// PredictReduced is Predict for features already reduced by m.reducer
// (h×w×R). It is safe for concurrent use.
func (m *Model) PredictReduced(reduced []float32, h, w int) ([]float32, error) {
	if m == nil {
		return nil, badArg("Model", "is nil")
	}
	sizes, r, err := m.shapes()
	if err != nil {
		return nil, err
	}
	if h <= 0 || w <= 0 {
		return nil, badArg("shape", fmt.Sprintf("h=%d w=%d: both must be positive", h, w))
	}
	if len(reduced) != h*w*r {
		return nil, badArg("reduced", fmt.Sprintf("has %d values, want h*w*R = %d*%d*%d = %d", len(reduced), h, w, r, h*w*r))
	}
	L := len(sizes) - 1
	wts, bs := make([][]float32, L), make([][]float32, L)
	for l, d := range m.layers {
		wts[l], bs[l] = d.W, d.B
	}
	offs := offsets(m.window)
	c := m.classes
	out := make([]float32, h*w*c)
	chunk := min(predictChunk, h*w)
	ws := newWorkspace(sizes[:L], chunk, false) // the last activation is written straight into out
	ws.acts = append(ws.acts, nil)
	rows := make([]int32, chunk)
	for lo := 0; lo < h*w; lo += chunk {
		hi := min(lo+chunk, h*w)
		b := hi - lo
		for i := range b {
			rows[i] = int32(lo + i)
		}
		assemble(reduced, h, w, r, offs, m.inMean, m.inScale, rows[:b], ws.acts[0][:b*sizes[0]])
		ws.acts[L] = out[lo*c : hi*c]
		forward(sizes, wts, bs, ws, b)
		softmaxRows(ws.acts[L], b, c, m.temperature)
	}
	return out, nil
}

// shapes validates the model and returns its layer sizes and R.
func (m *Model) shapes() ([]int, int, error) {
	bad := func(msg string, a ...any) ([]int, int, error) {
		return nil, 0, badArg("Model", fmt.Sprintf(msg, a...))
	}
	if m.window < 3 || m.window%2 == 0 {
		return bad("Window %d is not odd and at least 3", m.window)
	}
	if !(m.temperature > 0) {
		return bad("Temperature %v is not positive", m.temperature)
	}
	if len(m.layers) == 0 {
		return bad("has no layers")
	}
	sizes := []int{m.layers[0].In}
	for l, d := range m.layers {
		if d.In != sizes[l] || d.Out <= 0 || len(d.W) != d.In*d.Out || len(d.B) != d.Out {
			return bad("layer %d has inconsistent shapes (In=%d Out=%d len(W)=%d len(B)=%d, previous Out %d)",
				l, d.In, d.Out, len(d.W), len(d.B), sizes[l])
		}
		sizes = append(sizes, d.Out)
	}
	if sizes[len(sizes)-1] != m.classes {
		return bad("last layer has %d outputs but Classes = %d", sizes[len(sizes)-1], m.classes)
	}
	nb := m.window*m.window - 1
	if sizes[0]%nb != 0 {
		return bad("input width %d is not a multiple of Window²−1 = %d", sizes[0], nb)
	}
	r := sizes[0] / nb
	if m.reducer != nil && m.reducer.r != r {
		return bad("input width %d implies R=%d but the reducer gives %d", sizes[0], r, m.reducer.r)
	}
	if (m.inMean != nil && len(m.inMean) != r) || (m.inMean == nil) != (m.inScale == nil) ||
		(m.inScale != nil && len(m.inScale) != r) {
		return bad("InMean/InScale must both be nil or both have length R=%d (got %d, %d)", r, len(m.inMean), len(m.inScale))
	}
	return sizes, r, nil
}

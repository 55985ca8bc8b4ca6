package nn

import "fmt"

// Tensor is a dense NCHW float32 batch: Data[((n*C+c)*H+y)*W+x] holds
// channel c of image n at row y, column x. Data has exactly N*C*H*W elements.
type Tensor struct {
	N, C, H, W int
	Data       []float32
}

// NewTensor returns a zero-filled N×C×H×W tensor.
func NewTensor(n, c, h, w int) *Tensor {
	return &Tensor{N: n, C: c, H: h, W: w, Data: make([]float32, n*c*h*w)}
}

// Len is N*C*H*W.
func (t *Tensor) Len() int { return t.N * t.C * t.H * t.W }

// Plane returns the H×W plane of channel c of image n (a view).
func (t *Tensor) Plane(n, c int) []float32 {
	hw := t.H * t.W
	o := (n*t.C + c) * hw
	return t.Data[o : o+hw]
}

// String is the shape, "NxCxHxW".
func (t *Tensor) String() string { return fmt.Sprintf("%dx%dx%dx%d", t.N, t.C, t.H, t.W) }

// ensure returns *p resized to n×c×h×w, reusing its storage when it is large
// enough. The contents are unspecified.
func ensure(p **Tensor, n, c, h, w int) *Tensor {
	t := *p
	size := n * c * h * w
	if t == nil {
		t = &Tensor{}
		*p = t
	}
	if cap(t.Data) < size {
		t.Data = make([]float32, size)
	}
	t.N, t.C, t.H, t.W, t.Data = n, c, h, w, t.Data[:size]
	return t
}

// ensureSlice returns *p resized to n elements, reusing its storage.
func ensureSlice(p *[]float32, n int) []float32 {
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return *p
}

func sameDims(a, b *Tensor) bool {
	return a.N == b.N && a.C == b.C && a.H == b.H && a.W == b.W
}

func mustSameDims(op string, a, b *Tensor) {
	if !sameDims(a, b) {
		panic(fmt.Sprintf("nn: %s: shapes %v and %v differ", op, a, b))
	}
}

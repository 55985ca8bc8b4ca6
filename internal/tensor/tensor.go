package tensor

// Tensor is a dense row-major float32 array. Data has exactly Len() elements.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...)}
	t.Data = make([]float32, t.Len())
	return t
}

// FromData wraps data (not copied) with the given shape; it panics if the
// lengths disagree, which is always a bug in the caller.
func FromData(data []float32, shape ...int) *Tensor {
	t := &Tensor{Shape: append([]int(nil), shape...), Data: data}
	if t.Len() != len(data) {
		panic("tensor: data length does not match shape")
	}
	return t
}

// Len is the number of elements the shape holds.
func (t *Tensor) Len() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

package tensor

import "testing"

func TestNewAndFromData(t *testing.T) {
	x := New(2, 3, 4)
	if x.Len() != 24 || len(x.Data) != 24 {
		t.Fatalf("New(2,3,4): Len %d, data %d", x.Len(), len(x.Data))
	}
	shape := []int{2, 3}
	y := FromData(make([]float32, 6), shape...)
	shape[0] = 9 // the tensor keeps its own copy of the shape
	if y.Shape[0] != 2 {
		t.Errorf("FromData aliases the shape slice")
	}
	if s := New(); s.Len() != 1 || len(s.Data) != 1 {
		t.Errorf("scalar: Len %d", s.Len())
	}
	defer func() {
		if recover() == nil {
			t.Error("FromData with a wrong length did not panic")
		}
	}()
	FromData(make([]float32, 5), 2, 3)
}

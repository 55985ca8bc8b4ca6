package binenc

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var w Writer
	w.U32(7)
	w.Ints(3, 0, 1<<40)
	w.F64(-2.5)
	w.Bool(true)
	w.Bool(false)
	w.Blob([]byte("abc"))
	w.String("name")
	w.F32s([]float32{1, float32(math.Inf(-1)), -0.5})
	w.I32s([]int32{-1, 5})
	w.F32s(nil)
	r := NewReader(w.Bytes())
	if v := r.U32(); v != 7 {
		t.Errorf("U32 %d", v)
	}
	if a, b, c := r.Int(), r.Int(), r.Int(); a != 3 || b != 0 || c != 1<<40 {
		t.Errorf("Ints %d %d %d", a, b, c)
	}
	if v := r.F64(); v != -2.5 {
		t.Errorf("F64 %v", v)
	}
	if a, b := r.Bool(), r.Bool(); !a || b {
		t.Errorf("Bools %v %v", a, b)
	}
	if v := string(r.Blob()); v != "abc" {
		t.Errorf("Blob %q", v)
	}
	if v := r.String(); v != "name" {
		t.Errorf("String %q", v)
	}
	if v := r.F32s(); !slices.Equal(v, []float32{1, float32(math.Inf(-1)), -0.5}) {
		t.Errorf("F32s %v", v)
	}
	if v := r.I32s(); !slices.Equal(v, []int32{-1, 5}) {
		t.Errorf("I32s %v", v)
	}
	if v := r.F32s(); v != nil {
		t.Errorf("empty F32s %v", v)
	}
	if err := r.Done(); err != nil {
		t.Error(err)
	}
}

func TestReaderErrors(t *testing.T) {
	var w Writer
	w.F32s([]float32{1, 2, 3})
	b := w.Bytes()
	r := NewReader(b[:len(b)-1])
	if v := r.F32s(); v != nil || !errors.Is(r.Err(), ErrTruncated) {
		t.Errorf("truncated slice: %v, %v", v, r.Err())
	}
	// A huge declared length must fail before allocating.
	var h Writer
	h.U64(1 << 62)
	r = NewReader(h.Bytes())
	if v := r.I32s(); v != nil || r.Err() == nil {
		t.Errorf("huge slice: %v, %v", len(v), r.Err())
	}
	r = NewReader(h.Bytes())
	if v := r.Int(); v != 0 || r.Err() == nil {
		t.Errorf("huge int: %d, %v", v, r.Err())
	}
	r = NewReader([]byte{2})
	r.Bool()
	if r.Err() == nil {
		t.Error("boolean byte 2 accepted")
	}
	r = NewReader([]byte{1, 0})
	r.Bool()
	if r.Done() == nil {
		t.Error("unread byte not reported")
	}
	// After the first error, reads return zero values and keep that error.
	r = NewReader(nil)
	_ = r.U64()
	first := r.Err()
	_ = r.Blob()
	if r.Err() != first || first == nil {
		t.Errorf("first error not kept: %v then %v", first, r.Err())
	}
}

func TestVersion(t *testing.T) {
	var w Writer
	w.U32(3)
	if err := NewReader(w.Bytes()).Version(3, "thing"); err != nil {
		t.Error(err)
	}
	if err := NewReader(w.Bytes()).Version(2, "thing"); err == nil || err.Error() != "thing: encoding version 3, this version of pni reads 2" {
		t.Errorf("wrong version: %v", err)
	}
	if err := NewReader(nil).Version(2, "thing"); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty: %v", err)
	}
}

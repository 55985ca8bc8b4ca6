// Package binenc is the little-endian binary encoding pni's components use
// for their MarshalBinary / UnmarshalBinary: fixed-width integers, booleans,
// length-prefixed byte strings and length-prefixed float32 / int32 slices.
//
// A Reader records the first error (a truncated payload or a size out of
// range) and returns zero values after it, so a decoder reads every field
// and checks Err once at the end.
package binenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrTruncated is the Reader's error when the payload ends early.
var ErrTruncated = errors.New("truncated payload")

// maxInt bounds decoded sizes and counts: anything larger is damage, not data.
const maxInt = 1 << 40

// Writer accumulates an encoding.
type Writer struct{ buf bytes.Buffer }

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }

// U64 writes v.
func (w *Writer) U64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	w.buf.Write(b[:])
}

// U32 writes v.
func (w *Writer) U32(v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	w.buf.Write(b[:])
}

// Ints writes each v as a 64-bit signed integer.
func (w *Writer) Ints(vs ...int) {
	for _, v := range vs {
		w.U64(uint64(int64(v)))
	}
}

// F64 writes v.
func (w *Writer) F64(v float64) { w.U64(math.Float64bits(v)) }

// Bool writes v as one byte.
func (w *Writer) Bool(v bool) {
	if v {
		w.buf.WriteByte(1)
	} else {
		w.buf.WriteByte(0)
	}
}

// Blob writes b with a 64-bit length prefix.
func (w *Writer) Blob(b []byte) { w.U64(uint64(len(b))); w.buf.Write(b) }

// String writes s as a blob.
func (w *Writer) String(s string) { w.U64(uint64(len(s))); w.buf.WriteString(s) }

// F32s writes v with a length prefix.
func (w *Writer) F32s(v []float32) {
	w.U64(uint64(len(v)))
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		w.buf.Write(b[:])
	}
}

// I32s writes v with a length prefix.
func (w *Writer) I32s(v []int32) {
	w.U64(uint64(len(v)))
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], uint32(x))
		w.buf.Write(b[:])
	}
}

// Reader decodes what a Writer wrote.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b (not copied: slices returned by Blob are copies).
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Fail records err as the Reader's error unless one is recorded already.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Done returns the first error, or an error when bytes are left unread.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d unread bytes at the end", len(r.b))
	}
	return nil
}

func (r *Reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = ErrTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// U64 reads a 64-bit value.
func (r *Reader) U64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// U32 reads a 32-bit value.
func (r *Reader) U32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// Int reads a non-negative integer no larger than 2^40.
func (r *Reader) Int() int {
	v := int64(r.U64())
	if v < 0 || v > maxInt {
		r.Fail(fmt.Errorf("size %d out of range", v))
		return 0
	}
	return int(v)
}

// SignedInt reads a signed 64-bit integer.
func (r *Reader) SignedInt() int64 { return int64(r.U64()) }

// F64 reads a float64.
func (r *Reader) F64() float64 { return math.Float64frombits(r.U64()) }

// Bool reads one byte; anything but 0 or 1 is an error.
func (r *Reader) Bool() bool {
	b := r.take(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		r.Fail(fmt.Errorf("boolean byte %d", b[0]))
	}
	return b[0] == 1
}

// Blob reads a length-prefixed byte string (a copy).
func (r *Reader) Blob() []byte { return bytes.Clone(r.take(r.U64())) }

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.take(r.U64())) }

// F32s reads a length-prefixed float32 slice (nil when empty).
func (r *Reader) F32s() []float32 { return slice(r, math.Float32frombits) }

// I32s reads a length-prefixed int32 slice (nil when empty).
func (r *Reader) I32s() []int32 { return slice(r, func(u uint32) int32 { return int32(u) }) }

// slice reads a length-prefixed slice of 4-byte values; the length is
// checked against the bytes left before anything is allocated.
func slice[T any](r *Reader, conv func(uint32) T) []T {
	n := r.U64()
	if n == 0 || r.err != nil {
		return nil
	}
	if n > uint64(len(r.b))/4 {
		r.Fail(ErrTruncated)
		return nil
	}
	b := r.take(n * 4)
	v := make([]T, n)
	for i := range v {
		v[i] = conv(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Version reads an encoding's leading version number and returns an error
// naming what (e.g. "position: histogram") when it is not want.
func (r *Reader) Version(want uint32, what string) error {
	v := r.U32()
	if err := r.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if v != want {
		return fmt.Errorf("%s: encoding version %d, this version of pni reads %d", what, v, want)
	}
	return nil
}

package pni

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/x448/float16"
)

// featureStore keeps the full-dimension features of some training images
// for Fit's later passes (position histograms, MLP targets, calibration):
// in memory as float32 when they fit the budget, as float16 when half of
// that fits, else in a float16 spill file in a temporary directory, removed
// by close. Images are stored in slots, written once each.
type featureStore struct {
	rows, d int // rows per image, values per row
	slots   int
	f32     []float32
	f16     []float16.Float16
	file    *os.File
	buf     []byte // one image's float16 bytes, for the file
}

// newFeatureStore makes a store of slots images of rows x d values within
// budget bytes of memory; dir is the spill file's directory ("" = the
// system's temporary directory).
func newFeatureStore(slots, rows, d int, budget int64, dir string) (*featureStore, error) {
	s := &featureStore{rows: rows, d: d, slots: slots}
	n := int64(slots) * int64(rows) * int64(d)
	switch {
	case n*4 <= budget:
		s.f32 = make([]float32, n)
	case n*2 <= budget:
		s.f16 = make([]float16.Float16, n)
	default:
		f, err := os.CreateTemp(dir, "pni-features-*.f16")
		if err != nil {
			return nil, fmt.Errorf("creating the feature spill file: %w (set WithTempDir, or raise WithMemoryBudget)", err)
		}
		s.file = f
		s.buf = make([]byte, rows*d*2)
	}
	return s, nil
}

// bytes returns the memory (or disk, for a spill file) the features take.
func (s *featureStore) bytes() int64 {
	per := int64(2)
	if s.f32 != nil {
		per = 4
	}
	return int64(s.slots) * int64(s.rows) * int64(s.d) * per
}

// kind names the storage.
func (s *featureStore) kind() string {
	switch {
	case s.f32 != nil:
		return "float32 in memory"
	case s.f16 != nil:
		return "float16 in memory"
	}
	return "float16 in a spill file"
}

// set stores image slot j's rows x d features.
func (s *featureStore) set(j int, x []float32) error {
	per := s.rows * s.d
	switch {
	case s.f32 != nil:
		copy(s.f32[j*per:(j+1)*per], x)
	case s.f16 != nil:
		dst := s.f16[j*per : (j+1)*per]
		for i, v := range x[:per] {
			dst[i] = float16.Fromfloat32(v)
		}
	default:
		for i, v := range x[:per] {
			binary.LittleEndian.PutUint16(s.buf[2*i:], uint16(float16.Fromfloat32(v)))
		}
		if _, err := s.file.WriteAt(s.buf, int64(j)*int64(len(s.buf))); err != nil {
			return fmt.Errorf("writing the feature spill file: %w", err)
		}
	}
	return nil
}

// image returns slot j's features, in buf (rows x d) when a copy is needed.
func (s *featureStore) image(j int, buf []float32) ([]float32, error) {
	per := s.rows * s.d
	switch {
	case s.f32 != nil:
		return s.f32[j*per : (j+1)*per], nil
	case s.f16 != nil:
		buf = buf[:per]
		for i, v := range s.f16[j*per : (j+1)*per] {
			buf[i] = v.Float32()
		}
		return buf, nil
	}
	if _, err := s.file.ReadAt(s.buf, int64(j)*int64(len(s.buf))); err != nil {
		return nil, fmt.Errorf("reading the feature spill file: %w", err)
	}
	buf = buf[:per]
	for i := range buf {
		buf[i] = float16.Float16(binary.LittleEndian.Uint16(s.buf[2*i:])).Float32()
	}
	return buf, nil
}

// close releases the store and removes its spill file.
func (s *featureStore) close() {
	if s == nil {
		return
	}
	s.f32, s.f16 = nil, nil
	if s.file != nil {
		name := s.file.Name()
		s.file.Close()
		os.Remove(name)
		s.file = nil
	}
}

// grow doubles the store's slots (moving a memory store to float16 or to a
// spill file when it no longer fits budget), keeping what it holds.
func (s *featureStore) grow(budget int64, dir string) error {
	bigger, err := newFeatureStore(2*s.slots, s.rows, s.d, budget, dir)
	if err != nil {
		return err
	}
	buf := make([]float32, s.rows*s.d)
	for j := 0; j < s.slots; j++ {
		x, err := s.image(j, buf)
		if err != nil {
			return err
		}
		if err := bigger.set(j, x); err != nil {
			return err
		}
	}
	s.close()
	*s = *bigger
	return nil
}

// row copies row q of slot j into dst (d values), reading only that row.
func (s *featureStore) row(j, q int, dst []float32) error {
	per := s.rows * s.d
	off := j*per + q*s.d
	switch {
	case s.f32 != nil:
		copy(dst, s.f32[off:off+s.d])
	case s.f16 != nil:
		for i, v := range s.f16[off : off+s.d] {
			dst[i] = v.Float32()
		}
	default:
		b := s.buf[:2*s.d]
		if _, err := s.file.ReadAt(b, int64(off)*2); err != nil {
			return fmt.Errorf("reading the feature spill file: %w", err)
		}
		for i := range dst[:s.d] {
			dst[i] = float16.Float16(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	}
	return nil
}

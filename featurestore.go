package pni

import "github.com/x448/float16"

// featureStore keeps Fit's training features: float32 while they fit in the
// budget, float16 past it.
type featureStore struct {
	n, d int
	f32  []float32
	f16  []float16.Float16
}

func newFeatureStore(n, d int, budget int64) *featureStore {
	s := &featureStore{n: n, d: d}
	if int64(n)*int64(d)*4 <= budget {
		s.f32 = make([]float32, n*d)
	} else {
		s.f16 = make([]float16.Float16, n*d)
	}
	return s
}

// set stores rows starting at row r.
func (s *featureStore) set(r int, rows []float32) {
	if s.f32 != nil {
		copy(s.f32[r*s.d:], rows)
		return
	}
	dst := s.f16[r*s.d : r*s.d+len(rows)]
	for i, v := range rows {
		dst[i] = float16.Fromfloat32(v)
	}
}

// row copies row r into dst.
func (s *featureStore) row(r int, dst []float32) {
	s.rows(r, 1, dst)
}

func (s *featureStore) rows(r, count int, dst []float32) []float32 {
	dst = dst[:count*s.d]
	if s.f32 != nil {
		copy(dst, s.f32[r*s.d:(r+count)*s.d])
		return dst
	}
	src := s.f16[r*s.d : (r+count)*s.d]
	for i, v := range src {
		dst[i] = v.Float32()
	}
	return dst
}

// image returns image i's rowsPer rows, in buf when a copy is needed.
func (s *featureStore) image(i, rowsPer int, buf []float32) []float32 {
	if s.f32 != nil {
		return s.f32[i*rowsPer*s.d : (i+1)*rowsPer*s.d]
	}
	return s.rows(i*rowsPer, rowsPer, buf)
}

// all returns every row as float32 (a copy when stored as float16).
func (s *featureStore) all() []float32 {
	if s.f32 != nil {
		return s.f32
	}
	return s.rows(0, s.n, make([]float32, s.n*s.d))
}

// bytes returns the memory the stored features take.
func (s *featureStore) bytes() int64 {
	return int64(len(s.f32))*4 + int64(len(s.f16))*2
}

// kind names the storage type.
func (s *featureStore) kind() string {
	if s.f32 != nil {
		return "float32"
	}
	return "float16"
}

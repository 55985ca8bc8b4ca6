package coreset

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewProjection(t *testing.T) {
	for _, dims := range [][2]int{{0, 4}, {4, 0}, {-1, 4}} {
		if p, err := NewProjection(dims[0], dims[1], 1); p != nil || !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NewProjection(%d, %d): %v, %v", dims[0], dims[1], p, err)
		}
	}
	d, r := 300, 64
	p := newProj(d, r, 7)
	if p.D != d || p.R != r || len(p.W) != d*r {
		t.Fatalf("shape %dx%d len %d", p.D, p.R, len(p.W))
	}
	if !slices.Equal(p.W, newProj(d, r, 7).W) {
		t.Error("same seed, different matrices")
	}
	if slices.Equal(p.W, newProj(d, r, 8).W) {
		t.Error("different seeds, same matrix")
	}
	// Entries ~ N(0, 1/R): check mean, variance and the fraction within one standard deviation.
	var s, s2 float64
	in := 0
	sd := 1 / math.Sqrt(float64(r))
	for _, v := range p.W {
		s += float64(v)
		s2 += float64(v) * float64(v)
		if math.Abs(float64(v)) < sd {
			in++
		}
	}
	m := float64(len(p.W))
	mean, vr := s/m, s2/m-(s/m)*(s/m)
	if math.Abs(mean) > 4*sd/math.Sqrt(m) {
		t.Errorf("mean %g, want ~0", mean)
	}
	if math.Abs(vr*float64(r)-1) > 0.03 {
		t.Errorf("variance*R = %g, want ~1", vr*float64(r))
	}
	if f := float64(in) / m; math.Abs(f-0.6827) > 0.01 {
		t.Errorf("fraction within 1 sd %g, want 0.683", f)
	}
}

func TestProjectionApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range []struct{ n, d, r int }{{1, 1, 1}, {5, 7, 3}, {projBlock + 3, 20, 9}} {
		p := newProj(sh.d, sh.r, 11)
		x := gaussian(rng, sh.n, sh.d)
		out := make([]float32, sh.n*sh.r)
		p.Apply(x, sh.n, out)
		for i := 0; i < sh.n; i++ {
			for j := 0; j < sh.r; j++ {
				want := 0.0
				for t := 0; t < sh.d; t++ {
					want += float64(x[i*sh.d+t]) * float64(p.W[t*sh.r+j])
				}
				if got := float64(out[i*sh.r+j]); math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("%v: out[%d,%d] = %g, want %g", sh, i, j, got, want)
				}
			}
		}
	}
	// Distances are roughly preserved (Johnson-Lindenstrauss): a 256-d projection of 1024-d rows.
	n, d, r := 50, 1024, 256
	x := gaussian(rng, n, d)
	z := make([]float32, n*r)
	newProj(d, r, 1).Apply(x, n, z)
	for i := 1; i < n; i++ {
		ratio := float64(dist(z[:r], z[i*r:(i+1)*r]) / dist(x[:d], x[i*d:(i+1)*d]))
		if ratio < 0.75 || ratio > 1.25 {
			t.Errorf("row %d: projected/original distance %g", i, ratio)
		}
	}
}

func TestMapToPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	nEmb, nDist, d := 700, 90, 24
	emb := gaussian(rng, nEmb, d)
	got, err := MapToPrefix(emb, nEmb, nDist, d)
	if err != nil || len(got) != nEmb {
		t.Fatalf("len %d", len(got))
	}
	for i := 0; i < nEmb; i++ {
		best, bi := math.Inf(1), -1
		for j := 0; j < nDist; j++ {
			s := 0.0
			for t := 0; t < d; t++ {
				v := float64(emb[i*d+t]) - float64(emb[j*d+t])
				s += v * v
			}
			if s < best {
				best, bi = s, j
			}
		}
		if int(got[i]) != bi {
			t.Errorf("row %d -> %d, brute force %d", i, got[i], bi)
		}
	}
	// Whole set as prefix: identity.
	id, _ := MapToPrefix(emb, nEmb, nEmb, d)
	for i, v := range id {
		if int(v) != i {
			t.Fatalf("nDist = nEmb: row %d -> %d", i, v)
		}
	}
	// Duplicates of prefix rows map to the lowest equal prefix row.
	dup := slices.Concat(emb[:3*d], emb[1*d:2*d])
	if m, _ := MapToPrefix(dup, 4, 3, d); !slices.Equal(m, []int32{0, 1, 2, 1}) {
		t.Errorf("duplicate row mapped %v", m)
	}
	for _, c := range []struct{ nEmb, nDist, d, l int }{{10, 0, 2, 20}, {10, 11, 2, 20}, {10, 5, 0, 20}, {10, 5, 2, 19}} {
		if m, err := MapToPrefix(make([]float32, c.l), c.nEmb, c.nDist, c.d); m != nil || !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("MapToPrefix%v: %v, %v; want ErrInvalidArgument", c, m, err)
		}
	}
}

// newProj is NewProjection for sizes known to be valid.
func newProj(d, r int, seed int64) *Projection {
	p, err := NewProjection(d, r, seed)
	if err != nil {
		panic(err)
	}
	return p
}

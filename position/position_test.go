package position

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

type entry struct {
	c int32
	p float32
}

func row(h *Hist, pos int) []entry {
	idx, p := h.Row(pos)
	var out []entry
	for i := range idx {
		out = append(out, entry{idx[i], p[i]})
	}
	return out
}

func build(t *testing.T, h, w, k, r int, imgs ...[]int32) *Hist {
	t.Helper()
	b, err := NewBuilder(h, w, k, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range imgs {
		if err := b.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build()
}

func TestRadius0(t *testing.T) {
	// 2x3 grid, two images; radius 0 counts each assignment at its own position only.
	h := build(t, 2, 3, 4, 0, []int32{0, 1, 2, 3, 0, 1}, []int32{0, 0, 0, 0, 0, 0})
	want := [][]entry{
		{{0, 1}},
		{{0, .5}, {1, .5}},
		{{0, .5}, {2, .5}},
		{{0, .5}, {3, .5}},
		{{0, 1}},
		{{0, .5}, {1, .5}},
	}
	for pos, w := range want {
		if got := row(h, pos); !slices.Equal(got, w) {
			t.Errorf("pos %d: %v, want %v", pos, got, w)
		}
	}
	if h.H != 2 || h.W != 3 || h.K != 4 || h.Radius != 0 || len(h.Off) != 7 {
		t.Errorf("header %d %d %d %d len(Off)=%d", h.H, h.W, h.K, h.Radius, len(h.Off))
	}
}

func TestRadius1Clipping(t *testing.T) {
	// 3x3 grid, one image with assignment = position: the box of a corner holds 4 positions,
	// of an edge 6, of the centre 9.
	h := build(t, 3, 3, 9, 1, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8})
	boxes := map[int][]int32{
		0: {0, 1, 3, 4}, 1: {0, 1, 2, 3, 4, 5}, 4: {0, 1, 2, 3, 4, 5, 6, 7, 8}, 8: {4, 5, 7, 8}, 3: {0, 1, 3, 4, 6, 7},
	}
	for pos, box := range boxes {
		var w []entry
		for _, c := range box {
			w = append(w, entry{c, 1 / float32(len(box))})
		}
		if got := row(h, pos); !slices.Equal(got, w) {
			t.Errorf("pos %d: %v, want %v", pos, got, w)
		}
	}
	// Repeated elements: the corner's box {0,1,3,4} holds 0,0,0,2 -> 3/4 and 1/4;
	// the centre's box holds 0 x3, 1 x2, 2 x1, 3 x3.
	a := []int32{0, 0, 1, 0, 2, 1, 3, 3, 3}
	h = build(t, 3, 3, 4, 1, a)
	if got, w := row(h, 0), []entry{{0, .75}, {2, .25}}; !slices.Equal(got, w) {
		t.Errorf("corner: %v, want %v", got, w)
	}
	if got, w := row(h, 4), []entry{{0, 3. / 9}, {1, 2. / 9}, {2, 1. / 9}, {3, 3. / 9}}; !slices.Equal(got, w) {
		t.Errorf("centre: %v, want %v", got, w)
	}
	// Bottom-right corner (2,2): box {4,5,7,8} -> 2,1,3,3.
	if got, w := row(h, 8), []entry{{1, .25}, {2, .25}, {3, .5}}; !slices.Equal(got, w) {
		t.Errorf("bottom-right: %v, want %v", got, w)
	}
	if p := h.Prob(0, 0); p != .75 {
		t.Errorf("Prob(0,0) = %g", p)
	}
	if p := h.Prob(0, 1); p != 0 {
		t.Errorf("Prob of absent element = %g, want 0", p)
	}
	if p := h.Prob(0, 3); p != 0 {
		t.Errorf("Prob of absent element past the row = %g, want 0", p)
	}
	if p := h.Prob(9, 0) + h.Prob(-1, 0); p != 0 {
		t.Errorf("Prob outside the grid = %g, want 0", p)
	}
	if idx, p := h.Row(9); idx != nil || p != nil {
		t.Error("Row outside the grid not nil")
	}
}

// TestAgainstDense compares Build with a dense count table filled the released code's way:
// for each image and each source position, add 1 at every position of the clipped box.
func TestAgainstDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ h, w, k, r, imgs int }{{5, 7, 11, 2, 3}, {8, 8, 40, 1, 6}, {4, 9, 300, 3, 5}, {6, 6, 5, 10, 2}} {
		b, err := NewBuilder(c.h, c.w, c.k, c.r)
		if err != nil {
			t.Fatal(err)
		}
		dense := make([]float64, c.h*c.w*c.k)
		for i := 0; i < c.imgs; i++ {
			a := make([]int32, c.h*c.w)
			for j := range a {
				a[j] = int32(rng.IntN(c.k))
			}
			if err := b.Add(a); err != nil {
				t.Fatal(err)
			}
			for y := 0; y < c.h; y++ {
				for x := 0; x < c.w; x++ {
					for dy := -c.r; dy <= c.r; dy++ {
						for dx := -c.r; dx <= c.r; dx++ {
							yy, xx := y+dy, x+dx
							if yy >= 0 && yy < c.h && xx >= 0 && xx < c.w {
								dense[(yy*c.w+xx)*c.k+int(a[y*c.w+x])]++
							}
						}
					}
				}
			}
		}
		if b.Images() != c.imgs {
			t.Errorf("Images() = %d", b.Images())
		}
		h := b.Build()
		for pos := 0; pos < c.h*c.w; pos++ {
			counts := dense[pos*c.k : (pos+1)*c.k]
			sum := 0.0
			for _, v := range counts {
				sum += v
			}
			idx, p := h.Row(pos)
			if !slices.IsSorted(idx) {
				t.Fatalf("%v pos %d: row not sorted", c, pos)
			}
			psum := 0.0
			nz := 0
			for e := 0; e < c.k; e++ {
				want := counts[e] / sum
				if want > 0 {
					nz++
				}
				if got := h.Prob(pos, int32(e)); math.Abs(float64(got)-want) > 1e-6 {
					t.Fatalf("%v pos %d elem %d: %g, want %g", c, pos, e, got, want)
				}
			}
			for _, v := range p {
				psum += float64(v)
			}
			if nz != len(idx) || math.Abs(psum-1) > 1e-5 {
				t.Fatalf("%v pos %d: %d entries (want %d), sum %g", c, pos, len(idx), nz, psum)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ h, w, k, r int }{{0, 3, 4, 1}, {3, -1, 4, 1}, {3, 3, 0, 1}, {3, 3, 4, -1}} {
		if _, err := NewBuilder(c.h, c.w, c.k, c.r); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("NewBuilder%v: err %v", c, err)
		}
	}
	b, _ := NewBuilder(2, 2, 3, 1)
	for _, a := range [][]int32{nil, {0, 1, 2}, {0, 1, 2, 0, 1}, {0, 1, 3, 0}, {0, -1, 2, 0}} {
		if err := b.Add(a); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Add(%v): err %v", a, err)
		}
	}
	if b.Images() != 0 {
		t.Errorf("failed Adds counted %d images", b.Images())
	}
	h := b.Build()
	if len(h.Idx) != 0 || h.Off[4] != 0 || h.Prob(0, 0) != 0 {
		t.Error("empty builder gave a non-empty histogram")
	}
}

func TestDefaultRadius(t *testing.T) {
	for gw, want := range map[int]int{60: 4, 28: 2, 30: 2, 14: 1, 1: 1, 0: 1, -5: 1, 120: 8, 32: 2, 37: 2, 38: 3} {
		if got := DefaultRadius(gw); got != want {
			t.Errorf("DefaultRadius(%d) = %d, want %d", gw, got, want)
		}
	}
}

func BenchmarkBuild60x60(b *testing.B) {
	const h, w, k, imgs = 60, 60, 6800, 200
	rng := rand.New(rand.NewPCG(1, 1))
	bld, _ := NewBuilder(h, w, k, DefaultRadius(w))
	for i := 0; i < imgs; i++ {
		a := make([]int32, h*w)
		for j := range a {
			a[j] = int32((j*7 + rng.IntN(50)) % k) // position-dependent, like real assignments
		}
		bld.Add(a)
	}
	b.ReportAllocs()
	for b.Loop() {
		bld.Build()
	}
}

func Example() {
	// A 1x3 grid, 2 bank elements, radius 1, two training images.
	b, err := NewBuilder(1, 3, 2, 1)
	if err != nil {
		panic(err)
	}
	b.Add([]int32{0, 0, 1})
	b.Add([]int32{0, 1, 1})
	h := b.Build()
	for pos := 0; pos < 3; pos++ {
		idx, p := h.Row(pos)
		fmt.Println(pos, idx, p)
	}
	fmt.Println(h.Prob(0, 1), h.Prob(2, 0))
	// Output:
	// 0 [0 1] [0.75 0.25]
	// 1 [0 1] [0.5 0.5]
	// 2 [0 1] [0.25 0.75]
	// 0.25 0.25
}

func TestHistBinaryRoundTrip(t *testing.T) {
	b, err := NewBuilder(3, 4, 9, 1)
	if err != nil {
		t.Fatal(err)
	}
	for img := 0; img < 3; img++ {
		a := make([]int32, 12)
		for i := range a {
			a[i] = int32((i*7 + img*5) % 9)
		}
		if err := b.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	h := b.Build()
	data, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Hist
	if err := got.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, h) {
		t.Errorf("round trip differs:\n%+v\n%+v", got, *h)
	}
	again, _ := got.MarshalBinary()
	if !bytes.Equal(again, data) {
		t.Error("Marshal(Unmarshal(b)) != b")
	}
	// Every truncation and a damaged index are refused, leaving the target as it was.
	for n := 0; n < len(data); n += 7 {
		var x Hist
		if err := x.UnmarshalBinary(data[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	bad := *h
	bad.Idx = slices.Clone(h.Idx)
	bad.Idx[0] = 9
	if err := bad.Validate(); err == nil {
		t.Error("index out of range accepted")
	}
	bad.Idx[0] = h.Idx[1]
	if err := bad.Validate(); err == nil && h.Off[1] > 1 {
		t.Error("unsorted row accepted")
	}
	bad = *h
	bad.P = slices.Clone(h.P)
	bad.P[0] += 0.5
	if err := bad.Validate(); err == nil {
		t.Error("row summing to 1.5 accepted")
	}
	bad = *h
	bad.Off = h.Off[:5]
	if err := bad.Validate(); err == nil {
		t.Error("short offsets accepted")
	}
}

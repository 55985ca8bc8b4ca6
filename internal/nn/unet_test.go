package nn

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewUNet(t *testing.T) {
	cfg := Config{InChannels: 4, Base: 4, Depth: 3}
	a, err := NewUNet(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewUNet(cfg, 7)
	c, _ := NewUNet(cfg, 8)
	if !slices.Equal(a.Params.Data, b.Params.Data) {
		t.Error("same seed, different weights")
	}
	if slices.Equal(a.Params.Data, c.Params.Data) {
		t.Error("different seeds, same weights")
	}
	want := 0
	for _, cv := range a.Convs() {
		want += cv.NumParams()
	}
	if a.NumParams() != want {
		t.Errorf("NumParams %d, convolutions hold %d", a.NumParams(), want)
	}
	for _, bad := range []Config{{4, 0, 3, false}, {0, 8, 3, false}, {4, 8, 0, false}, {4, 8, 7, false}} {
		if _, err := NewUNet(bad, 1); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	for _, x := range []*Tensor{NewTensor(1, 3, 16, 16), NewTensor(1, 4, 12, 16), NewTensor(0, 4, 16, 16), NewTensor(1, 4, 4, 8)} {
		if a.CheckInput(x) == nil {
			t.Errorf("input %v accepted", x)
		}
	}
	if err := a.CheckInput(NewTensor(2, 4, 8, 24)); err != nil {
		t.Error(err)
	}
}

// TestUNetLearns trains a tiny UNet to erase a bright square from the map
// (the square is visible in the image channels too) and checks that the
// loss falls well below the identity's (pred = map).
func TestUNetLearns(t *testing.T) {
	u, err := NewUNet(Config{InChannels: 4, Base: 4, Depth: 2}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	const n, s = 4, 16
	x, target := NewTensor(n, 4, s, s), NewTensor(n, 1, s, s)
	batch := func() {
		clear(x.Data)
		clear(target.Data)
		for i := 0; i < n; i++ {
			y0, x0 := r.IntN(s-4), r.IntN(s-4)
			for c := 0; c < 4; c++ {
				p := x.Plane(i, c)
				for k := range p {
					p[k] = 0.1 * float32(r.Float64())
				}
				for y := y0; y < y0+4; y++ {
					for xx := x0; xx < x0+4; xx++ {
						p[y*s+xx] = 1
					}
				}
			}
			copy(target.Plane(i, 0), x.Plane(i, 3))
			tp := target.Plane(i, 0)
			for y := y0; y < y0+4; y++ {
				for xx := x0; xx < x0+4; xx++ {
					tp[y*s+xx] = 0
				}
			}
		}
	}
	batch()
	m := NewTensor(n, 1, s, s)
	for i := 0; i < n; i++ {
		copy(m.Plane(i, 0), x.Plane(i, 3))
	}
	identity, _ := Loss(m, target, nil)
	opt := NewAdam(u.NumParams(), 3e-3)
	var last float64
	steps := 300
	if testing.Short() {
		steps = 120
	}
	for i := 0; i < steps; i++ {
		batch()
		l := u.Step(x, target, opt)
		if i >= steps-10 {
			last += l / 10
		}
	}
	t.Logf("identity loss %.4f, after %d steps %.4f", identity, steps, last)
	if !(last < identity/3) {
		t.Errorf("loss %.4f after %d steps, identity %.4f", last, steps, identity)
	}
}

package backbone

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/x/pni/internal/geom"
	"github.com/x/pni/internal/tensor"
)

// aggregateSerial is the straightforward single-threaded aggregation
// (per image: smooth every channel plane, resize each output value directly
// from four source values, then transpose), kept as the reference the
// parallel, blocked Aggregate must match bit for bit.
func aggregateSerial(layer2, layer3 *tensor.Tensor) *batchFeatures {
	n, c2, h, w := layer2.Shape[0], layer2.Shape[1], layer2.Shape[2], layer2.Shape[3]
	c3, h3, w3 := layer3.Shape[1], layer3.Shape[2], layer3.Shape[3]
	half := c3 / 2
	d := c2 + half
	f := &batchFeatures{N: n, H: h, W: w, D: d, Data: make([]float32, n*h*w*d)}
	hw, hw3 := h*w, h3*w3
	scratch := make([]float32, max(hw, hw3))
	plane := make([]float32, hw)
	paired := make([]float32, hw3)
	sm := make([]float32, hw3)
	ys, xs := geom.HalfPixelTaps(h3, h, float64(h3)/float64(h), 0), geom.HalfPixelTaps(w3, w, float64(w3)/float64(w), 0)
	put := func(out []float32, ch int) {
		for p := range hw {
			out[p*d+ch] = plane[p]
		}
	}
	for i := range n {
		out := f.Data[i*h*w*d : (i+1)*h*w*d]
		for c := range c2 {
			boxMean3(plane, layer2.Data[(i*c2+c)*hw:(i*c2+c+1)*hw], scratch, h, w)
			put(out, c)
		}
		l3 := layer3.Data[i*c3*hw3 : (i+1)*c3*hw3]
		for c := range half {
			a, b := l3[2*c*hw3:(2*c+1)*hw3], l3[(2*c+1)*hw3:(2*c+2)*hw3]
			for j := range paired {
				paired[j] = 0.5 * (a[j] + b[j])
			}
			boxMean3(sm, paired, scratch, h3, w3)
			for y, ty := range ys {
				r0, r1 := sm[ty.I0*w3:(ty.I0+1)*w3], sm[ty.I1*w3:(ty.I1+1)*w3]
				for x, tx := range xs {
					top := (1-tx.W)*r0[tx.I0] + tx.W*r0[tx.I1]
					bot := (1-tx.W)*r1[tx.I0] + tx.W*r1[tx.I1]
					plane[y*w+x] = (1-ty.W)*top + ty.W*bot
				}
			}
			put(out, c2+c)
		}
	}
	return f
}

// batchFeatures is a batch of feature grids, N x H x W x D.
type batchFeatures struct {
	N, H, W, D int
	Data       []float32
}

// aggregateBatch runs aggregateLayers on each image of a batch of layer
// outputs and stacks the results (the fixtures hold batches).
func aggregateBatch(l2, l3 *tensor.Tensor) (*batchFeatures, error) {
	if l2 == nil || l3 == nil || len(l2.Shape) != 4 || len(l3.Shape) != 4 || l2.Shape[0] != l3.Shape[0] {
		return aggregateLayersOrErr(l2, l3)
	}
	n := l2.Shape[0]
	var out *batchFeatures
	for i := 0; i < n; i++ {
		a := tensor.FromData(l2.Data[i*l2.Len()/n:(i+1)*l2.Len()/n], append([]int{1}, l2.Shape[1:]...)...)
		b := tensor.FromData(l3.Data[i*l3.Len()/n:(i+1)*l3.Len()/n], append([]int{1}, l3.Shape[1:]...)...)
		f, err := aggregateLayers(a, b)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = &batchFeatures{N: n, H: f.H, W: f.W, D: f.D}
		}
		out.Data = append(out.Data, f.Data...)
	}
	return out, nil
}

func aggregateLayersOrErr(l2, l3 *tensor.Tensor) (*batchFeatures, error) {
	f, err := aggregateLayers(l2, l3)
	if err != nil {
		return nil, err
	}
	return &batchFeatures{N: 1, H: f.H, W: f.W, D: f.D, Data: f.Data}, nil
}

// TestAggregateMatchesSerial checks that Aggregate (blocked, parallel) gives
// bit-identical results to aggregateSerial, with 1 and 2 CPUs, for channel
// counts that are and are not multiples of the 16-channel block, batches,
// and up- and downsampling of layer3.
func TestAggregateMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := []struct{ n, c2, h, w, c3, h3, w3 int }{
		{1, 32, 8, 8, 64, 4, 4},
		{2, 37, 9, 7, 22, 5, 4},
		{3, 5, 6, 11, 34, 3, 6},
		{1, 16, 4, 5, 32, 7, 9},
		{2, 48, 1, 1, 40, 1, 1},
	}
	for _, c := range cases {
		l2, l3 := tensor.New(c.n, c.c2, c.h, c.w), tensor.New(c.n, c.c3, c.h3, c.w3)
		for i := range l2.Data {
			l2.Data[i] = rng.Float32()*4 - 2
		}
		for i := range l3.Data {
			l3.Data[i] = rng.Float32()*4 - 2
		}
		want := aggregateSerial(l2, l3)
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			got, err := aggregateBatch(l2, l3)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			if got.N != want.N || got.H != want.H || got.W != want.W || got.D != want.D {
				t.Fatalf("%+v: shape %d,%d,%d,%d, want %d,%d,%d,%d", c, got.N, got.H, got.W, got.D, want.N, want.H, want.W, want.D)
			}
			for i := range want.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%+v, GOMAXPROCS=%d: value %d is %v, serial reference %v", c, procs, i, got.Data[i], want.Data[i])
				}
			}
		}
	}
}

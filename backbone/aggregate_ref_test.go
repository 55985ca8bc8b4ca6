package backbone

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/x/pni/internal/geom"
	"github.com/x/pni/internal/tensor"
)

// aggregateSerial is the straightforward single-threaded aggregation: every
// output value computed on its own, from its terms in map order, each 3x3
// window read with explicit zero padding, the layer3 share resized from
// four source values. It spells out the arithmetic aggregate documents
// (corr3Add, upsampleAdd) and is the reference the parallel, blocked
// aggregate must match bit for bit.
func aggregateSerial(l2, l3 *tensor.Tensor, dims embedDims) *Features {
	c2, h, w := l2.Shape[1], l2.Shape[2], l2.Shape[3]
	c3, h3, w3 := l3.Shape[1], l3.Shape[2], l3.Shape[3]
	em := buildEmbedMap(c2, c3, dims)
	d := dims.target
	f := &Features{H: h, W: w, D: d, Data: make([]float32, h*w*d)}
	window := func(src []float32, hh, ww, y, x int, k *[9]float32) float32 {
		at := func(yy, xx int) float32 {
			if yy < 0 || yy >= hh || xx < 0 || xx >= ww {
				return 0
			}
			return src[yy*ww+xx]
		}
		var r [3]float32
		for ky := range 3 {
			yy := y + ky - 1
			r[ky] = (float32(k[3*ky]*at(yy, x-1)) + float32(k[3*ky+1]*at(yy, x))) + float32(k[3*ky+2]*at(yy, x+1))
		}
		return (r[0] + r[1]) + r[2]
	}
	ys, xs := geom.HalfPixelTaps(h3, h, float64(h3)/float64(h), 0), geom.HalfPixelTaps(w3, w, float64(w3)/float64(w), 0)
	s3 := make([]float32, h3*w3)
	for o, e := range em.outs {
		for y := range h3 {
			for x := range w3 {
				var v float32
				for i := range e.l3 {
					t := &e.l3[i]
					v += window(l3.Data[t.ch*h3*w3:(t.ch+1)*h3*w3], h3, w3, y, x, &t.w)
				}
				s3[y*w3+x] = v
			}
		}
		for y, ty := range ys {
			for x, tx := range xs {
				var v float32
				for i := range e.l2 {
					t := &e.l2[i]
					v += window(l2.Data[t.ch*h*w:(t.ch+1)*h*w], h, w, y, x, &t.w)
				}
				if len(e.l3) > 0 {
					r0, r1 := s3[ty.I0*w3:(ty.I0+1)*w3], s3[ty.I1*w3:(ty.I1+1)*w3]
					top := float32((1-tx.W)*r0[tx.I0]) + float32(tx.W*r0[tx.I1])
					bot := float32((1-tx.W)*r1[tx.I0]) + float32(tx.W*r1[tx.I1])
					v += float32((1-ty.W)*top) + float32(ty.W*bot)
				}
				f.Data[(y*w+x)*d+o] = v
			}
		}
	}
	return f
}

// aggregateDense is PatchCore's embedding written out literally, in
// float64: patchify both layers, resize every component plane of layer3's
// patches, adaptive-average-pool each layer's C*9 vector to P, concatenate,
// pool to D. It is independent of buildEmbedMap.
func aggregateDense(l2, l3 *tensor.Tensor, dims embedDims) []float64 {
	c2, h, w := l2.Shape[1], l2.Shape[2], l2.Shape[3]
	c3, h3, w3 := l3.Shape[1], l3.Shape[2], l3.Shape[3]
	patch := func(src []float32, c, hh, ww int) [][]float64 { // [position][c*9+k]
		out := make([][]float64, hh*ww)
		for y := range hh {
			for x := range ww {
				v := make([]float64, 9*c)
				for ch := range c {
					for k := range 9 {
						yy, xx := y+k/3-1, x+k%3-1
						if yy >= 0 && yy < hh && xx >= 0 && xx < ww {
							v[9*ch+k] = float64(src[(ch*hh+yy)*ww+xx])
						}
					}
				}
				out[y*ww+x] = v
			}
		}
		return out
	}
	lin := func(o, n, out int) (int, int, float64) { // torch's align_corners=false source taps
		c := math.Max((float64(o)+0.5)*float64(n)/float64(out)-0.5, 0)
		i0 := min(int(c), n-1)
		return i0, min(i0+1, n-1), c - float64(i0)
	}
	pool := func(v []float64, m int) []float64 {
		out := make([]float64, m)
		for i := range out {
			lo := int(math.Floor(float64(i*len(v)) / float64(m)))
			hi := int(math.Ceil(float64((i+1)*len(v)) / float64(m)))
			for _, x := range v[lo:hi] {
				out[i] += x
			}
			out[i] /= float64(hi - lo)
		}
		return out
	}
	p2, p3 := patch(l2.Data, c2, h, w), patch(l3.Data, c3, h3, w3)
	var out []float64
	for y := range h {
		y0, y1, wy := lin(y, h3, h)
		for x := range w {
			x0, x1, wx := lin(x, w3, w)
			v3 := make([]float64, 9*c3)
			for j := range v3 {
				v3[j] = (1-wy)*((1-wx)*p3[y0*w3+x0][j]+wx*p3[y0*w3+x1][j]) + wy*((1-wx)*p3[y1*w3+x0][j]+wx*p3[y1*w3+x1][j])
			}
			both := append(pool(p2[y*w+x], dims.layer), pool(v3, dims.layer)...)
			out = append(out, pool(both, dims.target)...)
		}
	}
	return out
}

func randLayers(rng *rand.Rand, c2, h, w, c3, h3, w3 int) (*tensor.Tensor, *tensor.Tensor) {
	l2, l3 := tensor.New(1, c2, h, w), tensor.New(1, c3, h3, w3)
	for i := range l2.Data {
		l2.Data[i] = rng.Float32()*4 - 2
	}
	for i := range l3.Data {
		l3.Data[i] = rng.Float32()*6 - 2
	}
	return l2, l3
}

// TestAggregateMatchesSerial checks that aggregate (blocked, parallel) gives
// bit-identical results to aggregateSerial, with 1 and 2 CPUs, for output
// counts that are and are not multiples of the 16-dimension block, both
// backbones' channel counts, pooling widths below and above the patch
// lengths, 1-wide grids, and up- and downsampling of layer3.
func TestAggregateMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := []struct{ c2, h, w, c3, h3, w3, p, d int }{
		{512, 6, 5, 1024, 3, 3, 1024, 1024},
		{512, 4, 4, 1792, 2, 2, 1024, 1024},
		{512, 5, 7, 1792, 3, 4, 512, 384},
		{37, 9, 7, 22, 5, 4, 100, 77},
		{5, 6, 11, 34, 3, 6, 351, 300},
		{16, 4, 5, 32, 7, 9, 64, 48},
		{3, 1, 1, 4, 1, 1, 16, 20},
		{6, 1, 5, 9, 2, 1, 13, 17},
	}
	for _, c := range cases {
		l2, l3 := randLayers(rng, c.c2, c.h, c.w, c.c3, c.h3, c.w3)
		dims := embedDims{layer: c.p, target: c.d}
		want := aggregateSerial(l2, l3, dims)
		for _, procs := range []int{1, 2} {
			old := runtime.GOMAXPROCS(procs)
			got, err := aggregateLayers(l2, l3, dims)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			if got.H != want.H || got.W != want.W || got.D != want.D {
				t.Fatalf("%+v: shape %d,%d,%d, want %d,%d,%d", c, got.H, got.W, got.D, want.H, want.W, want.D)
			}
			for i := range want.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%+v, GOMAXPROCS=%d: value %d is %v, serial reference %v", c, procs, i, got.Data[i], want.Data[i])
				}
			}
		}
	}
}

// TestAggregateDense compares aggregateLayers with the literal float64
// PatchCore embedding on random small layers of many channel counts and
// widths.
func TestAggregateDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	cases := []struct{ c2, h, w, c3, h3, w3, p, d int }{
		{2, 3, 3, 3, 2, 2, 4, 2},
		{2, 2, 2, 3, 1, 1, 4, 2},
		{7, 5, 4, 11, 3, 2, 20, 9},
		{8, 4, 4, 16, 2, 2, 72, 72},
		{5, 3, 6, 13, 2, 3, 150, 100},
		{9, 2, 7, 4, 4, 5, 33, 117},
		{64, 4, 3, 112, 2, 2, 1024, 1024},
		{64, 3, 3, 96, 2, 2, 256, 384},
		{1, 1, 1, 1, 1, 1, 1, 1},
		{1, 1, 1, 1, 1, 1, 18, 18},
	}
	for _, c := range cases {
		l2, l3 := randLayers(rng, c.c2, c.h, c.w, c.c3, c.h3, c.w3)
		dims := embedDims{layer: c.p, target: c.d}
		got, err := aggregateLayers(l2, l3, dims)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		want := aggregateDense(l2, l3, dims)
		var maxd, ref float64
		for i, v := range want {
			maxd = math.Max(maxd, math.Abs(float64(got.Data[i])-v))
			ref = math.Max(ref, math.Abs(v))
		}
		if maxd/ref > 1e-6 {
			t.Errorf("%+v: max |Go - dense| / max|dense| = %.3g", c, maxd/ref)
		}
	}
}

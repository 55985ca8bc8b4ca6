package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func cp(n, c, h, w, m, kh, kw, s, pad, dil, g int) ConvParams {
	return ConvParams{N: n, C: c, H: h, W: w, M: m, KH: kh, KW: kw, StrideH: s, StrideW: s,
		PadT: pad, PadL: pad, PadB: pad, PadR: pad, DilH: dil, DilW: dil, Group: g}
}

func convCases() []ConvParams {
	cases := []ConvParams{
		cp(1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1),
		cp(2, 16, 17, 9, 24, 3, 3, 1, 1, 1, 1),   // batch, odd width
		cp(1, 64, 14, 14, 32, 1, 1, 1, 0, 1, 1),  // 1x1 fast path
		cp(3, 33, 7, 7, 65, 1, 1, 1, 0, 1, 1),    // 1x1, batch 3, odd channels
		cp(1, 24, 15, 15, 20, 1, 1, 2, 0, 1, 1),  // 1x1 stride 2 (downsample)
		cp(1, 8, 23, 23, 12, 7, 7, 2, 3, 1, 1),   // stem-like 7x7/2
		cp(1, 12, 16, 20, 18, 3, 3, 2, 1, 1, 1),  // stride 2
		cp(1, 10, 19, 19, 14, 3, 3, 1, 2, 2, 1),  // dilation 2
		cp(2, 16, 12, 12, 32, 3, 3, 1, 1, 1, 4),  // groups (mg = 8)
		cp(1, 12, 10, 10, 24, 3, 3, 1, 1, 1, 3),  // groups (mg = 8, cg = 4)
		cp(2, 16, 11, 13, 16, 3, 3, 1, 1, 1, 16), // depthwise
		cp(1, 8, 9, 9, 16, 3, 3, 2, 1, 1, 8),     // depthwise multiplier 2
		cp(1, 6, 4, 4, 7, 5, 5, 1, 0, 1, 1),      // output 0x0? no: 4+0-4-1+1 = 0
		cp(1, 5, 3, 40, 17, 1, 3, 1, 1, 1, 1),    // wide image, 1x3 kernel
		cp(1, 300, 6, 6, 20, 3, 3, 1, 1, 1, 1),   // K = 2700 > several depth blocks
		cp(1, 4, 70, 70, 8, 3, 3, 1, 1, 1, 1),    // many columns (ohw 4900)
		cp(1, 20, 10, 10, 100, 3, 3, 1, 1, 1, 1), // Winograd, M > one row block
		cp(1, 8, 1, 1, 8, 3, 3, 1, 1, 1, 1),      // Winograd, one pixel
		cp(1, 8, 6, 5, 9, 3, 3, 1, 0, 1, 1),      // Winograd, no pad, odd output width
		cp(1, 16, 66, 66, 8, 3, 3, 1, 1, 1, 1),   // Winograd, several tile blocks
		cp(1, 3, 70, 70, 16, 7, 7, 2, 3, 1, 1),   // stem 7x7/2, rows of 35 outputs
		cp(2, 8, 64, 66, 16, 1, 1, 2, 0, 1, 1),   // 1x1/2 downsample, rows of 33 outputs
	}
	asym := cp(2, 7, 11, 13, 9, 3, 2, 1, 0, 1, 1)
	asym.PadT, asym.PadL, asym.PadB, asym.PadR = 2, 0, 1, 3
	asym.StrideH, asym.StrideW = 2, 3
	asym.DilH, asym.DilW = 1, 2
	cases = append(cases, asym)
	asym2 := cp(1, 9, 8, 12, 12, 3, 3, 1, 0, 1, 3)
	asym2.PadT, asym2.PadL, asym2.PadB, asym2.PadR = 0, 2, 3, 1
	asym2.StrideW, asym2.DilH = 2, 2
	cases = append(cases, asym2)
	asym3 := cp(2, 5, 9, 7, 13, 3, 3, 1, 0, 1, 1) // Winograd, uneven pads, odd output
	asym3.PadT, asym3.PadL, asym3.PadB, asym3.PadR = 2, 0, 1, 3
	cases = append(cases, asym3)
	return cases
}

func TestConv2D(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for ci, p := range convCases() {
			oh, ow := p.OutSize()
			if oh <= 0 || ow <= 0 {
				continue
			}
			cg := p.C / p.Group
			kk := cg * p.KH * p.KW
			for _, withBias := range []bool{false, true} {
				for _, relu := range []bool{false, true} {
					in := randGuarded(rng, p.N*p.C*p.H*p.W)
					w := randGuarded(rng, p.M*kk)
					bias := randGuarded(rng, p.M)
					var bs []float32
					if withBias {
						bs = bias.data
					}
					out := newGuarded(p.N * p.M * oh * ow)
					in0, w0, b0 := clone(in.data), clone(w.data), clone(bias.data)
					Conv2D(p, in.data, w.data, bs, out.data, relu)
					name := fmt.Sprintf("case %d %+v bias=%v relu=%v", ci, p, withBias, relu)
					in.check(t, name+" in")
					w.check(t, name+" w")
					out.check(t, name+" out")
					sameBits(t, name+" in", in.data, in0)
					sameBits(t, name+" w", w.data, w0)
					sameBits(t, name+" bias", bias.data, b0)
					want := make([]float32, len(out.data))
					var wantB []float32
					if withBias {
						wantB = b0
					}
					conv2DRef(p, in0, w0, wantB, want, relu)
					bound := make([]float32, len(want))
					var absB []float32
					if withBias {
						absB = absOf(b0)
					}
					conv2DRef(p, absOf(in0), absOf(w0), absB, bound, false)
					closeTo(t, name, out.data, want, bound, kk)

					// Prepacked weights: same blocking, so bit-identical,
					// except for the Winograd path (see TestConv2DWinograd).
					pw := PackConvWeights(p, w.data)
					sameBits(t, name+" w (packing)", w.data, w0)
					out2 := newGuarded(len(out.data))
					Conv2DPacked(p, pw, in.data, bs, out2.data, relu)
					out2.check(t, name+" packed out")
					if (pw.wino != nil) != p.winograd() {
						t.Fatalf("%s: Winograd weights %v, want %v", name, pw.wino != nil, p.winograd())
					}
					if p.winograd() {
						closeToWino(t, name+" Winograd", out2.data, want, bound, p.C)
						continue
					}
					sameBits(t, name+" packed vs unpacked", out2.data, out.data)
				}
			}
		}
	})
}

// TestConv2DPackedPre checks the BatchNormalization+ReLU folded into a
// convolution's input against the plain convolution of the mapped input
// (max(x·s + t, 0), computed here), on every convolution case: pointwise
// ones take the fused packing, the rest the copy. The input is not modified.
func TestConv2DPackedPre(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(23, 24))
		fused := 0
		for ci, p := range convCases() {
			oh, ow := p.OutSize()
			if oh <= 0 || ow <= 0 {
				continue
			}
			kk := p.C / p.Group * p.KH * p.KW
			hw := p.H * p.W
			in := randGuarded(rng, p.N*p.C*hw)
			w := randGuarded(rng, p.M*kk)
			bias := randGuarded(rng, p.M)
			pre := Pre{Scale: randGuarded(rng, p.C).data, Shift: randGuarded(rng, p.C).data}
			mapped := make([]float32, len(in.data))
			for i, v := range in.data {
				c := i / hw % p.C
				mapped[i] = max(v*pre.Scale[c]+pre.Shift[c], 0)
			}
			in0 := clone(in.data)
			pw := PackConvWeights(p, w.data)
			want := make([]float32, p.N*p.M*oh*ow)
			Conv2DPacked(p, pw, mapped, bias.data, want, true)
			out := newGuarded(len(want))
			Conv2DPackedPre(p, pw, in.data, bias.data, out.data, true, pre)
			name := fmt.Sprintf("case %d %+v", ci, p)
			in.check(t, name+" in")
			out.check(t, name+" out")
			sameBits(t, name+" in", in.data, in0)
			sameBits(t, name+" pre vs mapped input", out.data, want)
			if p.pointwise() && p.M/p.Group >= directMaxM {
				fused++
			}
		}
		if fused < 2 {
			t.Errorf("%d pointwise cases took the fused packing, want at least 2", fused)
		}
	})
	defer func() {
		if recover() == nil {
			t.Error("a Pre of the wrong length did not panic")
		}
	}()
	p := cp(1, 4, 3, 3, 8, 1, 1, 1, 0, 1, 1)
	Conv2DPackedPre(p, PackConvWeights(p, make([]float32, 32)), make([]float32, 36), nil, make([]float32, 72), false,
		Pre{Scale: make([]float32, 3), Shift: make([]float32, 4)})
}

// TestConv2DHand checks a convolution small enough to work out by hand.
func TestConv2DHand(t *testing.T) {
	in := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	// Two output channels: a 3×3 box sum and its negation, pad 1, stride 2:
	// window sums centred at (0,0),(0,2),(2,0),(2,2) are 12, 16, 24, 28.
	w := make([]float32, 18)
	for i := 0; i < 9; i++ {
		w[i], w[9+i] = 1, -1
	}
	p := cp(1, 1, 3, 3, 2, 3, 3, 2, 1, 1, 1)
	out := make([]float32, 8)
	Conv2D(p, in, w, []float32{0.5, 20}, out, true)
	want := []float32{12.5, 16.5, 24.5, 28.5, 8, 4, 0, 0}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("out = %v, want %v", out, want)
		}
	}
	// 2×2 kernel [[1,0],[0,-1]], no pad: in[y,x] − in[y+1,x+1] = −4 everywhere.
	p2 := cp(1, 1, 3, 3, 1, 2, 2, 1, 0, 1, 1)
	out2 := make([]float32, 4)
	Conv2D(p2, in, []float32{1, 0, 0, -1}, nil, out2, false)
	for _, v := range out2 {
		if v != -4 {
			t.Fatalf("out2 = %v, want all -4", out2)
		}
	}
	// The same through the blocked path: 8 identical output channels.
	w8 := make([]float32, 0, 32)
	for i := 0; i < 8; i++ {
		w8 = append(w8, 1, 0, 0, -1)
	}
	p8 := p2
	p8.M = 8
	out8 := make([]float32, 32)
	Conv2D(p8, in, w8, nil, out8, false)
	for _, v := range out8 {
		if v != -4 {
			t.Fatalf("out8 = %v, want all -4", out8)
		}
	}
}

func TestConv2DInvalidPanics(t *testing.T) {
	p := cp(1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 2) // C=3 not divisible by Group=2
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for C % Group != 0")
		}
	}()
	Conv2D(p, make([]float32, 75), make([]float32, 100), nil, make([]float32, 100), false)
}

func TestConv2DPackedMismatchPanics(t *testing.T) {
	p := cp(1, 8, 5, 5, 8, 3, 3, 1, 1, 1, 1)
	pw := PackConvWeights(p, make([]float32, 8*8*9))
	q := p
	q.M = 16
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for ConvWeights packed for another M")
		}
	}()
	Conv2DPacked(q, pw, make([]float32, 200), nil, make([]float32, 400), false)
}

// TestConv2DAllocs checks that a steady-state Conv2D call allocates no
// buffers proportional to the data (only a handful of small closures). A GC
// may empty the scratch pools mid-run, so the best of three rounds counts.
func TestConv2DAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	p := cp(1, 32, 20, 20, 32, 3, 3, 1, 1, 1, 1)
	in := make([]float32, 32*400)
	w := make([]float32, 32*32*9)
	out := make([]float32, 32*400)
	Conv2D(p, in, w, nil, out, true)
	best := uint64(math.MaxUint64)
	for round := 0; round < 3; round++ {
		var ms1, ms2 runtimeMem
		ms1.read()
		allocs := testing.AllocsPerRun(10, func() { Conv2D(p, in, w, nil, out, true) })
		ms2.read()
		if allocs > 16 {
			t.Fatalf("Conv2D allocates %v times per call", allocs)
		}
		best = min(best, (ms2.bytes-ms1.bytes)/11)
	}
	if best > 4096 {
		t.Fatalf("Conv2D allocates %d bytes per call", best)
	}
}

// closeToWino is closeTo for Winograd F(2×2,3×3) results, with the depth of
// the transformed products (C, not 9·C) and 8 times the margin: the
// transforms add a few roundings per term and combine 16 products whose
// terms can exceed the direct sum's. A wrong transform entry is off by about
// the bound itself, a million times more.
func closeToWino(t *testing.T, name string, got, want, bound []float32, c int) {
	t.Helper()
	wide := make([]float32, len(bound))
	for i, b := range bound {
		wide[i] = 8 * b
	}
	closeTo(t, name, got, want, wide, c)
}

// TestConv2DPackedAdd checks the residual join against Conv2DPacked followed
// by the addition (and ReLU) done here: bit for bit where the documentation
// says so, else within the product's rounding.
func TestConv2DPackedAdd(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for ci, p := range convCases() {
			oh, ow := p.OutSize()
			if oh <= 0 || ow <= 0 {
				continue
			}
			kk := p.C / p.Group * p.KH * p.KW
			for _, relu := range []bool{false, true} {
				name := fmt.Sprintf("case %d %+v relu=%v", ci, p, relu)
				in := randGuarded(rng, p.N*p.C*p.H*p.W)
				w := randGuarded(rng, p.M*kk)
				bias := randGuarded(rng, p.M)
				res := randGuarded(rng, p.N*p.M*oh*ow)
				pw := PackConvWeights(p, w.data)
				conv := make([]float32, len(res.data))
				Conv2DPacked(p, pw, in.data, bias.data, conv, false)
				want := make([]float32, len(conv))
				for i := range want {
					want[i] = conv[i] + res.data[i]
					if relu {
						want[i] = max(want[i], 0)
					}
				}
				got := newGuarded(len(res.data))
				copy(got.data, res.data)
				Conv2DPackedAdd(p, pw, in.data, bias.data, got.data, relu)
				got.check(t, name)
				if kk <= kcBlock || p.M/p.Group < directMaxM || pw.wino != nil {
					sameBits(t, name, got.data, want)
					continue
				}
				bound := make([]float32, len(want))
				conv2DRef(p, absOf(in.data), absOf(w.data), absOf(bias.data), bound, false)
				for i, r := range res.data {
					bound[i] += float32(math.Abs(float64(r)))
				}
				closeTo(t, name, got.data, want, bound, kk)
			}
		}
	})
}

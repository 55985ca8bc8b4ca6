package kernels

import (
	"sync"
	"unsafe"
)

// Winograd F(2×2, 3×3) convolution (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016) for the stride-1 3×3
// convolutions that carry about half of a ResNet's or DenseNet's arithmetic.
//
// The output is cut into 2×2 tiles; tile t reads a 4×4 input patch d_t. With
// the transforms
//
//	Bᵀ = | 1  0 -1  0 |   G = | 1    0    0  |   Aᵀ = | 1  1  1  0 |
//	     | 0  1  1  0 |       | 1/2  1/2  1/2|        | 0  1 -1 -1 |
//	     | 0 -1  1  0 |       | 1/2 -1/2  1/2|
//	     | 0  1  0 -1 |       | 0    0    1  |
//
// the weights become U = G·g·Gᵀ and each patch V = Bᵀ·d·B (4×4 each), and the
// output tile is Y = Aᵀ·[Σ_c U[m,c] ⊙ V[c,t]]·A. The sum over input channels
// is, for each of the 16 positions ξ of the 4×4 transform, a matrix product
// M_ξ = U_ξ·V_ξ (M×C times C×tiles): 16·M·C multiply-adds per tile of four
// outputs instead of 36·M·C, and no im2col gather.
//
// The input is first copied once into a zero-bordered buffer, so every patch
// lies inside it. The tiles are then processed in blocks small enough for a
// block's V and M_ξ to stay in the L2 cache, each worker its own blocks; the
// transforms run on eight consecutive tiles of a tile row at a time
// (winoIn8, winoOut8: AVX2 where the CPU has it).

// winoBlockFloats bounds a block's V and M_ξ buffers together (in floats).
const winoBlockFloats = 1 << 18

// winoMinM is the fewest output channels for which the transforms pay off.
const winoMinM = 8

// winograd reports whether p is a convolution the Winograd path computes:
// 3×3, stride 1, no dilation, one group, at least winoMinM output channels.
// Pads are any.
func (p ConvParams) winograd() bool {
	return p.KH == 3 && p.KW == 3 && p.StrideH == 1 && p.StrideW == 1 &&
		p.DilH == 1 && p.DilW == 1 && p.Group == 1 && p.M >= winoMinM
}

// packWinoWeights returns U_ξ = (G·g·Gᵀ)[ξ] for ξ = 0..15, each an M×C
// matrix packed as A panels in depth blocks (ξ's block pc at
// ξ·C·mPad + pc·mPad, as a group's in ConvWeights.packed).
func packWinoWeights(p ConvParams, weight []float32) []float32 {
	m, c := p.M, p.C
	u := make([]float32, 16*m*c)
	for o := 0; o < m; o++ {
		for i := 0; i < c; i++ {
			g := weight[(o*c+i)*9 : (o*c+i)*9+9]
			var t [4][3]float32 // G·g
			for k := 0; k < 3; k++ {
				g0, g1, g2 := g[k], g[3+k], g[6+k]
				t[0][k] = g0
				t[1][k] = (g0 + g1 + g2) / 2
				t[2][k] = (g0 - g1 + g2) / 2
				t[3][k] = g2
			}
			for r := 0; r < 4; r++ {
				a, b, e := t[r][0], t[r][1], t[r][2]
				row := [4]float32{a, (a + b + e) / 2, (a - b + e) / 2, e}
				for k, v := range row {
					u[(r*4+k)*m*c+o*c+i] = v
				}
			}
		}
	}
	mPad := (m + mr - 1) / mr * mr
	packed := make([]float32, 16*c*mPad)
	for xi := 0; xi < 16; xi++ {
		pa := packRowsA(u[xi*m*c:(xi+1)*m*c], c)
		for pc := 0; pc < c; pc += kcBlock {
			pa(packed[xi*c*mPad+pc*mPad:], 0, m, pc, min(kcBlock, c-pc))
		}
	}
	return packed
}

// winoGeom is the tiling of one convolution.
type winoGeom struct {
	oh, ow, ty, tx int // output size, tiles down and across
	hp, wp         int // padded input plane: hp = 2·ty+2 rows of wp = 2·tx+2
}

func newWinoGeom(p ConvParams) winoGeom {
	oh, ow := p.OutSize()
	g := winoGeom{oh: oh, ow: ow, ty: (oh + 1) / 2, tx: (ow + 1) / 2}
	g.hp, g.wp = 2*g.ty+2, 2*g.tx+2
	return g
}

// winoSlack is how far past a buffer's last used value the eight-tile
// transforms may read or write (lanes past a tile row's end are computed
// and then overwritten or ignored).
const winoSlack = 32

// winoSeg is a run of consecutive tiles in one tile row: block columns
// [j, j+n) are tiles (ty, tx..tx+n-1) of image img.
type winoSeg struct {
	j, img, ty, tx, n int
}

// winoScratch holds one worker's block buffers.
type winoScratch struct {
	v, m []float32
	segs []winoSeg
}

var (
	winoPool    = sync.Pool{New: func() any { return new(winoScratch) }}
	winoPadPool sync.Pool // *[]float32
)

// winoConv computes Conv2DPacked for a convolution with p.winograd(), w
// holding the transformed weights.
func winoConv(p ConvParams, w *ConvWeights, in, bias, out []float32, relu bool) {
	g := newWinoGeom(p)
	xp := winoPad(p, g, in)
	defer winoPadPool.Put(xp)
	tiles := p.N * g.ty * g.tx
	// Blocks of b tiles (a multiple of the panel width) within each
	// worker's panel-aligned share.
	b := max(winoBlockFloats/(16*(p.C+p.M))/nr*nr, nr)
	t := partsFor(float64(tiles) * float64(p.C) * float64(p.M) * 16)
	runSplit(splitAligned(tiles, t, nr), func(lo, hi int) {
		s := winoPool.Get().(*winoScratch)
		defer winoPool.Put(s)
		b := min(b, (hi-lo+nr-1)/nr*nr)
		vs, ms := winoStride(p.C, b), winoStride(p.M, b)
		s.v = grow(s.v, 16*vs+winoSlack)
		s.m = grow(s.m, 16*ms+winoSlack)
		for t0 := lo; t0 < hi; t0 += b {
			nb := min(b, hi-t0)
			s.segs = winoSegs(g, t0, nb, s.segs[:0])
			winoInput(p, g, *xp, s.segs, b, s.v, vs)
			winoProducts(p, w.wino, nb, b, s.v, vs, s.m, ms)
			winoOutput(p, g, s.segs, b, s.m, ms, bias, out, relu)
		}
	})
}

// winoStride is the distance between the 16 matrices of rows×b floats in a
// block buffer: one cache line more than their size, so that the 16 streams
// the transforms read or write at once do not all map to one cache set.
func winoStride(rows, b int) int { return rows*b + 16 }

// grow returns s with length n, reallocated when its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// winoPad copies the input into zero-bordered planes of hp×wp, the image at
// (PadT, PadL), clipped where the tiles end before the image does.
func winoPad(p ConvParams, g winoGeom, in []float32) *[]float32 {
	plane := g.hp * g.wp
	need := p.N*p.C*plane + winoSlack
	xp := pooledFloats(&winoPadPool, need)
	x := *xp
	hw := p.H * p.W
	rows := min(p.H, g.hp-p.PadT) // image rows inside the buffer
	cols := min(p.W, g.wp-p.PadL)
	Parallel(p.N*p.C, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst := x[i*plane : (i+1)*plane]
			src := in[i*hw : (i+1)*hw]
			clear(dst[:p.PadT*g.wp])
			for y := 0; y < rows; y++ {
				d := dst[(p.PadT+y)*g.wp : (p.PadT+y+1)*g.wp]
				clear(d[:p.PadL])
				copy(d[p.PadL:p.PadL+cols], src[y*p.W:y*p.W+cols])
				clear(d[p.PadL+cols:])
			}
			clear(dst[(p.PadT+rows)*g.wp:])
		}
	})
	return xp
}

// winoSegs appends the tile-row runs of tiles [t0, t0+n).
func winoSegs(g winoGeom, t0, n int, segs []winoSeg) []winoSeg {
	per := g.ty * g.tx
	for t := t0; t < t0+n; {
		img, r := t/per, t%per
		ty, tx := r/g.tx, r%g.tx
		k := min(g.tx-tx, t0+n-t)
		segs = append(segs, winoSeg{j: t - t0, img: img, ty: ty, tx: tx, n: k})
		t += k
	}
	return segs
}

// winoInput writes V = Bᵀ·d·B for every channel and tile of the block into v
// as 16 row-major C×b matrices, ξ's at ξ·vs.
func winoInput(p ConvParams, g winoGeom, xp []float32, segs []winoSeg, b int, v []float32, vs int) {
	plane := g.hp * g.wp
	for c := 0; c < p.C; c++ {
		for _, s := range segs {
			base := (s.img*p.C+c)*plane + 2*s.ty*g.wp + 2*s.tx
			// Bounds for the eight-tile reads and writes below.
			_ = xp[base+2*(s.n+7)+3*g.wp+3]
			_ = v[15*vs+c*b+s.j+s.n+7]
			for k := 0; k < s.n; k += 8 {
				winoIn8(&xp[base+2*k], g.wp, &v[c*b+s.j+k], vs)
			}
		}
	}
}

// winoProducts computes M_ξ = U_ξ·V_ξ (M×n, row stride b, ξ's at ξ·ms) for
// the block's n tiles.
func winoProducts(p ConvParams, u []float32, n, b int, v []float32, vs int, m []float32, ms int) {
	mPad := (p.M + mr - 1) / mr * mr
	var ep epilogue
	for xi := 0; xi < 16; xi++ {
		gemmSerial(p.M, n, p.C, 0, 0, prepackedA(u, xi*p.C*mPad, mPad), packRowsB(v[xi*vs:], b), m[xi*ms:], b, &ep)
	}
}

// winoOutput writes Y = Aᵀ·M·A (+ bias, then ReLU) for every output channel
// and tile of the block, dropping the row or column of an edge tile that
// falls past the output.
func winoOutput(p ConvParams, g winoGeom, segs []winoSeg, b int, m []float32, ms int, bias, out []float32, relu bool) {
	ohw := g.oh * g.ow
	var tmp [32]float32
	var zero float32
	for o := 0; o < p.M; o++ {
		bv := &zero
		if bias != nil {
			bv = &bias[o]
		}
		for _, s := range segs {
			_ = m[15*ms+o*b+s.j+s.n+7]
			plane := out[(s.img*p.M+o)*ohw : (s.img*p.M+o+1)*ohw]
			y := 2 * s.ty
			for k := 0; k < s.n; k += 8 {
				x := 2 * (s.tx + k)
				mp := &m[o*b+s.j+k]
				if k+8 <= s.n && x+16 <= g.ow && y+1 < g.oh {
					r0 := plane[y*g.ow+x : y*g.ow+x+16]
					r1 := plane[(y+1)*g.ow+x : (y+1)*g.ow+x+16]
					winoOut8(mp, ms, bv, relu, &r0[0], &r1[0])
					continue
				}
				winoOut8(mp, ms, bv, relu, &tmp[0], &tmp[16])
				w := min(2*min(8, s.n-k), g.ow-x)
				copy(plane[y*g.ow+x:y*g.ow+x+w], tmp[:w])
				if y+1 < g.oh {
					copy(plane[(y+1)*g.ow+x:(y+1)*g.ow+x+w], tmp[16:16+w])
				}
			}
		}
	}
}

// winoIn8 and winoOut8 are the eight-tile transforms, selected at init like
// kern6x16.
var (
	winoIn8  = winoIn8Go
	winoOut8 = winoOut8Go
)

// winoIn8Go computes V = Bᵀ·d·B for eight consecutive tiles of a tile row:
// tile t's 4×4 patch starts at x[2t] (row stride ldx), and V's entry ξ of
// tile t goes to v[ξ·vs + t].
func winoIn8Go(x *float32, ldx int, v *float32, vs int) {
	xs := unsafe.Slice(x, 3*ldx+18)
	vv := unsafe.Slice(v, 15*vs+8)
	for t := 0; t < 8; t++ {
		var e [4][4]float32 // Bᵀ·d
		for k := 0; k < 4; k++ {
			d0, d1, d2, d3 := xs[2*t+k], xs[ldx+2*t+k], xs[2*ldx+2*t+k], xs[3*ldx+2*t+k]
			e[0][k], e[1][k], e[2][k], e[3][k] = d0-d2, d1+d2, d2-d1, d1-d3
		}
		for r := 0; r < 4; r++ {
			q := &e[r]
			vv[(4*r)*vs+t] = q[0] - q[2]
			vv[(4*r+1)*vs+t] = q[1] + q[2]
			vv[(4*r+2)*vs+t] = q[2] - q[1]
			vv[(4*r+3)*vs+t] = q[1] - q[3]
		}
	}
}

// winoOut8Go computes Y = Aᵀ·M·A + *bias (then ReLU if relu) for eight
// consecutive tiles: tile t's M entry ξ is m[ξ·ms + t]; its output row r
// goes to dst_r[2t], dst_r[2t+1].
func winoOut8Go(m *float32, ms int, bias *float32, relu bool, dst0, dst1 *float32) {
	mm := unsafe.Slice(m, 15*ms+8)
	d0, d1 := (*[16]float32)(unsafe.Pointer(dst0)), (*[16]float32)(unsafe.Pointer(dst1))
	for t := 0; t < 8; t++ {
		var s [2][4]float32 // Aᵀ·M
		for k := 0; k < 4; k++ {
			m0, m1, m2, m3 := mm[k*ms+t], mm[(4+k)*ms+t], mm[(8+k)*ms+t], mm[(12+k)*ms+t]
			s[0][k], s[1][k] = m0+m1+m2, m1-m2-m3
		}
		for r, d := range [2]*[16]float32{d0, d1} {
			y0 := *bias + s[r][0] + s[r][1] + s[r][2]
			y1 := *bias + s[r][1] - s[r][2] - s[r][3]
			if relu {
				y0, y1 = max(y0, 0), max(y1, 0)
			}
			d[2*t], d[2*t+1] = y0, y1
		}
	}
}

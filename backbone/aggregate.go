package backbone

import (
	"fmt"
	"sync/atomic"

	"github.com/x/pni/internal/geom"
	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/tensor"
)

// Features is one image's patch-feature grid: a D-vector per position of
// an H x W grid (layer2's), stored H x W x D (D fastest, positions
// row-major) in Data. D is Options.Dim (DefaultDim, 1024, unless set); the
// vectors are PatchCore's embedding of the two layers (see aggregateLayers
// and the package documentation).
type Features struct {
	H, W, D int
	Data    []float32
}

// At returns the D-vector at grid position (y, x), a subslice of Data
// (capacity limited to D). It panics if an index is out of range.
func (f *Features) At(y, x int) []float32 {
	if y < 0 || y >= f.H || x < 0 || x >= f.W {
		panic(fmt.Sprintf("backbone: Features.At(%d, %d) out of range for H=%d W=%d", y, x, f.H, f.W))
	}
	i := (y*f.W + x) * f.D
	return f.Data[i : i+f.D : i+f.D]
}

// aggregateLayers computes PatchCore's patch features (Roth et al., CVPR
// 2022: PatchMaker, Preprocessing/MeanMapper and Aggregator of
// patchcore-inspection) from the raw layers, layer2 1 x C2 x h x w and
// layer3 1 x C3 x h3 x w3, with the widths dims:
//
//  1. each layer is cut into 3x3 patches (stride 1, zero padding 1): a
//     C*9 vector per position, channel-major, then the window row-major;
//  2. layer3's patch grid is bilinearly resized to h x w (align_corners=
//     false, torch's F.interpolate), each of its C3*9 components as a plane;
//  3. each layer's vector is averaged into P = dims.layer bins
//     (adaptive_avg_pool1d), the two P-vectors are concatenated (layer2
//     first) and averaged again into D = dims.target bins.
//
// The result is h x w x D. Steps 1 and 3 together are a fixed sparse linear
// map from the windows to the outputs (buildEmbedMap): output d is a sum,
// over a few channels of either layer, of a 3x3 weighted window sum. Since
// the bilinear resize is linear and acts on each plane alike, the layer3
// share of an output is summed at layer3's resolution and then resized.
func aggregateLayers(layer2, layer3 *tensor.Tensor, dims embedDims) (*Features, error) {
	if err := check4D("layer2", layer2); err != nil {
		return nil, err
	}
	if err := check4D("layer3", layer3); err != nil {
		return nil, err
	}
	n, c2, h, w := layer2.Shape[0], layer2.Shape[1], layer2.Shape[2], layer2.Shape[3]
	n3, c3, h3, w3 := layer3.Shape[0], layer3.Shape[1], layer3.Shape[2], layer3.Shape[3]
	if n != 1 || n3 != 1 {
		return nil, fmt.Errorf("layer2 and layer3 have batch %d and %d, want one image", n, n3)
	}
	if err := dims.check(c2, c3); err != nil {
		return nil, err
	}
	em := getEmbedMap(c2, c3, dims)
	f := &Features{H: h, W: w, D: dims.target, Data: make([]float32, h*w*dims.target)}
	aggregate(f, em, layer2.Data, layer3.Data, h3, w3)
	return f, nil
}

// aggBlock is the number of output dimensions one work unit of aggregate
// computes and transposes: 16 float32 are one 64-byte cache line of an
// output position.
const aggBlock = 16

// aggregate fills f (H x W x D, D = len(em.outs)) from the raw layer data
// l2 (C2 x H x W) and l3 (C3 x h3 x w3). The work is split into units of
// aggBlock output dimensions, handed out to one goroutine per CPU from a
// shared counter; each unit computes its planes into a private buffer and
// transposes them into the unit's own columns of f.Data. A plane is
//
//	sum of corr3 over its layer2 terms  +  resize(sum of corr3 over its layer3 terms)
//
// accumulated term by term in map order (corr3Add, upsampleAdd). Every
// output value is computed by the same arithmetic whatever the split, so
// the result does not depend on the number of CPUs.
func aggregate(f *Features, em *embedMap, l2, l3 []float32, h3, w3 int) {
	h, w, d := f.H, f.W, f.D
	hw, hw3 := h*w, h3*w3
	ys, xs := geom.HalfPixelTaps(h3, h, float64(h3)/float64(h), 0), geom.HalfPixelTaps(w3, w, float64(w3)/float64(w), 0)
	units := (d + aggBlock - 1) / aggBlock
	var next atomic.Int64
	kernels.Parallel(units, func(_, _ int) {
		planes := make([]float32, aggBlock*hw)
		acc3 := make([]float32, hw3)
		rows := make([]float32, h3*w)
		zero := make([]float32, max(w, w3))
		for {
			u := int(next.Add(1) - 1)
			if u >= units {
				return
			}
			d0 := u * aggBlock
			nc := min(aggBlock, d-d0)
			for k := range nc {
				e := &em.outs[d0+k]
				pl := planes[k*hw : (k+1)*hw]
				clear(pl)
				for i := range e.l2 {
					t := &e.l2[i]
					corr3Add(pl, l2[t.ch*hw:(t.ch+1)*hw], &t.w, h, w, zero)
				}
				if len(e.l3) == 0 {
					continue
				}
				clear(acc3)
				for i := range e.l3 {
					t := &e.l3[i]
					corr3Add(acc3, l3[t.ch*hw3:(t.ch+1)*hw3], &t.w, h3, w3, zero)
				}
				upsampleAdd(pl, acc3, w3, ys, xs, w, rows)
			}
			scatter(f.Data, planes[:nc*hw], nc, hw, d, d0)
		}
	})
}

func check4D(name string, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("%s is nil", name)
	}
	if len(t.Shape) != 4 {
		return fmt.Errorf("%s has shape %v, want N x C x H x W", name, t.Shape)
	}
	for _, s := range t.Shape {
		if s < 1 {
			return fmt.Errorf("%s has shape %v: every dimension must be >= 1", name, t.Shape)
		}
	}
	if t.Len() != len(t.Data) {
		return fmt.Errorf("%s has %d values for shape %v", name, len(t.Data), t.Shape)
	}
	return nil
}

// upsampleAdd adds to dst (len(ys) x w) the bilinear resize of the plane
// src (row width sw) at the precomputed taps. rows (len >= (len(src)/sw)*w)
// receives the horizontally resized source rows, each computed once and
// then blended vertically: per output value the same products and sums as
// resizing it directly from its four source values,
//
//	dst += wy0*(wx0*s00 + wx1*s01) + wy1*(wx0*s10 + wx1*s11)
//
// (torch's bilinear order). The float32 conversions keep each product
// rounded on its own, so no platform fuses them into multiply-adds.
func upsampleAdd(dst, src []float32, sw int, ys, xs []geom.Tap, w int, rows []float32) {
	for r := range len(src) / sw {
		s := src[r*sw : (r+1)*sw]
		o := rows[r*w : (r+1)*w]
		for x, tx := range xs {
			o[x] = float32((1-tx.W)*s[tx.I0]) + float32(tx.W*s[tx.I1])
		}
	}
	for y, ty := range ys {
		r0, r1 := rows[ty.I0*w:(ty.I0+1)*w], rows[ty.I1*w:(ty.I1+1)*w]
		o := dst[y*w : (y+1)*w]
		r0, r1 = r0[:len(o)], r1[:len(o)]
		w0, w1 := 1-ty.W, ty.W
		for x := range o {
			o[x] += float32(w0*r0[x]) + float32(w1*r1[x])
		}
	}
}

// corr3Add adds to acc (h x w) the 3x3 weighted window sums of the plane src
// (h x w) with zero padding: per position, with a, b, c the values left of,
// at and right of the position in the row above (ky = 0), the same row
// (ky = 1) and the row below (ky = 2), zero outside the plane,
//
//	r[ky] = (k[3ky]*a + k[3ky+1]*b) + k[3ky+2]*c
//	acc  += (r[0] + r[1]) + r[2]
//
// with each product rounded to float32 on its own. zero is a zero row of
// length >= w standing for the rows outside the plane (its products are
// exact zeros, which leave the sums unchanged).
func corr3Add(acc, src []float32, k *[9]float32, h, w int, zero []float32) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	zero = zero[:w]
	for y := range h {
		up, mid, dn := zero, src[y*w:(y+1)*w], zero
		if y > 0 {
			up = src[(y-1)*w : y*w]
		}
		if y < h-1 {
			dn = src[(y+1)*w : (y+2)*w]
		}
		o := acc[y*w : (y+1)*w]
		if w == 1 {
			o[0] += (float32(k1*up[0]) + float32(k4*mid[0])) + float32(k7*dn[0])
			continue
		}
		// x = 0 and x = w-1: the taps outside the row are left out.
		o[0] += ((float32(k1*up[0]) + float32(k2*up[1])) + (float32(k4*mid[0]) + float32(k5*mid[1]))) + (float32(k7*dn[0]) + float32(k8*dn[1]))
		e := w - 1
		o[e] += ((float32(k0*up[e-1]) + float32(k1*up[e])) + (float32(k3*mid[e-1]) + float32(k4*mid[e]))) + (float32(k6*dn[e-1]) + float32(k7*dn[e]))
		// Interior: all nine taps.
		oo := o[1:e]
		n := len(oo)
		u0, u1, u2 := up[0:n], up[1:n+1], up[2:n+2]
		m0, m1, m2 := mid[0:n], mid[1:n+1], mid[2:n+2]
		d0, d1, d2 := dn[0:n], dn[1:n+1], dn[2:n+2]
		for i := range oo {
			r0 := (float32(k0*u0[i]) + float32(k1*u1[i])) + float32(k2*u2[i])
			r1 := (float32(k3*m0[i]) + float32(k4*m1[i])) + float32(k5*m2[i])
			r2 := (float32(k6*d0[i]) + float32(k7*d1[i])) + float32(k8*d2[i])
			oo[i] += (r0 + r1) + r2
		}
	}
}

// scatter transposes c planes of hw values (channel-major) into out, which
// is hw positions of d values, at channel offset off. With c == aggBlock
// each position receives one whole cache line from 16 sequential streams.
func scatter(out, planes []float32, c, hw, d, off int) {
	if c == aggBlock {
		var src [aggBlock][]float32
		for k := range src {
			src[k] = planes[k*hw : (k+1)*hw]
		}
		s0, s1, s2, s3 := src[0][:hw], src[1][:hw], src[2][:hw], src[3][:hw]
		s4, s5, s6, s7 := src[4][:hw], src[5][:hw], src[6][:hw], src[7][:hw]
		s8, s9, s10, s11 := src[8][:hw], src[9][:hw], src[10][:hw], src[11][:hw]
		s12, s13, s14, s15 := src[12][:hw], src[13][:hw], src[14][:hw], src[15][:hw]
		for p := range hw {
			o := out[p*d+off : p*d+off+aggBlock]
			o[0], o[1], o[2], o[3] = s0[p], s1[p], s2[p], s3[p]
			o[4], o[5], o[6], o[7] = s4[p], s5[p], s6[p], s7[p]
			o[8], o[9], o[10], o[11] = s8[p], s9[p], s10[p], s11[p]
			o[12], o[13], o[14], o[15] = s12[p], s13[p], s14[p], s15[p]
		}
		return
	}
	for p := range hw {
		o := out[p*d+off : p*d+off+c]
		for k := range o {
			o[k] = planes[k*hw+p]
		}
	}
}

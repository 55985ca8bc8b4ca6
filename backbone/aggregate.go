package backbone

import (
	"fmt"
	"sync/atomic"

	"github.com/x/pni/internal/geom"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/tensor"
)

// Features is one image's patch-feature grid: a D-vector per position of
// an H x W grid, stored H x W x D (D fastest, positions row-major) in Data.
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

// aggregateLayers combines raw layer outputs into patch features as docs/algorithm.md
// section 1 (PatchCore's aggregation) fixes: layer2 is N x C2 x h2 x w2,
// layer3 is N x C3 x h3 x w3 (C3 even). Each layer gets a 3x3 local mean
// (stride 1, zero padding, always divided by 9, as torch's
// avg_pool2d(3, 1, 1, count_include_pad=True)); layer3 is bilinearly
// resized to h2 x w2 (align_corners=false, as torch's F.interpolate) and its
// channels averaged in adjacent pairs (0,1), (2,3), ...; the result is the
// concatenation [layer2 | layer3'] with D = C2 + C3/2 per position, as
// N x h2 x w2 x D. (Pairing is done first: it commutes with both linear
// filters.)
func aggregateLayers(layer2, layer3 *tensor.Tensor) (*Features, error) {
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
	if c3%2 != 0 {
		return nil, fmt.Errorf("layer3 has an odd channel count %d; its channels are averaged in pairs", c3)
	}
	half := c3 / 2
	d := c2 + half
	f := &Features{H: h, W: w, D: d, Data: make([]float32, h*w*d)}
	aggregate(f, layer2.Data, layer3.Data, c2, c3, h3, w3)
	return f, nil
}

// aggBlock is the number of output channels one work unit of aggregate
// computes and transposes: 16 float32 are one 64-byte cache line of an
// output position.
const aggBlock = 16

// aggregate fills f from the raw layer data. The work is split into units of
// aggBlock output channels of one image (layer2 channels, or layer3 channel
// pairs), handed out to one goroutine per CPU from a shared counter; each
// unit smooths (and for layer3 pairs and upsamples) its planes into a
// private buffer, then transposes them into the unit's own channel columns
// of f.Data. Every output value is computed by the same arithmetic whatever
// the split, so the result does not depend on the number of CPUs.
func aggregate(f *Features, l2all, l3all []float32, c2, c3, h3, w3 int) {
	const n = 1
	h, w, d := f.H, f.W, f.D
	half := c3 / 2
	hw, hw3 := h*w, h3*w3
	ys, xs := geom.HalfPixelTaps(h3, h, float64(h3)/float64(h), 0), geom.HalfPixelTaps(w3, w, float64(w3)/float64(w), 0)
	b2, b3 := (c2+aggBlock-1)/aggBlock, (half+aggBlock-1)/aggBlock
	units := n * (b2 + b3)
	var next atomic.Int64
	kernels.Parallel(units, func(_, _ int) {
		planes := make([]float32, aggBlock*hw)
		scratch := make([]float32, max(hw, hw3))
		paired := make([]float32, hw3)
		sm := make([]float32, hw3)
		rows := make([]float32, h3*w)
		for {
			u := int(next.Add(1) - 1)
			if u >= units {
				return
			}
			i, b := u/(b2+b3), u%(b2+b3)
			out := f.Data
			if b < b2 {
				// layer2: local mean per channel.
				c0 := b * aggBlock
				nc := min(aggBlock, c2-c0)
				l2 := l2all[(i*c2+c0)*hw : (i*c2+c0+nc)*hw]
				for k := range nc {
					boxMean3(planes[k*hw:(k+1)*hw], l2[k*hw:(k+1)*hw], scratch, h, w)
				}
				scatter(out, planes[:nc*hw], nc, hw, d, c0)
				continue
			}
			// layer3: pair, local mean, upsample.
			c0 := (b - b2) * aggBlock
			nc := min(aggBlock, half-c0)
			l3 := l3all[i*c3*hw3 : (i+1)*c3*hw3]
			for k := range nc {
				c := c0 + k
				a, bb := l3[2*c*hw3:(2*c+1)*hw3], l3[(2*c+1)*hw3:(2*c+2)*hw3]
				for j := range paired {
					paired[j] = 0.5 * (a[j] + bb[j])
				}
				boxMean3(sm, paired, scratch, h3, w3)
				upsample(planes[k*hw:(k+1)*hw], sm, w3, ys, xs, w, rows)
			}
			scatter(out, planes[:nc*hw], nc, hw, d, c2+c0)
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

// boxMean3 writes the 3x3 zero-padded local sum / 9 of the h x w plane src
// into dst, using scratch (len >= h*w, distinct from src and dst).
func boxMean3(dst, src, scratch []float32, h, w int) {
	// Horizontal 3-tap sums into scratch.
	for y := range h {
		s := src[y*w : (y+1)*w]
		t := scratch[y*w : (y+1)*w]
		if w == 1 {
			t[0] = s[0]
			continue
		}
		t[0] = s[0] + s[1]
		for x := 1; x < w-1; x++ {
			t[x] = s[x-1] + s[x] + s[x+1]
		}
		t[w-1] = s[w-2] + s[w-1]
	}
	// Vertical 3-tap sums / 9 into dst.
	const ninth = float32(1.0 / 9)
	for y := range h {
		o := dst[y*w : (y+1)*w]
		c := scratch[y*w : (y+1)*w]
		switch {
		case h == 1:
			for x := range o {
				o[x] = c[x] * ninth
			}
		case y == 0:
			dn := scratch[(y+1)*w : (y+2)*w]
			for x := range o {
				o[x] = (c[x] + dn[x]) * ninth
			}
		case y == h-1:
			up := scratch[(y-1)*w : y*w]
			for x := range o {
				o[x] = (up[x] + c[x]) * ninth
			}
		default:
			up, dn := scratch[(y-1)*w:y*w], scratch[(y+1)*w:(y+2)*w]
			for x := range o {
				o[x] = (up[x] + c[x] + dn[x]) * ninth
			}
		}
	}
}

// upsample bilinearly resizes the plane src (row width sw) to len(ys) x w
// using the precomputed taps. rows (len >= (len(src)/sw)*w) receives the
// horizontally resized source rows, each computed once and then blended
// vertically (the same two products and sums per output value as resizing
// each output value directly).
func upsample(dst, src []float32, sw int, ys, xs []geom.Tap, w int, rows []float32) {
	for r := range len(src) / sw {
		s := src[r*sw : (r+1)*sw]
		o := rows[r*w : (r+1)*w]
		for x, tx := range xs {
			o[x] = (1-tx.W)*s[tx.I0] + tx.W*s[tx.I1]
		}
	}
	for y, ty := range ys {
		r0, r1 := rows[ty.I0*w:(ty.I0+1)*w], rows[ty.I1*w:(ty.I1+1)*w]
		o := dst[y*w : (y+1)*w]
		r0, r1 = r0[:len(o)], r1[:len(o)]
		w0, w1 := 1-ty.W, ty.W
		for x := range o {
			o[x] = w0*r0[x] + w1*r1[x]
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

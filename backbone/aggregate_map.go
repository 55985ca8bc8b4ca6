package backbone

import (
	"slices"
	"sync"
)

// DefaultDim is the patch-feature dimension D when Options.Dim is 0:
// PatchCore's default target_embed_dimension.
const DefaultDim = 1024

// DefaultLayerDim is the per-layer dimension when Options.LayerDim is 0:
// PatchCore's default pretrain_embed_dimension.
const DefaultLayerDim = 1024

// embedDims are the two widths of PatchCore's embedding: layer is the
// per-layer width P (pretrain_embed_dimension), target the final D
// (target_embed_dimension). Both are >= 1 once resolved. defLayer and
// defTarget mark widths taken from the defaults, which PatchCore applies to
// any backbone and so are not bounded by the layers' channel counts.
type embedDims struct {
	layer, target       int
	defLayer, defTarget bool
}

// resolveDims applies the defaults to Options.LayerDim and Options.Dim and
// rejects negative values. The upper bounds depend on the layers' channel
// counts and are checked by check.
func resolveDims(layerDim, dim int) (embedDims, error) {
	if dim < 0 {
		return embedDims{}, badArg("Options.Dim = %d: want the feature dimension D >= 1, or 0 for %d", dim, DefaultDim)
	}
	if layerDim < 0 {
		return embedDims{}, badArg("Options.LayerDim = %d: want the per-layer dimension >= 1, or 0 for %d", layerDim, DefaultLayerDim)
	}
	e := embedDims{layer: layerDim, target: dim}
	if e.layer == 0 {
		e.layer, e.defLayer = DefaultLayerDim, true
	}
	if e.target == 0 {
		e.target, e.defTarget = DefaultDim, true
	}
	return e, nil
}

// check reports whether the widths suit layers of c2 and c3 channels: each
// width given explicitly must be at most 9*(c2+c3), the number of values in
// one position's two 3x3 patch vectors (a wider pooling only repeats
// values). The defaults (1024) are accepted for any layers, as PatchCore
// does: for layers narrower than that the poolings repeat values.
func (e embedDims) check(c2, c3 int) error {
	n := 9 * (c2 + c3)
	if e.layer < 1 || e.target < 1 {
		return badArg("embedding widths %d (per layer) and %d (D) must be >= 1", e.layer, e.target)
	}
	if e.target > n && !e.defTarget {
		return badArg("Options.Dim = %d exceeds 9*(C2+C3) = %d, the number of values in a position's two 3x3 patches of layers with %d and %d channels; choose a smaller Dim", e.target, n, c2, c3)
	}
	if e.layer > n && !e.defLayer {
		return badArg("Options.LayerDim = %d exceeds 9*(C2+C3) = %d, the number of values in a position's two 3x3 patches of layers with %d and %d channels; choose a smaller LayerDim", e.layer, n, c2, c3)
	}
	return nil
}

// embedTerm is one channel's share of one output dimension: the weights of
// the channel's 3x3 window, row-major, w[3*(dy+1)+(dx+1)] multiplying the
// channel's value at (y+dy, x+dx) (zero outside the grid).
type embedTerm struct {
	ch int
	w  [9]float32
}

// embedOut lists the terms of one output dimension, by layer, each in
// increasing channel order.
type embedOut struct {
	l2, l3 []embedTerm
}

// embedMap is PatchCore's embedding for layers of c2 and c3 channels and
// widths dims, as the sparse linear map from the two 3x3 patches of a
// position to its D outputs.
type embedMap struct {
	c2, c3 int
	dims   embedDims
	outs   []embedOut // D entries
}

type embedKey struct{ c2, c3, layer, target int }

// embedMaps caches the maps by channel counts and widths: a map is built
// once and then shared, read-only, by every aggregation.
var embedMaps sync.Map // embedKey -> *embedMap

// getEmbedMap returns the (cached) map; dims must have passed check.
func getEmbedMap(c2, c3 int, dims embedDims) *embedMap {
	k := embedKey{c2, c3, dims.layer, dims.target}
	if m, ok := embedMaps.Load(k); ok {
		return m.(*embedMap)
	}
	m, _ := embedMaps.LoadOrStore(k, buildEmbedMap(c2, c3, dims))
	return m.(*embedMap)
}

// poolBin is bin i of adaptive average pooling of n values to m bins (torch's
// adaptive_avg_pool1d): the values [floor(i*n/m), ceil((i+1)*n/m)).
func poolBin(i, n, m int) (lo, hi int) {
	return i * n / m, ((i+1)*n + m - 1) / m
}

// buildEmbedMap composes PatchCore's two poolings into per-output window
// weights. A layer's patch vector at a position is its C x 3 x 3 window
// flattened channel-major (index 9*c + 3*(dy+1) + (dx+1)); the first
// pooling (PatchCore's MeanMapper) averages it into P = dims.layer bins, the
// two layers' P-vectors are concatenated (layer2 first) and the second
// pooling (PatchCore's Aggregator) averages those 2P values into D =
// dims.target bins. Output d is therefore a fixed weighted sum of a few
// channels' windows; the weights are accumulated in float64 and rounded
// once.
func buildEmbedMap(c2, c3 int, dims embedDims) *embedMap {
	p, d := dims.layer, dims.target
	n := [2]int{9 * c2, 9 * c3}
	m := &embedMap{c2: c2, c3: c3, dims: dims, outs: make([]embedOut, d)}
	// acc[l][9*c+k] collects output o's weights; touched lists the channels
	// it reaches, marked in seen (o+1 once touched by output o).
	acc := [2][]float64{make([]float64, n[0]), make([]float64, n[1])}
	seen := [2][]int{make([]int, c2), make([]int, c3)}
	var touched [2][]int
	for o := range d {
		lo, hi := poolBin(o, 2*p, d)
		a := 1 / float64(hi-lo)
		for t := lo; t < hi; t++ {
			l, i := t/p, t%p
			jlo, jhi := poolBin(i, n[l], p)
			b := a / float64(jhi-jlo)
			for j := jlo; j < jhi; j++ {
				if c := j / 9; seen[l][c] != o+1 {
					seen[l][c] = o + 1
					touched[l] = append(touched[l], c)
				}
				acc[l][j] += b
			}
		}
		for l := range 2 {
			slices.Sort(touched[l])
			ts := make([]embedTerm, len(touched[l]))
			for i, c := range touched[l] {
				ts[i].ch = c
				for k := range 9 {
					ts[i].w[k] = float32(acc[l][9*c+k])
					acc[l][9*c+k] = 0
				}
			}
			touched[l] = touched[l][:0]
			if l == 0 {
				m.outs[o].l2 = ts
			} else {
				m.outs[o].l3 = ts
			}
		}
	}
	return m
}

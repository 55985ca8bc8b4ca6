package pni

import (
	"context"
	"image"
	"math"
	"sync"

	"github.com/x/pni/backbone"
)

// tiling splits large images into overlapping square tiles that the
// members see at their own input size, so that a high-resolution image's
// small defects are seen at full resolution (WithTiles). A zero tiling
// (Size 0) means no tiles: the whole image is resized.
type tiling struct {
	Size    int `json:"tile_size,omitempty"`    // tile side in original pixels
	Overlap int `json:"tile_overlap,omitempty"` // pixels shared by neighbouring tiles
}

func (t tiling) on() bool { return t.Size > 0 }

// starts returns the tile origins along an axis of n pixels: tiles of
// size s (or n if smaller) with stride s - overlap, the last one flush with
// the edge.
func (t tiling) starts(n int) []int {
	s := min(t.Size, n)
	if s >= n {
		return []int{0}
	}
	stride := s - t.Overlap
	var out []int
	for x := 0; ; x += stride {
		if x+s >= n {
			out = append(out, n-s)
			return out
		}
		out = append(out, x)
	}
}

// rects returns the tiles of a w x h image, row by row.
func (t tiling) rects(w, h int) []image.Rectangle {
	xs, ys := t.starts(w), t.starts(h)
	sw, sh := min(t.Size, w), min(t.Size, h)
	out := make([]image.Rectangle, 0, len(xs)*len(ys))
	for _, y := range ys {
		for _, x := range xs {
			out = append(out, image.Rect(x, y, x+sw, y+sh))
		}
	}
	return out
}

// weight is a tile pixel's blending weight along one axis: it ramps
// linearly over the overlap at the tile's inner edges (edges that touch
// another tile), from 1/(overlap+1) to 1, and is 1 elsewhere. Neighbouring
// tiles' weights then cross-fade over the overlap, so the stitched map has
// no seam.
func (t tiling) weight(i, n int, innerLow, innerHigh bool) float32 {
	o := t.Overlap
	if o <= 0 {
		return 1
	}
	w := float32(1)
	if innerLow && i < o {
		w = min(w, float32(i+1)/float32(o+1))
	}
	if innerHigh && n-1-i < o {
		w = min(w, float32(n-i)/float32(o+1))
	}
	return w
}

// stitch blends tile maps (each at its tile's size, in tile order) into one
// w x h map.
func (t tiling) stitch(rects []image.Rectangle, maps [][]float32, w, h int) []float32 {
	out := make([]float32, w*h)
	wsum := make([]float32, w*h)
	for k, r := range rects {
		tw, th := r.Dx(), r.Dy()
		mp := maps[k]
		for y := 0; y < th; y++ {
			wy := t.weight(y, th, r.Min.Y > 0, r.Max.Y < h)
			row := (r.Min.Y + y) * w
			for x := 0; x < tw; x++ {
				wt := wy * t.weight(x, tw, r.Min.X > 0, r.Max.X < w)
				out[row+r.Min.X+x] += wt * mp[y*tw+x]
				wsum[row+r.Min.X+x] += wt
			}
		}
	}
	for i := range out {
		out[i] /= wsum[i]
	}
	return out
}

// subImager is what image types with SubImage implement.
type subImager interface {
	SubImage(r image.Rectangle) image.Image
}

// crop returns the r part of img (a sub-image sharing its pixels when the
// type allows, a copy otherwise), with its bounds moved to the origin's
// frame of img.
func crop(img image.Image, r image.Rectangle) image.Image {
	r = r.Add(img.Bounds().Min)
	if s, ok := img.(subImager); ok {
		return s.SubImage(r)
	}
	out := image.NewRGBA64(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

// scoreTiled computes a member's map of img tile by tile: each tile's map
// at the member's input size is brought back to the tile's pixels and the
// tiles are blended, at the original size. It returns the map and its
// maximum.
func (mb *member) scoreTiled(ctx context.Context, t tiling, img image.Image) ([]float32, float32, error) {
	b := img.Bounds()
	rects := t.rects(b.Dx(), b.Dy())
	maps := make([][]float32, len(rects))
	for k, r := range rects {
		mm, err := mb.score(ctx, crop(img, r))
		if err != nil {
			return nil, 0, err
		}
		maps[k] = mm.g.ToSource(mm.mp)
	}
	mp := t.stitch(rects, maps, b.Dx(), b.Dy())
	return mp, maxOf(mp), nil
}

func maxOf(mp []float32) float32 {
	s := float32(math.Inf(-1))
	for _, v := range mp {
		s = max(s, v)
	}
	return s
}

// scoreTiledRaw is scoreRaw for a tiled model: every member scores the
// image in tiles at the original size, and an ensemble's standardised maps
// are averaged there.
func (m *Model) scoreTiledRaw(ctx context.Context, img image.Image) (*Result, error) {
	maps := make([][]float32, len(m.members))
	errs := make([]error, len(m.members))
	var wg sync.WaitGroup
	for i, mb := range m.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			maps[i], _, errs[i] = mb.scoreTiled(ctx, m.cfg.Tiles, img)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return m.combineTiled(maps, img.Bounds().Dx(), img.Bounds().Dy()), nil
}

// combineTiled combines the members' original-size maps (see combine).
func (m *Model) combineTiled(maps [][]float32, w, h int) *Result {
	mp := maps[0]
	if len(maps) > 1 {
		mp = make([]float32, w*h)
		inv := 1 / float64(len(maps))
		for i, src := range maps {
			c := m.members[i].stdz
			for p, v := range src {
				mp[p] += float32(c.z(v) * inv)
			}
		}
	}
	return &Result{Score: maxOf(mp), Map: mp, MapW: w, MapH: h, Original: mp, OrigW: w, OrigH: h,
		Geometry: backbone.Geometry{SrcW: w, SrcH: h, ResizedW: w, ResizedH: h, InputW: w, InputH: h}}
}

package pni

import (
	"errors"
	"fmt"
	"math"

	"github.com/x/pni/coreset"
	"github.com/x/pni/internal/binenc"
	"github.com/x/pni/internal/knn"
)

// bank is the memory bank: the embedding coreset C_emb in greedy order, its
// prefix C_dist, and each C_emb element's nearest C_dist element. It
// serialises itself as the model file's "bank" section.
type bank struct {
	dim    int
	emb    []float32 // K x dim, C_emb in greedy order
	nDist  int       // |C_dist|: C_dist = emb[:nDist]
	distOf []int32   // K: C_emb element -> its nearest C_dist element

	// Derived by derive, never saved.
	distCount []int32    // nDist: how many C_emb elements map to each C_dist element
	index     *knn.Index // exact nearest-neighbour search over C_emb
}

// searchDim is the PCA dimension of the nearest-neighbour index: the
// projected distances are lower bounds that spare most exact distances.
const searchDim = 64

// newBank builds the bank of the k x dim rows emb (greedy order) with the
// prefix C_dist of nDist rows.
func newBank(emb []float32, k, dim, nDist int) (*bank, error) {
	distOf, err := coreset.MapToPrefix(emb, k, nDist, dim)
	if err != nil {
		return nil, err
	}
	b := &bank{dim: dim, emb: emb, nDist: nDist, distOf: distOf}
	return b, b.derive()
}

// size returns |C_emb|.
func (b *bank) size() int { return len(b.distOf) }

// derive computes what follows from the coresets: the C_dist counts and the
// search index. newBank and UnmarshalBinary both call it.
func (b *bank) derive() error {
	b.distCount = make([]int32, b.nDist)
	for _, d := range b.distOf {
		b.distCount[d]++
	}
	ix, err := knn.Build(b.emb, b.size(), b.dim, searchDim)
	if err != nil {
		return err
	}
	b.index = ix
	return nil
}

// Validate checks that the bank's arrays agree, so that a crafted file
// cannot make Score index out of range.
func (b *bank) Validate() error {
	k := len(b.distOf)
	if b.dim <= 0 || k == 0 || len(b.emb) != k*b.dim || b.nDist <= 0 || b.nDist > k {
		return fmt.Errorf("coreset sizes disagree (|C_emb| %d, |C_dist| %d, dimension %d, %d values)", k, b.nDist, b.dim, len(b.emb))
	}
	for _, v := range b.distOf {
		if v < 0 || int(v) >= b.nDist {
			return errors.New("coreset mapping out of range")
		}
	}
	for _, v := range b.emb {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return errors.New("memory bank holds a non-finite value")
		}
	}
	return nil
}

const bankVersion = 1

// MarshalBinary encodes the bank (dimension, |C_dist|, C_emb, the map).
func (b *bank) MarshalBinary() ([]byte, error) {
	var w binenc.Writer
	w.U32(bankVersion)
	w.Ints(b.dim, b.nDist)
	w.F32s(b.emb)
	w.I32s(b.distOf)
	return w.Bytes(), nil
}

// UnmarshalBinary decodes, validates and derives the bank.
func (b *bank) UnmarshalBinary(data []byte) error {
	r := binenc.NewReader(data)
	if err := r.Version(bankVersion, "bank"); err != nil {
		return err
	}
	d := bank{dim: r.Int(), nDist: r.Int()}
	d.emb, d.distOf = r.F32s(), r.I32s()
	if err := r.Done(); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if err := d.derive(); err != nil {
		return err
	}
	*b = d
	return nil
}

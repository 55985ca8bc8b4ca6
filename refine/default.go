package refine

import (
	_ "embed"
	"fmt"
)

// defaultNet is the generic refinement net shipped with pni: trained by
// examples/trainrefiner on the train/good images of the shared sets (see
// the README's "Refinement" section for the data, the exact command and the
// licence consequence).
//
//go:embed default.onnx
var defaultNet []byte

// Default returns the generic refinement net shipped with pni, trained on
// synthetic defects of other products' good images (MVTec AD bottle and
// grid, MVTec 3D-AD tire: CC BY-NC-SA 4.0 data, so the net is a derived
// work under that licence's terms), for products that have no net of
// their own.
func Default() (*Net, error) {
	n, err := LoadBytes(defaultNet)
	if err != nil {
		return nil, fmt.Errorf("refine: the shipped default net: %w", err)
	}
	return n, nil
}

package metrics_test

import (
	"fmt"

	"github.com/x/pni/metrics"
)

func ExampleAUROC() {
	scores := []float32{0.1, 0.4, 0.35, 0.8}
	labels := []bool{false, false, true, true} // true = anomalous
	auc, err := metrics.AUROC(scores, labels)
	if err != nil {
		panic(err)
	}
	fmt.Printf("AUROC = %.2f\n", auc)
	// Output: AUROC = 0.75
}

func ExampleAUPRO() {
	// One 4x3 image (row-major, width 4) with a 2-pixel defect in the top
	// left corner. The defect scores 0.9 and 0.2; normal pixels score 0.1,
	// except one at 0.5.
	anomalyMap := []float32{
		0.9, 0.2, 0.1, 0.1,
		0.1, 0.1, 0.5, 0.1,
		0.1, 0.1, 0.1, 0.1,
	}
	mask := []bool{
		true, true, false, false,
		false, false, false, false,
		false, false, false, false,
	}
	maps, masks, widths := [][]float32{anomalyMap}, [][]bool{mask}, []int{4}
	aupro, err := metrics.AUPRO(maps, masks, widths, 0.3)
	if err != nil {
		panic(err)
	}
	pixel, err := metrics.PixelAUROC(maps, masks)
	if err != nil {
		panic(err)
	}
	fpr, pro, err := metrics.PROCurve(maps, masks, widths, 0.3)
	if err != nil {
		panic(err)
	}
	// Curve: (0,0) -> (0,0.5) at t=0.9 -> (0.1,0.5) at t=0.5 -> (0.1,1) at
	// t=0.2 -> cut at FPR 0.3. Area 0.1*0.5 + 0.2*1 = 0.25; 0.25/0.3 = 0.8333.
	fmt.Printf("AUPRO@0.3 = %.4f, pixel AUROC = %.4f\n", aupro, pixel)
	for i := range fpr {
		fmt.Printf("(%.3f, %.3f) ", fpr[i], pro[i])
	}
	fmt.Println()
	// Output:
	// AUPRO@0.3 = 0.8333, pixel AUROC = 0.9500
	// (0.000, 0.000) (0.000, 0.500) (0.100, 0.500) (0.100, 1.000) (0.300, 1.000)
}

package onnx

import (
	"context"
	"sync"
	"testing"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/tensor"
)

// TestPackedConvAcrossShapes checks that a Conv's weights, packed once, give
// results bit-identical to kernels.Conv2D on the raw weights for inputs of
// several batch and spatial sizes, and that the lazily packed (unfolded)
// variant is safe to create from concurrent Runs (run with -race).
func TestPackedConvAcrossShapes(t *testing.T) {
	f := fixtureByName(t, "conv_bn_relu")
	m, _ := f.load(t)
	id := m.byName["w"]
	wv, bv := m.consts[id], m.consts[m.byName["b"]]
	if wv == nil || bv == nil {
		t.Fatal("fixture conv_bn_relu has no constant w or b")
	}
	if wv.shape[0] < 4 {
		t.Fatalf("weight %v: want >= 4 output channels so the packed GEMM path is used", wv.shape)
	}
	shapes := [][]int{{1, 3, 6, 6}, {2, 3, 9, 7}, {1, 3, 3, 3}, {3, 3, 17, 5}}
	var wg sync.WaitGroup
	errs := make(chan string, len(shapes))
	for k, s := range shapes {
		wg.Add(1)
		go func(k int, s []int) {
			defer wg.Done()
			x := tensor.New(s...)
			for i := range x.Data {
				x.Data[i] = float32((i*7+k*3)%23)/11 - 1
			}
			// "c" is the Conv output alone: the unfolded weights, packed on
			// first use by whichever Run gets there first.
			out, err := m.Run(context.Background(), map[string]*tensor.Tensor{"x": x}, "c")
			if err != nil {
				errs <- err.Error()
				return
			}
			got := out["c"]
			p := kernels.ConvParams{N: s[0], C: s[1], H: s[2], W: s[3], M: wv.shape[0], KH: wv.shape[2], KW: wv.shape[3],
				StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Group: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1} // as the fixture's Conv
			oh, ow := p.OutSize()
			want := make([]float32, p.N*p.M*oh*ow)
			kernels.Conv2D(p, x.Data, wv.f, bv.f, want, false)
			if len(got.Data) != len(want) {
				errs <- "wrong output size"
				return
			}
			for i := range want {
				if got.Data[i] != want[i] {
					errs <- "packed Conv differs from kernels.Conv2D"
					return
				}
			}
		}(k, s)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

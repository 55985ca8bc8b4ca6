package nn

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// torchCase is one entry of testdata/manifest.json (see gen_fixtures.py).
type torchCase struct {
	Name    string    `json:"name"`
	Base    int       `json:"base"`
	Depth   int       `json:"depth"`
	Strided bool      `json:"strided"`
	N       int       `json:"n"`
	H       int       `json:"h"`
	W       int       `json:"w"`
	LR      float64   `json:"lr"`
	Steps   int       `json:"steps"`
	Losses  []float64 `json:"losses"`
	Params  int       `json:"params"`
}

func readF32(tb testing.TB, name string, want int) []float32 {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) != 4*want {
		tb.Fatalf("%s: %d bytes, want %d float32", name, len(b), want)
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// maxRel is max |got − want| / max |want|.
func maxRel(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// TestTorchFixtures loads PyTorch's initial weights into the same UNet and
// compares the forward pass (1e-5 of max |pred|), the gradient of the loss
// at the initial weights (1e-4 of max |grad|), the losses of three Adam
// steps and the weights after them (1e-4 of max |weight|; the change made
// by the three steps is also compared, to 1e-2 of its largest entry).
func TestTorchFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []torchCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			u, err := NewUNet(Config{InChannels: 4, Base: tc.Base, Depth: tc.Depth, StridedDown: tc.Strided}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if u.NumParams() != tc.Params {
				t.Fatalf("%d parameters, PyTorch has %d", u.NumParams(), tc.Params)
			}
			init := readF32(t, tc.Name+".params.f32", tc.Params)
			copy(u.Params.Data, init)
			x := &Tensor{N: tc.N, C: 4, H: tc.H, W: tc.W, Data: readF32(t, tc.Name+".x.f32", tc.N*4*tc.H*tc.W)}
			target := &Tensor{N: tc.N, C: 1, H: tc.H, W: tc.W, Data: readF32(t, tc.Name+".target.f32", tc.N*tc.H*tc.W)}

			pred := u.Forward(x)
			ePred := maxRel(pred.Data, readF32(t, tc.Name+".pred.f32", tc.N*tc.H*tc.W))

			u.Params.ZeroGrad()
			l0, g := Loss(u.Forward(x), target, nil)
			u.Backward(g)
			eGrad := maxRel(u.Params.Grad, readF32(t, tc.Name+".grad.f32", tc.Params))

			opt := NewAdam(u.NumParams(), tc.LR)
			var eLoss float64
			for s := 0; s < tc.Steps; s++ {
				l := u.Step(x, target, opt)
				if s == 0 && l != l0 {
					t.Errorf("Step's loss %v differs from Loss's %v", l, l0)
				}
				eLoss = max(eLoss, math.Abs(l-tc.Losses[s])/tc.Losses[s])
			}
			after := readF32(t, tc.Name+".after.f32", tc.Params)
			eAfter := maxRel(u.Params.Data, after)
			dGo, dTorch := make([]float32, tc.Params), make([]float32, tc.Params)
			for i := range init {
				dGo[i], dTorch[i] = u.Params.Data[i]-init[i], after[i]-init[i]
			}
			eDelta := maxRel(dGo, dTorch)
			t.Logf("rel err: pred %.2g, grad %.2g, losses %.2g, weights after %d Adam steps %.2g (their change %.2g)",
				ePred, eGrad, eLoss, tc.Steps, eAfter, eDelta)
			if ePred > 1e-5 || eGrad > 1e-4 || eLoss > 1e-5 || eAfter > 1e-4 || eDelta > 1e-2 {
				t.Errorf("mismatch with PyTorch: pred %.3g, grad %.3g, losses %.3g, weights %.3g, change %.3g",
					ePred, eGrad, eLoss, eAfter, eDelta)
			}
		})
	}
}

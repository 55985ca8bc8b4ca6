package nn

import (
	"math"
	"math/rand/v2"
)

// Params is a flat parameter vector and its gradient, of the same length.
// Layers hold views into both, so an optimiser and serialisation see one
// []float32 each.
type Params struct {
	Data, Grad []float32
}

// NewParams returns n zero parameters with zero gradients.
func NewParams(n int) Params {
	return Params{Data: make([]float32, n), Grad: make([]float32, n)}
}

// ZeroGrad sets every gradient to 0.
func (p Params) ZeroGrad() { clear(p.Grad) }

// newRand returns the deterministic PCG generator NewUNet initialises from.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// kaimingInit fills c's weights with He/Kaiming normal values (mean 0,
// standard deviation gain·sqrt(2/fan_in), fan_in = InC·K·K) drawn from r, and
// its biases with 0.
func kaimingInit(c *Conv2d, r *rand.Rand, gain float64) {
	std := gain * math.Sqrt(2/float64(c.InC*c.K*c.K))
	for i := range c.Weight {
		c.Weight[i] = float32(r.NormFloat64() * std)
	}
	clear(c.Bias)
}

// Adam is the Adam optimiser (Kingma & Ba 2015) in PyTorch's formulation:
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², then
// p ← p − (lr/(1−β1ᵗ))·m / (sqrt(v)/sqrt(1−β2ᵗ) + ε).
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	m, v                  []float32
	t                     int
}

// NewAdam returns Adam for n parameters with learning rate lr and the usual
// β1 = 0.9, β2 = 0.999, ε = 1e-8.
func NewAdam(n int, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, m: make([]float32, n), v: make([]float32, n)}
}

// Steps is the number of Step calls so far.
func (a *Adam) Steps() int { return a.t }

// Step updates p.Data from p.Grad (which it leaves unchanged). It panics if
// p's length differs from the optimiser's.
func (a *Adam) Step(p Params) {
	if len(p.Data) != len(a.m) || len(p.Grad) != len(a.m) {
		panic("nn: Adam.Step: parameter count differs from NewAdam's")
	}
	a.t++
	bc1 := 1 - math.Pow(a.Beta1, float64(a.t))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.t))
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	step := float32(a.LR / bc1)
	sq2 := float32(math.Sqrt(bc2))
	eps := float32(a.Eps)
	for i, g := range p.Grad {
		m := b1*a.m[i] + (1-b1)*g
		v := b2*a.v[i] + (1-b2)*g*g
		a.m[i], a.v[i] = m, v
		den := float32(math.Sqrt(float64(v)))/sq2 + eps
		p.Data[i] -= step * m / den
	}
}

package nn

import (
	"fmt"
)

// Config describes a UNet.
type Config struct {
	// InChannels is the number of input channels, the anomaly map being the
	// last one (4: RGB + map).
	InChannels int
	// Base is the width of the first level; level l has Base·2^l channels.
	Base int
	// Depth is the number of ×2 downsamplings (1–6); inputs must be
	// multiples of 2^Depth on both sides.
	Depth int
	// StridedDown downsamples with the stride-2 first convolution of each
	// level instead of a 2×2 max pooling before it.
	StridedDown bool
}

// String is a compact description, e.g. "in=4 base=8 depth=3 down=maxpool".
func (c Config) String() string {
	down := "maxpool"
	if c.StridedDown {
		down = "stride2"
	}
	return fmt.Sprintf("in=%d base=%d depth=%d down=%s", c.InChannels, c.Base, c.Depth, down)
}

// Validate reports a configuration NewUNet rejects.
func (c Config) Validate() error {
	if c.InChannels < 1 || c.Base < 1 || c.Depth < 1 || c.Depth > 6 {
		return fmt.Errorf("nn: invalid UNet config %v (need in >= 1, base >= 1, 1 <= depth <= 6)", c)
	}
	if c.Base<<c.Depth > 1<<12 {
		return fmt.Errorf("nn: UNet config %v is too wide", c)
	}
	return nil
}

// UNet is a compact U-Net (Ronneberger, Fischer, Brox, MICCAI 2015) for
// PNI's pixel-wise refinement: input N×InChannels×H×W (image channels, then
// the anomaly map), output pred = map + f(x), N×1×H×W.
//
// Encoder level l (0..Depth, width c_l = Base·2^l): [2×2 max pool, l > 0],
// conv3×3+ReLU (c_{l−1}→c_l; stride 2 instead of the pool with StridedDown),
// conv3×3+ReLU (c_l→c_l). Decoder level l (Depth−1..0): ×2 bilinear
// upsampling of the level below, concatenation [upsampled, skip_l],
// conv3×3+ReLU (c_{l+1}+c_l→c_l), conv3×3+ReLU. Head: conv1×1 (Base→1), no
// activation, added to the map channel. All convolutions pad by 1 (0 for the
// head) and have biases.
//
// Parameters are one flat vector (Params), in the order of Convs(): for each
// convolution its OutC×InC×3×3 weights, then its biases. Forward and
// Backward reuse their buffers: the returned tensors are overwritten by the
// next call, and a UNet must not be used from several goroutines at once.
type UNet struct {
	Config Config
	Seed   uint64 // the seed NewUNet initialised the weights from
	Params Params

	enc   []encLevel // 0..Depth
	dec   []decLevel // index l = decoder level l, 0..Depth-1
	head  *Conv2d
	convs []*Conv2d

	pred, dpred  *Tensor
	skips, dskip []*Tensor
}

type encLevel struct {
	pool   *MaxPool2 // nil at level 0 or with StridedDown
	c1, c2 *Conv2d
}

type decLevel struct {
	up     *Upsample2
	cat    *Concat
	c1, c2 *Conv2d
}

// NewUNet builds a UNet and initialises its weights from seed (He/Kaiming
// normal, std sqrt(2/fan_in), from a math/rand/v2 PCG generator; the head's
// weights are scaled by a further 0.1 so that the initial prediction stays
// near the input map; biases 0).
func NewUNet(cfg Config, seed uint64) (*UNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u := &UNet{Config: cfg, Seed: seed}
	width := func(l int) int { return cfg.Base << l }
	u.enc = make([]encLevel, cfg.Depth+1)
	for l := range u.enc {
		in, stride := cfg.InChannels, 1
		if l > 0 {
			in = width(l - 1)
			if cfg.StridedDown {
				stride = 2
			} else {
				u.enc[l].pool = &MaxPool2{}
			}
		}
		u.enc[l].c1 = &Conv2d{InC: in, OutC: width(l), K: 3, Stride: stride, Pad: 1, ReLU: true}
		u.enc[l].c2 = &Conv2d{InC: width(l), OutC: width(l), K: 3, Stride: 1, Pad: 1, ReLU: true}
		u.convs = append(u.convs, u.enc[l].c1, u.enc[l].c2)
	}
	u.enc[0].c1.NoInputGrad = true
	u.dec = make([]decLevel, cfg.Depth)
	for l := cfg.Depth - 1; l >= 0; l-- {
		d := &u.dec[l]
		d.up, d.cat = &Upsample2{}, &Concat{}
		d.c1 = &Conv2d{InC: width(l+1) + width(l), OutC: width(l), K: 3, Stride: 1, Pad: 1, ReLU: true}
		d.c2 = &Conv2d{InC: width(l), OutC: width(l), K: 3, Stride: 1, Pad: 1, ReLU: true}
		u.convs = append(u.convs, d.c1, d.c2)
	}
	u.head = &Conv2d{InC: width(0), OutC: 1, K: 1, Stride: 1, Pad: 0}
	u.convs = append(u.convs, u.head)
	total := 0
	for _, c := range u.convs {
		total += c.NumParams()
	}
	u.Params = NewParams(total)
	off := 0
	r := newRand(seed)
	for _, c := range u.convs {
		n := c.NumParams()
		c.bind(u.Params.Data[off:off+n], u.Params.Grad[off:off+n])
		off += n
		gain := 1.0
		if c == u.head {
			gain = 0.1
		}
		kaimingInit(c, r, gain)
	}
	u.skips = make([]*Tensor, cfg.Depth+1)
	u.dskip = make([]*Tensor, cfg.Depth)
	return u, nil
}

// Convs returns the convolutions in parameter order: encoder levels 0..Depth
// (two each), decoder levels Depth−1..0 (two each), then the head.
func (u *UNet) Convs() []*Conv2d { return append([]*Conv2d(nil), u.convs...) }

// NumParams is len(u.Params.Data).
func (u *UNet) NumParams() int { return len(u.Params.Data) }

// CheckInput reports whether x can be fed to Forward.
func (u *UNet) CheckInput(x *Tensor) error {
	m := 1 << u.Config.Depth
	if x == nil || x.N < 1 || x.C != u.Config.InChannels || x.H < m || x.W < m || x.H%m != 0 || x.W%m != 0 || len(x.Data) != x.Len() {
		return fmt.Errorf("nn: UNet input %v: want N×%d×H×W with H, W positive multiples of %d", x, u.Config.InChannels, m)
	}
	return nil
}

// Forward returns pred = map + f(x) (N×1×H×W) for x (see CheckInput; a bad
// input panics). The result is overwritten by the next Forward.
func (u *UNet) Forward(x *Tensor) *Tensor {
	if err := u.CheckInput(x); err != nil {
		panic(err)
	}
	skips := u.skips
	h := x
	for l := range u.enc {
		e := &u.enc[l]
		if e.pool != nil {
			h = e.pool.Forward(h)
		}
		h = e.c2.Forward(e.c1.Forward(h))
		skips[l] = h
	}
	for l := u.Config.Depth - 1; l >= 0; l-- {
		d := &u.dec[l]
		h = d.cat.Forward(d.up.Forward(h), skips[l])
		h = d.c2.Forward(d.c1.Forward(h))
	}
	r := u.head.Forward(h)
	pred := ensure(&u.pred, x.N, 1, x.H, x.W)
	mc := u.Config.InChannels - 1
	for n := 0; n < x.N; n++ {
		m, rr, p := x.Plane(n, mc), r.Plane(n, 0), pred.Plane(n, 0)
		for i := range p {
			p[i] = m[i] + rr[i]
		}
	}
	return pred
}

// Backward takes dL/dpred for the last Forward and adds dL/dθ to
// u.Params.Grad (call Params.ZeroGrad first to start afresh). The input
// gradient is not computed.
func (u *UNet) Backward(dpred *Tensor) {
	g := u.head.Backward(dpred)
	for l := 0; l < u.Config.Depth; l++ {
		d := &u.dec[l]
		g = d.c1.Backward(d.c2.Backward(g))
		du, ds := d.cat.Backward(g)
		u.dskip[l] = ds
		g = d.up.Backward(du)
	}
	for l := u.Config.Depth; l >= 0; l-- {
		e := &u.enc[l]
		if l < u.Config.Depth {
			ds := u.dskip[l]
			for i, v := range g.Data {
				ds.Data[i] += v
			}
			g = ds
		}
		g = e.c1.Backward(e.c2.Backward(g))
		if e.pool != nil {
			g = e.pool.Backward(g)
		}
	}
}

// Step is one training step on a batch: zero the gradients, Forward, Loss
// against target (N×1×H×W), Backward, opt.Step. It returns the loss.
func (u *UNet) Step(x, target *Tensor, opt *Adam) float64 {
	u.Params.ZeroGrad()
	pred := u.Forward(x)
	l, g := Loss(pred, target, u.dpred)
	u.dpred = g
	u.Backward(g)
	opt.Step(u.Params)
	return l
}

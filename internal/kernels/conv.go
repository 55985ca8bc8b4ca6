package kernels

// ConvParams describes a 2-D convolution in NCHW layout (ONNX Conv semantics).
type ConvParams struct {
	N, C, H, W       int // input batch, channels, height, width
	M                int // output channels
	KH, KW           int // kernel size
	StrideH, StrideW int // strides (>= 1)
	PadT, PadL       int // leading pads (top, left)
	PadB, PadR       int // trailing pads (bottom, right)
	DilH, DilW       int // dilations (>= 1)
	Group            int // groups (>= 1); C and M are divisible by it
}

// OutSize returns the output height and width.
func (p ConvParams) OutSize() (oh, ow int) {
	oh = (p.H+p.PadT+p.PadB-p.DilH*(p.KH-1)-1)/p.StrideH + 1
	ow = (p.W+p.PadL+p.PadR-p.DilW*(p.KW-1)-1)/p.StrideW + 1
	return oh, ow
}

// Conv2D computes out = conv(in, weight) + bias, then max(out, 0) when relu is
// true. in is N×C×H×W, weight M×(C/Group)×KH×KW, bias has M elements or is nil,
// out is N×M×OH×OW (see OutSize). Safe for concurrent use.
func Conv2D(p ConvParams, in, weight, bias, out []float32, relu bool) {
	oh, ow := p.OutSize()
	cg, mg := p.C/p.Group, p.M/p.Group
	for n := 0; n < p.N; n++ {
		Parallel(p.M, func(lo, hi int) {
			for m := lo; m < hi; m++ {
				g := m / mg
				o := out[((n*p.M)+m)*oh*ow:]
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						s := float32(0)
						if bias != nil {
							s = bias[m]
						}
						for c := 0; c < cg; c++ {
							ic := g*cg + c
							for ky := 0; ky < p.KH; ky++ {
								iy := y*p.StrideH - p.PadT + ky*p.DilH
								if iy < 0 || iy >= p.H {
									continue
								}
								for kx := 0; kx < p.KW; kx++ {
									ix := x*p.StrideW - p.PadL + kx*p.DilW
									if ix < 0 || ix >= p.W {
										continue
									}
									s += in[((n*p.C+ic)*p.H+iy)*p.W+ix] * weight[((m*cg+c)*p.KH+ky)*p.KW+kx]
								}
							}
						}
						if relu && s < 0 {
							s = 0
						}
						o[y*ow+x] = s
					}
				}
			}
		})
	}
}

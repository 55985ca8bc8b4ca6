package kernels

// Plain-loop reference implementations: the semantics every fast kernel in
// this package must match (up to float32 rounding from a different summation
// order). The tests cross-check against them; small products also run them
// directly, where packing would cost more than it saves.

// gemmRef computes C = A·B (or C += A·B) for row-major A m×k, B k×n, C m×n.
func gemmRef(m, n, k int, a, b, c []float32, acc bool) {
	for i := 0; i < m; i++ {
		ci := c[i*n : (i+1)*n]
		if !acc {
			clear(ci)
		}
		for p := 0; p < k; p++ {
			av := a[i*k+p]
			row := b[p*n : (p+1)*n]
			for j, bv := range row {
				ci[j] += av * bv
			}
		}
	}
}

// gemmTBRef computes C = A·Bᵀ (or C += A·Bᵀ) for row-major A m×k, B n×k.
func gemmTBRef(m, n, k int, a, b, c []float32, acc bool) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[j*k+p]
			}
			if acc {
				c[i*n+j] += s
			} else {
				c[i*n+j] = s
			}
		}
	}
}

// dotRef returns Σ a[i]·b[i].
func dotRef(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// nearestRef is the brute-force nearest-row search: squared distances
// ||a_i||² + ||b_j||² − 2·a_i·b_j clamped at 0, first minimum wins.
func nearestRef(a []float32, m int, b []float32, n, d int, idx []int32, dist []float32) {
	for i := 0; i < m; i++ {
		ai := a[i*d : (i+1)*d]
		an := dotRef(ai, ai)
		best, bi := float32(0), -1
		for j := 0; j < n; j++ {
			bj := b[j*d : (j+1)*d]
			v := an + dotRef(bj, bj) - 2*dotRef(ai, bj)
			if v < 0 {
				v = 0
			}
			if bi < 0 || v < best {
				best, bi = v, j
			}
		}
		idx[i], dist[i] = int32(bi), best
	}
}

// conv2DRef is the direct seven-loop convolution with ONNX Conv semantics.
func conv2DRef(p ConvParams, in, weight, bias, out []float32, relu bool) {
	oh, ow := p.OutSize()
	cg, mg := p.C/p.Group, p.M/p.Group
	for n := 0; n < p.N; n++ {
		for m := 0; m < p.M; m++ {
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
	}
}

package onnx

import (
	"fmt"
	"math"

	"github.com/x/pni/internal/kernels"
)

func (m *Model) compileUnary(n *node) error {
	alpha, err := m.attrFloat(n, "alpha", 0.01)
	if err != nil {
		return err
	}
	var f func(float32) float32
	intOK := false
	switch n.op {
	case "Relu":
		f = func(v float32) float32 {
			if v < 0 {
				return 0
			}
			return v
		}
	case "LeakyRelu":
		f = func(v float32) float32 {
			if v < 0 {
				return v * alpha
			}
			return v
		}
	case "Sigmoid":
		f = func(v float32) float32 {
			if v >= 0 {
				return float32(1 / (1 + math.Exp(-float64(v))))
			}
			e := math.Exp(float64(v))
			return float32(e / (1 + e))
		}
	case "Tanh":
		f = func(v float32) float32 { return float32(math.Tanh(float64(v))) }
	case "Floor":
		f, intOK = func(v float32) float32 { return float32(math.Floor(float64(v))) }, true
	case "Ceil":
		f, intOK = func(v float32) float32 { return float32(math.Ceil(float64(v))) }, true
	case "Sqrt":
		f = func(v float32) float32 { return float32(math.Sqrt(float64(v))) }
	case "Neg":
		f, intOK = func(v float32) float32 { return -v }, true
	case "Exp":
		f = func(v float32) float32 { return float32(math.Exp(float64(v))) }
	}
	relu := n.op == "Relu"
	neg := n.op == "Neg"
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		if x.isInt {
			if !intOK {
				return nil, fmt.Errorf("int64 input is not supported")
			}
			o := make([]int64, len(x.i))
			for i, v := range x.i {
				if neg {
					v = -v
				}
				o[i] = v
			}
			return []*value{{shape: x.shape, i: o, isInt: true}}, nil
		}
		out := rc.steal(st, 0)
		if out == nil {
			out = rc.alloc(len(x.f))
		}
		if relu {
			for i, v := range x.f {
				if v < 0 {
					v = 0
				}
				out[i] = v
			}
		} else {
			for i, v := range x.f {
				out[i] = f(v)
			}
		}
		return []*value{{shape: x.shape, f: out}}, nil
	}
	return nil
}

// broadcastShape returns numpy's broadcast of a and b.
func broadcastShape(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", fmtShape(a), fmtShape(b))
		}
	}
	return out, nil
}

// bstrides returns the strides of shape s seen through broadcast shape out
// (0 on broadcast axes).
func bstrides(s, out []int) []int {
	r := len(out)
	st := make([]int, r)
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		j := r - len(s) + i
		if s[i] != 1 {
			st[j] = acc
		}
		acc *= s[i]
	}
	return st
}

// broadcast2 calls fn(dst, a, b) over rows of the innermost axis, with
// strides sa and sb (0 or 1) on that axis.
func broadcast2[T float32 | int64](dst, a, b []T, as, bs, out []int, fn func(dst, a, b []T, sa, sb int)) {
	r := len(out)
	if len(dst) == 0 {
		return
	}
	if r == 0 {
		fn(dst, a, b, 1, 1)
		return
	}
	sa, sb := bstrides(as, out), bstrides(bs, out)
	rowLen := out[r-1]
	idx := make([]int, r)
	for off := 0; off < len(dst); off += rowLen {
		oa, ob := 0, 0
		for k := 0; k < r-1; k++ {
			oa += idx[k] * sa[k]
			ob += idx[k] * sb[k]
		}
		fn(dst[off:off+rowLen], a[oa:], b[ob:], sa[r-1], sb[r-1])
		for k := r - 2; k >= 0; k-- {
			idx[k]++
			if idx[k] < out[k] {
				break
			}
			idx[k] = 0
		}
	}
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func floatRow(op string) func(dst, a, b []float32, sa, sb int) {
	switch op {
	case "Add":
		return func(dst, a, b []float32, sa, sb int) {
			if sa == 1 && sb == 1 {
				a, b = a[:len(dst)], b[:len(dst)]
				for i := range dst {
					dst[i] = a[i] + b[i]
				}
				return
			}
			for i := range dst {
				dst[i] = a[i*sa] + b[i*sb]
			}
		}
	case "Sub":
		return func(dst, a, b []float32, sa, sb int) {
			for i := range dst {
				dst[i] = a[i*sa] - b[i*sb]
			}
		}
	case "Mul":
		return func(dst, a, b []float32, sa, sb int) {
			for i := range dst {
				dst[i] = a[i*sa] * b[i*sb]
			}
		}
	}
	return func(dst, a, b []float32, sa, sb int) {
		for i := range dst {
			dst[i] = a[i*sa] / b[i*sb]
		}
	}
}

func (m *Model) compileBinary(n *node) error {
	frow := floatRow(n.op)
	op := n.op
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		a, b := ins[0], ins[1]
		if a.isInt != b.isInt {
			return nil, fmt.Errorf("mixed int64 and float32 operands")
		}
		shape, err := broadcastShape(a.shape, b.shape)
		if err != nil {
			return nil, err
		}
		total := shapeLen(shape)
		if a.isInt {
			o := make([]int64, total)
			var ierr error
			broadcast2(o, a.i, b.i, a.shape, b.shape, shape, func(dst, x, y []int64, sx, sy int) {
				for i := range dst {
					p, q := x[i*sx], y[i*sy]
					switch op {
					case "Add":
						dst[i] = p + q
					case "Sub":
						dst[i] = p - q
					case "Mul":
						dst[i] = p * q
					default:
						if q == 0 {
							ierr = fmt.Errorf("integer division by zero")
							return
						}
						dst[i] = p / q
					}
				}
			})
			if ierr != nil {
				return nil, ierr
			}
			if st.relu {
				for i, v := range o {
					o[i] = max(v, 0)
				}
			}
			return []*value{{shape: shape, i: o, isInt: true}}, nil
		}
		var out []float32
		if sameShape(a.shape, shape) {
			out = rc.steal(st, 0)
		}
		if out == nil && sameShape(b.shape, shape) {
			out = rc.steal(st, 1)
		}
		if out == nil {
			out = rc.alloc(total)
		}
		if sameShape(a.shape, b.shape) {
			if op == "Add" && st.relu {
				addRelu(out, a.f, b.f)
				return []*value{{shape: shape, f: out}}, nil
			}
			frow(out, a.f, b.f, 1, 1)
		} else {
			broadcast2(out, a.f, b.f, a.shape, b.shape, shape, frow)
		}
		if st.relu {
			for i, v := range out {
				if v < 0 {
					out[i] = 0
				}
			}
		}
		return []*value{{shape: shape, f: out}}, nil
	}
	return nil
}

// addRelu computes dst = max(a+b, 0) in one pass, split across cores for
// large tensors (the residual join of a ResNet block).
func addRelu(dst, a, b []float32) {
	const chunk = 1 << 15
	kernels.Parallel((len(dst)+chunk-1)/chunk, func(lo, hi int) {
		lo, hi = lo*chunk, min(hi*chunk, len(dst))
		d, x, y := dst[lo:hi], a[lo:hi], b[lo:hi]
		for i := range d {
			d[i] = max(x[i]+y[i], 0)
		}
	})
}

// Gemm: Y = alpha * A' B' + beta * C.
func (m *Model) compileGemm(n *node) error {
	alpha, err := m.attrFloat(n, "alpha", 1)
	if err != nil {
		return err
	}
	beta, err := m.attrFloat(n, "beta", 1)
	if err != nil {
		return err
	}
	ta, err := m.attrInt(n, "transA", 0)
	if err != nil {
		return err
	}
	tb, err := m.attrInt(n, "transB", 0)
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		a, b := ins[0], ins[1]
		if a.isInt || b.isInt || len(a.shape) != 2 || len(b.shape) != 2 {
			return nil, fmt.Errorf("A and B must be 2-D float tensors, got %v and %v", fmtShape(a.shape), fmtShape(b.shape))
		}
		M, K := a.shape[0], a.shape[1]
		if ta != 0 {
			M, K = K, M
		}
		K2, N := b.shape[0], b.shape[1]
		if tb != 0 {
			K2, N = N, K2
		}
		if K != K2 {
			return nil, fmt.Errorf("inner dimensions differ: A %v, B %v (transA=%d transB=%d)", fmtShape(a.shape), fmtShape(b.shape), ta, tb)
		}
		out := rc.alloc(M * N)
		// Fill with beta*C (broadcast) or zero.
		if len(ins) > 2 && ins[2] != nil && beta != 0 {
			c := ins[2]
			if c.isInt {
				return nil, fmt.Errorf("C must be float")
			}
			shape, err := broadcastShape([]int{M, N}, c.shape)
			if err != nil || !sameShape(shape, []int{M, N}) {
				return nil, fmt.Errorf("C of shape %v does not broadcast to %dx%d", fmtShape(c.shape), M, N)
			}
			zero := make([]float32, 1)
			broadcast2(out, zero, c.f, []int{1}, c.shape, []int{M, N}, func(dst, _, y []float32, _, sy int) {
				for i := range dst {
					dst[i] = beta * y[i*sy]
				}
			})
		} else {
			clear(out)
		}
		matmulAcc(out, a.f, b.f, M, N, K, ta != 0, tb != 0, alpha)
		return []*value{{shape: []int{M, N}, f: out}}, nil
	}
	return nil
}

// matmulAcc computes out += alpha * op(A) op(B) for row-major A (M×K, or K×M
// when ta) and B (K×N, or N×K when tb).
func matmulAcc(out, a, b []float32, M, N, K int, ta, tb bool, alpha float32) {
	kernels.Parallel(M, func(lo, hi int) {
		row := make([]float32, K)
		for i := lo; i < hi; i++ {
			for k := 0; k < K; k++ {
				if ta {
					row[k] = alpha * a[k*M+i]
				} else {
					row[k] = alpha * a[i*K+k]
				}
			}
			o := out[i*N : (i+1)*N]
			if tb {
				for j := 0; j < N; j++ {
					bj := b[j*K : (j+1)*K]
					var s float32
					for k, v := range row {
						s += v * bj[k]
					}
					o[j] += s
				}
				continue
			}
			for k, v := range row {
				if v == 0 {
					continue
				}
				bk := b[k*N : (k+1)*N]
				for j := range o {
					o[j] += v * bk[j]
				}
			}
		}
	})
}

func runMatMul(rc *runCtx, st *step, ins []*value) ([]*value, error) {
	a, b := ins[0], ins[1]
	if a.isInt || b.isInt || len(a.shape) == 0 || len(b.shape) == 0 {
		return nil, fmt.Errorf("MatMul needs float tensors of rank >= 1, got %v and %v", fmtShape(a.shape), fmtShape(b.shape))
	}
	as, bs := a.shape, b.shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	M, K := as[len(as)-2], as[len(as)-1]
	K2, N := bs[len(bs)-2], bs[len(bs)-1]
	if K != K2 {
		return nil, fmt.Errorf("inner dimensions differ: %v and %v", fmtShape(a.shape), fmtShape(b.shape))
	}
	batch, err := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, err
	}
	nb := shapeLen(batch)
	out := rc.allocZero(nb * M * N)
	// Batch offsets through broadcasting.
	sa, sb := bstrides(as[:len(as)-2], batch), bstrides(bs[:len(bs)-2], batch)
	idx := make([]int, len(batch))
	for p := 0; p < nb; p++ {
		oa, ob := 0, 0
		for k := range idx {
			oa += idx[k] * sa[k]
			ob += idx[k] * sb[k]
		}
		matmulAcc(out[p*M*N:(p+1)*M*N], a.f[oa*M*K:], b.f[ob*K*N:], M, N, K, false, false, 1)
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < batch[k] {
				break
			}
			idx[k] = 0
		}
	}
	shape := append([]int{}, batch...)
	if len(a.shape) > 1 {
		shape = append(shape, M)
	}
	if len(b.shape) > 1 {
		shape = append(shape, N)
	}
	return []*value{{shape: shape, f: out}}, nil
}

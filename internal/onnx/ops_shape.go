package onnx

import (
	"fmt"
	"math"
)

// withShape returns a value sharing x's data under a new shape.
func withShape(x *value, shape []int) *value {
	return &value{shape: shape, f: x.f, i: x.i, isInt: x.isInt}
}

func (m *Model) compileReshapeLike(n *node) error {
	switch n.op {
	case "Identity":
		n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
			return []*value{withShape(ins[0], ins[0].shape)}, nil
		}
	case "Flatten":
		axis, err := m.attrInt(n, "axis", 1)
		if err != nil {
			return err
		}
		n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
			x := ins[0]
			r := len(x.shape)
			ax := int(axis)
			if ax < -r || ax > r {
				return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
			}
			if ax < 0 {
				ax += r
			}
			return []*value{withShape(x, []int{shapeLen(x.shape[:ax]), shapeLen(x.shape[ax:])})}, nil
		}
	case "Reshape":
		allowZero, err := m.attrInt(n, "allowzero", 0)
		if err != nil {
			return err
		}
		n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
			x := ins[0]
			if len(ins) < 2 || ins[1] == nil {
				return nil, fmt.Errorf("no shape input")
			}
			spec, err := intsOf(ins[1])
			if err != nil {
				return nil, fmt.Errorf("shape: %v", err)
			}
			shape := make([]int, len(spec))
			infer, known := -1, 1
			for i, d := range spec {
				switch {
				case d == 0 && allowZero == 0:
					if i >= len(x.shape) {
						return nil, fmt.Errorf("shape %v copies axis %d of a rank-%d input", spec, i, len(x.shape))
					}
					shape[i] = x.shape[i]
				case d == -1:
					if infer >= 0 {
						return nil, fmt.Errorf("shape %v has two -1", spec)
					}
					infer = i
					continue
				case d < 0:
					return nil, fmt.Errorf("bad shape %v", spec)
				default:
					shape[i] = d
				}
				known *= shape[i]
			}
			total := x.len()
			if infer >= 0 {
				if known == 0 || total%known != 0 {
					return nil, fmt.Errorf("cannot reshape %v to %v", fmtShape(x.shape), spec)
				}
				shape[infer] = total / known
			}
			if shapeLen(shape) != total {
				return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", fmtShape(x.shape), total, spec)
			}
			return []*value{withShape(x, shape)}, nil
		}
	case "Squeeze", "Unsqueeze":
		attrAxes, hasAttr, err := m.attrInts(n, "axes")
		if err != nil {
			return err
		}
		unsq := n.op == "Unsqueeze"
		n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
			x := ins[0]
			axes := attrAxes
			if !hasAttr && len(ins) > 1 && ins[1] != nil {
				a, err := intsOf(ins[1])
				if err != nil {
					return nil, fmt.Errorf("axes: %v", err)
				}
				axes = a
			}
			if unsq {
				r := len(x.shape) + len(axes)
				mark := make([]bool, r)
				for _, a := range axes {
					ax, err := normAxis(a, r)
					if err != nil {
						return nil, err
					}
					if mark[ax] {
						return nil, fmt.Errorf("repeated axis %d", a)
					}
					mark[ax] = true
				}
				shape := make([]int, 0, r)
				j := 0
				for i := 0; i < r; i++ {
					if mark[i] {
						shape = append(shape, 1)
					} else {
						if j >= len(x.shape) {
							return nil, fmt.Errorf("bad axes %v", axes)
						}
						shape = append(shape, x.shape[j])
						j++
					}
				}
				return []*value{withShape(x, shape)}, nil
			}
			r := len(x.shape)
			mark := make([]bool, r)
			if axes == nil {
				for i, d := range x.shape {
					mark[i] = d == 1
				}
			}
			for _, a := range axes {
				ax, err := normAxis(a, r)
				if err != nil {
					return nil, err
				}
				if x.shape[ax] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, x.shape[ax])
				}
				mark[ax] = true
			}
			var shape []int
			for i, d := range x.shape {
				if !mark[i] {
					shape = append(shape, d)
				}
			}
			if shape == nil {
				shape = []int{}
			}
			return []*value{withShape(x, shape)}, nil
		}
	}
	return nil
}

func (m *Model) compileConstant(n *node) error {
	var v *value
	if t, ok, err := m.attrTensor(n, "value"); err != nil {
		return err
	} else if ok {
		v = t
	} else if f, ok := n.attrs["value_float"]; ok {
		x, ok := f.(float32)
		if !ok {
			return m.badAttr(n, "value_float", f)
		}
		v = &value{shape: []int{}, f: []float32{x}}
	} else if f, ok := n.attrs["value_floats"]; ok {
		x, ok := f.([]float32)
		if !ok {
			return m.badAttr(n, "value_floats", f)
		}
		v = &value{shape: []int{len(x)}, f: append([]float32{}, x...)}
	} else if f, ok := n.attrs["value_int"]; ok {
		x, ok := f.(int64)
		if !ok {
			return m.badAttr(n, "value_int", f)
		}
		v = &value{shape: []int{}, i: []int64{x}, isInt: true}
	} else if f, ok := n.attrs["value_ints"]; ok {
		x, ok := f.([]int64)
		if !ok {
			return m.badAttr(n, "value_ints", f)
		}
		v = &value{shape: []int{len(x)}, i: append([]int64{}, x...), isInt: true}
	} else {
		return m.unsupported(n, "Constant without a value attribute")
	}
	if len(n.outputs) != 1 {
		return &FormatError{Msg: fmt.Sprintf("Constant node %s has %d outputs", n.name, len(n.outputs))}
	}
	m.consts[n.outputs[0]] = v
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		return []*value{v}, nil
	}
	return nil
}

func (m *Model) compileShape(n *node) error {
	start, err := m.attrInt(n, "start", 0)
	if err != nil {
		return err
	}
	end, err := m.attrInt(n, "end", math.MaxInt32)
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		r := int64(len(ins[0].shape))
		s, e := start, end
		if s < 0 {
			s += r
		}
		if e < 0 {
			e += r
		}
		s, e = min(max(s, 0), r), min(max(e, 0), r)
		o := []int64{}
		for i := s; i < e; i++ {
			o = append(o, int64(ins[0].shape[i]))
		}
		return []*value{{shape: []int{len(o)}, i: o, isInt: true}}, nil
	}
	return nil
}

// gatherCopy copies outer×idx×inner blocks.
func gatherCopy[T float32 | int64](dst, src []T, outer, axisLen, inner int, idx []int) {
	k := 0
	for o := 0; o < outer; o++ {
		for _, j := range idx {
			copy(dst[k:k+inner], src[(o*axisLen+j)*inner:(o*axisLen+j+1)*inner])
			k += inner
		}
	}
}

func (m *Model) compileGather(n *node) error {
	axis, err := m.attrInt(n, "axis", 0)
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x, iv := ins[0], ins[1]
		ax, err := normAxis(int(axis), len(x.shape))
		if err != nil {
			return nil, err
		}
		idx, err := intsOf(iv)
		if err != nil {
			return nil, fmt.Errorf("indices: %v", err)
		}
		d := x.shape[ax]
		for i, j := range idx {
			if j < -d || j >= d {
				return nil, fmt.Errorf("index %d out of range for axis of size %d", j, d)
			}
			if j < 0 {
				idx[i] = j + d
			}
		}
		shape := append(append(append([]int{}, x.shape[:ax]...), iv.shape...), x.shape[ax+1:]...)
		if err := checkSize(shape); err != nil {
			return nil, err
		}
		outer, inner := shapeLen(x.shape[:ax]), shapeLen(x.shape[ax+1:])
		out := &value{shape: shape, isInt: x.isInt}
		if x.isInt {
			out.i = make([]int64, shapeLen(shape))
			gatherCopy(out.i, x.i, outer, d, inner, idx)
		} else {
			out.f = rc.alloc(shapeLen(shape))
			gatherCopy(out.f, x.f, outer, d, inner, idx)
		}
		return []*value{out}, nil
	}
	return nil
}

// stridedCopy fills dst (shape out) from src at base + Σ idx[a]*strides[a].
func stridedCopy[T float32 | int64](dst, src []T, out, strides []int, base int) {
	r := len(out)
	if len(dst) == 0 {
		return
	}
	if r == 0 {
		dst[0] = src[base]
		return
	}
	idx := make([]int, r)
	rowLen, last := out[r-1], strides[r-1]
	for off := 0; off < len(dst); off += rowLen {
		p := base
		for a := 0; a < r-1; a++ {
			p += idx[a] * strides[a]
		}
		row := dst[off : off+rowLen]
		if last == 1 {
			copy(row, src[p:p+rowLen])
		} else {
			for k := range row {
				row[k] = src[p+k*last]
			}
		}
		for a := r - 2; a >= 0; a-- {
			idx[a]++
			if idx[a] < out[a] {
				break
			}
			idx[a] = 0
		}
	}
}

func contiguousStrides(s []int) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// stridedValue builds a new value of shape out from x through strides.
func stridedValue(rc *runCtx, x *value, out, strides []int, base int) *value {
	v := &value{shape: out, isInt: x.isInt}
	if x.isInt {
		v.i = make([]int64, shapeLen(out))
		stridedCopy(v.i, x.i, out, strides, base)
	} else {
		v.f = rc.alloc(shapeLen(out))
		stridedCopy(v.f, x.f, out, strides, base)
	}
	return v
}

func (m *Model) compileSlice(n *node) error {
	aStarts, hasAttr, err := m.attrInts(n, "starts")
	if err != nil {
		return err
	}
	aEnds, _, err := m.attrInts(n, "ends")
	if err != nil {
		return err
	}
	aAxes, _, err := m.attrInts(n, "axes")
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		starts, ends, axes := aStarts, aEnds, aAxes
		var steps []int
		if !hasAttr {
			if len(ins) < 3 || ins[1] == nil || ins[2] == nil {
				return nil, fmt.Errorf("starts and ends are required")
			}
			var err error
			if starts, err = intsOf(ins[1]); err != nil {
				return nil, err
			}
			if ends, err = intsOf(ins[2]); err != nil {
				return nil, err
			}
			if len(ins) > 3 && ins[3] != nil {
				if axes, err = intsOf(ins[3]); err != nil {
					return nil, err
				}
			}
			if len(ins) > 4 && ins[4] != nil {
				if steps, err = intsOf(ins[4]); err != nil {
					return nil, err
				}
			}
		}
		if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
			return nil, fmt.Errorf("starts/ends/axes/steps lengths differ")
		}
		r := len(x.shape)
		out := append([]int{}, x.shape...)
		base := 0
		cs := contiguousStrides(x.shape)
		strides := append([]int{}, cs...)
		seen := make([]bool, r)
		for i := range starts {
			ax := i
			if axes != nil {
				ax = axes[i]
			}
			ax, err := normAxis(ax, r)
			if err != nil {
				return nil, err
			}
			if seen[ax] {
				return nil, fmt.Errorf("repeated axis %d", ax)
			}
			seen[ax] = true
			step := 1
			if steps != nil {
				step = steps[i]
			}
			if step == 0 {
				return nil, fmt.Errorf("step 0")
			}
			d := x.shape[ax]
			s, e := starts[i], ends[i]
			if s < 0 {
				s += d
			}
			if e < 0 {
				e += d
			}
			var cnt int
			if step > 0 {
				s, e = min(max(s, 0), d), min(max(e, 0), d)
				cnt = max(0, (e-s+step-1)/step)
			} else {
				s, e = min(max(s, -1), d-1), min(max(e, -1), d-1)
				cnt = max(0, (s-e+(-step)-1)/(-step))
			}
			out[ax] = cnt
			if cnt > 0 {
				base += s * cs[ax]
			}
			strides[ax] = cs[ax] * step
		}
		if shapeLen(out) == 0 {
			base = 0
		}
		return []*value{stridedValue(rc, x, out, strides, base)}, nil
	}
	return nil
}

func (m *Model) compileCast(n *node) error {
	to, err := m.attrInt(n, "to", 1)
	if err != nil {
		return err
	}
	var toInt bool
	switch to {
	case 1, 10, 11, 16: // float, float16, double, bfloat16: computed as float32
	case 2, 3, 4, 5, 6, 7, 9, 12, 13: // integer and bool types: int64
		toInt = true
	default:
		return m.unsupported(n, fmt.Sprintf("to=%d", to))
	}
	isBool := to == 9
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		if toInt {
			o := make([]int64, x.len())
			if x.isInt {
				copy(o, x.i)
			} else {
				for i, v := range x.f {
					if v != v {
						return nil, fmt.Errorf("cannot cast NaN to an integer")
					}
					o[i] = int64(v)
				}
			}
			if isBool {
				for i, v := range o {
					if v != 0 {
						o[i] = 1
					}
				}
			}
			return []*value{{shape: x.shape, i: o, isInt: true}}, nil
		}
		if !x.isInt {
			return []*value{withShape(x, x.shape)}, nil
		}
		o := rc.alloc(len(x.i))
		for i, v := range x.i {
			o[i] = float32(v)
		}
		return []*value{{shape: x.shape, f: o}}, nil
	}
	// Casting float to float shares the buffer.
	n.alias = !toInt
	return nil
}

func (m *Model) compileConstantOfShape(n *node) error {
	fill := &value{shape: []int{1}, f: []float32{0}}
	if t, ok, err := m.attrTensor(n, "value"); err != nil {
		return err
	} else if ok {
		if t.len() != 1 {
			return &FormatError{Msg: fmt.Sprintf("node %s (ConstantOfShape): value has %d elements", n.name, t.len())}
		}
		fill = t
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		shape, err := intsOf(ins[0])
		if err != nil {
			return nil, err
		}
		if err := checkSize(shape); err != nil {
			return nil, err
		}
		total := shapeLen(shape)
		out := &value{shape: shape, isInt: fill.isInt}
		if fill.isInt {
			out.i = make([]int64, total)
			for i := range out.i {
				out.i[i] = fill.i[0]
			}
		} else {
			out.f = rc.alloc(total)
			for i := range out.f {
				out.f[i] = fill.f[0]
			}
		}
		return []*value{out}, nil
	}
	return nil
}

func (m *Model) compileTranspose(n *node) error {
	perm, hasPerm, err := m.attrInts(n, "perm")
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		r := len(x.shape)
		p := perm
		if !hasPerm {
			p = make([]int, r)
			for i := range p {
				p[i] = r - 1 - i
			}
		}
		if len(p) != r {
			return nil, fmt.Errorf("perm %v for rank %d", p, r)
		}
		cs := contiguousStrides(x.shape)
		out, strides := make([]int, r), make([]int, r)
		seen := make([]bool, r)
		for i, a := range p {
			if a < 0 || a >= r || seen[a] {
				return nil, fmt.Errorf("bad perm %v", p)
			}
			seen[a] = true
			out[i], strides[i] = x.shape[a], cs[a]
		}
		return []*value{stridedValue(rc, x, out, strides, 0)}, nil
	}
	return nil
}

func runExpand(rc *runCtx, st *step, ins []*value) ([]*value, error) {
	x := ins[0]
	spec, err := intsOf(ins[1])
	if err != nil {
		return nil, err
	}
	shape, err := broadcastShape(x.shape, spec)
	if err != nil {
		return nil, err
	}
	if err := checkSize(shape); err != nil {
		return nil, err
	}
	return []*value{stridedValue(rc, x, shape, bstrides(x.shape, shape), 0)}, nil
}

func (m *Model) compileReduceMean(n *node) error {
	attrAxes, hasAttr, err := m.attrInts(n, "axes")
	if err != nil {
		return err
	}
	keep, err := m.attrInt(n, "keepdims", 1)
	if err != nil {
		return err
	}
	noop, err := m.attrInt(n, "noop_with_empty_axes", 0)
	if err != nil {
		return err
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		x := ins[0]
		if x.isInt {
			return nil, fmt.Errorf("int64 input is not supported")
		}
		axes := attrAxes
		if !hasAttr && len(ins) > 1 && ins[1] != nil {
			if axes, err = intsOf(ins[1]); err != nil {
				return nil, err
			}
		}
		r := len(x.shape)
		mark := make([]bool, r)
		if len(axes) == 0 {
			if noop != 0 {
				return []*value{withShape(x, x.shape)}, nil
			}
			for i := range mark {
				mark[i] = true
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			mark[ax] = true
		}
		// Output shape with kept dims, and strides mapping input -> output.
		kept := make([]int, r)
		for i, d := range x.shape {
			kept[i] = d
			if mark[i] {
				kept[i] = 1
			}
		}
		total := shapeLen(kept)
		acc := make([]float64, total)
		ks := bstrides(kept, x.shape)
		idx := make([]int, r)
		for i, v := range x.f {
			o := 0
			for a := 0; a < r; a++ {
				o += idx[a] * ks[a]
			}
			acc[o] += float64(v)
			for a := r - 1; a >= 0; a-- {
				idx[a]++
				if idx[a] < x.shape[a] {
					break
				}
				idx[a] = 0
			}
			_ = i
		}
		cnt := 1
		if total > 0 {
			cnt = len(x.f) / total
		}
		out := rc.alloc(total)
		for i := range out {
			if cnt > 0 {
				out[i] = float32(acc[i] / float64(cnt))
			}
		}
		shape := kept
		if keep == 0 {
			shape = []int{}
			for i, d := range x.shape {
				if !mark[i] {
					shape = append(shape, d)
				}
			}
		}
		return []*value{{shape: shape, f: out}}, nil
	}
	return nil
}

func (m *Model) compileConcat(n *node) error {
	axis, err := m.attrInt(n, "axis", math.MinInt64)
	if err != nil {
		return err
	}
	if axis == math.MinInt64 {
		return &FormatError{Msg: fmt.Sprintf("node %s (Concat) has no axis", n.name)}
	}
	n.run = func(rc *runCtx, st *step, ins []*value) ([]*value, error) {
		var parts []*value
		for _, v := range ins {
			if v != nil {
				parts = append(parts, v)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		x0 := parts[0]
		r := len(x0.shape)
		ax, err := normAxis(int(axis), r)
		if err != nil {
			return nil, err
		}
		shape := append([]int{}, x0.shape...)
		shape[ax] = 0
		for _, p := range parts {
			if p.isInt != x0.isInt || len(p.shape) != r {
				return nil, fmt.Errorf("inputs differ in type or rank")
			}
			for i := range p.shape {
				if i != ax && p.shape[i] != x0.shape[i] {
					return nil, fmt.Errorf("shapes %v and %v differ off axis %d", fmtShape(x0.shape), fmtShape(p.shape), ax)
				}
			}
			shape[ax] += p.shape[ax]
		}
		outer, inner := shapeLen(shape[:ax]), shapeLen(shape[ax+1:])
		out := &value{shape: shape, isInt: x0.isInt}
		total := shapeLen(shape)
		off := 0
		switch {
		case x0.isInt:
			out.i = make([]int64, total)
		case outer == 1 && ins[0] == x0:
			// One block per input: the output is the inputs one after
			// another. Append in place to the first input's buffer when
			// this is its last use and it has room (see step.chainLeft),
			// else allocate room for the Concats that will append to this
			// one, assuming each adds as much as this one does.
			if buf := rc.steal(st, 0); buf != nil {
				if cap(buf) >= total {
					out.f, off = buf[:total], len(x0.f)
					parts = parts[1:]
					break
				}
				defer rc.free(buf) // copied below, then pooled
			}
			out.f = rc.alloc(total + st.chainLeft*(total-len(x0.f)))[:total]
		default:
			out.f = rc.alloc(total)
		}
		for o := 0; o < outer; o++ {
			for _, p := range parts {
				blk := p.shape[ax] * inner
				if x0.isInt {
					copy(out.i[off:off+blk], p.i[o*blk:(o+1)*blk])
				} else {
					copy(out.f[off:off+blk], p.f[o*blk:(o+1)*blk])
				}
				off += blk
			}
		}
		return []*value{out}, nil
	}
	return nil
}

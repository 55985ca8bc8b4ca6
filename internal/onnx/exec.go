package onnx

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/x/pni/internal/kernels"
)

// value is a tensor during execution: float32 data, or int64 data for the
// shape arithmetic PyTorch exports (Shape, Gather, Concat of sizes, ...).
type value struct {
	shape []int
	f     []float32
	i     []int64
	isInt bool
}

func (v *value) len() int {
	if v.isInt {
		return len(v.i)
	}
	return len(v.f)
}

// maxElements (a variable so the fuzz test can lower it) bounds the size of any tensor whose shape comes from data
// (pads, sizes, ConstantOfShape, ...), so that a hostile model fails
// cleanly instead of exhausting memory.
var maxElements = 1 << 28

// checkSize returns an error when shape is negative or too large.
func checkSize(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in %v", shape)
		}
		if d > 0 && n > maxElements/d {
			return fmt.Errorf("shape %v exceeds %d elements", shape, maxElements)
		}
		n *= d
	}
	return nil
}

func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// opFunc evaluates one node. ins holds the input values (nil for omitted
// optional inputs); it returns one value per node output.
type opFunc func(rc *runCtx, st *step, ins []*value) ([]*value, error)

// step is one entry of an execution plan.
type step struct {
	n       *node
	ins     []int  // value ids read
	outs    []int  // value ids written
	reuse   []bool // per input: its buffer dies here and may be overwritten
	release []int  // roots whose buffers can be pooled after this step

	// Fused chains: outs[0] is the last fused node's output. foldBN: the
	// Conv uses the weights with the following BatchNormalization folded in.
	// relu: a following Relu is applied (Conv, Add).
	foldBN bool
	relu   bool
	// pre: a BatchNormalization+Relu before a pointwise Conv, applied as
	// the Conv packs its input (ins[0] is then the BatchNormalization's
	// input).
	pre *kernels.Pre
	// resAdd: an Add of the Conv's output and another value (the step's
	// last input, a residual connection) joined in the product's store; it
	// runs at the Add's place in the order. resFirst: the Conv's output is
	// the Add's first input. relu then follows the Add.
	resAdd   *node
	resFirst bool
	// chainLeft (Concat): how many later Concats append to this one's
	// output in place (each takes it as its first input, at its last use),
	// so that its buffer is allocated with room for them (DenseNet's dense
	// blocks: one buffer per block instead of a copy per layer).
	chainLeft int
}

// plan is a compiled evaluation order for one set of requested outputs.
type plan struct {
	steps      []step
	outIDs     []int
	needInputs []int
	root       []int  // value id -> id owning its buffer
	owned      []bool // root produced by a step of this plan (poolable)
}

// planFor returns the cached plan for the requested outputs.
func (m *Model) planFor(outputs []string) (*plan, error) {
	key := strings.Join(outputs, "\x00")
	if p, ok := m.plans.Load(key); ok {
		return p.(*plan), nil
	}
	p, err := m.buildPlan(outputs)
	if err != nil {
		return nil, err
	}
	m.plans.Store(key, p)
	return p, nil
}

func (m *Model) buildPlan(outputs []string) (*plan, error) {
	p := &plan{}
	requested := make([]bool, len(m.vals))
	for _, name := range outputs {
		id, ok := m.byName[name]
		if !ok {
			return nil, fmt.Errorf("%w %q in the model (graph outputs: %s)", ErrNoValue, name, strings.Join(m.outputs, ", "))
		}
		p.outIDs = append(p.outIDs, id)
		requested[id] = true
	}
	// Needed nodes: walk back from the requested values.
	needNode := make([]bool, len(m.nodes))
	needVal := make([]bool, len(m.vals))
	stack := append([]int{}, p.outIDs...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needVal[id] {
			continue
		}
		needVal[id] = true
		if m.consts[id] != nil {
			continue
		}
		if m.vals[id].isInput {
			p.needInputs = append(p.needInputs, id)
			continue
		}
		pi := m.producer[id]
		if pi < 0 || needNode[pi] {
			continue
		}
		needNode[pi] = true
		for _, in := range m.nodes[pi].inputs {
			if in >= 0 {
				stack = append(stack, in)
			}
		}
	}
	// Consumers among needed nodes.
	consumers := make([][]int, len(m.vals))
	for i, n := range m.nodes {
		if !needNode[i] {
			continue
		}
		for _, in := range n.inputs {
			if in >= 0 {
				consumers[in] = append(consumers[in], i)
			}
		}
	}
	soleConsumer := func(id int, op string) int {
		if id < 0 || requested[id] || len(consumers[id]) != 1 {
			return -1
		}
		c := consumers[id][0]
		if m.nodes[c].op != op || m.nodes[c].inputs[0] != id {
			return -1
		}
		return c
	}
	// BatchNormalization -> Relu -> pointwise Conv chains, each value read
	// only by the next node, become the Conv's input mapping (DenseNet's
	// pre-activation layers): the two nodes cost no pass of their own.
	skip := make([]bool, len(m.nodes))
	type preFold struct {
		pre *kernels.Pre
		in  int
	}
	folds := map[int]preFold{}
	for i, n := range m.nodes {
		if !needNode[i] || n.op != "Conv" || n.conv == nil || !n.conv.pointwise {
			continue
		}
		x := n.inputs[0] // the Relu's output, read by this Conv alone
		if soleConsumer(x, "Conv") != i || m.producer[x] < 0 {
			continue
		}
		r := m.producer[x]
		y := m.nodes[r].inputs[0] // the BatchNormalization's output, read by the Relu alone
		if m.nodes[r].op != "Relu" || soleConsumer(y, "Relu") != r || m.producer[y] < 0 {
			continue
		}
		b := m.producer[y]
		bn := m.nodes[b]
		if bn.op != "BatchNormalization" || bn.bnPre == nil || bn.outputs[0] != y || bn.inputs[0] < 0 {
			continue
		}
		skip[r], skip[b] = true, true
		folds[i] = preFold{pre: bn.bnPre, in: bn.inputs[0]}
	}
	// residualAdd finds the Add that is the sole reader of value id, with
	// another non-constant value, and not yet joined to a Conv (when both
	// operands are Conv outputs, the first Conv takes it): its node, that
	// value, and whether id is the Add's first input.
	residualAdd := func(id int) (add, other int, first bool) {
		if id < 0 || requested[id] || len(consumers[id]) != 1 {
			return -1, -1, false
		}
		c := consumers[id][0]
		in := m.nodes[c].inputs
		if skip[c] || m.nodes[c].op != "Add" || len(in) != 2 || in[0] == in[1] || len(m.nodes[c].outputs) != 1 {
			return -1, -1, false
		}
		other = in[0]
		if other == id {
			other = in[1]
		}
		if other < 0 || m.consts[other] != nil {
			return -1, -1, false
		}
		return c, other, in[0] == id
	}
	// Steps, with Conv(+BN)(+Add)(+Relu) fusion. A Conv joined with a later
	// Add runs at the Add's place (deferred), once the other operand exists.
	deferred := map[int]step{}
	for i, n := range m.nodes {
		if st, ok := deferred[i]; ok {
			p.steps = append(p.steps, st)
			continue
		}
		if !needNode[i] || skip[i] {
			continue
		}
		st := step{n: n, ins: n.inputs, outs: n.outputs}
		if f, ok := folds[i]; ok {
			st.ins = append([]int{f.in}, n.inputs[1:]...)
			st.pre = f.pre
		}
		if n.op == "Conv" && n.conv != nil {
			out := n.outputs[0]
			if n.conv.bnW != nil {
				if c := soleConsumer(out, "BatchNormalization"); c >= 0 && m.nodes[c] == n.conv.bnNode {
					skip[c] = true
					st.foldBN = true
					out = m.nodes[c].outputs[0]
				}
			}
			at := i
			if a, r, first := residualAdd(out); a >= 0 {
				skip[a] = true
				st.ins = append(append([]int(nil), st.ins...), r)
				st.resAdd, st.resFirst = m.nodes[a], first
				out, at = m.nodes[a].outputs[0], a
			}
			if c := soleConsumer(out, "Relu"); c >= 0 {
				skip[c] = true
				st.relu = true
				out = m.nodes[c].outputs[0]
			}
			st.outs = []int{out}
			if at > i {
				deferred[at] = st
				continue
			}
		}
		if n.op == "Add" {
			if c := soleConsumer(n.outputs[0], "Relu"); c >= 0 {
				skip[c] = true
				st.relu = true
				st.outs = []int{m.nodes[c].outputs[0]}
			}
		}
		p.steps = append(p.steps, st)
	}
	// Buffer roots and lifetimes.
	p.root = make([]int, len(m.vals))
	p.owned = make([]bool, len(m.vals))
	for i := range p.root {
		p.root[i] = i
	}
	for _, st := range p.steps {
		for k, o := range st.outs {
			if o < 0 {
				continue
			}
			if st.n.alias && k == 0 && len(st.ins) > 0 && st.ins[0] >= 0 {
				p.root[o] = p.root[st.ins[0]]
			} else {
				p.owned[o] = true
			}
		}
	}
	pinned := make([]bool, len(m.vals))
	for _, id := range p.outIDs {
		pinned[p.root[id]] = true
	}
	lastUse := make([]int, len(m.vals))
	for i := range lastUse {
		lastUse[i] = -1
	}
	for si, st := range p.steps {
		for _, id := range st.ins {
			if id >= 0 {
				lastUse[p.root[id]] = si
			}
		}
		for _, id := range st.outs {
			if id >= 0 && lastUse[p.root[id]] < si {
				lastUse[p.root[id]] = si
			}
		}
	}
	for si := range p.steps {
		st := &p.steps[si]
		st.reuse = make([]bool, len(st.ins))
		for k, id := range st.ins {
			if id < 0 {
				continue
			}
			r := p.root[id]
			st.reuse[k] = p.owned[r] && !pinned[r] && lastUse[r] == si && r == id
		}
	}
	// Concat chains: step si appends to the Concat step that produced its
	// first input when it may overwrite that input's buffer.
	concatOf := map[int]int{} // Concat output value -> step
	for si, st := range p.steps {
		if st.n.op == "Concat" && len(st.outs) == 1 && st.outs[0] >= 0 {
			concatOf[st.outs[0]] = si
		}
	}
	for si := len(p.steps) - 1; si >= 0; si-- {
		st := &p.steps[si]
		if st.n.op != "Concat" || len(st.ins) == 0 || st.ins[0] < 0 || !st.reuse[0] {
			continue
		}
		if prev, ok := concatOf[st.ins[0]]; ok {
			p.steps[prev].chainLeft = st.chainLeft + 1
		}
	}
	for r := range lastUse {
		if lastUse[r] >= 0 && p.owned[r] && !pinned[r] && p.root[r] == r {
			st := &p.steps[lastUse[r]]
			st.release = append(st.release, r)
		}
	}
	return p, nil
}

// runCtx is the state of one Run.
type runCtx struct {
	m      *Model
	env    []*value
	stolen []bool // root whose buffer was taken over by an in-place op
	flops  *int64 // when set, convolutions add their multiply-add count ×2
}

// get returns the value with id, from the run or the model's constants.
func (rc *runCtx) get(id int) *value {
	if v := rc.env[id]; v != nil {
		return v
	}
	return rc.m.consts[id]
}

// bufferPool keeps released buffers of one length. Unlike sync.Pool it is
// not emptied by the garbage collector, so a model run repeatedly reaches a
// steady state with no allocation; it keeps at most maxPooled buffers.
type bufferPool struct {
	mu   sync.Mutex
	bufs [][]float32
}

const maxPooled = 16

// alloc returns a float32 buffer of length n from the pool; its contents are
// arbitrary.
func (rc *runCtx) alloc(n int) []float32 {
	if n == 0 {
		return []float32{}
	}
	if p, ok := rc.m.pools.Load(n); ok {
		bp := p.(*bufferPool)
		bp.mu.Lock()
		if k := len(bp.bufs); k > 0 {
			b := bp.bufs[k-1]
			bp.bufs[k-1] = nil
			bp.bufs = bp.bufs[:k-1]
			bp.mu.Unlock()
			return b
		}
		bp.mu.Unlock()
	}
	return make([]float32, n)
}

// allocZero is alloc then zero-filled.
func (rc *runCtx) allocZero(n int) []float32 {
	b := rc.alloc(n)
	clear(b)
	return b
}

// free returns b to the pool for its length.
func (rc *runCtx) free(b []float32) {
	if len(b) == 0 {
		return
	}
	n := len(b)
	p, ok := rc.m.pools.Load(n)
	if !ok {
		p, _ = rc.m.pools.LoadOrStore(n, &bufferPool{})
	}
	bp := p.(*bufferPool)
	bp.mu.Lock()
	if len(bp.bufs) < maxPooled {
		bp.bufs = append(bp.bufs, b[:n:n])
	}
	bp.mu.Unlock()
}

// steal hands input k's float buffer to the caller when the plan allows
// overwriting it (this step is its last use), else returns nil.
func (rc *runCtx) steal(st *step, k int) []float32 {
	if k >= len(st.reuse) || !st.reuse[k] {
		return nil
	}
	id := st.ins[k]
	v := rc.env[id]
	if v == nil || v.isInt || rc.stolen[id] {
		return nil
	}
	// The same value may appear twice in this step's inputs (x+x); stealing
	// is still fine for element-wise ops, which read before they write.
	rc.stolen[id] = true
	return v.f
}

func (rc *runCtx) execute(ctx context.Context, p *plan) error {
	ins := make([]*value, 0, 8)
	for si := range p.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := &p.steps[si]
		ins = ins[:0]
		for _, id := range st.ins {
			if id < 0 {
				ins = append(ins, nil)
				continue
			}
			ins = append(ins, rc.get(id))
		}
		outs, err := st.n.run(rc, st, ins)
		if err != nil {
			return &RunError{Op: st.n.op, Node: st.n.name, Err: err}
		}
		for k, id := range st.outs {
			if id >= 0 && k < len(outs) {
				rc.env[id] = outs[k]
			}
		}
		for _, r := range st.release {
			if v := rc.env[r]; v != nil && !v.isInt && !rc.stolen[r] {
				rc.free(v.f)
			}
			rc.stolen[r] = true // never release twice
		}
	}
	return nil
}

// releaseAll pools whatever owned buffers a failed run still holds.
func (rc *runCtx) releaseAll(p *plan) {
	for r, v := range rc.env {
		if v != nil && !v.isInt && p.owned[r] && p.root[r] == r && !rc.stolen[r] {
			rc.stolen[r] = true
			rc.free(v.f)
		}
	}
}

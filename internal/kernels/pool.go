package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The parallel regions of a forward pass are many and short (a DenseNet-201
// runs several hundred, most under a millisecond). Starting a goroutine per
// part and blocking on a WaitGroup leaves the other CPUs idle between
// regions, and waking an idle CPU costs tens of microseconds (more under a
// hypervisor), which both delays each region's start and lets one part
// finish long before the other. So the parts run on persistent workers that,
// after a part, keep polling for the next one for a short while (yielding
// to any other goroutine that wants the CPU) before they block; a caller
// waiting for its parts likewise polls, and runs queued parts itself, before
// it blocks.

// spinFor is how long a worker or a waiting caller polls before blocking.
const spinFor = 100 * time.Microsecond

// part is one contiguous range of a region's work.
type part struct {
	fn     func(lo, hi int)
	lo, hi int
	r      *region
}

// region tracks the parts of one runSplit call handed to workers.
type region struct {
	queued  atomic.Int32 // parts not yet taken by anyone
	pending atomic.Int32 // parts not yet finished
	wake    chan struct{}
}

var (
	workQueue  = make(chan part, 64)
	workersMu  sync.Mutex
	workers    int // started so far
	regionPool = sync.Pool{New: func() any { return &region{wake: make(chan struct{}, 1)} }}
)

// run executes p and reports it finished.
func (p part) run() {
	p.r.queued.Add(-1)
	p.fn(p.lo, p.hi)
	if p.r.pending.Add(-1) == 0 {
		select {
		case p.r.wake <- struct{}{}:
		default:
		}
	}
}

// ensureWorkers starts workers until there are n.
func ensureWorkers(n int) {
	workersMu.Lock()
	defer workersMu.Unlock()
	for ; workers < n; workers++ {
		go worker()
	}
}

func worker() {
	for p := range workQueue {
		p.run()
		// Poll for the next part of this burst before blocking again.
		deadline := time.Now().Add(spinFor)
		for {
			select {
			case p := <-workQueue:
				p.run()
				deadline = time.Now().Add(spinFor)
				continue
			default:
			}
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
}

// runSplit runs fn on each part, the first on the calling goroutine and the
// others on the workers, and returns when all are done. A part that finds
// the queue full runs on the caller. Callers may nest: a waiting caller
// runs queued parts, so a part that itself calls runSplit never waits on
// work nobody is free to do.
func runSplit(parts [][2]int, fn func(lo, hi int)) {
	if len(parts) == 0 {
		return
	}
	if len(parts) == 1 || runtime.GOMAXPROCS(0) == 1 {
		for _, pr := range parts {
			fn(pr[0], pr[1])
		}
		return
	}
	ensureWorkers(runtime.GOMAXPROCS(0) - 1)
	r := regionPool.Get().(*region)
	n := int32(len(parts) - 1)
	r.queued.Store(n)
	r.pending.Store(n)
	for _, pr := range parts[1:] {
		p := part{fn: fn, lo: pr[0], hi: pr[1], r: r}
		select {
		case workQueue <- p:
		default:
			p.run()
		}
	}
	fn(parts[0][0], parts[0][1])
	deadline := time.Now().Add(spinFor)
	for r.pending.Load() > 0 {
		if r.queued.Load() > 0 {
			// Some of ours (or others') are still queued: take one.
			select {
			case p := <-workQueue:
				p.run()
				continue
			default:
			}
		} else if time.Now().After(deadline) {
			<-r.wake // every part is running; their finisher signals
			continue
		}
		runtime.Gosched()
	}
	select { // a finisher's signal this caller did not wait for
	case <-r.wake:
	default:
	}
	regionPool.Put(r)
}

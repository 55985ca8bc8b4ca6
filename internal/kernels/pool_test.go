package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRunSplitNested runs parallel regions from many goroutines at once,
// each part of which runs a region of its own, at several GOMAXPROCS
// (more callers than workers, a queue that overflows onto the callers):
// every index of every region must be visited exactly once, and every call
// must return (a nested caller that waited on parts nobody was free to run
// would hang the test).
func TestRunSplitNested(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		const callers, outer, inner = 8, 40, 50
		var visits [callers][outer * inner]atomic.Int32
		var wg sync.WaitGroup
		for c := 0; c < callers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for rep := 0; rep < 3; rep++ {
					Parallel(outer, func(lo, hi int) {
						for o := lo; o < hi; o++ {
							runSplit(splitAligned(inner, 3, 7), func(lo, hi int) {
								for i := lo; i < hi; i++ {
									visits[c][o*inner+i].Add(1)
								}
							})
						}
					})
				}
			}(c)
		}
		wg.Wait()
		for c := range visits {
			for i := range visits[c] {
				if v := visits[c][i].Load(); v != 3 {
					t.Fatalf("GOMAXPROCS %d: caller %d index %d visited %d times, want 3", procs, c, i, v)
				}
			}
		}
	}
}

package coreset

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestDbgBig(t *testing.T) {
	k, _ := strconv.Atoi(os.Getenv("DBGK"))
	if k == 0 {
		t.Skip()
	}
	n, d := 164000, 128
	z := mixtureRank(rand.New(rand.NewPCG(1, 1)), n, d, 64, 8)
	t0 := time.Now()
	(Greedy{ProjDim: -1}).SelectProjected(context.Background(), z, n, d, k)
	t.Logf("%v", time.Since(t0))
}

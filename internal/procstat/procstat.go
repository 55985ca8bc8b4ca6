// Package procstat reads the process's own resource figures.
package procstat

import (
	"math"
	"os"
	"strconv"
	"strings"
)

// PeakRSSMB is the process's peak resident set size in MiB (VmHWM from
// /proc/self/status), or NaN where that is not available.
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

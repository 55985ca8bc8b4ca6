package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/x/pni/internal/onnx"
	"github.com/x/pni/internal/tensor"
)

// Candidate refinement-network configurations for the benchmarks.
var benchConfigs = []Config{
	{InChannels: 4, Base: 8, Depth: 3},
	{InChannels: 4, Base: 8, Depth: 4},
	{InChannels: 4, Base: 16, Depth: 3},
	{InChannels: 4, Base: 8, Depth: 3, StridedDown: true},
}

func benchInput(n, s int) (*Tensor, *Tensor) {
	r := rand.New(rand.NewPCG(1, 2))
	x, t := NewTensor(n, 4, s, s), NewTensor(n, 1, s, s)
	for i := range x.Data {
		x.Data[i] = float32(r.Float64())
	}
	for i := range t.Data {
		t.Data[i] = float32(r.Float64())
	}
	return x, t
}

// BenchmarkUNetStep is one training step (forward, loss, backward, Adam) on
// a batch of 8.
//
//	go test -run ^$ -bench UNetStep -benchtime 5x ./internal/nn
func BenchmarkUNetStep(b *testing.B) {
	for _, s := range []int{128, 160} {
		for _, cfg := range benchConfigs {
			b.Run(fmt.Sprintf("%s/%dpx", cfg, s), func(b *testing.B) {
				u, err := NewUNet(cfg, 1)
				if err != nil {
					b.Fatal(err)
				}
				x, t := benchInput(8, s)
				opt := NewAdam(u.NumParams(), 1e-3)
				u.Step(x, t, opt) // allocate the buffers
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPUTime()
				for i := 0; i < b.N; i++ {
					u.Step(x, t, opt)
				}
				reportMs(b, cpu, "step")
			})
		}
	}
}

// BenchmarkUNetForward is inference on one image.
//
//	go test -run ^$ -bench UNetForward -benchtime 20x ./internal/nn
func BenchmarkUNetForward(b *testing.B) {
	for _, s := range []int{128, 160} {
		for _, cfg := range benchConfigs {
			b.Run(fmt.Sprintf("%s/%dpx", cfg, s), func(b *testing.B) {
				u, err := NewUNet(cfg, 1)
				if err != nil {
					b.Fatal(err)
				}
				x, _ := benchInput(1, s)
				u.Forward(x)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPUTime()
				for i := 0; i < b.N; i++ {
					u.Forward(x)
				}
				reportMs(b, cpu, "op")
			})
		}
	}
}

// reportMs reports wall milliseconds per iteration ("ms/<unit>") and CPU
// milliseconds per iteration summed over all threads ("cpu-ms/<unit>"); on a
// shared machine the second is the steadier figure.
func reportMs(b *testing.B, cpu0 time.Duration, unit string) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/"+unit)
	if cpu := processCPUTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/"+unit)
	}
}

// BenchmarkUNetONNX is inference on one image through the exported model
// and internal/onnx's executor (the deployment path).
//
//	go test -run ^$ -bench UNetONNX -benchtime 20x ./internal/nn
func BenchmarkUNetONNX(b *testing.B) {
	for _, s := range []int{128, 160} {
		for _, cfg := range benchConfigs {
			b.Run(fmt.Sprintf("%s/%dpx", cfg, s), func(b *testing.B) {
				u, err := NewUNet(cfg, 1)
				if err != nil {
					b.Fatal(err)
				}
				data, err := u.ExportONNX(ExportOptions{Width: s, Height: s})
				if err != nil {
					b.Fatal(err)
				}
				m, err := onnx.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				img, mp := tensor.New(1, 3, s, s), tensor.New(1, 1, s, s)
				in := map[string]*tensor.Tensor{ONNXImage: img, ONNXMap: mp}
				ctx := context.Background()
				if _, err := m.Run(ctx, in); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPUTime()
				for i := 0; i < b.N; i++ {
					if _, err := m.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
				reportMs(b, cpu, "op")
			})
		}
	}
}

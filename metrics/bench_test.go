package metrics

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// synthMaps makes n w x h maps with a few rectangular defects in every
// second image and scores that are higher on the defects.
func synthMaps(n, w, h int) (maps [][]float32, masks [][]bool, widths []int) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		s := make([]float32, w*h)
		m := make([]bool, w*h)
		if i%2 == 1 {
			for range 3 {
				x0, y0 := r.IntN(w-30), r.IntN(h-30)
				bw, bh := 5+r.IntN(25), 5+r.IntN(25)
				for y := y0; y < y0+bh; y++ {
					for x := x0; x < x0+bw; x++ {
						m[y*w+x] = true
					}
				}
			}
		}
		for p := range s {
			s[p] = r.Float32()
			if m[p] {
				s[p] += 0.5
			}
		}
		maps, masks, widths = append(maps, s), append(masks, m), append(widths, w)
	}
	return maps, masks, widths
}

// benchSizes are 100 maps at the mvtec protocol's 224x224 and the paper
// protocol's 480x480 (23 million pixels).
var benchSizes = []int{224, 480}

func BenchmarkPixelAUROC(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("size=100x%dx%d", s, s), func(b *testing.B) {
			maps, masks, _ := synthMaps(100, s, s)
			b.SetBytes(int64(100 * s * s * 4))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PixelAUROC(maps, masks); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAUPRO(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(fmt.Sprintf("size=100x%dx%d", s, s), func(b *testing.B) {
			maps, masks, widths := synthMaps(100, s, s)
			b.SetBytes(int64(100 * s * s * 4))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := AUPRO(maps, masks, widths, 0.3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

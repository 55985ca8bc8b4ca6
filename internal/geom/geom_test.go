package geom

import (
	"slices"
	"testing"
)

func TestCropOffset(t *testing.T) {
	// torchvision: int(round((n - c) / 2.0)), Python rounds halves to even.
	for _, tc := range []struct{ n, c, want int }{
		{256, 224, 16}, {10, 10, 0}, {11, 10, 0}, // round(0.5) = 0
		{13, 10, 2}, // round(1.5) = 2
		{15, 10, 2}, // round(2.5) = 2
		{17, 10, 4}, // round(3.5) = 4
		{512, 480, 16},
		{8, 10, -1}, {7, 10, -1}, {4, 10, -3}, // padding: -((c-n)//2)
	} {
		if got := CropOffset(tc.n, tc.c); got != tc.want {
			t.Errorf("CropOffset(%d, %d) = %d, want %d", tc.n, tc.c, got, tc.want)
		}
	}
}

func TestHalfPixelTaps(t *testing.T) {
	// 2 -> 4 (torch: source coords -0.25, 0.25, 0.75, 1.25, clamped).
	got := HalfPixelTaps(2, 4, 0.5, 0)
	want := []Tap{{0, 1, 0}, {0, 1, 0.25}, {0, 1, 0.75}, {1, 1, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("2->4: %v, want %v", got, want)
	}
	// 4 -> 2: coords 0.5, 2.5.
	got = HalfPixelTaps(4, 2, 2, 0)
	want = []Tap{{0, 1, 0.5}, {2, 3, 0.5}}
	if !slices.Equal(got, want) {
		t.Errorf("4->2: %v, want %v", got, want)
	}
	// A shift of one sample moves every coordinate left by one.
	got = HalfPixelTaps(4, 4, 1, 1)
	want = []Tap{{0, 1, 0}, {0, 1, 0}, {1, 2, 0}, {2, 3, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("shift: %v, want %v", got, want)
	}
	// One source sample: every tap reads it.
	for _, tp := range HalfPixelTaps(1, 3, 1.0/3, 0) {
		if tp.I0 != 0 || tp.I1 != 0 {
			t.Errorf("n=1: %v", tp)
		}
	}
}

func TestNearestPIL(t *testing.T) {
	// PIL: Image.new("L", (5, 1)).resize((2, 1), NEAREST) samples 1 and 3
	// (centres 1.25 and 3.75); upscaling 2 -> 5 samples 0,0,1,1,1.
	if got := NearestPIL(5, 2); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("5->2: %v", got)
	}
	if got := NearestPIL(2, 5); !slices.Equal(got, []int{0, 0, 1, 1, 1}) {
		t.Errorf("2->5: %v", got)
	}
	if got := NearestPIL(3, 3); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("identity: %v", got)
	}
}

func TestBilinearRows(t *testing.T) {
	// 2x2 source [0 1; 2 3] resized to 3x3 with taps at 0, 0.5, 1 along each axis.
	src := []float32{0, 1, 2, 3}
	taps := []Tap{{0, 1, 0}, {0, 1, 0.5}, {1, 1, 0}}
	dst := make([]float32, 9)
	BilinearRows(dst, src, 2, taps, taps, 0, 3)
	want := []float32{0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3}
	if !slices.Equal(dst, want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	// Filling a row range leaves the other rows alone.
	part := make([]float32, 9)
	BilinearRows(part, src, 2, taps, taps, 1, 2)
	if !slices.Equal(part, []float32{0, 0, 0, 1, 1.5, 2, 0, 0, 0}) {
		t.Errorf("rows 1..2: %v", part)
	}
}

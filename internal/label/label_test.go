package label

import (
	"slices"
	"testing"
)

func mask(rows ...string) ([]bool, int) {
	var m []bool
	for _, r := range rows {
		for _, c := range r {
			m = append(m, c == '#')
		}
	}
	return m, len(rows[0])
}

func TestRegions(t *testing.T) {
	// Two components: a diagonal chain (8-connected, one region) and a
	// separate pixel; a 4-connected labelling would split the chain.
	m, w := mask(
		"#....",
		".#..#",
		"..#..",
	)
	lab := make([]int32, len(m))
	sizes, _ := Regions(m, w, lab, 1, nil, nil)
	if !slices.Equal(sizes, []int32{3, 1}) {
		t.Fatalf("sizes %v, want [3 1]", sizes)
	}
	want := []int32{1, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 1, 0, 0}
	if !slices.Equal(lab, want) {
		t.Errorf("labels %v, want %v", lab, want)
	}
	// All set, none set, numbering from another first label.
	all, w := mask("###", "###")
	sizes, _ = Regions(all, w, make([]int32, 6), 5, nil, nil)
	if !slices.Equal(sizes, []int32{6}) {
		t.Errorf("all set: %v", sizes)
	}
	none, w := mask("...", "...")
	if sizes, _ = Regions(none, w, make([]int32, 6), 1, nil, nil); len(sizes) != 0 {
		t.Errorf("none set: %v", sizes)
	}
}

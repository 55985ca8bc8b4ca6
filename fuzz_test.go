package pni

import (
	"bytes"
	"context"
	"testing"

	"github.com/x/pni/neighborhood"
)

// FuzzUnmarshal feeds damaged model files to Unmarshal: it must return an
// error or a model that saves back to the same bytes, never panic.
//
// The seed is a whole model file (tens of kilobytes): run the fuzzers with
// -fuzzminimizetime 100x, or the engine spends its default 60 s minimising
// every new input and reports almost no executions:
//
//	go test . -run X -fuzz FuzzDecodeBody -fuzztime 5m -fuzzminimizetime 100x
func FuzzUnmarshal(f *testing.F) {
	b := fuzzSeed(f)
	f.Add(b)
	f.Add(b[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := m.Save(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("a model that loads does not save back to the same bytes")
		}
	})
}

// FuzzDecodeBody fuzzes the section decoder behind the checksum, which
// random mutations of whole files rarely get past.
func FuzzDecodeBody(f *testing.F) {
	b := fuzzSeed(f)
	f.Add(b[headerLen : len(b)-4])
	f.Fuzz(func(t *testing.T, body []byte) {
		secs, err := readSections(body)
		if err != nil {
			return
		}
		m, err := decodeSections(secs)
		if err != nil {
			return
		}
		for _, mb := range m.members {
			if mb.bank == nil || mb.bank.index == nil || mb.bb == nil {
				t.Fatal("a decoded model lacks a bank, search index or backbone")
			}
		}
	})
}

// fuzzSeed fits a small model and returns its file's bytes.
func fuzzSeed(f *testing.F) []byte {
	m, err := Fit(context.Background(), normals(4), smallFuzzModel()...)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// smallFuzzModel keeps the seed model file small (a 3x3 window and one
// 4-unit hidden layer), so that the fuzzer mutates kilobytes, not megabytes.
func smallFuzzModel() []Option {
	return tinyOpts(WithNeighborhood(true), WithMinValTop1(0), WithWindow(3),
		WithNeighborhoodConfig(neighborhood.Config{Hidden: []int{4}, Epochs: 1}))
}

package backbone

import (
	"path/filepath"
	"testing"

	"github.com/x/pni/internal/testenv"
)

var (
	sharedDir = testenv.SharedDir
	readF32   = testenv.ReadF32
	relErr    = testenv.MaxRelErr
	// sharedModelPath is the shared ResNet-50 backbone.
	sharedModelPath = testenv.ModelPath
)

func loadTiny(tb testing.TB, opts *Options) *Model {
	tb.Helper()
	m, err := Load(filepath.Join("testdata", "tiny.onnx"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

package backbone

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/x/pni/internal/tensor"
)

// resNet50Layer3GFLOP224 is the work of the shared ResNet-50 up to layer3 on
// one 224 x 224 input: 3.124 G multiply-adds in its 44 Conv nodes (2 FLOP
// each; ReLU, Add and MaxPool not counted), computed from the ONNX graph
// with onnx shape inference by testdata/flops.py.
const resNet50Layer3GFLOP224 = 6.2484

// resNet50Layer3GFLOP480 is the same at 480 x 480 (14.346 G multiply-adds).
const resNet50Layer3GFLOP480 = 28.6917

// denseNet201Layer3GFLOP224 and denseNet201Layer3GFLOP480 are the shared
// DenseNet-201's Conv work up to layer3 (denseblock3) at 224 x 224 (3.638 G
// multiply-adds) and 480 x 480 (16.703 G), by testdata/flops.py; the
// BatchNormalization, ReLU, pooling and Concat nodes are not counted.
const (
	denseNet201Layer3GFLOP224 = 7.2751
	denseNet201Layer3GFLOP480 = 33.4062
)

func loadShared(b *testing.B, model string) *Model {
	b.Helper()
	m, err := Load(filepath.Join(sharedDir(b), "models", model), nil)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkResNet50Layer3_224 runs the shared ResNet-50 up to layer3 on one
// 1 x 3 x 224 x 224 input and reports GFLOP/s.
func BenchmarkResNet50Layer3_224(b *testing.B) {
	m := loadShared(b, resNet50File)
	in := tensor.New(1, 3, 224, 224)
	for i := range in.Data {
		in.Data[i] = float32(i%97)/97 - 0.5
	}
	ctx := context.Background()
	feeds := map[string]*tensor.Tensor{m.input: in}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.net.Run(ctx, feeds, "layer3"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(resNet50Layer3GFLOP224*float64(b.N)/b.Elapsed().Seconds(), "GFLOP/s")
}

const (
	resNet50File    = "resnet50-imagenet-l23.onnx"
	denseNet201File = "densenet201-imagenet-l23.onnx"
)

func benchFeatures(b *testing.B, model string, size int, gflop float64) {
	m := loadShared(b, model)
	img := testImages(1, size+37, size+11)[0] // resized to size x size
	p := Preprocess{ResizeW: size, ResizeH: size}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Features(ctx, img, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(gflop*float64(b.N)/b.Elapsed().Seconds(), "GFLOP/s")
}

// BenchmarkFeatures224 is one image end to end (preprocess with a resize,
// network, aggregation) at a 224 x 224 input.
func BenchmarkFeatures224(b *testing.B) { benchFeatures(b, resNet50File, 224, resNet50Layer3GFLOP224) }

// BenchmarkFeatures480 is one image end to end at a 480 x 480 input.
func BenchmarkFeatures480(b *testing.B) { benchFeatures(b, resNet50File, 480, resNet50Layer3GFLOP480) }

// BenchmarkFeaturesDenseNet224 is one image end to end with the shared
// DenseNet-201 at a 224 x 224 input.
func BenchmarkFeaturesDenseNet224(b *testing.B) {
	benchFeatures(b, denseNet201File, 224, denseNet201Layer3GFLOP224)
}

// BenchmarkFeaturesDenseNet480 is the same at a 480 x 480 input.
func BenchmarkFeaturesDenseNet480(b *testing.B) {
	benchFeatures(b, denseNet201File, 480, denseNet201Layer3GFLOP480)
}

func benchAggregate(b *testing.B, c2, h, w, c3, h3, w3 int) {
	l2, l3 := tensor.New(1, c2, h, w), tensor.New(1, c3, h3, w3)
	for i := range l2.Data {
		l2.Data[i] = float32(i % 13)
	}
	for i := range l3.Data {
		l3.Data[i] = float32(i % 11)
	}
	dims := embedDims{layer: DefaultLayerDim, target: DefaultDim}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := aggregateLayers(l2, l3, dims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregate480 is the aggregation alone (default widths) on
// ResNet-50's layer shapes at a 480 x 480 input (512 x 60 x 60 and 1024 x
// 30 x 30).
func BenchmarkAggregate480(b *testing.B) { benchAggregate(b, 512, 60, 60, 1024, 30, 30) }

// BenchmarkAggregateDenseNet480 is the same on DenseNet-201's (512 x 60 x
// 60 and 1792 x 30 x 30).
func BenchmarkAggregateDenseNet480(b *testing.B) { benchAggregate(b, 512, 60, 60, 1792, 30, 30) }

// BenchmarkInput512to224 is the preprocessing alone: a 512 x 512 RGB image
// resized to 256 and center-cropped to 224.
func BenchmarkInput512to224(b *testing.B) {
	m := &Model{mean: ImageNetMean, std: ImageNetStd}
	img := testImages(1, 512, 512)[0]
	p := Preprocess{ResizeW: 256, ResizeH: 256, CropW: 224, CropH: 224}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.inputTensor(img, p); err != nil {
			b.Fatal(err)
		}
	}
}

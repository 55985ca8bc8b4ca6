#!/bin/bash
# Times the two shared backbones in pni (BenchmarkFeatures*) and in onnxruntime
# (scripts/ortbench.js) interleaved, ROUNDS rounds (default 3), because the
# machine's speed can drift between minutes: compare figures of the same round,
# or each side's fastest round. Outside CI; only to measure. Needs node and
# onnxruntime-node (npm install onnxruntime-node; NODE_PATH may point at it).
#
#   scripts/ortcompare.sh [ROUNDS]
set -e
cd "$(dirname "$0")/.."
models=${PNI_SHARED:-../shared}/models
rounds=${1:-3}
go test -c -o /tmp/pni-backbone.test ./backbone >/dev/null
for r in $(seq "$rounds"); do
  for spec in "resnet50-imagenet-l23.onnx 224 Features224$" "resnet50-imagenet-l23.onnx 480 Features480$" \
      "densenet201-imagenet-l23.onnx 224 FeaturesDenseNet224$" "densenet201-imagenet-l23.onnx 480 FeaturesDenseNet480$"; do
    set -- $spec
    n=30; [ "$2" = 480 ] && n=10
    echo "round $r: onnxruntime $(node scripts/ortbench.js "$models/$1" "$2" "$n")"
    (cd backbone && /tmp/pni-backbone.test -test.run X -test.bench "$3" -test.benchtime ${n}x -test.count 3 |
      awk -v r="$r" '/^Benchmark/ {printf "round %s: pni %s %.1f ms/op\n", r, $1, $3/1e6}')
  done
done

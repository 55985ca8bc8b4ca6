// Usage (outside CI; only to measure): npm install onnxruntime-node, then
//   node scripts/ortbench.js ../shared/models/densenet201-imagenet-l23.onnx 224 10
// Times onnxruntime (CPU, 2 intra-op threads) on a backbone file: median of N runs.
const ort = require('onnxruntime-node');
async function main() {
  const [file, size, n] = [process.argv[2], +process.argv[3], +(process.argv[4] || 10)];
  const s = await ort.InferenceSession.create(file, {intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const x = new ort.Tensor('float32', Float32Array.from({length: 3*size*size}, (_, i) => Math.sin(i)), [1, 3, size, size]);
  const feeds = {}; feeds[s.inputNames[0]] = x;
  for (let i = 0; i < 2; i++) await s.run(feeds);
  const t = [];
  for (let i = 0; i < n; i++) { const t0 = process.hrtime.bigint(); await s.run(feeds); t.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  t.sort((a, b) => a - b);
  console.log(`${file.split('/').pop()} ${size}: median ${t[n>>1].toFixed(1)} ms, min ${t[0].toFixed(1)} ms (${n} runs), outputs ${s.outputNames}`);
}
main();

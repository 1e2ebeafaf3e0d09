#!/usr/bin/env node
// Accuracy of the embedded ViT (public/models/vit-mnist.onnx) on the 2,000 held-out MNIST digits
// for every fraction-bit width k = 0..23, truncated and rounded to nearest even, each measured on
// a freshly rewritten ONNX model in onnxruntime-web (wasm, 1 thread).
//   node scripts/vision-curve.mjs [--model file.onnx --images x.idx3 --labels y.idx1]
//                                 [--scope initializers|initializers+constants] [--bits 0,1,2] [--json]
import { readFileSync } from 'node:fs';
import { register as registerTsx } from 'tsx/esm/api';
import * as ort from 'onnxruntime-web';

registerTsx();
const { createVisionLab } = await import('../src/engine/vision/lab.ts');
const { sweepTruncationCurve } = await import('../src/engine/vision/curve.ts');
const { datasetFromIdx } = await import('../src/engine/vision/dataset.ts');

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const read = (p) => new Uint8Array(readFileSync(p));
ort.env.wasm.numThreads = 1;

const data = datasetFromIdx(
  read(arg('--images', 'public/data/mnist-heldout-images.idx3')),
  read(arg('--labels', 'public/data/mnist-heldout-labels.idx1')),
);
const lab = await createVisionLab(ort, read(arg('--model', 'public/models/vit-mnist.onnx')), data, {
  scope: arg('--scope', 'initializers'),
});
const fp = await lab.evaluateFp32();
const t0 = performance.now();
const points = await sweepTruncationCurve(lab, {
  modes: ['truncate', 'rne'],
  bits: arg('--bits', null)?.split(',').map(Number),
  onPoint: (p, done, total) =>
    process.stderr.write(`\r${done}/${total} ${p.mode} k=${p.k} ${p.accuracy.toFixed(4)}   `),
});
process.stderr.write(
  `\nsweep: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${lab.weights.values} weights in ${lab.weights.tensors.length} tensors, ${lab.weights.untouched} float constants untouched\n`,
);
await lab.dispose();

const at = (mode, k) => points.find((p) => p.mode === mode && p.k === k);
if (process.argv.includes('--json')) {
  console.log(
    JSON.stringify(
      { fp32: fp.accuracy, points: points.map(({ k, mode, accuracy, correct }) => ({ k, mode, accuracy, correct })) },
      null,
      1,
    ),
  );
} else {
  console.log(`fp32 accuracy: ${fp.accuracy.toFixed(4)} (${fp.correct}/${fp.count})`);
  console.log('| k | truncate | rne |');
  console.log('|---:|---:|---:|');
  for (const k of [...new Set(points.map((p) => p.k))]) {
    const t = at('truncate', k),
      r = at('rne', k);
    console.log(`| ${k} | ${t.accuracy.toFixed(4)} (${t.correct}) | ${r.accuracy.toFixed(4)} (${r.correct}) |`);
  }
}

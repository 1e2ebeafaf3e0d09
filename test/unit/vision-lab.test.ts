// The truncation lab on real onnxruntime-web (wasm, 1 thread, in Node): the embedded ViT on the
// 2,000 held-out digits, and a hand-built classifier that exercises a fixed batch, [N, H, W]
// input, a Constant node and a known prediction flip. Every truncated point is a new session on
// rewritten bytes. Measured on onnxruntime-web 1.30 (scripts/vision-curve.mjs prints the sweep):
//   truncate k: 23 → 0.9795, 3 → 0.9780, 2 → 0.9745, 1 → 0.7955, 0 → 0.1615
//   rne      k: 23 → 0.9795, 3 → 0.9790, 0 → 0.9740 (exponent kept: weights → powers of two)
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOnnx } from '../../src/core/formats/onnx/model.ts';
import { readFloatTensor } from '../../src/core/formats/onnx/weights.ts';
import { roundFraction, truncateFraction } from '../../src/core/quant/float-formats.ts';
import { sweepTruncationCurve, type CurvePoint } from '../../src/engine/vision/curve.ts';
import { datasetFromIdx, datasetFromImages } from '../../src/engine/vision/dataset.ts';
import { createVisionLab, type VisionLab, type VisionResult } from '../../src/engine/vision/lab.ts';
import { readProjectFile } from './helpers.ts';
import { attrTensor, graph, model, node, tensor, valueInfo } from './onnx-build.ts';

ort.env.wasm.numThreads = 1;
const bitsOf = (x: Float32Array): number[] => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

describe('vit-mnist on the 2,000 held-out digits', () => {
  let lab: VisionLab;
  let fp: VisionResult;
  beforeAll(async () => {
    const data = datasetFromIdx(
      readProjectFile('public/data/mnist-heldout-images.idx3'),
      readProjectFile('public/data/mnist-heldout-labels.idx1'),
    );
    lab = await createVisionLab(ort, readProjectFile('public/models/vit-mnist.onnx'), data);
    fp = await lab.evaluateFp32();
  }, 60_000);
  afterAll(() => lab?.dispose());

  it('fp32 accuracy is the reference 0.9795 (1959 / 2000)', () => {
    expect(lab.io).toEqual({ input: 'image', output: 'logits', layout: 'nchw', fixedBatch: null, classes: 10 });
    expect([fp.accuracy, fp.correct, fp.count, fp.predictions.length]).toEqual([0.9795, 1959, 2000, 2000]);
    expect(fp.predictions.filter((p, i) => p === lab.dataset.labels[i]).length).toBe(1959);
    expect(fp.predictions.every((p) => p < 10)).toBe(true);
    expect(lab.weights.tensors.length).toBe(56);
    expect(lab.weights.values).toBe(139018);
    expect(lab.weights.untouched).toBe(34); // Constant-node op constants stay (scope 'initializers')
  });

  it('k = 23 (a rewritten model with all bits kept) is the fp32 model, prediction for prediction', async () => {
    const r = await lab.evaluateTruncated(23, 'truncate');
    expect(r.accuracy).toBe(fp.accuracy);
    expect(r.predictions).toEqual(fp.predictions);
  }, 60_000);

  it('accuracy holds down to a few fraction bits, then truncation collapses', async () => {
    const t3 = await lab.evaluateTruncated(3, 'truncate');
    const t0 = await lab.evaluateTruncated(0, 'truncate');
    const r0 = await lab.evaluateTruncated(0, 'rne');
    // 3 bits: within half a point of fp32 (measured 0.9780: 3 more digits wrong)
    expect(Math.abs(t3.accuracy - fp.accuracy)).toBeLessThanOrEqual(0.005);
    // 0 bits truncated: every weight's magnitude shrinks to its power of two (by up to 2×, always
    // toward zero) and the ViT collapses to near chance (measured 0.1615)
    expect(t0.accuracy).toBeGreaterThan(0.1);
    expect(t0.accuracy).toBeLessThan(0.25);
    // 0 bits rounded: the same powers of two but unbiased, and the model barely notices (0.9740)
    expect(r0.accuracy).toBeGreaterThan(0.965);
    expect(r0.accuracy).toBeLessThan(fp.accuracy);
    // the digits it gets wrong are not a subset of fp32's: the predictions really changed
    expect(t3.predictions.some((p, i) => p !== fp.predictions[i])).toBe(true);
  }, 60_000);

  it('the rewritten model holds exactly truncateFraction / roundFraction of every initializer', () => {
    const original = readProjectFile('public/models/vit-mnist.onnx');
    for (const [mode, cut] of [
      ['truncate', truncateFraction],
      ['rne', roundFraction],
    ] as const) {
      const bytes = lab.rewrite(5, mode);
      const info = parseOnnx(bytes);
      for (const t of lab.info.floatTensors) {
        const orig = readFloatTensor(original, t);
        const want = t.source === 'initializer' ? cut(orig, 5) : orig;
        expect(bitsOf(readFloatTensor(bytes, info.floatTensors[t.index]))).toEqual(bitsOf(want));
      }
    }
  });

  it('sweeps from the cache, reports each point, and cancels cleanly', async () => {
    const seen: Array<[number, number, number]> = [];
    const pts = await sweepTruncationCurve(lab, {
      modes: ['truncate', 'rne'],
      bits: [3, 0],
      onPoint: (p, done, total) => seen.push([p.k, done, total]),
    });
    expect(pts.map((p: CurvePoint) => [p.mode, p.k, p.accuracy, p.cached])).toEqual([
      ['truncate', 3, lab.cached(3, 'truncate')!.accuracy, true],
      ['truncate', 0, lab.cached(0, 'truncate')!.accuracy, true],
      ['rne', 3, lab.cached(3, 'rne')!.accuracy, false],
      ['rne', 0, lab.cached(0, 'rne')!.accuracy, true],
    ]);
    expect(seen).toEqual([
      [3, 1, 4],
      [0, 2, 4],
      [3, 3, 4],
      [0, 4, 4],
    ]);
    expect(Math.abs(pts[2].accuracy - fp.accuracy)).toBeLessThanOrEqual(0.005); // rne 3 bits: measured 0.9790

    const ac = new AbortController();
    const progress: number[] = [];
    const sweep = sweepTruncationCurve(lab, {
      bits: [9],
      signal: ac.signal,
      onProgress: (_, images) => {
        progress.push(images);
        if (images >= 400) ac.abort();
      },
    });
    await expect(sweep).rejects.toMatchObject({ code: 'cancelled' });
    expect(progress).toEqual([200, 400]);
    expect(lab.cached(9, 'truncate')).toBeUndefined();
    await expect(lab.evaluateTruncated(24, 'truncate')).rejects.toMatchObject({ code: 'bad-argument' });
  }, 60_000);
});

describe('a user-dropped classifier: [2, 4, 4] input, fixed batch 2, output "scores"', () => {
  // scores = flatten(x) · W + bias: class c adds row c of the image, weighted 0.8 / 0.6 / 0.5;
  // bias [0, 0, 0.3] sits in a Constant node. Truncating to 0 bits makes 0.8 and 0.6 both 0.5,
  // so image 0 (row 0 sums to 1.0, row 1 to 1.1) flips from class 0 to class 1; rounding makes
  // 0.8 → 1 and 0.6 → 0.5, so it stays right.
  const rowWeight = [0.8, 0.6, 0.5];
  const W = Array.from({ length: 16 * 3 }, (_, i) =>
    Math.floor(Math.floor(i / 3) / 4) === i % 3 ? rowWeight[i % 3] : 0,
  ); // [16, 3]
  const bytes = model(
    graph({
      nodes: [
        node('Flatten', ['x'], ['flat']),
        node('MatMul', ['flat', 'W'], ['mm']),
        node(
          'Constant',
          [],
          ['bias'],
          [attrTensor('value', tensor({ name: 'bias_value', dims: [3], floats: [0, 0, 0.3] }))],
        ),
        node('Add', ['mm', 'bias'], ['scores']),
      ],
      initializers: [tensor({ name: 'W', dims: [16, 3], floats: W, encoding: 'packed' })],
      inputs: [valueInfo('x', 1, [2, 4, 4])],
      outputs: [valueInfo('scores', 1, [2, 3])],
    }),
  );
  const row = (r: number, v: number): Float32Array => {
    const im = new Float32Array(16);
    im.fill(v, 4 * r, 4 * r + 4);
    return im;
  };
  const img0 = row(0, 0.25);
  img0.fill(0.275, 4, 8);
  const data = datasetFromImages(
    [img0, row(1, 0.5), new Float32Array(16), row(2, 1), row(0, 0.5)],
    { height: 4, width: 4 },
    [0, 1, 2, 2, 0],
  );

  it('runs 5 images in padded batches of 2 and sees the flip at 0 truncated bits only', async () => {
    const lab = await createVisionLab(ort, bytes, data);
    try {
      expect(lab.io).toEqual({ input: 'x', output: 'scores', layout: 'nhw', fixedBatch: 2, classes: 3 });
      expect(lab.weights.untouched).toBe(1);
      const fp = await lab.evaluateFp32();
      expect([fp.correct, Array.from(fp.predictions)]).toEqual([5, [0, 1, 2, 2, 0]]);
      const t0 = await lab.evaluateTruncated(0, 'truncate');
      expect([t0.correct, Array.from(t0.predictions)]).toEqual([4, [1, 1, 2, 2, 0]]);
      expect((await lab.evaluateTruncated(0, 'rne')).correct).toBe(5);
    } finally {
      await lab.dispose();
    }
  });

  it('rejects data of the wrong size and a file onnxruntime cannot load', async () => {
    const wrong = datasetFromImages([new Float32Array(25)], { height: 5, width: 5 }, [0]);
    await expect(createVisionLab(ort, bytes, wrong)).rejects.toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/4×4 images/),
    });
    const cut = bytes.slice(0, bytes.length - 20);
    await expect(createVisionLab(ort, cut, data)).rejects.toMatchObject({ code: 'truncated' });
    const unknownOp = model(
      graph({
        nodes: [node('NoSuchOp', ['x'], ['scores'])],
        inputs: [valueInfo('x', 1, [2, 4, 4])],
        outputs: [valueInfo('scores', 1, [2, 3])],
      }),
    );
    await expect(createVisionLab(ort, unknownOp, data)).rejects.toMatchObject({
      code: 'bad-format',
      message: expect.stringMatching(/onnxruntime could not load/),
    });
  });
});

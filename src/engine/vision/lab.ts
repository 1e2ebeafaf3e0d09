// The truncation lab for an ONNX image classifier: fp32 accuracy, and accuracy after every float
// weight is cut to k fraction bits (truncate: zero the low 23 − k bits; rne: round to nearest
// even). Each evaluation writes the new weights into a copy of the model file and runs a new
// onnxruntime session on it, so what is measured is the real rewritten model.
//
//   const lab = await createVisionLab(ort, modelBytes, datasetFromIdx(imagesIdx, labelsIdx));
//   const fp = await lab.evaluateFp32();                 // vit-mnist: 0.9795 (1959 / 2000)
//   const r = await lab.evaluateTruncated(3, 'truncate', { signal });
//   r.predictions[i] !== lab.dataset.labels[i]           // digit i is wrong at 3 bits
//
// Evaluations run one at a time (calls queue up); results are cached per (k, mode) and shared:
// treat a result's arrays as read-only.

import { NibbleError } from '../../core/errors.ts';
import { parseOnnx, type OnnxFloatTensor, type OnnxModelInfo } from '../../core/formats/onnx/model.ts';
import { mapFloatTensors } from '../../core/formats/onnx/weights.ts';
import { roundFraction, truncateFraction } from '../../core/quant/float-formats.ts';
import { checkSessionNames, classifierIO, classify, throwIfAborted, type ClassifierIO } from './classifier.ts';
import type { VisionDataset } from './dataset.ts';
import type { OrtModuleLike, OrtSessionLike, OrtSessionOptions } from './ort.ts';

export type TruncMode = 'truncate' | 'rne';

/**
 * Which float tensors a truncation rewrites. 'initializers': the graph's weights (default).
 * 'initializers+constants': also float tensors held in Constant nodes — for exported models these
 * are op constants (LayerNorm's eps and exponent 2, GELU's √2 and 0.5), not learned weights.
 */
export type WeightScope = 'initializers' | 'initializers+constants';

export interface VisionLabOptions {
  batchSize?: number; // images per run when the model's batch dim is free; default 200
  scope?: WeightScope; // default 'initializers'
  sessionOptions?: OrtSessionOptions; // default { executionProviders: ['wasm'] }
}

export interface VisionResult {
  k: number | null; // fraction bits kept; null for the original fp32 model
  mode: TruncMode | null; // null for fp32
  accuracy: number; // correct / count
  correct: number;
  count: number;
  predictions: Uint8Array; // [count] predicted class per image (255: all logits NaN)
  seconds: number; // wall time: rewrite + session creation + inference (the first run's, if cached)
}

export interface EvaluateOptions {
  signal?: AbortSignal; // abort → NibbleError('cancelled'), checked between batches
  onProgress?: (done: number, total: number) => void; // images classified so far
}

export interface VisionWeightSummary {
  tensors: OnnxFloatTensor[]; // the float tensors a truncation rewrites, in file order
  values: number; // total floats rewritten
  untouched: number; // float tensors left as they are (Constant nodes, under scope 'initializers')
}

export interface VisionLab {
  readonly info: OnnxModelInfo; // parsed model: inputs, outputs, every float tensor
  readonly io: ClassifierIO; // input/output names, layout, fixed batch, classes
  readonly dataset: VisionDataset;
  readonly weights: VisionWeightSummary;
  evaluateFp32(opt?: EvaluateOptions): Promise<VisionResult>;
  evaluateTruncated(k: number, mode: TruncMode, opt?: EvaluateOptions): Promise<VisionResult>;
  /** The model file with every float weight in scope cut to k fraction bits. */
  rewrite(k: number, mode: TruncMode): Uint8Array;
  /** A finished result, if this (k, mode) — or fp32 with k = null — was evaluated before. */
  cached(k: number | null, mode?: TruncMode): VisionResult | undefined;
  /** Releases the fp32 session; the lab cannot evaluate afterwards. */
  dispose(): Promise<void>;
}

/**
 * Parses and validates the model against the data set, then opens its fp32 session (so a model
 * onnxruntime cannot load fails here). Throws NibbleError: bad-format / truncated (corrupt file),
 * unsupported (not a one-input float classifier on [N,1,H,W] or [N,H,W]), bad-argument (image
 * size or labels do not match the model).
 */
export async function createVisionLab(
  ort: OrtModuleLike,
  modelBytes: Uint8Array,
  dataset: VisionDataset,
  options: VisionLabOptions = {},
): Promise<VisionLab> {
  const batchSize = options.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new NibbleError('bad-argument', `batch size ${batchSize} must be a positive integer`);
  const scope = options.scope ?? 'initializers';
  const sessionOptions = options.sessionOptions ?? { executionProviders: ['wasm'] };
  const bytes = modelBytes.slice(); // our own copy: the caller may reuse its buffer
  const info = parseOnnx(bytes);
  const io = classifierIO(info, dataset);
  const inScope = (t: OnnxFloatTensor): boolean => scope === 'initializers+constants' || t.source === 'initializer';
  const tensors = info.floatTensors.filter(inScope);
  const weights: VisionWeightSummary = {
    tensors,
    values: tensors.reduce((s, t) => s + t.count, 0),
    untouched: info.floatTensors.length - tensors.length,
  };
  const open = async (model: Uint8Array): Promise<OrtSessionLike> => {
    let s: OrtSessionLike;
    try {
      s = await ort.InferenceSession.create(model, sessionOptions);
    } catch (e) {
      throw new NibbleError(
        'bad-format',
        `onnxruntime could not load the model: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    try {
      checkSessionNames(io, s);
    } catch (e) {
      await s.release();
      throw e;
    }
    return s;
  };
  let fp32: OrtSessionLike | null = await open(bytes);

  const cache = new Map<string, VisionResult>();
  const key = (k: number | null, mode?: TruncMode | null): string => (k === null ? 'fp32' : `${mode}:${k}`);
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const p = tail.then(job, job);
    tail = p.catch(() => undefined);
    return p;
  };

  const rewrite = (k: number, mode: TruncMode): Uint8Array => {
    checkBits(k, mode);
    const cut = mode === 'truncate' ? truncateFraction : roundFraction;
    return mapFloatTensors(bytes, info, (v, t) => (inScope(t) ? cut(v, k) : null));
  };

  const run = async (
    session: OrtSessionLike,
    k: number | null,
    mode: TruncMode | null,
    t0: number,
    opt: EvaluateOptions,
  ): Promise<VisionResult> => {
    const r = await classify(ort, session, io, dataset, { batchSize, signal: opt.signal, onBatch: opt.onProgress });
    return {
      k,
      mode,
      accuracy: r.correct / dataset.count,
      correct: r.correct,
      count: dataset.count,
      predictions: r.predictions,
      seconds: (performance.now() - t0) / 1000,
    };
  };

  const lab: VisionLab = {
    info,
    io,
    dataset,
    weights,
    rewrite,
    cached: (k, mode) => cache.get(key(k, mode)),
    evaluateFp32: async (opt = {}) => {
      const hit = cache.get('fp32');
      if (hit) return hit;
      return serial(async () => {
        const again = cache.get('fp32');
        if (again) return again;
        throwIfAborted(opt.signal);
        if (!fp32) throw new NibbleError('bad-argument', 'this vision lab was disposed');
        const r = await run(fp32, null, null, performance.now(), opt);
        cache.set('fp32', r);
        return r;
      });
    },
    evaluateTruncated: async (k, mode, opt = {}) => {
      checkBits(k, mode); // (async: a bad k rejects the promise)
      const hit = cache.get(key(k, mode));
      if (hit) return hit;
      return serial(async () => {
        const again = cache.get(key(k, mode));
        if (again) return again;
        throwIfAborted(opt.signal);
        if (!fp32) throw new NibbleError('bad-argument', 'this vision lab was disposed');
        const t0 = performance.now();
        const session = await open(rewrite(k, mode));
        try {
          const r = await run(session, k, mode, t0, opt);
          cache.set(key(k, mode), r);
          return r;
        } finally {
          await session.release();
        }
      });
    },
    dispose: () =>
      serial(async () => {
        const s = fp32;
        fp32 = null;
        await s?.release();
      }),
  };
  return lab;
}

function checkBits(k: number, mode: TruncMode): void {
  if (!Number.isInteger(k) || k < 0 || k > 23)
    throw new NibbleError('bad-argument', `fraction bits k = ${k}: must be an integer 0..23`);
  if (mode !== 'truncate' && mode !== 'rne')
    throw new NibbleError('bad-argument', `mode '${String(mode)}': must be 'truncate' or 'rne'`);
}

// `nibble bench` part 3: greedy decode speed of whole models on the GPU runner at fp32, int8
// (q8, one scale per output row) and int4 (q4, groups of 32 inputs), both RTN through the
// real quantize pipeline (src/engine/quantize.ts quantizeModel, asymmetric: its default).
//
// Models: stories260K (the shipped checkpoint) and a SmolLM2-135M-shaped Llama with random
// weights. To keep the host side fast (quantizing 106M weights on the CPU takes minutes), the
// big model is built from ONE random block, quantized once, whose host tensors every layer
// shares; the runner uploads each layer's weights into its own GPU buffers, so GPU memory and
// the bytes each token streams are those of the full model. Speed does not depend on values.
import type { LlamaConfig, LlamaModel } from '../core/model/model.ts';
import { f32Tensor, numel, type F32Tensor, type Tensor } from '../core/tensor.ts';
import type { GpuContext } from '../gpu/device.ts';
import { createGpuRunner } from '../engine/gpu-runner.ts';
import { quantizeModel } from '../engine/quantize.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../core/quant/quant-spec.ts';
import type { RunnerMemory } from '../engine/runner.ts';
import { randomF32, rng, round, sig } from './bench-util.ts';

export type DecodeFormat = 'fp32' | 'q8' | 'q4-g32';
export const DECODE_FORMATS: readonly DecodeFormat[] = ['fp32', 'q8', 'q4-g32'];

const SPECS: Record<DecodeFormat, QuantSpec> = {
  fp32: DEFAULT_SPEC,
  q8: { ...DEFAULT_SPEC, method: 'rtn', bits: 8, group: 0 },
  'q4-g32': { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 },
};

/** SmolLM2-135M's shape (HF config): tied embeddings, rotate-half RoPE, θ = 100000. */
export const SMOL135M_CONFIG: LlamaConfig = {
  dim: 576,
  hiddenDim: 1536,
  nLayers: 30,
  nHeads: 9,
  nKvHeads: 3,
  vocabSize: 49152,
  seqLen: 512,
  headSize: 64,
  normEps: 1e-5,
  ropeTheta: 100000,
  ropeStyle: 'half',
  sharedClassifier: true,
};

export interface DecodeModel {
  name: string;
  model: LlamaModel;
  /** Layers share one block's host tensors (see the header): quantize one block, then repeat it. */
  sharedBlock: boolean;
}

/** A random Llama of config `c` whose layers all share one random block (see the header). */
export function randomSharedBlockModel(c: LlamaConfig, seed: number): LlamaModel {
  const rand = rng(seed);
  const kvd = c.nKvHeads * c.headSize;
  const qd = c.nHeads * c.headSize;
  const linear = (out: number, inp: number): F32Tensor =>
    f32Tensor([out, inp], randomF32(rand, out * inp, Math.sqrt(3 / inp)));
  const norm = (n: number): F32Tensor =>
    f32Tensor(
      [n],
      randomF32(rand, n, 0.2).map((v) => 1 + v),
    );
  const block = {
    rmsAtt: norm(c.dim),
    wq: linear(qd, c.dim),
    wk: linear(kvd, c.dim),
    wv: linear(kvd, c.dim),
    wo: linear(c.dim, qd),
    rmsFfn: norm(c.dim),
    w1: linear(c.hiddenDim, c.dim),
    w2: linear(c.dim, c.hiddenDim),
    w3: linear(c.hiddenDim, c.dim),
  };
  const tokEmb = f32Tensor([c.vocabSize, c.dim], randomF32(rand, c.vocabSize * c.dim));
  return {
    config: c,
    weights: {
      tokEmb,
      layers: Array.from({ length: c.nLayers }, () => ({ ...block })),
      rmsFinal: norm(c.dim),
      wcls: c.sharedClassifier ? tokEmb : linear(c.vocabSize, c.dim),
    },
  };
}

/** Parameters of the model as a full model (shared blocks counted once per layer). */
export function paramCount(m: LlamaModel): number {
  const w = m.weights;
  const count = (t: Tensor): number => numel(t.shape);
  const layer = (l: (typeof w.layers)[number]): number =>
    Object.values(l).reduce((s: number, t: Tensor) => s + count(t), 0);
  return (
    count(w.tokEmb) +
    count(w.rmsFinal) +
    (w.wcls === w.tokEmb ? 0 : count(w.wcls)) +
    w.layers.reduce((s, l) => s + layer(l), 0)
  );
}

/** The model quantized as `format` with quantizeModel (a shared-block model: one block, repeated). */
async function quantized(dm: DecodeModel, format: DecodeFormat): Promise<LlamaModel> {
  if (format === 'fp32') return dm.model;
  const m = dm.model;
  if (!dm.sharedBlock) return (await quantizeModel(m, SPECS[format])).model;
  const one: LlamaModel = {
    config: { ...m.config, nLayers: 1 },
    weights: { ...m.weights, layers: [m.weights.layers[0]] },
  };
  const q = (await quantizeModel(one, SPECS[format])).model;
  return {
    config: m.config,
    weights: { ...q.weights, layers: Array.from({ length: m.config.nLayers }, () => ({ ...q.weights.layers[0] })) },
  };
}

export interface DecodeRow {
  model: string;
  format: DecodeFormat;
  quantizer: string;
  promptTokens: number;
  tokens: number; // timed greedy steps after the untimed prompt step
  msPerToken: number;
  tokensPerSecond: number;
  dispatchesPerToken: number;
  submitsPerToken: number;
  memory: RunnerMemory; // bytes (runner.memory())
  quantizeMs: number; // host-side quantizeModel time (one block for shared-block models)
  loadMs: number; // createGpuRunner: uploads + pipeline compilation
}

export interface DecodeOptions {
  tokens: number;
  promptTokens: number; // 1: BOS alone, so the untimed first step is a decode step (warm-up)
}

export async function benchDecode(
  ctx: GpuContext,
  dm: DecodeModel,
  formats: readonly DecodeFormat[],
  o: DecodeOptions,
  log: (s: string) => void,
): Promise<DecodeRow[]> {
  const c = dm.model.config;
  const promptTokens = Math.max(1, Math.min(o.promptTokens, c.seqLen - 1));
  const tokens = Math.max(1, Math.min(o.tokens, c.seqLen - promptTokens));
  const prompt = [1, ...Array.from({ length: promptTokens - 1 }, (_, i) => 3 + ((i * 37) % (c.vocabSize - 3)))];
  const rows: DecodeRow[] = [];
  for (const format of formats) {
    log(`decode ${dm.name} ${format}: quantize`);
    let t0 = performance.now();
    const model = await quantized(dm, format);
    const quantizeMs = performance.now() - t0;
    log(`decode ${dm.name} ${format}: upload + compile`);
    t0 = performance.now();
    const runner = await createGpuRunner(ctx, model);
    const loadMs = performance.now() - t0;
    try {
      const first = await runner.step(prompt, 0, 'argmax'); // prompt (BOS alone: a decode step), untimed warm-up
      let next = first.kind === 'argmax' ? first.token : 0;
      log(`decode ${dm.name} ${format}: ${tokens} tokens`);
      const before = { ...runner.counters };
      t0 = performance.now();
      for (let i = 0; i < tokens; i++) {
        const r = await runner.step([next], promptTokens + i, 'argmax');
        next = r.kind === 'argmax' ? r.token : 0;
      }
      const ms = performance.now() - t0;
      rows.push({
        model: dm.name,
        format,
        quantizer:
          format === 'fp32'
            ? 'none'
            : `quantizeModel rtn ${SPECS[format].bits}-bit ${SPECS[format].group ? `group ${SPECS[format].group}` : 'per row'}, asymmetric, f32 scales`,
        promptTokens,
        tokens,
        msPerToken: round(ms / tokens, 3),
        tokensPerSecond: sig((tokens / ms) * 1000),
        dispatchesPerToken: (runner.counters.dispatches - before.dispatches) / tokens,
        submitsPerToken: (runner.counters.submits - before.submits) / tokens,
        memory: runner.memory!(),
        quantizeMs: round(quantizeMs, 0),
        loadMs: round(loadMs, 0),
      });
    } finally {
      runner.dispose();
    }
  }
  return rows;
}

// Non-finite weights (NaN, ±Infinity) are refused when a model is opened, naming the tensor:
// one linear scan of every f32 value and every scale (f32, or fp16 halves) — cheap next to
// reading the file, and it turns "the sampler got NaN logits" into "layers.3.wq holds NaN".
import { NibbleError } from '../errors.ts';
import type { LlamaModel } from '../model/model.ts';
import type { Tensor } from '../tensor.ts';

/** Index of the first NaN/±Inf in `x`, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN
  }
  return -1;
}

/** Index of the first fp16 NaN/Inf (exponent all ones) among the halves packed two per word, or -1. */
function firstNonFiniteHalf(words: Uint32Array): number {
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if ((w & 0x7c00) === 0x7c00) return 2 * i;
    if (((w >>> 16) & 0x7c00) === 0x7c00) return 2 * i + 1;
  }
  return -1;
}

/** Where a tensor first holds a non-finite value ("value 12", "scale 3"), or null. */
export function nonFiniteIn(t: Tensor): string | null {
  if (t.format === 'f32') {
    const i = firstNonFinite(t.data);
    return i < 0 ? null : `value ${i} is ${t.data[i]}`;
  }
  if (t.format === 'f16') {
    const i = firstNonFiniteHalf(t.data);
    return i < 0 ? null : `value ${i} is not finite`;
  }
  const b = t.buffers as { scales: Float32Array | Uint32Array; scales2?: Float32Array };
  let i = -1;
  if ('scaleType' in t && t.scaleType === 'f16') i = firstNonFiniteHalf(b.scales as Uint32Array);
  else if (b.scales instanceof Float32Array) i = firstNonFinite(b.scales);
  if (i >= 0) return `scale ${i} is not finite`;
  if (b.scales2) {
    const j = firstNonFinite(b.scales2);
    if (j >= 0) return `second-level scale ${j} is ${b.scales2[j]}`;
  }
  if (t.format === 'llmint8' && !Number.isFinite(t.threshold)) return `threshold is ${t.threshold}`;
  return null;
}

/** Every named weight of a model, in file order (tok_emb, layers.L.*, biases, rms_final, wcls). */
export function* namedTensors(model: LlamaModel): Generator<[string, Tensor]> {
  const w = model.weights;
  yield ['tok_emb', w.tokEmb];
  for (let l = 0; l < w.layers.length; l++)
    for (const [k, t] of Object.entries(w.layers[l])) yield [`layers.${l}.${k}`, t as Tensor];
  for (let l = 0; l < (w.attnBias?.length ?? 0); l++)
    for (const [k, t] of Object.entries(w.attnBias![l])) yield [`layers.${l}.${k}`, t as Tensor];
  yield ['rms_final', w.rmsFinal];
  if (w.wcls !== w.tokEmb) yield ['wcls', w.wcls];
}

/** Throws 'non-finite' naming the first tensor that holds NaN or ±Infinity. */
export function requireFiniteWeights(model: LlamaModel, what = 'the model'): void {
  for (const [name, t] of namedTensors(model)) {
    const where = nonFiniteIn(t);
    if (where)
      throw new NibbleError(
        'non-finite',
        `${what}: weight ${name} holds a value that is not a finite number (${where}); the file is corrupt`,
      );
  }
}

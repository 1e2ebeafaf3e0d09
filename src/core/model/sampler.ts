// Token sampling as llama2.c run.c does it: greedy at temperature 0, else softmax(logits / T)
// then top-p (nucleus) or plain multinomial, driven by run.c's xorshift64* PRNG so a seed
// gives the same stream of coins as llama2.c.
import { NibbleError } from '../errors.ts';

const MASK64 = (1n << 64n) - 1n;

/** xorshift64* (run.c random_u32 / random_f32). */
export class Rng {
  private state: bigint;
  constructor(seed: number) {
    // State 0 is a fixed point of xorshift; run.c never seeds with 0 either.
    this.state = BigInt.asUintN(64, BigInt(Math.trunc(seed))) || 0x2545f4914f6cdd1dn;
  }
  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & MASK64;
    s ^= s >> 27n;
    this.state = s;
    return Number(((s * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }
  /** Uniform in [0, 1) with 24 bits, as run.c's random_f32. */
  nextF32(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

export interface SamplerSettings {
  temperature: number; // 0 = greedy
  topP: number; // in (0, 1): nucleus; otherwise plain sampling
  seed: number;
}

export function softmaxInPlace(x: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < x.length; i++) x[i] /= sum;
}

/** Index drawn from probabilities `p` with coin in [0, 1). */
export function sampleMult(p: Float32Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < p.length; i++) {
    cdf += p[i];
    if (coin < cdf) return i;
  }
  return p.length - 1; // rounding
}

/** Top-p: smallest set of most likely tokens whose mass exceeds topP, then sample inside it. */
export function sampleTopP(p: Float32Array, topP: number, coin: number): number {
  const n = p.length;
  const cutoff = (1 - topP) / (n - 1); // tokens below this can never be in the nucleus
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (p[i] >= cutoff) idx.push(i);
  if (idx.length === 0) for (let i = 0; i < n; i++) idx.push(i); // topP < 1/n: every p may sit below the cutoff
  idx.sort((a, b) => p[b] - p[a] || a - b);
  let cum = 0;
  let last = idx.length - 1;
  for (let i = 0; i < idx.length; i++) {
    cum += p[idx[i]];
    if (cum > topP) {
      last = i;
      break;
    }
  }
  const r = coin * cum;
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf += p[idx[i]];
    if (r < cdf) return idx[i];
  }
  return idx[last];
}

export class Sampler {
  private readonly rng: Rng;
  constructor(readonly settings: SamplerSettings) {
    this.rng = new Rng(settings.seed);
  }
  get greedy(): boolean {
    return this.settings.temperature === 0;
  }
  /**
   * Picks the next token from logits (consumed: scaled and softmaxed in place). Always an id in
   * 0..logits.length-1; NaN/±Inf logits are a NibbleError('non-finite'), never a bad id.
   */
  sample(logits: Float32Array): number {
    const bad = firstNonFiniteLogit(logits);
    if (bad >= 0)
      throw new NibbleError(
        'non-finite',
        `the model's logits are not finite numbers (logit ${bad} is ${logits[bad]}): its weights or activations overflowed`,
      );
    const best = argmaxOf(logits);
    if (this.greedy || logits.length === 1) return best;
    const { temperature, topP } = this.settings;
    let scaledMax = -Infinity;
    for (let i = 0; i < logits.length; i++) {
      logits[i] /= temperature;
      if (logits[i] > scaledMax) scaledMax = logits[i];
    }
    // A tiny temperature overflows logit / T: softmax((l - max) / T) is the same distribution, finite.
    if (!Number.isFinite(scaledMax)) return best;
    softmaxInPlace(logits);
    const coin = this.rng.nextF32();
    const id = topP <= 0 || topP >= 1 ? sampleMult(logits, coin) : sampleTopP(logits, topP, coin);
    return Number.isInteger(id) && id >= 0 && id < logits.length ? id : best;
  }
}

function firstNonFiniteLogit(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

function argmaxOf(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

// CPU reference forward pass of a Llama-family model with a KV cache, built from ops.ts.
// Slow and plain on purpose: it is the twin the GPU runner and quantized paths are checked against.
import { kvDim, type LlamaModel } from './model.ts';
import { addInPlace, addRowBias, attention, rmsnorm, rope, siluMul } from './ops.ts';
import { ropeInvFreq } from './rope.ts';
import { embeddingRows, f32Values, linear } from './linear.ts';
import { NibbleError } from '../errors.ts';

/** Where a linear's input is observed: q/k/v share 'attn', w1/w3 share 'ffn'. */
export type LinearInputSite = 'attn' | 'wo' | 'ffn' | 'w2';
/** Every input site, in block order. */
export const LINEAR_INPUT_SITES: readonly LinearInputSite[] = ['attn', 'wo', 'ffn', 'w2'];
/** Receives each linear input (M, K) during a forward pass (calibration capture). */
export type CaptureHook = (layer: number, site: LinearInputSite, x: Float32Array, M: number, K: number) => void;

export class CpuForward {
  /** When set, called with every linear's input; used to gather GPTQ / SmoothQuant statistics. */
  capture?: CaptureHook;

  private readonly kCache: Float32Array[]; // per layer (seqLen, kvDim)
  private readonly vCache: Float32Array[]; // per layer (seqLen, kvDim)
  private readonly invFreq: Float64Array; // (headSize / 2) RoPE inverse frequencies, scaling applied

  constructor(readonly model: LlamaModel) {
    const c = model.config;
    this.invFreq = ropeInvFreq(c);
    const n = c.seqLen * kvDim(c); // (seqLen, kvDim) per layer, K and V
    try {
      this.kCache = Array.from({ length: c.nLayers }, () => new Float32Array(n));
      this.vCache = Array.from({ length: c.nLayers }, () => new Float32Array(n));
    } catch (e) {
      // A context the machine cannot hold: the engine's RangeError becomes a typed refusal.
      if (!(e instanceof RangeError)) throw e;
      const gib = ((2 * c.nLayers * n * 4) / 2 ** 30).toFixed(1);
      throw new NibbleError(
        'too-large',
        `the KV cache for ${c.seqLen} positions needs ${gib} GiB, more than this machine could allocate: choose a shorter context`,
      );
    }
  }

  /**
   * Runs tokens (M) at positions pos..pos+M-1, fills the KV cache, and returns the logits
   * (vocab) of the last position. `residuals`, when given, receives a copy of the residual
   * stream (M, dim) after each block (for SQNR drift metrics).
   */
  forward(tokens: readonly number[], pos: number, residuals?: Float32Array[]): Float32Array {
    const x = this.blocks(tokens, pos, residuals);
    const dim = this.model.config.dim;
    return this.classify(x.subarray((tokens.length - 1) * dim), 1);
  }

  /** As forward, but returns the logits of every position: (M, vocab). */
  forwardAll(tokens: readonly number[], pos: number, residuals?: Float32Array[]): Float32Array {
    return this.classify(this.blocks(tokens, pos, residuals), tokens.length);
  }

  /** Final RMSNorm and classifier over M rows of the residual stream (M, dim) → (M, vocab). */
  private classify(x: Float32Array, M: number): Float32Array {
    const c = this.model.config;
    const xn = new Float32Array(M * c.dim);
    rmsnorm(xn, x, f32Values(this.model.weights.rmsFinal), M, c.dim, c.normEps);
    const logits = new Float32Array(M * c.vocabSize);
    linear(logits, xn, this.model.weights.wcls, M, c.dim, c.vocabSize);
    return logits;
  }

  /** Embedding and all blocks; returns the residual stream (M, dim). */
  private blocks(tokens: readonly number[], pos: number, residuals?: Float32Array[]): Float32Array {
    const x = this.embed(tokens, pos);
    for (let l = 0; l < this.model.config.nLayers; l++) {
      this.block(l, x, tokens.length, pos);
      residuals?.push(x.slice());
    }
    return x;
  }

  /** Token embeddings (M, dim) after checking tokens and positions. */
  embed(tokens: readonly number[], pos: number): Float32Array {
    const c = this.model.config;
    const M = tokens.length;
    if (M < 1 || pos < 0 || pos + M > c.seqLen) {
      throw new NibbleError(
        'bad-argument',
        `forward: positions ${pos}..${pos + M - 1} are outside the context of ${c.seqLen}`,
      );
    }
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
        throw new NibbleError('bad-argument', `forward: token ${t} is outside the vocabulary of ${c.vocabSize}`);
    }
    return embeddingRows(this.model.weights.tokEmb, tokens, c.dim); // decodes only these rows
  }

  /**
   * Block l on the residual stream x (M, dim) at positions pos..pos+M-1, in place; writes the
   * block's keys/values into the KV cache. Used alone by the layer-by-layer quantize pipeline.
   */
  block(l: number, x: Float32Array, M: number, pos: number): void {
    const c = this.model.config;
    const lw = this.model.weights.layers[l];
    const { dim, hiddenDim: hd, headSize: hs, nHeads, nKvHeads } = c;
    const qd = nHeads * hs;
    const kvd = kvDim(c);
    const xb = new Float32Array(M * dim); // normed input (M, dim)
    const q = new Float32Array(M * qd); // (M, qd)
    const k = new Float32Array(M * kvd); // (M, kvd)
    const v = new Float32Array(M * kvd);
    const att = new Float32Array(M * qd);
    const proj = new Float32Array(M * dim);
    const h1 = new Float32Array(M * hd); // (M, hidden)
    const h3 = new Float32Array(M * hd);

    rmsnorm(xb, x, f32Values(lw.rmsAtt), M, dim, c.normEps);
    this.capture?.(l, 'attn', xb, M, dim);
    linear(q, xb, lw.wq, M, dim, qd);
    linear(k, xb, lw.wk, M, dim, kvd);
    linear(v, xb, lw.wv, M, dim, kvd);
    const bias = this.model.weights.attnBias?.[l];
    if (bias) {
      addRowBias(q, bias.bq.data, M, qd);
      addRowBias(k, bias.bk.data, M, kvd);
      addRowBias(v, bias.bv.data, M, kvd);
    }
    const qkNorm = this.model.weights.qkNorm?.[l];
    if (qkNorm) {
      // Qwen3: RMSNorm of each head's hs values (rows of hs), in place, before RoPE.
      rmsnorm(q, q, qkNorm.q.data, M * nHeads, hs, c.normEps);
      rmsnorm(k, k, qkNorm.k.data, M * nKvHeads, hs, c.normEps);
    }
    rope(q, M, nHeads, hs, pos, c.ropeTheta, c.ropeStyle, this.invFreq);
    rope(k, M, nKvHeads, hs, pos, c.ropeTheta, c.ropeStyle, this.invFreq);
    this.kCache[l].set(k, pos * kvd);
    this.vCache[l].set(v, pos * kvd);
    attention(att, q, this.kCache[l], this.vCache[l], M, pos, nHeads, nKvHeads, hs);
    this.capture?.(l, 'wo', att, M, qd);
    linear(proj, att, lw.wo, M, qd, dim);
    addInPlace(x, proj, M * dim);

    rmsnorm(xb, x, f32Values(lw.rmsFfn), M, dim, c.normEps);
    this.capture?.(l, 'ffn', xb, M, dim);
    linear(h1, xb, lw.w1, M, dim, hd);
    linear(h3, xb, lw.w3, M, dim, hd);
    siluMul(h1, h1, h3, M * hd);
    this.capture?.(l, 'w2', h1, M, hd);
    linear(proj, h1, lw.w2, M, hd, dim);
    addInPlace(x, proj, M * dim);
  }
}

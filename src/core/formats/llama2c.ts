// llama2.c checkpoint loader: legacy header (7 int32) and version 1 ("ak42", 256-byte header).
// Every header field is validated and the byte count it implies is checked against the file
// before anything is allocated, so a corrupt header can never size an allocation.
import { NibbleError, requireBytes } from '../errors.ts';
import { MODEL_BOUNDS } from './bounds.ts';
import { requireFiniteWeights } from './finite.ts';
import type { LayerWeights, LlamaConfig, LlamaModel } from '../model/model.ts';
import { f32Tensor, type F32Tensor } from '../tensor.ts';

const MAGIC_AK42 = 0x616b3432;
const LEGACY_HEADER_BYTES = 7 * 4;
const V1_HEADER_BYTES = 256;
// Generous upper bounds, shared by every format (bounds.ts): beyond is a corrupt header.
const { dim: MAX_DIM, layers: MAX_LAYERS, heads: MAX_HEADS, vocab: MAX_VOCAB, context: MAX_SEQ } = MODEL_BOUNDS;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  shared: boolean;
}

function checkRange(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new NibbleError('bad-dims', `llama2.c header: ${name} = ${v} is outside ${lo}..${hi}`);
  }
}

export function validateHeader(h: Llama2cHeader): LlamaConfig {
  checkRange('dim', h.dim, 1, MAX_DIM);
  checkRange('hidden_dim', h.hiddenDim, 1, 8 * MAX_DIM);
  checkRange('n_layers', h.nLayers, 1, MAX_LAYERS);
  checkRange('n_heads', h.nHeads, 1, MAX_HEADS);
  checkRange('n_kv_heads', h.nKvHeads, 1, h.nHeads);
  checkRange('vocab_size', h.vocabSize, 1, MAX_VOCAB);
  checkRange('seq_len', h.seqLen, 1, MAX_SEQ);
  if (h.dim % h.nHeads !== 0)
    throw new NibbleError('bad-dims', `llama2.c header: dim ${h.dim} is not a multiple of n_heads ${h.nHeads}`);
  if (h.nHeads % h.nKvHeads !== 0)
    throw new NibbleError(
      'bad-dims',
      `llama2.c header: n_heads ${h.nHeads} is not a multiple of n_kv_heads ${h.nKvHeads}`,
    );
  const headSize = h.dim / h.nHeads;
  if (headSize % 2 !== 0)
    throw new NibbleError('bad-dims', `llama2.c header: head size ${headSize} must be even for RoPE`);
  return {
    dim: h.dim,
    hiddenDim: h.hiddenDim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    vocabSize: h.vocabSize,
    seqLen: h.seqLen,
    headSize,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'interleaved',
    sharedClassifier: h.shared,
  };
}

/** Sequential reader of f32 tensors out of the checkpoint body. */
class TensorCursor {
  private offset: number;
  constructor(
    private readonly bytes: Uint8Array,
    start: number,
  ) {
    this.offset = start;
  }
  take(shape: number[]): F32Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    requireBytes('llama2.c tensor data', this.offset, n * 4, this.bytes.byteLength);
    // Copy so the tensor owns aligned memory independent of the file buffer.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(this.bytes.subarray(this.offset, this.offset + n * 4));
    this.offset += n * 4;
    return f32Tensor(shape, data);
  }
  /** Stacked per-layer tensor (L, ...shape) split into L tensors. */
  takeLayers(L: number, shape: number[]): F32Tensor[] {
    return Array.from({ length: L }, () => this.take(shape));
  }
  skip(nFloats: number): void {
    requireBytes('llama2.c tensor data', this.offset, nFloats * 4, this.bytes.byteLength);
    this.offset += nFloats * 4;
  }
}

/** Bytes of tensor data the header implies (excluding the header). */
export function llama2cBodyBytes(c: LlamaConfig, legacy: boolean): number {
  const { dim, hiddenDim: hd, nLayers: L, vocabSize: V, headSize: hs } = c;
  const qd = c.nHeads * hs;
  const kvd = c.nKvHeads * hs;
  let floats = V * dim + L * dim * 2 + L * (qd * dim + 2 * kvd * dim + dim * qd) + L * 3 * hd * dim + dim;
  if (legacy) floats += c.seqLen * hs; // freq_cis_real + freq_cis_imag, (seq_len, hs/2) each
  if (!c.sharedClassifier) floats += V * dim;
  return floats * 4;
}

export function parseLlama2c(bytes: Uint8Array): LlamaModel {
  requireBytes('llama2.c header', 0, LEGACY_HEADER_BYTES, bytes.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const i32 = (o: number) => view.getInt32(o, true);
  const magic = view.getUint32(0, true);

  let header: Llama2cHeader;
  let legacy: boolean;
  let bodyStart: number;
  if (magic === MAGIC_AK42) {
    requireBytes('llama2.c v1 header', 0, V1_HEADER_BYTES, bytes.byteLength);
    const version = i32(4);
    if (version !== 1) {
      throw new NibbleError(
        'unsupported',
        `llama2.c checkpoint version ${version} is not supported (only legacy and version 1 fp32)`,
      );
    }
    header = {
      dim: i32(8),
      hiddenDim: i32(12),
      nLayers: i32(16),
      nHeads: i32(20),
      nKvHeads: i32(24),
      vocabSize: i32(28),
      seqLen: i32(32),
      shared: view.getUint8(36) !== 0,
    };
    legacy = false;
    bodyStart = V1_HEADER_BYTES;
  } else {
    const vocab = i32(20);
    header = {
      dim: i32(0),
      hiddenDim: i32(4),
      nLayers: i32(8),
      nHeads: i32(12),
      nKvHeads: i32(16),
      vocabSize: Math.abs(vocab),
      seqLen: i32(24),
      shared: vocab > 0,
    };
    legacy = true;
    bodyStart = LEGACY_HEADER_BYTES;
  }
  let config: LlamaConfig;
  try {
    config = validateHeader(header);
  } catch (e) {
    if (legacy && e instanceof NibbleError) {
      throw new NibbleError(
        'bad-format',
        `not a llama2.c checkpoint (no "ak42" magic, and as a legacy header: ${e.message.replace('llama2.c header: ', '')})`,
      );
    }
    throw e;
  }
  const need = bodyStart + llama2cBodyBytes(config, legacy);
  if (bytes.byteLength < need) {
    throw new NibbleError(
      'truncated',
      `llama2.c checkpoint: header (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}) needs ${need} bytes, file has ${bytes.byteLength}`,
    );
  }
  if (bytes.byteLength > need) {
    throw new NibbleError(
      'bad-format',
      `llama2.c checkpoint: header (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}) needs ${need} bytes, file has ${bytes.byteLength} (${bytes.byteLength - need} extra)`,
    );
  }
  const model = { config, weights: readWeights(new TensorCursor(bytes, bodyStart), config, legacy) };
  requireFiniteWeights(model, 'llama2.c checkpoint');
  return model;
}

function readWeights(cur: TensorCursor, c: LlamaConfig, legacy: boolean): LlamaModel['weights'] {
  const { dim, hiddenDim: hd, nLayers: L, vocabSize: V, headSize: hs } = c;
  const qd = c.nHeads * hs;
  const kvd = c.nKvHeads * hs;
  let tokEmb: F32Tensor, rmsAtt: F32Tensor[], rmsFfn: F32Tensor[], rmsFinal: F32Tensor;
  if (legacy) {
    tokEmb = cur.take([V, dim]);
    rmsAtt = cur.takeLayers(L, [dim]);
  } else {
    rmsAtt = cur.takeLayers(L, [dim]);
    rmsFfn = cur.takeLayers(L, [dim]);
    rmsFinal = cur.take([dim]);
    tokEmb = cur.take([V, dim]);
  }
  const wq = cur.takeLayers(L, [qd, dim]);
  const wk = cur.takeLayers(L, [kvd, dim]);
  const wv = cur.takeLayers(L, [kvd, dim]);
  const wo = cur.takeLayers(L, [dim, qd]);
  if (legacy) rmsFfn = cur.takeLayers(L, [dim]);
  const w1 = cur.takeLayers(L, [hd, dim]);
  const w2 = cur.takeLayers(L, [dim, hd]);
  const w3 = cur.takeLayers(L, [hd, dim]);
  if (legacy) {
    rmsFinal = cur.take([dim]);
    cur.skip(c.seqLen * hs); // freq_cis_real, freq_cis_imag: recomputed, never read
  }
  const wcls = c.sharedClassifier ? tokEmb : cur.take([V, dim]);
  const layers: LayerWeights[] = Array.from({ length: L }, (_, l) => ({
    rmsAtt: rmsAtt[l],
    wq: wq[l],
    wk: wk[l],
    wv: wv[l],
    wo: wo[l],
    rmsFfn: rmsFfn![l],
    w1: w1[l],
    w2: w2[l],
    w3: w3[l],
  }));
  return { tokEmb, layers, rmsFinal: rmsFinal!, wcls };
}

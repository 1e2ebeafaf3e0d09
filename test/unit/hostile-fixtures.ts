// Small seeded models and vocabularies for the hostile-input tests: any vocabulary size, one
// value to poison. Values come from a seeded PRNG; nothing here is a recorded result.
import type { Vocab } from '../../src/core/formats/gguf/vocab.ts';
import type { LayerWeights, LlamaModel } from '../../src/core/model/model.ts';
import { f32Tensor, type F32Tensor } from '../../src/core/tensor.ts';
import { seededRandom } from './helpers.ts';

export interface TinySpec {
  vocabSize: number;
  dim?: number; // default 32 (a multiple of the GGUF block size)
  nLayers?: number; // default 1
  seqLen?: number; // default 64
  seed?: number;
}

/** A random Llama (dim 32, 4 heads, 2 kv heads, shared classifier) with `vocabSize` tokens. */
export function tinyModel(s: TinySpec): LlamaModel {
  const rand = seededRandom(s.seed ?? 7);
  const dim = s.dim ?? 32;
  const nHeads = 4;
  const nKvHeads = 2;
  const hs = dim / nHeads;
  const hidden = dim * 2;
  const vals = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const lin = (out: number, inp: number): F32Tensor => f32Tensor([out, inp], vals(out * inp, Math.sqrt(3 / inp)));
  const norm = (): F32Tensor =>
    f32Tensor(
      [dim],
      Float32Array.from({ length: dim }, () => 1 + (rand() - 0.5) * 0.2),
    );
  const layers: LayerWeights[] = Array.from({ length: s.nLayers ?? 1 }, () => ({
    rmsAtt: norm(),
    wq: lin(dim, dim),
    wk: lin(nKvHeads * hs, dim),
    wv: lin(nKvHeads * hs, dim),
    wo: lin(dim, dim),
    rmsFfn: norm(),
    w1: lin(hidden, dim),
    w2: lin(dim, hidden),
    w3: lin(hidden, dim),
  }));
  const tokEmb = f32Tensor([s.vocabSize, dim], vals(s.vocabSize * dim, 1));
  return {
    config: {
      dim,
      hiddenDim: hidden,
      nLayers: layers.length,
      nHeads,
      nKvHeads,
      vocabSize: s.vocabSize,
      seqLen: s.seqLen ?? 64,
      headSize: hs,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'interleaved',
      sharedClassifier: true,
    },
    weights: { tokEmb, layers, rmsFinal: norm(), wcls: tokEmb },
  };
}

const utf8 = new TextEncoder();

/**
 * A llama2.c-spelled vocabulary of `n` tokens: <unk>, BOS, EOS, the 256 byte tokens, then
 * distinct text pieces "t<i>" (and " t<i>") with descending scores. `long`: a piece id → its
 * length in bytes ('x' repeated), to make one huge token.
 */
export function tinyVocab(n: number, long: Record<number, number> = {}): Vocab {
  const pieces: Uint8Array[] = [utf8.encode('<unk>'), utf8.encode('\n<s>\n'), utf8.encode('\n</s>\n')];
  for (let b = 0; b < 256 && pieces.length < n; b++)
    pieces.push(utf8.encode(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  for (let i = pieces.length; i < n; i++)
    pieces.push(long[i] ? utf8.encode('x'.repeat(long[i])) : utf8.encode(`${i % 2 ? ' ' : ''}t${i}`));
  const scores = Float32Array.from(pieces, (_, i) => (i < 259 ? 0 : -i));
  return { pieces, scores };
}

/** llama2.c checkpoint bytes (version-1 "ak42" header, shared classifier) of a model. */
export function llama2cBytes(m: LlamaModel): Uint8Array {
  const c = m.config;
  const w = m.weights;
  const f = (t: unknown) => (t as F32Tensor).data;
  const parts: Float32Array[] = [
    ...w.layers.map((l) => f(l.rmsAtt)),
    ...w.layers.map((l) => f(l.rmsFfn)),
    f(w.rmsFinal),
    f(w.tokEmb),
    ...(['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const).flatMap((k) => w.layers.map((l) => f(l[k]))),
  ];
  const body = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(256 + body);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x616b3432, true);
  dv.setInt32(4, 1, true);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen].forEach((v, i) =>
    dv.setInt32(8 + 4 * i, v, true),
  );
  dv.setUint8(36, 1);
  let o = 256;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o);
    o += p.byteLength;
  }
  return out;
}

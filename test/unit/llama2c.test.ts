import { describe, expect, it } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { f32Values } from '../../src/core/model/linear.ts';
import { seededRandom, stories260K, STORIES260K_CONFIG } from './helpers.ts';

const file = stories260K();
const model = parseLlama2c(file);

/** Writes a version-1 ("ak42") checkpoint from a model, following formats.md independently of the loader. */
function writeV1(m: LlamaModel): Uint8Array {
  const c = m.config;
  const w = m.weights;
  const L = w.layers;
  const parts: Float32Array[] = [
    ...L.map((l) => f32Values(l.rmsAtt)),
    ...L.map((l) => f32Values(l.rmsFfn)),
    f32Values(w.rmsFinal),
    f32Values(w.tokEmb),
    ...L.map((l) => f32Values(l.wq)),
    ...L.map((l) => f32Values(l.wk)),
    ...L.map((l) => f32Values(l.wv)),
    ...L.map((l) => f32Values(l.wo)),
    ...L.map((l) => f32Values(l.w1)),
    ...L.map((l) => f32Values(l.w2)),
    ...L.map((l) => f32Values(l.w3)),
  ];
  const body = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(256 + body);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x616b3432, true);
  dv.setInt32(4, 1, true);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen].forEach((v, i) =>
    dv.setInt32(8 + 4 * i, v, true),
  );
  out[36] = 1; // shared classifier
  let off = 256;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
    off += p.byteLength;
  }
  return out;
}

const errorOf = (f: () => unknown): NibbleError => {
  try {
    f();
  } catch (e) {
    if (e instanceof NibbleError) return e;
    throw e;
  }
  throw new Error('expected a NibbleError');
};

describe('llama2.c checkpoint loader', () => {
  it('reads the stories260K header and shares the classifier', () => {
    expect(model.config).toMatchObject({
      ...STORIES260K_CONFIG,
      sharedClassifier: true,
    });
    expect(model.weights.wcls).toBe(model.weights.tokEmb);
    expect(model.weights.layers[4].w2.shape).toEqual([64, 172]);
    // The first float after the 28-byte header is tok_emb[0][0].
    expect(f32Values(model.weights.tokEmb)[0]).toBe(new DataView(file.buffer, file.byteOffset).getFloat32(28, true));
  });

  it('loads a version-1 (ak42) checkpoint to the same weights and logits', () => {
    const v1 = parseLlama2c(writeV1(model));
    expect(v1.config).toEqual(model.config);
    expect(v1.weights.layers[3].w3).toEqual(model.weights.layers[3].w3);
    const a = new CpuForward(model).forward([1, 403, 407], 0);
    const b = new CpuForward(v1).forward([1, 403, 407], 0);
    expect(b).toEqual(a);
  });

  it('reads an unshared classifier (negative vocab_size) placed after freq_cis', () => {
    const wcls = new Float32Array(512 * 64).map((_, i) => Math.sin(i));
    const f = new Uint8Array(file.byteLength + wcls.byteLength);
    f.set(file);
    f.set(new Uint8Array(wcls.buffer), file.byteLength);
    new DataView(f.buffer).setInt32(20, -512, true);
    const m = parseLlama2c(f);
    expect(m.config.sharedClassifier).toBe(false);
    expect(f32Values(m.weights.wcls)).toEqual(wcls);
  });

  it('names expected vs actual bytes for a truncated checkpoint', () => {
    const e = errorOf(() => parseLlama2c(file.subarray(0, 500_000)));
    expect(e.code).toBe('truncated');
    expect(e.message).toContain('needs 1056540 bytes, file has 500000');
    expect(errorOf(() => parseLlama2c(file.subarray(0, 10))).message).toContain('expected 28 bytes, file has 10');
  });

  it('rejects a non-checkpoint file as bad-format', () => {
    const text = new TextEncoder().encode('{"hello": "this is JSON, not weights"}');
    expect(errorOf(() => parseLlama2c(text)).code).toBe('bad-format');
  });

  it('rejects absurd dimensions before allocating anything', () => {
    const f = file.slice(0, 4096);
    new DataView(f.buffer).setInt32(0, 1 << 30, true); // dim
    const e = errorOf(() => parseLlama2c(f));
    expect(['bad-format', 'bad-dims']).toContain(e.code);
    expect(e.message).toContain('dim = 1073741824');
    const big = file.slice();
    new DataView(big.buffer).setInt32(8, 1000, true); // 1000 layers: valid range, but the file is far too small
    expect(errorOf(() => parseLlama2c(big)).code).toBe('truncated');
  });

  it('rejects a v1 header with an unsupported version', () => {
    const v1 = writeV1(model);
    new DataView(v1.buffer).setInt32(4, 2, true);
    expect(errorOf(() => parseLlama2c(v1)).code).toBe('unsupported');
  });

  it('never throws anything but a NibbleError on random header mutations', () => {
    const rnd = seededRandom(11);
    for (let i = 0; i < 300; i++) {
      const f = file.slice(0, 1 + Math.floor(rnd() * file.byteLength));
      const dv = new DataView(f.buffer);
      for (let k = 0; k < 3; k++) {
        const at = Math.floor(rnd() * Math.min(28, f.byteLength - 3)) & ~3;
        if (at + 4 <= f.byteLength) dv.setInt32(at, Math.floor((rnd() - 0.5) * 2 ** 32), true);
      }
      try {
        parseLlama2c(f);
      } catch (e) {
        expect(e).toBeInstanceOf(NibbleError);
      }
    }
  });
});

describe('CPU forward pass', () => {
  it('a prefill of N tokens gives the same logits as N single steps', () => {
    const tokens = [1, 403, 407, 261, 378, 300, 42];
    const prefill = new CpuForward(model).forward(tokens, 0);
    const stepper = new CpuForward(model);
    let last: Float32Array = new Float32Array();
    tokens.forEach((t, pos) => (last = stepper.forward([t], pos)));
    for (let i = 0; i < prefill.length; i++) expect(prefill[i]).toBeCloseTo(last[i], 4);
  });

  it('rejects positions past the context and out-of-vocabulary tokens', () => {
    const f = new CpuForward(model);
    expect(() => f.forward([1], 512)).toThrow(NibbleError);
    expect(() => f.forward([512], 0)).toThrow(/outside the vocabulary/);
  });
});

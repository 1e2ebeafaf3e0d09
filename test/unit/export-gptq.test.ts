// AutoGPTQ v1 export: qweight/qzeros/scales/g_idx decoded here by AutoGPTQ's own formula
// W[o, i] = scales[g, o] · (q[i, o] − (z[g, o] + 1)), g = g_idx[i], must equal the variant's
// dequantized weights exactly once its scales are rounded to fp16 (the checkpoint stores fp16
// scales; our GPTQ/RTN scales are f32). 3-bit packing is compared word for word with a port of
// AutoGPTQ's pack loop. The q/k rows are in HF's rotate-half order: a rotate-half model built from
// the decoded checkpoint computes the variant's logits.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exportGptqCheckpoint, packGptqLinear } from '../../src/core/formats/export/gptq.ts';
import { halfFromInterleaved, permuteRows } from '../../src/core/formats/export/rope-permute.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { f16BitsToF32, roundToF16 } from '../../src/core/quant/float-formats.ts';
import { unpackZeros } from '../../src/core/quant/format.ts';
import { unpackRows } from '../../src/core/quant/packing.ts';
import { dequantizeTensor, packUniform, quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type F32Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { DEFAULT_SPEC } from '../../src/core/quant/quant-spec.ts';
import { seededRandom, stories260K } from './helpers.ts';

/** A tiny safetensors reader (test-only): header JSON and typed views of each tensor. */
function readSafetensors(b: Uint8Array) {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = b.slice(8 + n);
  const get = (name: string) => {
    const e = header[name];
    const raw = data.buffer.slice(e.data_offsets[0], e.data_offsets[1]);
    return { ...e, i32: new Int32Array(raw), u16: new Uint16Array(raw), f32: new Float32Array(raw) };
  };
  return { n, header, data, get };
}

const f16 = f16BitsToF32;

/** AutoGPTQ's unpack for 2/4/8 bits: code j of a word at bits·j; qweight words run along the input dim. */
function decodeAutoGptq(
  qweight: Int32Array,
  qzeros: Int32Array,
  scales: Uint16Array,
  gIdx: Int32Array,
  bits: number,
  K: number,
  N: number,
): Float32Array {
  const per = 32 / bits;
  const mask = (1 << bits) - 1;
  const zWords = Math.ceil((N * bits) / 32);
  const W = new Float32Array(N * K);
  for (let o = 0; o < N; o++) {
    for (let i = 0; i < K; i++) {
      const q = (qweight[Math.floor(i / per) * N + o] >>> (bits * (i % per))) & mask;
      const g = gIdx[i];
      const z = (qzeros[g * zWords + Math.floor(o / per)] >>> (bits * (o % per))) & mask;
      W[o * K + i] = Math.fround(f16(scales[g * N + o]) * (q - (z + 1)));
    }
  }
  return W;
}

/** A port of AutoGPTQ's 3-bit `pack` loop (qlinear pack, bits == 3) over intweight [K, N]. */
function autoGptqPack3(intweight: (i: number, o: number) => number, K: number, N: number): Uint32Array {
  const q = new Uint32Array((K / 32) * 3 * N);
  for (let o = 0; o < N; o++) {
    let i = 0;
    let row = 0;
    const put = (r: number, v: number) => (q[r * N + o] = (q[r * N + o] | v) >>> 0);
    while (row < (K / 32) * 3) {
      for (let j = i; j < i + 10; j++) put(row, intweight(j, o) << (3 * (j - i)));
      i += 10;
      put(row, intweight(i, o) << 30);
      row++;
      put(row, (intweight(i, o) >> 2) & 1);
      i++;
      for (let j = i; j < i + 10; j++) put(row, intweight(j, o) << (3 * (j - i) + 1));
      i += 10;
      put(row, intweight(i, o) << 31);
      row++;
      put(row, (intweight(i, o) >> 1) & 3);
      i++;
      for (let j = i; j < i + 10; j++) put(row, intweight(j, o) << (3 * (j - i) + 2));
      i += 10;
      row++;
    }
  }
  return q;
}

/** The variant's dequantized weights with its scales rounded to fp16, as the checkpoint holds them. */
function withF16Scales(t: UniformQuantTensor): Float32Array {
  const scales = t.scaleType === 'f32' ? (t.buffers.scales as Float32Array).map(roundToF16) : t.buffers.scales;
  return dequantizeTensor({ ...t, buffers: { ...t.buffers, scales } }).data;
}

function randomVariant(
  bits: 2 | 3 | 4 | 8,
  N: number,
  K: number,
  G: number,
  seed: number,
  opts: { sym?: boolean; shuffledGroups?: boolean } = {},
): UniformQuantTensor {
  const rnd = seededRandom(seed);
  const w = f32Tensor(
    [N, K],
    Float32Array.from({ length: N * K }, () => rnd() - 0.4),
  );
  const t = quantizeTensor(w, {
    format: `q${bits}` as 'q4',
    granularity: 'group',
    group: G,
    sym: opts.sym,
  }) as UniformQuantTensor;
  if (!opts.shuffledGroups) return t;
  // act-order style: each input column belongs to an arbitrary group (g_idx non-monotonic)
  const nGroups = Math.ceil(K / G);
  const gIdx = Uint32Array.from({ length: K }, (_, i) => (i * 7 + 3) % nGroups);
  const codes = Uint8Array.from({ length: N * K }, () => Math.floor(rnd() * 2 ** bits));
  const scales = Float32Array.from({ length: N * nGroups }, () => 0.01 + rnd() * 0.1);
  const zeros = Uint8Array.from({ length: N * nGroups }, () => 1 + Math.floor(rnd() * (2 ** bits - 1)));
  return packUniform(
    { rows: N, cols: K, bits, sym: false, granularity: 'group', group: G, nGroups, codes, scales, zeros },
    'f32',
    gIdx,
  );
}

describe('packGptqLinear', () => {
  it.each([
    [2, 48, 64, 16, {}],
    [4, 40, 96, 32, {}],
    [4, 24, 64, 32, { sym: true }],
    [8, 20, 64, 16, {}],
    [4, 16, 64, 16, { shuffledGroups: true }],
    [8, 12, 32, 8, { shuffledGroups: true }],
  ] as const)('%i bits, N=%i K=%i G=%i %j: AutoGPTQ formula = dequantized variant', (bits, N, K, G, opts) => {
    const t = randomVariant(bits, N, K, G, bits * 100 + N, opts);
    const q = packGptqLinear(t);
    expect(q.qweight.length).toBe(((K * bits) / 32) * N);
    expect(q.qzeros.length).toBe(q.nGroups * Math.ceil((N * bits) / 32));
    const W = decodeAutoGptq(
      new Int32Array(q.qweight.buffer),
      new Int32Array(q.qzeros.buffer),
      q.scales,
      q.gIdx,
      bits,
      K,
      N,
    );
    expect(W).toEqual(withF16Scales(t));
    if ('sym' in opts) expect(Array.from(q.qzeros).every((z) => z === 0x77777777)).toBe(true); // zero 8 stored as 7
  });

  it("3 bits: qweight/qzeros words equal AutoGPTQ's pack loop", () => {
    const t = randomVariant(3, 64, 96, 32, 3);
    const q = packGptqLinear(t);
    const codes = unpackRows(t.buffers.data, 64, 96, 3);
    expect(q.qweight).toEqual(autoGptqPack3((i, o) => codes[o * 96 + i], 96, 64));
    const zeros = unpackZeros(t);
    // qzeros rows [g] pack (z − 1) along the output dim with the same loop (K ↔ N)
    const nGroups = 3;
    const zRef = autoGptqPack3((o, g) => zeros[o * nGroups + g] - 1, 64, nGroups);
    for (let g = 0; g < nGroups; g++)
      for (let w = 0; w < 6; w++) expect(q.qzeros[g * 6 + w]).toBe(zRef[w * nGroups + g]);
  });

  it('zero point 0 is stored reflected (−scale, maxq − q, zero maxq), decoding to the same weights', () => {
    // Row 0 is all ≥ 0 and row 1 barely dips below 0: both fit zero point 0.
    const w = f32Tensor(
      [3, 32],
      Float32Array.from({ length: 96 }, (_, i) =>
        i < 32 ? i / 32 : i < 64 ? (i === 40 ? -1e-3 : (i - 32) / 8) : i - 80,
      ),
    );
    for (const fmt of ['q4', 'q8', 'q2'] as const) {
      const t = quantizeTensor(w, { format: fmt, granularity: 'row' }) as UniformQuantTensor;
      const bits = { q2: 2, q4: 4, q8: 8 }[fmt];
      expect(Array.from(unpackZeros(t))).toEqual([0, 0, expect.any(Number)]);
      const q = packGptqLinear(t);
      expect(f16(q.scales[0])).toBeLessThan(0);
      expect(f16(q.scales[2])).toBeGreaterThan(0);
      const W = decodeAutoGptq(
        new Int32Array(q.qweight.buffer),
        new Int32Array(q.qzeros.buffer),
        q.scales,
        q.gIdx,
        bits,
        32,
        3,
      );
      // equal as numbers (−scale · 0 is −0 where scale · 0 was +0)
      expect(W.map((v) => v + 0)).toEqual(withF16Scales(t).map((v) => v + 0));
    }
  });
});

describe('exportGptqCheckpoint (stories260K)', () => {
  const model = parseLlama2c(stories260K());
  const HF = new URL('../fixtures/stories260K-hf/model.safetensors', import.meta.url);

  it.skipIf(!existsSync(HF))(
    "the q/k permutation is the one HF's own conversion applied (stories260K-hf fixture)",
    () => {
      const st = readSafetensors(new Uint8Array(readFileSync(HF)));
      model.weights.layers.forEach((lw, l) => {
        for (const [n, proj, heads] of [
          ['wq', 'q_proj', 8],
          ['wk', 'k_proj', 4],
          ['wv', 'v_proj', 4],
        ] as const) {
          const ours = (lw[n] as F32Tensor).data;
          const rows = ours.length / 64;
          const want = n === 'wv' ? ours : permuteRows(ours, rows, halfFromInterleaved(rows, heads));
          expect(st.get(`model.layers.${l}.self_attn.${proj}.weight`).f32).toEqual(want);
        }
      });
    },
  );

  it('writes HF names, AutoGPTQ shapes, rotate-half q/k rows, and sidecars', async () => {
    const { model: variant } = await quantizeModel(model, { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 });
    const ckpt = exportGptqCheckpoint(variant);
    const st = readSafetensors(ckpt.safetensors);
    expect(st.n % 8).toBe(0);
    // no holes: entries tile the data exactly
    const spans = Object.entries(st.header)
      .filter(([k]) => k !== '__metadata__')
      .map(([, e]) => e.data_offsets)
      .sort((a, b) => a[0] - b[0]);
    spans.forEach((s, i) => expect(s[0]).toBe(i ? spans[i - 1][1] : 0));
    expect(spans.at(-1)![1]).toBe(st.data.length);
    expect(st.header.__metadata__).toEqual({ format: 'pt' });
    expect(Object.keys(st.header)).toContain('model.layers.4.mlp.down_proj.g_idx');
    expect(st.header['lm_head.weight']).toBeUndefined(); // tied
    expect(st.get('model.layers.0.self_attn.k_proj.qweight')).toMatchObject({ dtype: 'I32', shape: [8, 32] });
    expect(st.get('model.layers.0.mlp.down_proj.qweight').shape).toEqual([Math.ceil((172 * 4) / 32), 64]); // 21.5 → 22 words (zero-padded)
    expect(st.get('model.layers.0.mlp.up_proj.qzeros').shape).toEqual([2, Math.ceil((172 * 4) / 32)]);
    expect(st.get('model.layers.0.mlp.down_proj.scales')).toMatchObject({ dtype: 'F16', shape: [6, 64] });
    expect(st.get('model.embed_tokens.weight')).toMatchObject({ dtype: 'F16', shape: [512, 64] });
    expect(ckpt.quantizeConfig).toEqual({
      bits: 4,
      group_size: 32,
      damp_percent: 0.01,
      desc_act: false,
      static_groups: false,
      sym: false,
      true_sequential: true,
      checkpoint_format: 'gptq',
      quant_method: 'gptq',
      model_file_base_name: 'model',
    });
    expect(ckpt.config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      tie_word_embeddings: true,
      vocab_size: 512,
      quantization_config: { bits: 4 },
    });

    // Decode every linear by the AutoGPTQ formula; q/k rows must be HF's permutation of ours.
    const layers = variant.weights.layers.map((lw, l) => {
      const out: Record<string, F32Tensor> = {};
      LINEAR_NAMES.forEach((n) => {
        const hf = {
          wq: 'self_attn.q_proj',
          wk: 'self_attn.k_proj',
          wv: 'self_attn.v_proj',
          wo: 'self_attn.o_proj',
          w1: 'mlp.gate_proj',
          w2: 'mlp.down_proj',
          w3: 'mlp.up_proj',
        }[n];
        const p = `model.layers.${l}.${hf}`;
        const t = lw[n] as UniformQuantTensor;
        const [N, K] = t.shape;
        const W = decodeAutoGptq(
          st.get(`${p}.qweight`).i32,
          st.get(`${p}.qzeros`).i32,
          st.get(`${p}.scales`).u16,
          st.get(`${p}.g_idx`).i32,
          4,
          K,
          N,
        );
        const ours = withF16Scales(t);
        const perm = n === 'wq' ? halfFromInterleaved(64, 8) : n === 'wk' ? halfFromInterleaved(32, 4) : null;
        for (let o = 0; o < N; o++)
          expect(W.subarray(o * K, o * K + K)).toEqual(
            ours.subarray((perm ? perm[o] : o) * K, ((perm ? perm[o] : o) + 1) * K),
          );
        out[n] = f32Tensor([N, K], W);
      });
      return { ...lw, ...out };
    });
    // The decoded checkpoint as an HF (rotate-half) model computes the variant's logits.
    const emb = f32Tensor([512, 64], Float32Array.from(st.get('model.embed_tokens.weight').u16, f16));
    const hfModel: LlamaModel = {
      config: { ...variant.config, ropeStyle: 'half' },
      weights: { ...variant.weights, layers, tokEmb: emb, wcls: emb },
    };
    const scalesF16: LlamaModel = {
      ...variant,
      weights: {
        ...variant.weights,
        tokEmb: emb,
        wcls: emb,
        layers: variant.weights.layers.map((lw) => ({
          ...lw,
          ...Object.fromEntries(
            LINEAR_NAMES.map((n) => [n, f32Tensor([...lw[n].shape], withF16Scales(lw[n] as UniformQuantTensor))]),
          ),
        })),
      },
    };
    const tokens = [1, 403, 407, 261, 378, 88];
    const a = new CpuForward(hfModel).forwardAll(tokens, 0);
    const b = new CpuForward(scalesF16).forwardAll(tokens, 0);
    expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThan(1e-4);
  });

  it('refuses models that are not uniform-int variants, or mix bit widths', async () => {
    expect(() => exportGptqCheckpoint(model)).toThrow(/layer 0 wq is f32; the GPTQ layout needs uniform-int linears/);
    const { model: nf4 } = await quantizeModel(model, { ...DEFAULT_SPEC, method: 'nf4', group: 64 });
    expect(() => exportGptqCheckpoint(nf4)).toThrow(/is nf4/);
    const { model: q4 } = await quantizeModel(model, { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 0, sym: true });
    const mixed: LlamaModel = {
      ...q4,
      weights: {
        ...q4.weights,
        layers: q4.weights.layers.map((lw, l) =>
          l ? lw : { ...lw, wq: quantizeTensor(model.weights.layers[0].wq as F32Tensor, { format: 'q8', sym: true }) },
        ),
      },
    };
    expect(() => exportGptqCheckpoint(mixed)).toThrow(/mix 8 and 4 bits|mix 4 and 8 bits/);
    const c = exportGptqCheckpoint(q4, { floatDtype: 'F32', dampPercent: 0.05, staticGroups: true });
    expect(c.quantizeConfig).toMatchObject({
      bits: 4,
      group_size: -1,
      sym: true,
      damp_percent: 0.05,
      static_groups: true,
    });
    expect(readSafetensors(c.safetensors).get('model.norm.weight').dtype).toBe('F32');
  });
});

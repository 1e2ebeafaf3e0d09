// Chart statistics computed next to the weights (in the worker), so only small arrays cross to
// the UI: histogram bins of one tensor, the grid of the selected group's quantizer, code counts
// per quantizer (bucket collisions) and per-feature activation maxima (outlier features).
import { NibbleError } from '../../core/errors.ts';
import { CpuForward, LINEAR_INPUT_SITES, type LinearInputSite } from '../../core/model/forward.ts';
import { weightValues } from '../../core/model/linear.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../core/model/model.ts';
import { FLOAT_SPECS, decodeFloat } from '../../core/quant/float-formats.ts';
import { weightBytes } from '../../core/quant/format.ts';
import type { CodeHistogram } from '../../core/quant/histogram.ts';
import { codeTable } from '../../core/quant/nf4.ts';
import { FLOAT_METHODS, type QuantSpec } from '../../core/quant/quant-spec.ts';
import { fitParams, maxq } from '../../core/quant/uniform.ts';
import { accumulateAbsMax } from '../../core/quant/smoothquant.ts';
import { numel, type F32Tensor, type UniformQuantTensor } from '../../core/tensor.ts';
import { yieldToEventLoop } from '../../core/yield.ts';
import type {
  CollisionStats,
  Granularity,
  HistogramQuery,
  OutlierReport,
  TensorRef,
  VariantInfo,
  WeightHistogram,
} from './lab-types.ts';

const MAX_GRID_LINES = 512;

/** The fp32 weight matrix (out, in) of block `layer`'s `linear` in the loaded model. */
export function linearWeight(model: LlamaModel, ref: TensorRef): F32Tensor {
  const { nLayers } = model.config;
  if (!Number.isInteger(ref.layer) || ref.layer < 0 || ref.layer >= nLayers)
    throw new NibbleError('bad-argument', `layer ${ref.layer}: the model has layers 0..${nLayers - 1}`);
  if (!(LINEAR_NAMES as readonly string[]).includes(ref.linear))
    throw new NibbleError('bad-argument', `unknown linear '${ref.linear}' (one of ${LINEAR_NAMES.join(', ')})`);
  // A quantized base (native GGUF, a .nibble) is charted through its dequantized values ŵ.
  return weightValues(model.weights.layers[ref.layer][ref.linear], `layer ${ref.layer} ${ref.linear}`);
}

/** Counts of `values` in `bins` equal bins over [lo, hi]; the last bin is closed. */
export function binCounts(values: ArrayLike<number>, lo: number, hi: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue;
    const b = width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : 0;
    counts[b]++;
  }
  return counts;
}

/** The weights of the selected group: uniform → row r, columns of group g; codebook → block g; absmax → row r. */
function groupSlice(
  spec: QuantSpec,
  w: F32Tensor,
  row: number,
  group: number,
): { start: number; end: number; nGroups: number; G: number } {
  const [N, K] = w.shape;
  if (spec.method === 'nf4' || spec.method === 'fp4') {
    const B = spec.group || 64;
    const nGroups = Math.ceil((N * K) / B);
    const g = clampInt(group, 0, nGroups - 1);
    return { start: g * B, end: Math.min(N * K, (g + 1) * B), nGroups, G: B };
  }
  const r = clampInt(row, 0, N - 1);
  const uniform = spec.method === 'rtn' || spec.method === 'gptq';
  const G = uniform && spec.group > 0 && spec.group < K ? spec.group : K;
  const nGroups = Math.ceil(K / G);
  const g = clampInt(group, 0, nGroups - 1);
  return { start: r * K + g * G, end: r * K + Math.min(K, (g + 1) * G), nGroups, G };
}

const clampInt = (v: number, lo: number, hi: number) =>
  Math.max(lo, Math.min(hi, Math.floor(Number.isFinite(v) ? v : 0)));

/** Levels the quantizer can output for the weights x[start, end), ascending, or why none are drawn. */
export function gridFor(
  spec: QuantSpec,
  x: Float32Array,
  start: number,
  end: number,
  span: [number, number],
): { grid: number[] | null; label: string } {
  let absmax = 0;
  for (let i = start; i < end; i++) absmax = Math.max(absmax, Math.abs(x[i]));
  switch (spec.method) {
    case 'rtn':
    case 'gptq': {
      const p = fitParams(x, start, end, spec.bits, spec.sym, spec.scaleType === 'f16');
      const grid = Array.from({ length: maxq(spec.bits) + 1 }, (_, q) => Math.fround(p.scale * (q - p.zero)));
      const how = spec.method === 'gptq' ? ' (RTN fit on the fp32 weights; GPTQ refits as it goes)' : '';
      return {
        grid,
        label: `int${spec.bits} ${spec.sym ? 'sym' : 'asym'}: scale ${p.scale.toPrecision(4)}, zero ${p.zero}${how}`,
      };
    }
    case 'nf4':
    case 'fp4':
      return {
        grid: [...codeTable(spec.method)].map((c) => Math.fround(c * absmax)).sort((a, b) => a - b),
        label: `${spec.method} codebook × block absmax ${absmax.toPrecision(4)}`,
      };
    case 'llmint8':
    case 'smoothquant': {
      const s = absmax / 127;
      const how = spec.method === 'smoothquant' ? ' (before smoothing)' : '';
      return {
        grid: Array.from({ length: 255 }, (_, i) => Math.fround((i - 127) * s)),
        label: `absmax int8 of the row: step ${s.toPrecision(4)}${how}`,
      };
    }
    case 'trunc':
      return floatGrid(spec.mantissaBits, span, `fp32 with ${spec.mantissaBits} fraction bits`);
    case 'fp32':
      return { grid: null, label: 'fp32: no grid (every value is kept)' };
    default: {
      const f = FLOAT_SPECS[FLOAT_METHODS[spec.method]!];
      if (f.expBits + f.manBits <= 8) {
        const vals = new Set<number>();
        for (let c = 0; c < 1 << (1 + f.expBits + f.manBits); c++) {
          const v = decodeFloat(c, f);
          if (Number.isFinite(v) && v >= span[0] && v <= span[1]) vals.add(v);
        }
        return { grid: [...vals].sort((a, b) => a - b), label: `every ${spec.method} value in range` };
      }
      return floatGrid(f.manBits, span, spec.method);
    }
  }
}

/**
 * Values with k fraction bits inside `span`, binade by binade from the largest magnitude down,
 * while they fit in MAX_GRID_LINES; smaller binades are left out (too dense to draw).
 */
function floatGrid(k: number, span: [number, number], what: string): { grid: number[] | null; label: string } {
  const top = Math.max(Math.abs(span[0]), Math.abs(span[1]));
  if (!(top > 0)) return { grid: null, label: `${what}: the tensor is all zeros` };
  const perBinade = 2 ** k;
  if (2 * perBinade > MAX_GRID_LINES)
    return { grid: null, label: `${what}: ${perBinade} levels per power of two, too dense to draw` };
  const vals: number[] = [];
  let e = Math.floor(Math.log2(top));
  let binades = 0;
  for (; vals.length + 2 * perBinade <= MAX_GRID_LINES && binades < 60; e--, binades++) {
    for (let m = 0; m < perBinade; m++) {
      const v = (1 + m / perBinade) * 2 ** e;
      if (v <= span[1]) vals.push(v);
      if (-v >= span[0]) vals.push(-v);
    }
  }
  return {
    grid: vals.sort((a, b) => a - b),
    label: `${what}: levels in the top ${binades} powers of two (|x| ≥ ${(2 ** (e + 1)).toPrecision(3)})`,
  };
}

/** The weight histogram of one tensor with the selected group's grid (see HistogramQuery). */
export function weightHistogram(model: LlamaModel, q: HistogramQuery): WeightHistogram {
  const w = linearWeight(model, q);
  const bins = clampInt(q.bins, 8, 512);
  const x = w.data;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const mean = sum / x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  const width = (max - min) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : min + i * width));
  const sl = groupSlice(q.spec, w, q.row, q.group);
  const { grid, label } = gridFor(q.spec, x, sl.start, sl.end, [min, max]);
  const [, K] = w.shape;
  const codebook = q.spec.method === 'nf4' || q.spec.method === 'fp4';
  return {
    layer: q.layer,
    linear: q.linear,
    shape: [w.shape[0], w.shape[1]],
    min,
    max,
    edges,
    counts: binCounts(x, min, max, bins),
    groupCounts: binCounts(x.subarray(sl.start, sl.end), min, max, bins),
    row: Math.floor(sl.start / K),
    group: codebook ? sl.start / sl.G : Math.floor((sl.start % K) / sl.G),
    nGroups: sl.nGroups,
    groupSize: sl.end - sl.start,
    grid,
    gridLabel: label,
    mean,
    std: Math.sqrt(ss / x.length),
  };
}

/** Uniform quantizer configurations of a collision query, each with its display label. */
export function collisionConfigs(
  bits: readonly number[],
  granularities: readonly { granularity: Granularity; group?: number }[],
  K: number,
) {
  const out: { bits: number; granularity: Granularity; group: number; label: string }[] = [];
  for (const b of bits) {
    if (![2, 3, 4, 8].includes(b)) throw new NibbleError('bad-argument', `bucket collisions: ${b} bits (2, 3, 4 or 8)`);
    for (const g of granularities) {
      const G = g.granularity === 'group' ? Math.min(g.group ?? 0, K) : K;
      if (g.granularity === 'group' && !(Number.isInteger(g.group) && g.group! >= 1))
        throw new NibbleError('bad-argument', `bucket collisions: group ${g.group}`);
      const granularity: Granularity = g.granularity === 'group' && G === K ? 'row' : g.granularity;
      const label = `int${b} ${granularity === 'group' ? `g${G}` : granularity === 'row' ? 'per-row' : 'per-tensor'}`;
      if (!out.some((o) => o.label === label)) out.push({ bits: b, granularity, group: G, label });
    }
  }
  return out;
}

/** Summary of one code histogram: unused codes, the largest bucket, clipped shares. */
export function summarizeCodes(
  cfg: { bits: number; granularity: Granularity; group: number; label: string },
  h: CodeHistogram,
): CollisionStats {
  const counts = [...h.counts.subarray(0, 2 ** cfg.bits)];
  const total = counts.reduce((a, b) => a + b, 0);
  let code = 0;
  counts.forEach((c, i) => c > counts[code] && (code = i));
  const unused = counts.filter((c) => c === 0).length;
  return {
    ...cfg,
    counts,
    total,
    unusedShare: unused / counts.length,
    largest: { code, count: counts[code], share: total ? counts[code] / total : 0 },
    clippedLow: h.clippedLow,
    clippedHigh: h.clippedHigh,
    clippedShare: total ? (h.clippedLow + h.clippedHigh) / total : 0,
  };
}

/** Quantize + code histogram: the GPU kernels (GpuQuantizer) or the CPU twins behind one shape. */
export interface CodeCounter {
  readonly backend: 'webgpu' | 'cpu';
  quantize(
    w: F32Tensor,
    bits: number,
    granularity: Granularity,
    group: number,
    sym: boolean,
  ): Promise<UniformQuantTensor>;
  histogram(t: UniformQuantTensor, w: Float32Array): Promise<CodeHistogram>;
}

/** Max |x| per input feature of every linear site and layer over the calibration windows (fp32 model). */
export async function activationMaxima(
  model: LlamaModel,
  windows: readonly number[][],
  threshold: number,
  check: () => void,
): Promise<Omit<OutlierReport, 'windows' | 'threshold'>> {
  const c = model.config;
  const width: Record<LinearInputSite, number> = {
    attn: c.dim,
    wo: c.nHeads * c.headSize,
    ffn: c.dim,
    w2: c.hiddenDim,
  };
  const acc = Array.from(
    { length: c.nLayers },
    () =>
      Object.fromEntries(LINEAR_INPUT_SITES.map((s) => [s, new Float32Array(width[s])])) as Record<
        LinearInputSite,
        Float32Array
      >,
  );
  const fwd = new CpuForward(model);
  fwd.capture = (l, site, x, M) => accumulateAbsMax(acc[l][site], x, M);
  let tokens = 0;
  for (const w of windows) {
    check();
    fwd.forwardAll(w, 0);
    tokens += w.length;
    await yieldToEventLoop();
  }
  const sites = Object.fromEntries(
    LINEAR_INPUT_SITES.map((s) => [
      s,
      {
        width: width[s],
        layers: acc.map((a) => {
          const absMax = [...a[s]];
          return { absMax, over: absMax.flatMap((v, i) => (v >= threshold ? [i] : [])) };
        }),
      },
    ]),
  ) as OutlierReport['sites'];
  return { tokens, sites };
}

/** Bytes and bits per linear weight of a model as stored. */
export function footprint(m: LlamaModel): Pick<VariantInfo, 'weightBytes' | 'linearBytes' | 'bitsPerWeight'> {
  let linearBytes = 0;
  let count = 0;
  for (const lw of m.weights.layers) {
    for (const n of LINEAR_NAMES) {
      linearBytes += weightBytes(lw[n]);
      count += numel(lw[n].shape);
    }
  }
  const w = m.weights;
  const rest =
    weightBytes(w.tokEmb) +
    weightBytes(w.rmsFinal) +
    (m.config.sharedClassifier ? 0 : weightBytes(w.wcls)) +
    w.layers.reduce((n, lw) => n + weightBytes(lw.rmsAtt) + weightBytes(lw.rmsFfn), 0);
  return { weightBytes: linearBytes + rest, linearBytes, bitsPerWeight: (8 * linearBytes) / count };
}

/** The loaded model's label: 'fp32', or what a quantized base holds (a native GGUF, a .nibble loaded as the model). */
export function loadedLabel(m: LlamaModel): Pick<VariantInfo, 'label' | 'nominalBits'> {
  const formats = [...new Set(m.weights.layers.flatMap((l) => LINEAR_NAMES.map((n) => l[n].format)))];
  if (formats.length === 1 && formats[0] === 'f32') return { label: 'fp32', nominalBits: 32 };
  return { label: `as loaded (${formats.join(', ')})`, nominalBits: footprint(m).bitsPerWeight };
}

// `nibble bench` part 2: quantized GEMV (M = 1) and GEMM (M > 1) through the runner's kernel
// switch (src/gpu/kernels.ts dispatchMatmul) on random packed weights, next to a read-only
// stream and a copy of the same number of bytes (shaders/bench/copy_stream.wgsl) timed the same way
// in the same run, and next to onnxruntime-web's MatMulNBits on the same q4 bytes
// (src/cli/bench-ort.ts).
//
// Weights are generated directly in packed form with a seeded PRNG (every code uniform, scales
// uniform in [0.5, 1.5)/√K, symmetric: no zero points), not by quantizing f32 weights: the
// kernels read the same bytes either way, and quantizing 45M weights on the CPU takes far
// longer than the benchmark. They are uploaded with the runner's uploadLinear.
import type { UniformQuantTensor } from '../core/tensor.ts';
import { wordsPerRow } from '../core/quant/packing.ts';
import { createStorage, readF32, uploadStorage } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import { dispatchMatmul } from '../gpu/kernels.ts';
import type { MatmulCall } from '../gpu/matmul-quant.ts';
import { uploadLinear, weightBuffers, type UniformWeight } from '../gpu/weights.ts';
import type { OrtBench, OrtResult } from './bench-ort.ts';
import {
  CaptureSink,
  randomF32,
  randomWords,
  rng,
  sig,
  type GpuTimer,
  type Replay,
  type Timing,
} from './bench-util.ts';

export interface MatmulOptions {
  shapes: [n: number, k: number][]; // (N, K) = (outputs, inputs)
  gemmM: number; // rows of x for the GEMM
  formats: MatmulFormat[];
  targetMs: number; // about this long per timed trial
  maxReps: number;
  trials: number;
  seed: number;
}

export type MatmulFormat = 'q4-g32' | 'q4-row' | 'q8-row';
export const MATMUL_FORMATS: readonly MatmulFormat[] = ['q4-g32', 'q4-row', 'q8-row'];

export interface Bandwidth extends Timing {
  bytes: number;
  GBs: number; // bytes moved per second / 1e9 (copy: read + written)
}

export interface MatmulRow {
  format: MatmulFormat;
  n: number;
  k: number;
  m: number;
  weightBytes: number; // codes + scales as uploaded: what one call must stream
  ours: Timing & { GBs: number; GFLOPs: number };
  stream: Bandwidth; // read-only stream of weightBytes
  copy: Bandwidth; // copy of weightBytes (GB/s counts read + written)
  oursOverStream: number; // ours GB/s ÷ stream GB/s (target ≥ 0.8 for q4 GEMV)
  oursOverCopy: number; // ours GB/s ÷ copy GB/s
  maxRelErr?: number; // M = 1: max |ours − CPU| / max |CPU| over all outputs
  ort?: OrtResult; // q4-g32 only
  speedupVsOrt?: number; // ORT WebGPU kernel µs ÷ ours µs (> 1: ours faster; target ≥ 4 for q4 GEMV)
  speedupVsOrtWasm?: number; // ORT wasm run() µs ÷ ours µs
}

export interface MatmulReport {
  timing: string; // how µs per call are measured
  weights: string;
  rows: MatmulRow[];
}

const FORMAT: Record<MatmulFormat, { bits: 4 | 8; group: (k: number) => number }> = {
  'q4-g32': { bits: 4, group: () => 32 },
  'q4-row': { bits: 4, group: (k) => k },
  'q8-row': { bits: 8, group: (k) => k },
};

/** A random symmetric packed weight (n, k) of `format` as core's UniformQuantTensor. */
export function randomPacked(format: MatmulFormat, n: number, k: number, seed: number): UniformQuantTensor {
  const { bits, group } = FORMAT[format];
  const rand = rng(seed);
  const G = group(k);
  const nGroups = Math.ceil(k / G);
  const data = randomWords(rand, n * wordsPerRow(bits, k));
  const pad = k % (32 / bits); // codes past k in a row's last word must be 0
  if (pad) for (let r = 0; r < n; r++) data[(r + 1) * wordsPerRow(bits, k) - 1] &= (1 << (bits * pad)) - 1;
  const scales = new Float32Array(n * nGroups).map(() => (0.5 + rand()) / Math.sqrt(k));
  return {
    format: bits === 4 ? 'q4' : 'q8',
    shape: [n, k],
    granularity: G < k ? 'group' : 'row',
    group: G,
    sym: true,
    scaleType: 'f32',
    buffers: { data, scales },
  };
}

/** out = x · ŵᵀ on the CPU for M = 1 (the check of our GEMV). */
function cpuGemv(t: UniformQuantTensor, x: Float32Array): Float32Array {
  const [n, k] = t.shape;
  const bits = t.format === 'q4' ? 4 : 8;
  const per = 32 / bits;
  const mask = (1 << bits) - 1;
  const zero = 1 << (bits - 1);
  const wpr = wordsPerRow(bits, k);
  const nGroups = Math.ceil(k / t.group);
  const out = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let acc = 0;
    for (let j = 0; j < k; j++) {
      const q = (t.buffers.data[r * wpr + Math.floor(j / per)] >>> (bits * (j % per))) & mask;
      acc += t.buffers.scales[r * nGroups + Math.floor(j / t.group)] * (q - zero) * x[j];
    }
    out[r] = acc;
  }
  return out;
}

/** The stream/copy kernel (copy_stream in the kernel table), bound once per size and mode. */
class StreamKernel {
  private readonly sink: CaptureSink;
  readonly src: GPUBuffer;
  readonly dst: GPUBuffer;

  constructor(ctx: GpuContext, maxBytes: number, seed: number) {
    const words = Math.ceil(maxBytes / 16) * 4;
    this.src = uploadStorage(ctx, randomWords(rng(seed), words), 'stream-src');
    this.dst = createStorage(ctx, words * 4, 'stream-dst');
    this.sink = new CaptureSink(ctx);
  }

  /** One dispatch reading (MODE 0) or copying (MODE 1) `bytes` (rounded up to 16). */
  replay(bytes: number, mode: 0 | 1): Replay {
    const nVec = Math.ceil(bytes / 16);
    this.sink.dispatch('copy_stream', {
      constants: { MODE: mode },
      buffers: [this.src, this.dst],
      params: { n_vec: nVec, magic: 0xffffffff },
      workgroups: this.sink.grid(Math.ceil(nVec / (256 * 4))), // ~4 vec4 per thread
    });
    const replays = this.sink.ready();
    return replays[replays.length - 1];
  }

  dispose(): void {
    this.sink.dispose();
    this.src.destroy();
    this.dst.destroy();
  }
}

async function bandwidth(
  timer: GpuTimer,
  k: StreamKernel,
  bytes: number,
  mode: 0 | 1,
  o: MatmulOptions,
): Promise<Bandwidth> {
  const t = await timer.time([k.replay(bytes, mode)], o);
  const moved = bytes * (mode === 1 ? 2 : 1);
  return { ...t, bytes, GBs: sig(moved / t.usPerCall / 1e3) };
}

export async function benchMatmul(
  ctx: GpuContext,
  timer: GpuTimer,
  o: MatmulOptions,
  ort: OrtBench | null,
  log: (s: string) => void,
): Promise<MatmulReport> {
  const maxBytes = Math.max(...o.shapes.map(([n, k]) => n * k + 4 * n * Math.ceil(k / 32))) + 16;
  const stream = new StreamKernel(ctx, maxBytes, o.seed + 1);
  const rows: MatmulRow[] = [];
  try {
    for (const [si, [n, k]] of o.shapes.entries()) {
      const rand = rng(o.seed + 100 + si);
      const x = randomF32(rand, o.gemmM * k);
      const xBuf = uploadStorage(ctx, x, 'bench-x');
      const outBuf = createStorage(ctx, o.gemmM * n * 4, 'bench-out');
      try {
        for (const format of o.formats) {
          const t = randomPacked(format, n, k, o.seed + 1000 * si + MATMUL_FORMATS.indexOf(format));
          const w = uploadLinear(ctx, [t], `bench-${format}`) as UniformWeight;
          const weightBytes = weightBuffers(w).reduce((s, b) => s + b.size, 0);
          try {
            for (const m of new Set([1, o.gemmM])) {
              // --gemm-m 1: GEMV only
              log(`matmul ${format} ${n}×${k} M=${m}`);
              const sink = new CaptureSink(ctx);
              const call: MatmulCall = { x: xBuf, out: outBuf, M: m, xOff: 0, accumulate: false, nOff: 0, ldo: n };
              dispatchMatmul(sink, call, w);
              const tm = await timer.time(sink.ready(), o);
              sink.dispose();
              const s = await bandwidth(timer, stream, weightBytes, 0, o);
              const c = await bandwidth(timer, stream, weightBytes, 1, o);
              const GBs = sig(weightBytes / tm.usPerCall / 1e3);
              const row: MatmulRow = {
                format,
                n,
                k,
                m,
                weightBytes,
                ours: { ...tm, GBs, GFLOPs: sig((2 * m * n * k) / tm.usPerCall / 1e3) },
                stream: s,
                copy: c,
                oursOverStream: sig(GBs / s.GBs),
                oursOverCopy: sig(GBs / c.GBs),
              };
              if (m === 1) {
                const got = await readF32(ctx, outBuf, n);
                const want = cpuGemv(t, x);
                const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
                row.maxRelErr = Number(
                  (got.reduce((a, v, i) => Math.max(a, Math.abs(v - want[i])), 0) / scale).toExponential(2),
                );
              }
              if (ort && format === 'q4-g32') {
                log(`onnxruntime MatMulNBits ${n}×${k} M=${m}`);
                row.ort = await ort.matmul(
                  {
                    n,
                    k,
                    m,
                    codes: t.buffers.data,
                    scales: t.buffers.scales as Float32Array /* f32 scales */,
                    x: x.subarray(0, m * k),
                  },
                  m === 1 ? await readF32(ctx, outBuf, n) : undefined,
                );
                const kernel = row.ort.webgpu?.kernelUsPerCall;
                if (kernel) row.speedupVsOrt = sig(kernel / tm.usPerCall);
                if (row.ort.wasm?.runUsPerCall) row.speedupVsOrtWasm = sig(row.ort.wasm.runUsPerCall / tm.usPerCall);
              }
              rows.push(row);
            }
          } finally {
            weightBuffers(w).forEach((b) => b.destroy());
          }
        }
      } finally {
        xBuf.destroy();
        outBuf.destroy();
      }
    }
  } finally {
    stream.dispose();
  }
  return {
    timing: timer.method,
    weights: `random packed codes and scales from a seeded PRNG (seed ${o.seed}), symmetric (no zero points), f32 scales; q4-g32: groups of 32 inputs, q4-row / q8-row: one scale per output row`,
    rows,
  };
}

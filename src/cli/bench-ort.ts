// onnxruntime-web's MatMulNBits as the bench's outside reference, in the same process as our
// kernels: a one-node model (src/cli/bench-onnx.ts) on the same q4 group-32 bytes, run on
// ORT's WebGPU execution provider (its own device on a second adapter of the same Dawn
// instance) and on its wasm (CPU) execution provider.
//
// Which ORT: the JSEP build of onnxruntime-web 1.20.1, installed as the devDependency
// `ort-jsep` (npm alias) and imported by path (its package exports hide the build from Node).
// The project's onnxruntime-web 1.30 WebGPU build fails in Node + Dawn ("Invalid argument" at
// session creation here). JSEP runs when the adapter's `features` set-like gets forEach and
// values, which Dawn's lacks, and when navigator.gpu exists (both provided below).
//
// Timing: ORT's own WebGPU profiler (env.webgpu.profiling, GPU timestamps around each kernel)
// gives the kernel time per run; run() wall time (input upload, kernels, output download) is
// reported too. wasm: run() wall time, 1 thread.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { matMulNBitsModel } from './bench-onnx.ts';
import { median, round } from './bench-util.ts';

interface OrtTensor {
  dims: readonly number[];
  data: Float32Array;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface ProfileEvent {
  kernelType: string;
  programName: string;
  startTime: number | bigint;
  endTime: number | bigint;
}
interface OrtModule {
  env: {
    versions?: Record<string, string>;
    wasm: { numThreads: number };
    webgpu: { adapter?: unknown; profiling?: { mode: 'off' | 'default'; ondata?: (e: ProfileEvent) => void } };
  };
  InferenceSession: { create(model: Uint8Array, opts: { executionProviders: string[] }): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
}

export interface OrtEpResult {
  runUsPerCall?: number; // median run() wall time per call
  kernelUsPerCall?: number | null; // WebGPU: median Σ kernel timestamps per run (null: no timestamps)
  kernels?: string[]; // WebGPU: ORT program names seen in one run
  runs?: number;
  maxRelErr?: number; // M = 1: max |ORT − ours| / max |ours|
  error?: string; // exact error when this EP could not run
}

export interface OrtResult {
  webgpu: OrtEpResult;
  wasm: OrtEpResult;
}

export interface OrtBench {
  version: string;
  matmul(
    a: { n: number; k: number; m: number; codes: Uint32Array; scales: Float32Array; x: Float32Array },
    ours?: Float32Array,
  ): Promise<OrtResult>;
}

// NIBBLE_ORT_JSEP: another path to ort.webgpu.min.mjs (e.g. next to a bundled bench on a GPU machine).
const ORT_JSEP = process.env.NIBBLE_ORT_JSEP
  ? pathToFileURL(resolve(process.env.NIBBLE_ORT_JSEP))
  : new URL('../../node_modules/ort-jsep/dist/ort.webgpu.min.mjs', import.meta.url);

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Loads ORT and points its WebGPU EP at a fresh adapter of `gpu`; {error} when it cannot. */
export async function loadOrt(
  gpu: GPU,
  o: { targetMs: number; maxReps: number; trials: number },
): Promise<OrtBench | { error: string }> {
  if (!existsSync(ORT_JSEP))
    return {
      error: `onnxruntime-web 1.20.1 JSEP build not found at ${ORT_JSEP.pathname} (devDependency ort-jsep: run npm install)`,
    };
  let ort: OrtModule;
  try {
    const g = globalThis as { navigator?: object };
    g.navigator ??= {};
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    ort = (await import(/* @vite-ignore */ ORT_JSEP.href)) as OrtModule;
  } catch (e) {
    return { error: `import onnxruntime-web JSEP: ${message(e)}` };
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { error: 'no second WebGPU adapter for onnxruntime' };
  const features = adapter.features as GPUSupportedFeatures & { forEach?: unknown; values?: unknown };
  if (!features.forEach) {
    Object.assign(features, {
      forEach: (f: (v: string, k: string, s: unknown) => void) => [...features].forEach((v) => f(v, v, features)),
      values: () => [...features][Symbol.iterator](),
    });
  }
  ort.env.webgpu.adapter = adapter;
  ort.env.wasm.numThreads = 1;
  let events: ProfileEvent[] = [];
  ort.env.webgpu.profiling = { mode: 'default', ondata: (e) => events.push(e) };
  const version = ort.env.versions?.web ?? '1.20.1';

  /** Runs one EP: warm-up, reps per trial from the warm-up time, trials. */
  async function runEp(
    ep: 'webgpu' | 'wasm',
    model: Uint8Array,
    a: { m: number; k: number; n: number; x: Float32Array },
    ours?: Float32Array,
  ): Promise<OrtEpResult> {
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: [ep] });
      const A = new ort.Tensor('float32', a.x, [a.m, a.k]);
      const t0 = performance.now();
      const first = await session.run({ A });
      const est = Math.max(performance.now() - t0, 1e-3);
      const out: OrtEpResult = {};
      if (ours) {
        const y = first.Y.data;
        const scale = ours.reduce((s, v) => Math.max(s, Math.abs(v)), 0) || 1;
        out.maxRelErr = Number((y.reduce((s, v, i) => Math.max(s, Math.abs(v - ours[i])), 0) / scale).toExponential(2));
      }
      const reps = Math.max(1, Math.min(o.maxReps, Math.round(o.targetMs / est)));
      const wall: number[] = [];
      const kernel: number[] = [];
      let names: string[] = [];
      for (let t = 0; t < o.trials; t++) {
        const s0 = performance.now();
        for (let r = 0; r < reps; r++) {
          events = [];
          await session.run({ A });
          if (ep === 'webgpu' && events.length) {
            kernel.push(events.reduce((s, e) => s + Number(BigInt(e.endTime) - BigInt(e.startTime)), 0) / 1e3);
            names = events.map((e) => e.programName);
          }
        }
        wall.push(((performance.now() - s0) * 1000) / reps);
      }
      await session.release?.();
      out.runUsPerCall = round(median(wall), 1);
      out.runs = reps * o.trials;
      if (ep === 'webgpu') {
        out.kernelUsPerCall = kernel.length ? round(median(kernel), 1) : null;
        out.kernels = names;
      }
      return out;
    } catch (e) {
      return { error: message(e) };
    }
  }

  return {
    version,
    async matmul(a, ours) {
      const model = matMulNBitsModel({ M: a.m, N: a.n, K: a.k, codes: a.codes, scales: a.scales });
      return { webgpu: await runEp('webgpu', model, a, ours), wasm: await runEp('wasm', model, a, ours) };
    },
  };
}

// `nibble bench`: prefill and decode speed of stories260K on the WebGPU (Dawn) and CPU
// backends, plus GPU submits and dispatches per decoded token. On SwiftShader the "GPU"
// is this machine's CPU running a Vulkan emulator, and the report says so.
import { readFileSync } from 'node:fs';
import { NibbleError, isNibbleError } from '../core/errors.ts';
import { parseLlama2c } from '../core/llama2c.ts';
import type { LlamaModel } from '../core/model.ts';
import { numel, type Tensor } from '../core/tensor.ts';
import { describeAdapter, type GpuContext } from '../gpu/device.ts';
import { createCpuRunner } from '../engine/cpu-runner.ts';
import { createGpuRunner } from '../engine/gpu-runner.ts';
import type { Backend, ModelRunner } from '../engine/runner.ts';
import { createNodeGpuContext, isSwiftShader } from './dawn.ts';

export interface BenchArgs {
  json: boolean; // print the report as JSON on stdout (else a short table)
  backends?: Backend[]; // default both
  modelPath?: string; // default public/models/stories260K.bin
  prefillTokens?: number; // prompt length (default 64)
  prefillReps?: number; // timed prefills, median reported (default 5, after one warm-up)
  decodeTokens?: number; // greedy steps after the prompt (default 128)
  disableSubgroups?: boolean; // bench the workgroup-reduction kernels
  print?: (line: string) => void; // default console.log
}

export interface BackendResult {
  backend: Backend;
  skipped?: string; // why this backend did not run
  prefill?: { tokens: number; reps: number; msMedian: number; tokensPerSecond: number };
  decode?: { tokens: number; ms: number; tokensPerSecond: number; msPerToken: number };
  submitsPerToken?: number; // WebGPU decode
  dispatchesPerToken?: number; // WebGPU decode
}

export interface BenchReport {
  model: { path: string; dim: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number; params: number };
  adapter: string | null; // the WebGPU adapter's description, null when WebGPU did not run
  kernels: string | null; // the device's kernel variant choice
  swiftshader: boolean;
  results: BackendResult[];
  note: string;
  date: string;
}

const DEFAULT_MODEL = new URL('../../public/models/stories260K.bin', import.meta.url);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

const paramCount = (m: LlamaModel): number => {
  const w = m.weights;
  const tensors: Tensor[] = [w.tokEmb, w.rmsFinal, ...(w.wcls === w.tokEmb ? [] : [w.wcls]), ...w.layers.flatMap((l) => Object.values(l) as Tensor[])];
  return tensors.reduce((s, t) => s + numel(t.shape), 0);
};

/** Times `reps` prefills of `prompt` at position 0 (after one untimed warm-up) and a greedy decode after one more. */
async function measure(runner: ModelRunner, prompt: number[], reps: number, decodeTokens: number): Promise<BackendResult> {
  await runner.step(prompt, 0, 'argmax'); // warm-up: first-use costs (pipelines, caches)
  const times: number[] = [];
  let next = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const res = await runner.step(prompt, 0, 'argmax');
    times.push(performance.now() - t0);
    if (res.kind === 'argmax') next = res.token;
  }
  const before = { ...runner.counters };
  const t0 = performance.now();
  for (let i = 0; i < decodeTokens; i++) {
    const res = await runner.step([next], prompt.length + i, 'argmax');
    if (res.kind === 'argmax') next = res.token;
  }
  const ms = performance.now() - t0;
  const msMedian = median(times);
  const out: BackendResult = {
    backend: runner.backend,
    prefill: { tokens: prompt.length, reps, msMedian: round(msMedian, 3), tokensPerSecond: round((prompt.length / msMedian) * 1000, 1) },
    decode: { tokens: decodeTokens, ms: round(ms, 1), tokensPerSecond: round((decodeTokens / ms) * 1000, 1), msPerToken: round(ms / decodeTokens, 3) },
  };
  if (runner.backend === 'webgpu') {
    out.submitsPerToken = (runner.counters.submits - before.submits) / decodeTokens;
    out.dispatchesPerToken = (runner.counters.dispatches - before.dispatches) / decodeTokens;
  }
  return out;
}

export async function runBench(args: BenchArgs): Promise<BenchReport> {
  const print = args.print ?? ((line: string) => console.log(line));
  const backends = args.backends ?? ['webgpu', 'cpu'];
  const path = args.modelPath ?? DEFAULT_MODEL.pathname;
  const model = parseLlama2c(new Uint8Array(readFileSync(path)));
  const c = model.config;
  const prefillTokens = Math.min(args.prefillTokens ?? 64, c.seqLen - 1);
  const decodeTokens = Math.min(args.decodeTokens ?? 128, c.seqLen - prefillTokens);
  const reps = args.prefillReps ?? 5;
  if (prefillTokens < 1 || decodeTokens < 1 || reps < 1) {
    throw new NibbleError('bad-argument', `bench needs prefill, decode and reps >= 1 within the context of ${c.seqLen}`);
  }
  // BOS, then a fixed spread of ids: speed does not depend on the text.
  const prompt = [1, ...Array.from({ length: prefillTokens - 1 }, (_, i) => 3 + ((i * 37) % (c.vocabSize - 3)))];

  const results: BackendResult[] = [];
  let ctx: GpuContext | null = null;
  for (const backend of backends) {
    if (backend === 'cpu') {
      results.push(await measure(createCpuRunner(model), prompt, reps, decodeTokens));
      continue;
    }
    try {
      ctx = await createNodeGpuContext({ disableSubgroups: args.disableSubgroups });
      const runner = await createGpuRunner(ctx, model);
      try {
        results.push(await measure(runner, prompt, reps, decodeTokens));
      } finally {
        runner.dispose();
      }
    } catch (e) {
      if (!isNibbleError(e) || e.code !== 'no-webgpu') throw e;
      results.push({ backend, skipped: e.message });
    }
  }

  const adapter = ctx ? describeAdapter(ctx.adapterInfo) : null;
  const swiftshader = adapter !== null && isSwiftShader(adapter);
  const dispatches = results.find((r) => r.dispatchesPerToken)?.dispatchesPerToken;
  const report: BenchReport = {
    model: {
      path, dim: c.dim, layers: c.nLayers, heads: c.nHeads, kvHeads: c.nKvHeads, vocab: c.vocabSize, seqLen: c.seqLen,
      params: paramCount(model),
    },
    adapter,
    kernels: ctx?.kernels.label ?? null,
    swiftshader,
    results,
    note: swiftshader
      ? 'The WebGPU adapter is SwiftShader, a software Vulkan driver: its "webgpu" numbers are CPU numbers (a Vulkan emulator on this machine\'s cores), not GPU numbers.'
      : adapter
        ? `A model this small is bound by per-dispatch and per-submit latency, not bandwidth: ${dispatches ?? '?'} dispatches and 1 submit per decoded token.`
        : 'WebGPU did not run; CPU numbers only.',
    date: new Date().toISOString(),
  };
  ctx?.destroy();

  if (args.json) print(JSON.stringify(report, null, 2));
  else for (const line of formatBench(report)) print(line);
  return report;
}

/** The report as a few human-readable lines. */
export function formatBench(r: BenchReport): string[] {
  const lines = [
    `model ${r.model.path.split('/').pop()} (${r.model.params.toLocaleString('en')} params, dim ${r.model.dim}, ${r.model.layers} layers)`,
    `adapter ${r.adapter ?? 'none'}${r.kernels ? `, kernels ${r.kernels}` : ''}`,
  ];
  for (const x of r.results) {
    if (x.skipped) {
      lines.push(`${x.backend.padEnd(6)} skipped: ${x.skipped}`);
      continue;
    }
    const gpu = x.dispatchesPerToken !== undefined ? `, ${x.dispatchesPerToken} dispatches + ${x.submitsPerToken} submit per token` : '';
    lines.push(
      `${x.backend.padEnd(6)} prefill ${x.prefill!.tokensPerSecond} tok/s (${x.prefill!.tokens} tokens, median of ${x.prefill!.reps}), ` +
        `decode ${x.decode!.tokensPerSecond} tok/s (${x.decode!.msPerToken} ms/token over ${x.decode!.tokens})${gpu}`,
    );
  }
  lines.push(`note: ${r.note}`);
  return lines;
}

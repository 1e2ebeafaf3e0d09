// `nibble bench` part 1: prefill and decode speed of stories260K on the WebGPU (Dawn) and CPU
// backends, plus GPU submits and dispatches per decoded token (issue 2's bench, unchanged in
// method: a fixed prompt, median of timed prefills after a warm-up, then greedy decode).
import { NibbleError } from '../core/errors.ts';
import type { LlamaModel } from '../core/model/model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { createCpuRunner } from '../engine/cpu-runner.ts';
import { createGpuRunner } from '../engine/gpu-runner.ts';
import type { Backend, ModelRunner } from '../engine/runner.ts';
import { median, round } from './bench-util.ts';

export interface StoriesOptions {
  backends: Backend[];
  prefillTokens: number; // prompt length
  prefillReps: number; // timed prefills, median reported (after one warm-up)
  decodeTokens: number; // greedy steps after the prompt
}

export interface BackendResult {
  backend: Backend;
  skipped?: string; // why this backend did not run
  prefill?: { tokens: number; reps: number; msMedian: number; tokensPerSecond: number };
  decode?: { tokens: number; ms: number; tokensPerSecond: number; msPerToken: number };
  submitsPerToken?: number; // WebGPU decode
  dispatchesPerToken?: number; // WebGPU decode
}

/** Times `reps` prefills of `prompt` at position 0 (after one untimed warm-up) and a greedy decode after one more. */
async function measure(
  runner: ModelRunner,
  prompt: number[],
  reps: number,
  decodeTokens: number,
): Promise<BackendResult> {
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
    prefill: {
      tokens: prompt.length,
      reps,
      msMedian: round(msMedian, 3),
      tokensPerSecond: round((prompt.length / msMedian) * 1000, 1),
    },
    decode: {
      tokens: decodeTokens,
      ms: round(ms, 1),
      tokensPerSecond: round((decodeTokens / ms) * 1000, 1),
      msPerToken: round(ms / decodeTokens, 3),
    },
  };
  if (runner.backend === 'webgpu') {
    out.submitsPerToken = (runner.counters.submits - before.submits) / decodeTokens;
    out.dispatchesPerToken = (runner.counters.dispatches - before.dispatches) / decodeTokens;
  }
  return out;
}

/** Each backend's result; `ctx` null: WebGPU is skipped with `noGpu` as the reason. */
export async function benchStories(
  model: LlamaModel,
  ctx: GpuContext | null,
  noGpu: string,
  o: StoriesOptions,
): Promise<BackendResult[]> {
  const c = model.config;
  const prefillTokens = Math.min(o.prefillTokens, c.seqLen - 1);
  const decodeTokens = Math.min(o.decodeTokens, c.seqLen - prefillTokens);
  if (prefillTokens < 1 || decodeTokens < 1 || o.prefillReps < 1) {
    throw new NibbleError(
      'bad-argument',
      `bench needs prefill, decode and reps >= 1 within the context of ${c.seqLen}`,
    );
  }
  // BOS, then a fixed spread of ids: speed does not depend on the text.
  const prompt = [1, ...Array.from({ length: prefillTokens - 1 }, (_, i) => 3 + ((i * 37) % (c.vocabSize - 3)))];
  const results: BackendResult[] = [];
  for (const backend of o.backends) {
    if (backend === 'cpu') {
      results.push(await measure(createCpuRunner(model), prompt, o.prefillReps, decodeTokens));
    } else if (!ctx) {
      results.push({ backend, skipped: noGpu });
    } else {
      const runner = await createGpuRunner(ctx, model);
      try {
        results.push(await measure(runner, prompt, o.prefillReps, decodeTokens));
      } finally {
        runner.dispose();
      }
    }
  }
  return results;
}

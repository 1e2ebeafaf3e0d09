// Jobs slice: every long worker call (quantize, drift evaluation, truncation point, outlier
// capture) is a job with a progress bar, a stage line, GPTQ losses as they come, and Cancel.
import { toWireError, type WireError } from '../worker/engine-host/protocol.ts';
import type { JobProgress } from '../worker/engine-host/lab-protocol.ts';
import type { JobKind, JobsSlice, JobState } from './lab-types.ts';
import type { GetState, SetState, Slice, SliceContext } from './types.ts';

const KEEP_FINISHED = 12;

/** The stage line for a progress message. */
export function progressLine(p: JobProgress): string {
  switch (p.kind) {
    case 'quantize':
      if (p.stage === 'calibration') return 'capturing calibration activations';
      return [
        `layer ${p.layer + 1} of ${p.nLayers}`,
        p.linear,
        p.gptqLoss !== undefined ? `loss ${p.gptqLoss.toPrecision(4)}` : '',
      ]
        .filter(Boolean)
        .join(' · ');
    case 'eval':
      return `window ${p.window} of ${p.windows} · ${Number.isFinite(p.pplSoFar) ? `ppl ${p.pplSoFar.toFixed(3)}` : 'fp32 reference'}`;
    case 'pair-token':
      return `token ${p.token.index + 1}`;
    case 'load':
      return `${p.phase} ${p.file}`.trim();
  }
}

/** Did the engine stop because the user cancelled? */
export const isCancel = (e: WireError): boolean => e.code === 'cancelled';

let nextJobId = 1;

/**
 * Runs `fn` as a job: state entry, progress, cancellation through ctx.jobCtrls. Resolves with the
 * result, or null when it failed (banner) or was cancelled (no banner).
 */
export async function runJob<T>(
  ctx: SliceContext,
  set: SetState,
  get: GetState,
  kind: JobKind,
  label: string,
  fn: (signal: AbortSignal, onProgress: (p: JobProgress) => void) => Promise<T>,
): Promise<T | null> {
  const id = nextJobId++;
  const ctrl = new AbortController();
  ctx.jobCtrls.set(id, ctrl);
  const job: JobState = {
    id,
    kind,
    label,
    status: 'running',
    fraction: 0,
    stage: 'starting',
    losses: [],
    startedAt: globalThis.performance.now(),
    endedAt: null,
    error: null,
  };
  const update = (f: (j: JobState) => Partial<JobState>) =>
    set((s) => ({ jobs: { list: s.jobs.list.map((j) => (j.id === id ? { ...j, ...f(j) } : j)) } }));
  set((s) => {
    const finished = s.jobs.list.filter((j) => j.status !== 'running');
    const drop = new Set(finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)).map((j) => j.id));
    return { jobs: { list: [...s.jobs.list.filter((j) => !drop.has(j.id)), job] } };
  });
  const onProgress = (p: JobProgress) =>
    update((j) => ({
      fraction: 'fraction' in p ? p.fraction : j.fraction,
      stage: progressLine(p),
      losses:
        p.kind === 'quantize' && p.gptqLoss !== undefined
          ? [...j.losses, { step: `L${p.layer}·${p.linear ?? ''}`, loss: p.gptqLoss }]
          : j.losses,
    }));
  try {
    const result = await fn(ctrl.signal, onProgress);
    update(() => ({ status: 'done', fraction: 1, stage: 'done', endedAt: globalThis.performance.now() }));
    return result;
  } catch (e) {
    const error = toWireError(e);
    const cancelled = isCancel(error) || ctrl.signal.aborted;
    update(() => ({
      status: cancelled ? 'cancelled' : 'error',
      stage: cancelled ? 'cancelled' : error.message,
      error: cancelled ? null : error,
      endedAt: globalThis.performance.now(),
    }));
    if (!cancelled) get().showError(label, e);
    return null;
  } finally {
    ctx.jobCtrls.delete(id);
  }
}

export const createJobsSlice: Slice<JobsSlice> = (ctx) => (set) => ({
  jobs: { list: [] },

  cancelJob(id) {
    ctx.jobCtrls.get(id)?.abort();
  },

  clearJobs() {
    set((s) => ({ jobs: { list: s.jobs.list.filter((j) => j.status === 'running') } }));
  },
});

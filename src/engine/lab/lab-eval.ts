// Evaluations of the lab: output drift of a variant against the loaded fp32 model, and the
// truncation lab's points (all linears' fraction bits cut to k, then perplexity, top-1 agreement
// and a greedy sample). The fp32 reference outputs of each window are computed once and cached
// (they are the same for every variant and every k), so each point costs one pass of its model,
// and the fp32 model's own perplexity comes from the cache.
import { NibbleError } from '../../core/errors.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import { yieldToEventLoop } from '../../core/yield.ts';
import { evaluate, type EvalProgress, type EvalReport } from '../evaluate.ts';
import { generate } from '../generate.ts';
import type { Backend, ModelRunner } from '../runner.ts';
import {
  BASE_VARIANT,
  type DriftReport,
  type EvalJobProgress,
  type TruncationPoint,
  type TruncationQuery,
} from './lab-types.ts';
import type { SlotLocks } from './slot-lock.ts';

/** Reference outputs kept at most this large (logits + residuals of every cached window). */
const REFERENCE_CACHE_BYTES = 96 << 20;

type Outputs = { logits: Float32Array; residuals?: Float32Array[] };
type OnProgress = ((p: EvalJobProgress) => void) | undefined;

export interface EvalDeps {
  locks: SlotLocks;
  /** The runner evaluations of a variant use; the caller holds its lock (`slot`). */
  runner(variant: string): Promise<ModelRunner>;
  /** The lock a variant's evaluation runner is used under (its chat slot, or its own CPU twin's). */
  slot(variant: string): string;
}

const evalProgress = (onProgress: OnProgress) =>
  onProgress &&
  ((p: EvalProgress) =>
    onProgress({
      kind: 'eval',
      window: p.window,
      windows: p.windows,
      pplSoFar: p.pplSoFar,
      fraction: p.window / p.windows,
    }));

/** fp32 outputs per evaluation window (keyed by the window array itself, which the lab caches). */
export class ReferenceCache {
  private readonly cache = new Map<readonly number[], Outputs>();
  private bytes = 0;
  private backend: Backend = 'cpu';

  constructor(private readonly deps: EvalDeps) {}

  clear(): void {
    this.cache.clear();
    this.bytes = 0;
  }

  /**
   * A runner that answers logitsAll for `windows` from the cache, after computing the missing
   * ones on the loaded model (holding its slot). Null when they would not fit in the cache: the
   * caller then evaluates against the live runner.
   */
  async prepare(windows: readonly number[][], check: () => void, onProgress?: OnProgress): Promise<ModelRunner | null> {
    let fits = true;
    await this.deps.locks.use(this.deps.slot(BASE_VARIANT), async () => {
      const base = await this.deps.runner(BASE_VARIANT);
      if (base.backend !== this.backend) this.clear(); // outputs of one backend only
      this.backend = base.backend;
      const c = base.config;
      const per = (w: readonly number[]) => 4 * w.length * (c.vocabSize + c.nLayers * c.dim);
      const need = windows.reduce((n, w) => n + per(w), 0);
      if (need > REFERENCE_CACHE_BYTES) {
        fits = false;
        return;
      }
      if (
        this.bytes + windows.filter((w) => !this.cache.has(w)).reduce((n, w) => n + per(w), 0) >
        REFERENCE_CACHE_BYTES
      )
        this.clear();
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i];
        if (!this.cache.has(w)) {
          check();
          this.cache.set(w, await base.logitsAll(w, { residuals: true }));
          this.bytes += per(w);
          await yieldToEventLoop();
        }
        onProgress?.({
          kind: 'eval',
          window: i + 1,
          windows: windows.length,
          pplSoFar: NaN,
          fraction: (i + 1) / windows.length,
        });
      }
    });
    if (!fits) return null;
    const cache = this.cache;
    return {
      backend: this.backend,
      config: (await this.deps.runner(BASE_VARIANT)).config, // reading the config needs no lock
      counters: { submits: 0, dispatches: 0, forwards: 0 },
      async step() {
        throw new NibbleError('unsupported', 'the cached fp32 reference only answers logitsAll');
      },
      async logitsAll(tokens) {
        const hit = cache.get(tokens);
        if (!hit) throw new NibbleError('bad-argument', 'window not in the fp32 reference cache');
        return hit;
      },
      dispose() {},
    };
  }
}

const checker = (signal: AbortSignal) => () => {
  if (signal.aborted) throw new NibbleError('cancelled', 'evaluation cancelled');
};

/** Drift of one held variant, or the fp32 model's own perplexity for 'base'. */
export async function driftOf(
  deps: EvalDeps,
  refs: ReferenceCache,
  variant: string,
  windows: readonly number[][],
  signal: AbortSignal,
  onProgress?: OnProgress,
): Promise<DriftReport> {
  const check = checker(signal);
  let backend: Backend = 'cpu';
  let r: EvalReport;
  if (variant === BASE_VARIANT) {
    // The reference pass is the fp32 evaluation: cache it, then score from the cache.
    const ref = await refs.prepare(windows, check, onProgress);
    r = await deps.locks.use(deps.slot(BASE_VARIANT), async () => {
      const runner = await deps.runner(BASE_VARIANT);
      backend = runner.backend;
      return evaluate(ref ?? runner, windows, null, ref ? undefined : evalProgress(onProgress), signal);
    });
  } else {
    // The target's slot is taken after the reference is cached, never while waiting for 'base'.
    const ref = await refs.prepare(windows, check);
    const run = async () => {
      const runner = await deps.runner(variant);
      backend = runner.backend;
      return evaluate(runner, windows, ref ?? (await deps.runner(BASE_VARIANT)), evalProgress(onProgress), signal);
    };
    r = ref
      ? await deps.locks.use(deps.slot(variant), run)
      : await deps.locks.useAll([deps.slot(variant), deps.slot(BASE_VARIANT)], run);
  }
  return {
    variant,
    ppl: r.ppl,
    tokens: r.tokens,
    windows: r.windows,
    klMean: r.klMean,
    klP99: r.klP99,
    top1: r.top1Agreement,
    sqnrDb: r.layers.map((l) => l.sqnrDb),
    seconds: r.seconds,
    backend,
  };
}

/** One point of the truncation lab on a private runner of the truncated model. */
export async function truncationPoint(
  deps: EvalDeps,
  refs: ReferenceCache,
  target: ModelRunner,
  tokenizer: TextTokenizer,
  q: TruncationQuery,
  windows: readonly number[][],
  signal: AbortSignal,
  onProgress?: OnProgress,
): Promise<Omit<TruncationPoint, 'seconds'>> {
  const ref = await refs.prepare(windows, checker(signal));
  const r = ref
    ? await evaluate(target, windows, ref, evalProgress(onProgress), signal)
    : await deps.locks.use(deps.slot(BASE_VARIANT), async () =>
        evaluate(target, windows, await deps.runner(BASE_VARIANT), evalProgress(onProgress), signal),
      );
  const sample = await generate(target, tokenizer, q.prompt, {
    maxTokens: q.sampleTokens,
    temperature: 0,
    topP: 1,
    seed: 1,
    signal,
  });
  if (sample.stoppedBy === 'cancelled') throw new NibbleError('cancelled', 'truncation point cancelled');
  return {
    k: q.k,
    mode: q.mode,
    ppl: r.ppl,
    top1: r.top1Agreement ?? 1,
    klMean: r.klMean ?? 0,
    sample: sample.text,
    windows: r.windows,
    tokens: r.tokens,
    backend: target.backend,
  };
}

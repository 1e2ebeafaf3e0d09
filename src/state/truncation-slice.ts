// Truncation lab (language model): the slider's fraction bits k and truncate/RNE mode. Each
// (mode, k) point is computed once in the worker and cached here, so the curve fills in as the
// slider moves. One point runs at a time: when it lands, the slider's current point comes next
// (intermediate positions the slider only passed through are skipped), then any queued sweep.
import { runJob } from './jobs-slice.ts';
import type { TruncMode, TruncationSlice, TruncationState } from './lab-types.ts';
import { textOf } from './variants-slice.ts';
import type { Slice } from './types.ts';

export const truncKey = (mode: TruncMode, k: number): string => `${mode}:${k}`;
export const parseTruncKey = (key: string): { mode: TruncMode; k: number } => {
  const [mode, k] = key.split(':');
  return { mode: mode as TruncMode, k: Number(k) };
};

export const initialTruncation = (): TruncationState => ({
  k: 23,
  mode: 'truncate',
  points: {},
  running: null,
  queue: [],
  errors: {},
  windows: 2,
  prompt: 'Once upon a time',
  sampleTokens: 40,
});

export const clampK = (k: number): number => Math.max(0, Math.min(23, Math.round(Number.isFinite(k) ? k : 23)));

/** The next key to compute: the slider's point unless known, else the first unknown queued one. */
export function nextTruncKey(t: TruncationState): string | null {
  const done = (key: string) => key in t.points || key in t.errors;
  const current = truncKey(t.mode, t.k);
  if (!done(current)) return current;
  return t.queue.find((k) => !done(k)) ?? null;
}

export const createTruncationSlice: Slice<TruncationSlice> = (ctx) => (set, get) => {
  let stopped = false;

  async function pump(): Promise<void> {
    const s = get();
    if (s.truncation.running || s.model.status !== 'ready') return;
    const key = nextTruncKey(s.truncation);
    if (!key) return;
    stopped = false;
    const { mode, k } = parseTruncKey(key);
    const t = s.truncation;
    set((st) => ({ truncation: { ...st.truncation, running: key } }));
    const point = await runJob(
      ctx,
      set,
      get,
      'truncation',
      `Truncation lab: ${k} fraction bits (${mode === 'rne' ? 'RNE' : 'truncate'})`,
      (signal, onProgress) =>
        ctx.engine.truncationPoint(
          { k, mode, text: textOf(ctx), windows: t.windows, prompt: t.prompt, sampleTokens: t.sampleTokens },
          { signal, onProgress },
        ),
    );
    set((st) => {
      if (st.truncation.running !== key) return {}; // the model was reloaded meanwhile
      const tr = { ...st.truncation, running: null, queue: st.truncation.queue.filter((q) => q !== key) };
      if (point) tr.points = { ...tr.points, [key]: point };
      else if (!stopped) tr.errors = { ...tr.errors, [key]: { code: 'internal', message: 'this point failed' } };
      return { truncation: tr };
    });
    if (!stopped) void pump();
  }

  return {
    truncation: initialTruncation(),

    setTruncation(p) {
      set((s) => ({
        truncation: {
          ...s.truncation,
          ...(p.k !== undefined ? { k: clampK(p.k) } : {}),
          ...(p.mode ? { mode: p.mode } : {}),
        },
      }));
      void pump();
    },

    sweepTruncation() {
      set((s) => {
        const keys = Array.from({ length: 24 }, (_, i) => truncKey(s.truncation.mode, 23 - i));
        return { truncation: { ...s.truncation, queue: [...new Set([...s.truncation.queue, ...keys])] } };
      });
      void pump();
    },

    stopTruncation() {
      stopped = true;
      set((s) => ({ truncation: { ...s.truncation, queue: [] } }));
      const running = get().jobs.list.find((j) => j.kind === 'truncation' && j.status === 'running');
      if (running) get().cancelJob(running.id);
    },
  };
};

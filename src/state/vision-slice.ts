// Vision slice: the truncation lab for an ONNX image classifier (the embedded ViT on 2,000
// held-out MNIST digits, or a model + data set the user drops). The slider asks the vision worker
// for one point — a model rewritten to k fraction bits, run in a new onnxruntime session — and
// the sweep fills the accuracy-vs-bits curve, coarse bits first so its shape shows early.
import { toWireError } from '../worker/engine-host/protocol.ts';
import type {
  TruncMode,
  VisionEngine,
  VisionModelInfo,
  VisionPoint,
  VisionProgress,
  VisionSource,
} from '../worker/vision/vision-protocol.ts';
import type { VisionJob, VisionSlice, VisionState } from './lab-types.ts';
import type { Slice, SliceContext } from './types.ts';

export type { VisionDeps, VisionJob, VisionSlice, VisionState } from './lab-types.ts';
export type {
  TruncMode as VisionMode,
  VisionModelInfo,
  VisionPoint,
  VisionSource,
} from '../worker/vision/vision-protocol.ts';

export const ALL_BITS = Array.from({ length: 24 }, (_, k) => k);
/** Sweep order: the bits that show the shape of the curve first, then the rest. */
export const COARSE_BITS = [23, 0, 1, 2, 3, 4, 6, 8, 12, 16];
export const FINE_BITS = ALL_BITS.filter((k) => !COARSE_BITS.includes(k));
export const DEFAULT_BITS = 23;

export const visionKey = (k: number | null, mode: TruncMode | null): string =>
  k === null || mode === null ? 'fp32' : `${mode}:${k}`;

export const initialVision = (embedded: VisionState['embedded'] = null): VisionState => ({
  status: 'idle',
  embedded,
  opening: null,
  model: null,
  k: DEFAULT_BITS,
  mode: 'truncate',
  points: {},
  shown: null,
  reference: null,
  evaluating: null,
  sweep: null,
  error: null,
});

/** The curve as chart rows: one per k with each mode's accuracy (null where not computed). */
export function visionCurve(
  points: Record<string, VisionPoint>,
): { k: number; truncate: number | null; rne: number | null }[] {
  return ALL_BITS.map((k) => ({
    k,
    truncate: points[visionKey(k, 'truncate')]?.accuracy ?? null,
    rne: points[visionKey(k, 'rne')]?.accuracy ?? null,
  }));
}

const clampBits = (k: number): number => Math.min(23, Math.max(0, Math.round(k)));
const jobOf = (p: VisionProgress): VisionJob | null =>
  p.phase === 'images' ? { k: p.k, mode: p.mode, done: p.done, total: p.total } : null;

interface VisionCtx {
  engine: VisionEngine | null;
  slider: AbortController | null; // the slider's evaluation
  sweep: AbortController | null;
  seq: number; // bumps on every open: answers for an older model are dropped
}

export const createVisionSlice: Slice<VisionSlice> = (ctx: SliceContext) => (set, get) => {
  const deps = ctx.vision;
  const v: VisionCtx = { engine: null, slider: null, sweep: null, seq: 0 };
  const patch = (f: (s: VisionState) => Partial<VisionState>) =>
    set((s) => ({ vision: { ...s.vision, ...f(s.vision) } }));
  const addPoint = (p: VisionPoint) => patch((s) => ({ points: { ...s.points, [visionKey(p.k, p.mode)]: p } }));
  const engine = (): VisionEngine => {
    if (!deps) throw { code: 'unsupported', message: 'this build has no vision worker' };
    v.engine ??= deps.spawn();
    return v.engine;
  };

  /**
   * Evaluates (k, mode) for the grid and the readout; a newer slider move cancels it. The fp32
   * reference (k = null) is not the slider's: nothing cancels it but a newer model.
   */
  async function evaluateShown(seq: number, k: number | null, mode: TruncMode | null): Promise<void> {
    const slider = k !== null;
    const ctrl = new AbortController();
    if (slider) {
      v.slider?.abort();
      v.slider = ctrl;
    }
    const mine = () => (slider ? v.slider === ctrl : v.slider === null);
    if (mine()) patch(() => ({ evaluating: { k, mode, done: 0, total: get().vision.model?.images ?? 0 } }));
    try {
      const r = await engine().evaluate(k, mode, {
        signal: ctrl.signal,
        onProgress: (p) => {
          const job = jobOf(p);
          if (job && mine() && seq === v.seq) patch(() => ({ evaluating: job }));
        },
      });
      if (seq !== v.seq) return;
      const { predictions, ...point } = r;
      addPoint(point);
      const s = get().vision;
      if (!slider) patch((cur) => ({ reference: predictions, shown: cur.shown ?? { key: 'fp32', predictions } }));
      else if (s.k === k && s.mode === mode) patch(() => ({ shown: { key: visionKey(k, mode), predictions } }));
    } catch (e) {
      const err = toWireError(e);
      if (err.code === 'cancelled' || seq !== v.seq) return;
      patch(() => ({ error: err }));
      get().showError(`Vision lab: evaluating ${k === null ? 'the fp32 model' : `${mode} k=${k}`}`, err);
    } finally {
      if (slider && v.slider === ctrl) v.slider = null;
      if (seq === v.seq && v.slider === null) patch(() => ({ evaluating: null }));
    }
  }

  async function open(source: VisionSource): Promise<void> {
    const seq = ++v.seq;
    v.slider?.abort();
    v.sweep?.abort();
    patch((s) => ({ ...initialVision(s.embedded), k: s.k, mode: s.mode, status: 'opening', opening: source.name })); // the slider stays
    let info: VisionModelInfo;
    try {
      info = await engine().open(source, { samples: deps?.samples ?? 48 });
    } catch (e) {
      if (seq !== v.seq) return;
      const err = toWireError(e);
      patch(() => ({ status: 'error', opening: null, error: err }));
      get().showError(`Opening ${source.name} in the vision lab`, err);
      return;
    }
    if (seq !== v.seq) return;
    patch(() => ({ status: 'ready', opening: null, model: info }));
    await evaluateShown(seq, null, null); // fp32 reference first
    if (seq !== v.seq) return;
    const s = get().vision;
    if (!s.evaluating && !s.points[visionKey(s.k, s.mode)]) await evaluateShown(seq, s.k, s.mode);
  }

  /** Shows (k, mode): cached → at once (predictions from the worker's cache), else evaluated. */
  function show(k: number, mode: TruncMode): void {
    patch(() => ({ k, mode, error: null }));
    const s = get().vision;
    if (s.status !== 'ready') return;
    if (s.shown?.key === visionKey(k, mode)) {
      v.slider?.abort(); // back to what is shown: the evaluation in flight is not wanted
      return;
    }
    void evaluateShown(v.seq, k, mode);
  }

  return {
    vision: initialVision(deps?.source ?? null),

    async openVisionDefault() {
      const s = get().vision;
      if (!deps || s.status === 'opening' || (s.status === 'ready' && s.model?.name === deps.source.name)) return;
      await open(deps.source);
    },

    openVision: (source) => open(source),

    setVisionBits(k) {
      if (!Number.isFinite(k)) return;
      show(clampBits(k), get().vision.mode);
    },

    setVisionMode(mode) {
      if (mode !== 'truncate' && mode !== 'rne') return;
      show(get().vision.k, mode);
    },

    async sweepVision() {
      const s = get().vision;
      if (s.status !== 'ready' || s.sweep) return;
      const seq = v.seq;
      const ctrl = new AbortController();
      v.sweep = ctrl;
      const modes: TruncMode[] = ['truncate', 'rne'];
      const missing = (bits: number[]) => bits.filter((k) => modes.some((m) => !get().vision.points[visionKey(k, m)]));
      const total = modes.length * ALL_BITS.length;
      const done = () => Object.keys(get().vision.points).filter((key) => key !== 'fp32').length;
      patch(() => ({ sweep: { done: done(), total, current: null } }));
      try {
        for (const bits of [COARSE_BITS, FINE_BITS]) {
          const todo = missing(bits);
          if (todo.length === 0) continue;
          await engine().sweep(modes, todo, {
            signal: ctrl.signal,
            onProgress: (p) => {
              if (seq !== v.seq) return;
              if (p.phase === 'point') addPoint(p.point);
              patch((cur) => ({
                sweep: cur.sweep && { ...cur.sweep, done: done(), current: jobOf(p) ?? cur.sweep.current },
              }));
            },
          });
          if (seq !== v.seq) return;
        }
      } catch (e) {
        const err = toWireError(e);
        if (err.code !== 'cancelled' && seq === v.seq) {
          patch(() => ({ error: err }));
          get().showError('Vision lab: sweeping the curve', err);
        }
      } finally {
        if (v.sweep === ctrl) {
          v.sweep = null;
          if (seq === v.seq) patch(() => ({ sweep: null }));
        }
      }
    },

    stopVisionSweep() {
      v.sweep?.abort();
    },

    closeVision() {
      v.seq++;
      v.slider?.abort();
      v.sweep?.abort();
      v.engine?.dispose();
      v.engine = null;
      set((s) => ({ vision: initialVision(s.vision.embedded) }));
    },
  };
};

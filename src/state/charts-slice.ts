// Charts slice: the chosen tensor, each chart's options and its latest result from the worker
// (histogram bins, code counts, per-feature maxima, drift per variant). A newer request makes
// an older one's answer stale: only the latest lands in the state.
import { BASE_VARIANT } from '../worker/engine-host/lab-protocol.ts';
import { toWireError } from '../worker/engine-host/protocol.ts';
import { runJob } from './jobs-slice.ts';
import type { Async, ChartsSlice, ChartsState } from './lab-types.ts';
import { textRequest } from './texts-slice.ts';
import { textOf, variantLabel } from './variants-slice.ts';
import type { Slice } from './types.ts';

const idle = <T>(): Async<T> => ({ status: 'idle', data: null, error: null });

export const initialCharts = (): ChartsState => ({
  tensor: { layer: 0, linear: 'wq' },
  histogram: { ...idle(), bins: 64, row: 0, group: 0, logCount: false },
  collisions: { ...idle(), bits: [8, 4, 3, 2], groups: [-1, 0, 32], sym: false },
  outliers: { ...idle(), threshold: 6, site: 'attn' },
  drift: {},
});

/** Granularities of the collision comparison: 0 = per row, −1 = per tensor, G > 0 = groups of G. */
export function granularitiesOf(groups: readonly number[]) {
  return groups.map((g) =>
    g < 0
      ? { granularity: 'tensor' as const }
      : g === 0
        ? { granularity: 'row' as const }
        : { granularity: 'group' as const, group: g },
  );
}

export const createChartsSlice: Slice<ChartsSlice> = (ctx) => (set, get) => {
  const latest = { histogram: 0, collisions: 0, outliers: 0 };

  /** Runs a chart request; its answer lands only if no newer request of the same chart was made. */
  async function load<K extends 'histogram' | 'collisions' | 'outliers'>(
    key: K,
    call: () => Promise<NonNullable<ChartsState[K]['data']>>,
  ): Promise<void> {
    const token = ++latest[key];
    set((s) => ({ charts: { ...s.charts, [key]: { ...s.charts[key], status: 'loading', error: null } } }));
    try {
      const data = await call();
      if (token !== latest[key]) return;
      set((s) => ({ charts: { ...s.charts, [key]: { ...s.charts[key], status: 'ready', data, error: null } } }));
    } catch (e) {
      if (token !== latest[key]) return;
      set((s) => ({ charts: { ...s.charts, [key]: { ...s.charts[key], status: 'error', error: toWireError(e) } } }));
    }
  }

  const patch = <K extends 'histogram' | 'collisions' | 'outliers'>(key: K, p: Partial<ChartsState[K]>) =>
    set((s) => ({ charts: { ...s.charts, [key]: { ...s.charts[key], ...p } } }));

  async function drift(id: string): Promise<void> {
    const label = id === BASE_VARIANT ? 'fp32 perplexity' : `Evaluating ${variantLabel(get().variants.list, id)}`;
    set((s) => ({
      charts: { ...s.charts, drift: { ...s.charts.drift, [id]: { status: 'loading', data: null, error: null } } },
    }));
    const data = await runJob(ctx, set, get, 'drift', label, (signal, onProgress) =>
      ctx.engine.drift(
        {
          variant: id,
          text: { ...textOf(ctx), eval: textRequest(textOf(ctx), get(), 'eval') },
        },
        { signal, onProgress },
      ),
    );
    set((s) => {
      if (!(id in s.charts.drift)) return {}; // deleted meanwhile
      const entry: Async<NonNullable<typeof data>> = data
        ? { status: 'ready', data, error: null }
        : { status: 'error', data: null, error: { code: 'cancelled', message: 'not evaluated' } };
      return { charts: { ...s.charts, drift: { ...s.charts.drift, [id]: entry } } };
    });
  }

  return {
    charts: initialCharts(),

    selectTensor(p) {
      const nLayers = get().model.info?.config.nLayers ?? Infinity;
      const layer = p.layer === undefined ? undefined : Math.max(0, Math.min(nLayers - 1, Math.floor(p.layer)));
      set((s) => ({
        charts: {
          ...s.charts,
          tensor: { ...s.charts.tensor, ...p, ...(layer === undefined ? {} : { layer }) },
          histogram: { ...s.charts.histogram, row: 0, group: 0 },
        },
      }));
    },

    setHistogramOptions(p) {
      const clean = { ...p };
      for (const k of ['bins', 'row', 'group'] as const)
        if (clean[k] !== undefined) clean[k] = Math.max(0, Math.floor(clean[k]!));
      if (clean.bins !== undefined) clean.bins = Math.max(8, Math.min(512, clean.bins));
      patch('histogram', clean);
    },

    setCollisionOptions(p) {
      patch('collisions', p);
    },

    setOutlierOptions(p) {
      patch(
        'outliers',
        p.threshold !== undefined && !(p.threshold > 0) ? { ...p, threshold: get().charts.outliers.threshold } : p,
      );
    },

    setEvalWindows(n) {
      get().setTextChoice('eval', { windows: Number.isInteger(n) && n > 0 ? n : null });
    },

    loadHistogram() {
      const { charts, variants } = get();
      const h = charts.histogram;
      return load('histogram', () =>
        ctx.engine.weightHistogram({ ...charts.tensor, spec: variants.form, bins: h.bins, row: h.row, group: h.group }),
      );
    },

    loadCollisions() {
      const { charts } = get();
      const c = charts.collisions;
      return load('collisions', () =>
        ctx.engine.collisions({ ...charts.tensor, bits: c.bits, granularities: granularitiesOf(c.groups), sym: c.sym }),
      );
    },

    loadOutliers() {
      const o = get().charts.outliers;
      return load('outliers', async () => {
        const r = await runJob(ctx, set, get, 'outliers', 'Capturing activation maxima', (signal, onProgress) =>
          ctx.engine.outliers(
            { threshold: o.threshold, text: { ...textOf(ctx), calib: textRequest(textOf(ctx), get(), 'calib') } },
            { signal, onProgress },
          ),
        );
        if (!r) throw { code: 'cancelled', message: 'the capture did not finish' };
        return r;
      });
    },

    async computeDrift(id) {
      if (get().model.status !== 'ready') return;
      if (id !== BASE_VARIANT && get().charts.drift[BASE_VARIANT]?.status !== 'ready') await drift(BASE_VARIANT);
      await drift(id);
    },

    async computeAllDrift() {
      for (const v of get().variants.list) {
        const d = get().charts.drift[v.id];
        if (!d || d.status === 'error') await get().computeDrift(v.id);
      }
    },
  };
};

// The URL hash keeps the current view and its options, so a link reproduces it:
//   #v=charts&m=gptq&b=3&g=64&L=2&lin=w2&log=1&k=5&tm=rne
// Only values that differ from the defaults are written. Variant ids are not (they name models
// held in one session). The hash follows the store with history.replaceState (no history spam);
// editing the hash (or following a link) applies it to the store.
import { LINEAR_INPUT_SITES } from '../core/model/forward.ts';
import { DEFAULT_SPEC, LINEAR_NAMES, QUANT_METHODS } from '../worker/engine-host/lab-protocol.ts';
import { initialCharts } from './charts-slice.ts';
import type { LinearInputSite, LinearName, QuantMethod, QuantSpec, TruncMode } from './lab-types.ts';
import { clampK, initialTruncation } from './truncation-slice.ts';
import { TABS, type AppState, type Tab } from './types.ts';
import { INITIAL_FORM } from './variants-slice.ts';

type Codec = { key: string; field: keyof QuantSpec; kind: 'int' | 'num' | 'bool' | 'method' | 'round' | 'scale' };

const SPEC_KEYS: Codec[] = [
  { key: 'm', field: 'method', kind: 'method' },
  { key: 'b', field: 'bits', kind: 'int' },
  { key: 'g', field: 'group', kind: 'int' },
  { key: 's', field: 'sym', kind: 'bool' },
  { key: 'ao', field: 'actOrder', kind: 'bool' },
  { key: 'sg', field: 'staticGroups', kind: 'bool' },
  { key: 'd', field: 'damp', kind: 'num' },
  { key: 'a', field: 'alpha', kind: 'num' },
  { key: 't', field: 'threshold', kind: 'num' },
  { key: 'mb', field: 'mantissaBits', kind: 'int' },
  { key: 'r', field: 'truncMode', kind: 'round' },
  { key: 'dq', field: 'doubleQuant', kind: 'bool' },
  { key: 'sc', field: 'scaleType', kind: 'scale' },
];

const enc = (v: unknown): string => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v));

/** The hash (without '#') for the state's view and options. */
export function encodeHash(s: AppState): string {
  const p = new URLSearchParams();
  if (s.settings.tab !== 'chat') p.set('v', s.settings.tab);
  for (const c of SPEC_KEYS)
    if (s.variants.form[c.field] !== INITIAL_FORM[c.field]) p.set(c.key, enc(s.variants.form[c.field]));
  const ch = initialCharts();
  const { tensor, histogram: h, outliers: o } = s.charts;
  if (tensor.layer !== ch.tensor.layer) p.set('L', String(tensor.layer));
  if (tensor.linear !== ch.tensor.linear) p.set('lin', tensor.linear);
  if (h.row !== ch.histogram.row) p.set('row', String(h.row));
  if (h.group !== ch.histogram.group) p.set('grp', String(h.group));
  if (h.bins !== ch.histogram.bins) p.set('bins', String(h.bins));
  if (h.logCount) p.set('log', '1');
  if (o.site !== ch.outliers.site) p.set('site', o.site);
  if (o.threshold !== ch.outliers.threshold) p.set('alpha8', String(o.threshold));
  const tr = initialTruncation();
  if (s.truncation.k !== tr.k) p.set('k', String(s.truncation.k));
  if (s.truncation.mode !== tr.mode) p.set('tm', s.truncation.mode);
  if (s.texts.eval.windows !== null) p.set('ew', String(s.texts.eval.windows));
  if (s.ab.enabled) p.set('ab', '1');
  return p.toString();
}

/** A spec from hash parameters over INITIAL_FORM; unknown or invalid values are ignored. */
export function specFromParams(p: URLSearchParams): QuantSpec {
  const spec: QuantSpec = { ...INITIAL_FORM };
  const out = spec as unknown as Record<string, unknown>;
  for (const c of SPEC_KEYS) {
    const raw = p.get(c.key);
    if (raw === null) continue;
    const n = Number(raw);
    switch (c.kind) {
      case 'int':
        if (Number.isInteger(n) && n >= 0) out[c.field] = n;
        break;
      case 'num':
        if (Number.isFinite(n) && n >= 0) out[c.field] = n;
        break;
      case 'bool':
        if (raw === '1' || raw === '0') out[c.field] = raw === '1';
        break;
      case 'method':
        if ((QUANT_METHODS as readonly string[]).includes(raw)) out[c.field] = raw as QuantMethod;
        break;
      case 'round':
        if (raw === 'truncate' || raw === 'rne') out[c.field] = raw;
        break;
      case 'scale':
        if (raw === 'f32' || raw === 'f16') out[c.field] = raw;
        break;
    }
  }
  return { ...DEFAULT_SPEC, ...spec };
}

/** Applies a hash to the store: the view, the form, the chart options, the truncation slider. */
export function applyHash(store: { getState(): AppState; setState(p: Partial<AppState>): void }, hash: string): void {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const s = store.getState();
  const v = p.get('v') ?? 'chat';
  const int = (key: string, lo: number, fallback: number) => {
    const n = Number(p.get(key));
    return p.has(key) && Number.isInteger(n) && n >= lo ? n : fallback;
  };
  const ch = initialCharts();
  const linear = p.get('lin');
  const site = p.get('site');
  const alpha8 = Number(p.get('alpha8'));
  const tr = initialTruncation();
  const tm = p.get('tm');
  const k = p.has('k') ? clampK(Number(p.get('k'))) : tr.k;
  const mode: TruncMode = tm === 'rne' ? 'rne' : 'truncate';
  store.setState({
    settings: { ...s.settings, tab: (TABS as readonly string[]).includes(v) ? (v as Tab) : 'chat' },
    variants: { ...s.variants, form: specFromParams(p) },
    charts: {
      ...s.charts,
      tensor: {
        layer: int('L', 0, ch.tensor.layer),
        linear:
          linear && (LINEAR_NAMES as readonly string[]).includes(linear) ? (linear as LinearName) : ch.tensor.linear,
      },
      histogram: {
        ...s.charts.histogram,
        row: int('row', 0, ch.histogram.row),
        group: int('grp', 0, ch.histogram.group),
        bins: Math.min(512, Math.max(8, int('bins', 8, ch.histogram.bins))),
        logCount: p.get('log') === '1',
      },
      outliers: {
        ...s.charts.outliers,
        site:
          site && (LINEAR_INPUT_SITES as readonly string[]).includes(site)
            ? (site as LinearInputSite)
            : ch.outliers.site,
        threshold: alpha8 > 0 ? alpha8 : ch.outliers.threshold,
      },
    },
    ab: { ...s.ab, enabled: p.get('ab') === '1' },
    texts: { ...s.texts, eval: { ...s.texts.eval, windows: int('ew', 1, 0) || null } },
  });
  if (k !== s.truncation.k || mode !== s.truncation.mode) s.setTruncation({ k, mode });
}

interface WindowLike {
  location: { hash: string; href: string };
  history: { replaceState(data: unknown, unused: string, url?: string): void };
  addEventListener(type: 'hashchange', l: () => void): void;
  removeEventListener(type: 'hashchange', l: () => void): void;
}

/** Keeps the hash and the store in step; returns the unbind function. */
export function bindUrlHash(
  store: {
    getState(): AppState;
    setState(p: Partial<AppState>): void;
    subscribe(l: (s: AppState) => void): () => void;
  },
  win: WindowLike,
): () => void {
  let written = win.location.hash.replace(/^#/, '');
  if (written) applyHash(store, written);
  const unsubscribe = store.subscribe((s) => {
    const h = encodeHash(s);
    if (h === written) return;
    written = h;
    const url = win.location.href.replace(/#.*$/, '') + (h ? `#${h}` : '');
    win.history.replaceState(null, '', url);
  });
  const onHash = () => {
    const h = win.location.hash.replace(/^#/, '');
    if (h === written) return;
    written = h;
    applyHash(store, h);
  };
  win.addEventListener('hashchange', onHash);
  return () => {
    unsubscribe();
    win.removeEventListener('hashchange', onHash);
  };
}

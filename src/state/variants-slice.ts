// Variants slice: the quantized variants of the loaded model held in the worker, and the
// Quantize form. A new variant is persisted through the optional `persistVariant` hook (a
// storage slice); stored variants come back through `importVariant` without re-quantizing.
// `exportModel` asks the worker for a download format and returns the files; saving them (Blob,
// <a download>, a folder picker) is the UI's part (src/ui/common/download.ts).
import {
  BASE_VARIANT,
  DEFAULT_SPEC,
  specLabel,
  type QuantSpec,
  type TextSources,
} from '../worker/engine-host/lab-protocol.ts';
import { runJob } from './jobs-slice.ts';
import { textRequest } from './texts-slice.ts';
import type { VariantInfo, VariantsSlice, VariantsState } from './lab-types.ts';
import type { GetState, SetState, Slice, SliceContext } from './types.ts';

/** The form starts at a quantizer that shows something on a small model: RTN int4, groups of 32. */
export const INITIAL_FORM: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };

export const DEFAULT_TEXT: TextSources = { calib: '/data/tinystories-calib.txt', eval: '/data/tinystories-eval.txt' };
export const textOf = (ctx: SliceContext): TextSources => ctx.text ?? DEFAULT_TEXT;

export const initialVariants = (): VariantsState => ({ list: [], form: INITIAL_FORM, saved: {}, exporting: null });

export { EXPORT_FILE_FORMATS } from '../worker/engine-host/lab-protocol.ts';

const isCodebook = (m: QuantSpec['method']) => m === 'nf4' || m === 'fp4';

/**
 * The form after a patch. Switching between uniform and codebook methods swaps `group` between
 * their defaults (128 inputs per group ↔ blocks of 64), as the CLI's defaults do.
 */
export function applyFormPatch(cur: QuantSpec, patch: Partial<QuantSpec>): QuantSpec {
  const next = { ...cur, ...patch };
  if (patch.method && patch.group === undefined && isCodebook(patch.method) !== isCodebook(cur.method)) {
    next.group = isCodebook(patch.method) ? 64 : INITIAL_FORM.group;
  }
  return next;
}

/** Display name of a variant id ("fp32", "rtn int4 g32", or the id when unknown). */
export const variantLabel = (list: readonly VariantInfo[], id: string): string =>
  list.find((v) => v.id === id)?.label ?? id;

/**
 * The loaded model changed: everything computed on the previous one is dropped, and the list is
 * read again from the worker (which dropped its variants too).
 */
export function resetLab(set: SetState, get: GetState): void {
  set((s) => ({
    variants: { ...s.variants, list: [], saved: {} },
    charts: {
      ...s.charts,
      histogram: { ...s.charts.histogram, status: 'idle', data: null, error: null },
      collisions: { ...s.charts.collisions, status: 'idle', data: null, error: null },
      outliers: { ...s.charts.outliers, status: 'idle', data: null, error: null },
      drift: {},
    },
    truncation: { ...s.truncation, points: {}, running: null, queue: [], errors: {} },
    ab: { ...s.ab, a: BASE_VARIANT, b: BASE_VARIANT, turns: [] },
    chat: { ...s.chat, variant: BASE_VARIANT },
  }));
  void get().refreshVariants();
}

export const createVariantsSlice: Slice<VariantsSlice> = (ctx) => (set, get) => {
  const markSaved = (id: string, v: 'saving' | 'saved' | 'error') =>
    set((s) => ({ variants: { ...s.variants, saved: { ...s.variants.saved, [id]: v } } }));

  async function persist(info: VariantInfo): Promise<void> {
    const hook = get().persistVariant;
    if (typeof hook !== 'function') return;
    markSaved(info.id, 'saving');
    try {
      const out = await get().exportVariant(info.id);
      if (!out) throw new Error('the variant could not be serialized');
      await hook(out.bytes, out.meta);
      markSaved(info.id, 'saved');
    } catch (e) {
      markSaved(info.id, 'error');
      get().showError(`Saving ${info.label}`, e);
    }
  }

  /** Lists a new variant; A/B compares it with fp32 unless two variants are already picked. */
  const add = (info: VariantInfo) =>
    set((s) => ({
      variants: { ...s.variants, list: [...s.variants.list.filter((v) => v.id !== info.id), info] },
      ab: s.ab.a === s.ab.b ? { ...s.ab, b: info.id } : s.ab,
    }));

  return {
    variants: initialVariants(),

    setQuantForm(patch) {
      set((s) => ({ variants: { ...s.variants, form: applyFormPatch(s.variants.form, patch) } }));
    },

    async quantize() {
      const s = get();
      if (s.model.status !== 'ready') return null;
      const spec = s.variants.form;
      const info = await runJob(ctx, set, get, 'quantize', `Quantizing ${specLabel(spec)}`, (signal, onProgress) =>
        ctx.engine.quantize(
          spec,
          { ...textOf(ctx), calib: textRequest(textOf(ctx), get(), 'calib') },
          { signal, onProgress: (p) => onProgress(p) },
        ),
      );
      if (!info) return null;
      add(info);
      void persist(info);
      return info;
    },

    async deleteVariant(id) {
      try {
        await ctx.engine.deleteVariant(id);
      } catch (e) {
        get().showError('Deleting a variant', e);
        return;
      }
      set((s) => {
        const { [id]: _d, ...drift } = s.charts.drift;
        const { [id]: _s, ...saved } = s.variants.saved;
        return {
          variants: { ...s.variants, list: s.variants.list.filter((v) => v.id !== id), saved },
          charts: { ...s.charts, drift },
          ab: { ...s.ab, a: s.ab.a === id ? BASE_VARIANT : s.ab.a, b: s.ab.b === id ? BASE_VARIANT : s.ab.b },
          chat: { ...s.chat, variant: s.chat.variant === id ? BASE_VARIANT : s.chat.variant },
        };
      });
    },

    async importVariant(bytes, meta) {
      const buf = bytes instanceof Uint8Array ? (bytes.slice().buffer as ArrayBuffer) : bytes;
      try {
        const info = await ctx.engine.importVariant(buf, meta);
        add(info);
        markSaved(info.id, 'saved');
        return info;
      } catch (e) {
        get().showError(`Loading the stored variant${meta?.label ? ` ${meta.label}` : ''}`, e);
        return null;
      }
    },

    async exportVariant(id) {
      try {
        const r = await ctx.engine.exportVariant(id);
        return { bytes: new Uint8Array(r.bytes), meta: r.meta };
      } catch (e) {
        get().showError('Exporting a variant', e);
        return null;
      }
    },

    async exportModel(id, format) {
      if (get().variants.exporting) return null; // one at a time: each holds a whole model's bytes
      set((s) => ({ variants: { ...s.variants, exporting: { id, format } } }));
      try {
        return await ctx.engine.exportModel(id, format);
      } catch (e) {
        get().showError(`Exporting ${variantLabel(get().variants.list, id)} as ${format}`, e);
        return null;
      } finally {
        set((s) => ({ variants: { ...s.variants, exporting: null } }));
      }
    },

    async refreshVariants() {
      try {
        const list = await ctx.engine.listVariants();
        set((s) => ({ variants: { ...s.variants, list } }));
      } catch (e) {
        get().showError('Listing the variants', e);
      }
    },
  };
};

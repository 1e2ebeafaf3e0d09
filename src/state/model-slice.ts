// Model slice: which model is loaded, on which backend, and what the GPU looks like.
import { toWireError, type ModelSource } from '../worker/protocol.ts';
import { resetLab } from './variants-slice.ts';
import type { GetState, ModelSlice, ModelState, ReloadSource, SetState, Slice, SliceContext } from './types.ts';

const initialModel: ModelState = { status: 'idle', info: null, engine: null, source: null, loading: null, error: null };

/**
 * Loads `source` with the current backend preference. On success it becomes the reload source;
 * on failure the previous model (if any) stays loaded and the error goes to the banner.
 */
export async function loadInto(ctx: SliceContext, set: SetState, get: GetState, source: ReloadSource): Promise<void> {
  const name = source.kind === 'default' ? ctx.defaultSource.name : source.name;
  set((s) => ({ model: { ...s.model, status: 'loading', loading: name } }));
  try {
    let wire: ModelSource = ctx.defaultSource;
    if (source.kind === 'files') {
      const [model, tokenizer] = await Promise.all([source.model.arrayBuffer(), source.tokenizer.arrayBuffer()]);
      wire = { kind: 'bytes', name, model, tokenizer };
    }
    const { model, engine } = await ctx.engine.load(wire, get().settings.backend);
    ctx.lastSource = source;
    set(() => ({ model: { status: 'ready', info: model, engine, source: source.kind, loading: null, error: null } }));
    resetLab(set, get); // the worker dropped the previous model's variants
  } catch (e) {
    set((s) => ({ model: { ...s.model, status: s.model.info ? 'ready' : 'error', loading: null, error: toWireError(e) } }));
    get().showError(`Loading ${name}`, e);
  }
}

export const createModelSlice: Slice<ModelSlice> = (ctx) => (set, get) => ({
  model: initialModel,

  loadDefaultModel: () => loadInto(ctx, set, get, { kind: 'default' }),

  loadModelFiles: (model, tokenizer, name) =>
    loadInto(ctx, set, get, { kind: 'files', model, tokenizer, name: name ?? ((model as File).name || 'model.bin') }),

  async refreshEngineInfo() {
    try {
      const engine = await ctx.engine.getInfo();
      set((s) => ({ model: { ...s.model, engine } }));
    } catch (e) {
      get().showError('Reading the engine status', e);
    }
  },
});

// Model slice: which model is loaded, on which backend, and what the GPU looks like; plus the
// "bring your own model" flow (`pending`): the user's files / folder / URL → inspect (headers
// only, with progress) → a plan with the memory it needs here for the chosen context → load
// (progress, cancel) → the loaded model. The chosen Blobs never leave the slice's closure:
// state holds plain data only.
import { toWireError, type LoadProgress, type ModelSource } from '../worker/engine-host/protocol.ts';
import { keepable, nextProgress, parseRemoteRef, startProgress } from './pending-model.ts';
import { resetLab } from './variants-slice.ts';
import type {
  GetState,
  ModelSlice,
  ModelState,
  PendingModelState,
  ReloadSource,
  SetState,
  Slice,
  SliceContext,
} from './types.ts';

const initialModel: ModelState = { status: 'idle', info: null, engine: null, source: null, loading: null, error: null };

export const initialPending = (): PendingModelState => ({
  phase: 'idle',
  source: null,
  plan: null,
  contextLength: null,
  progress: null,
  error: null,
  keep: true,
  finished: null,
});

type Chosen = Extract<ModelSource, { kind: 'files' | 'remote' }>;

interface LoadOpts {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

const now = (): number => globalThis.performance.now();
const isCancelled = (e: unknown): boolean => toWireError(e).code === 'cancelled';

/**
 * Loads `source` with the current backend preference. On success it becomes the reload source;
 * on failure the previous model (if any) stays loaded and the error goes to the banner (a
 * cancelled load goes back quietly). Resolves true when the model loaded.
 */
export async function loadInto(
  ctx: SliceContext,
  set: SetState,
  get: GetState,
  source: ReloadSource,
  opts: LoadOpts = {},
): Promise<boolean> {
  const name =
    source.kind === 'default' ? ctx.defaultSource.name : source.kind === 'files' ? source.name : source.source.name;
  set((s) => ({ model: { ...s.model, status: 'loading', loading: name } }));
  try {
    let wire: ModelSource = ctx.defaultSource;
    let contextLength: number | undefined;
    if (source.kind === 'files') {
      const [model, tokenizer] = await Promise.all([source.model.arrayBuffer(), source.tokenizer.arrayBuffer()]);
      wire = { kind: 'bytes', name, model, tokenizer };
    } else if (source.kind === 'source') {
      wire = source.source;
      contextLength = source.contextLength;
    }
    const { model, engine } = await ctx.engine.load(wire, get().settings.backend, {
      contextLength,
      onProgress: opts.onProgress,
      signal: opts.signal,
    });
    ctx.lastSource = source;
    const from =
      source.kind === 'default'
        ? 'default'
        : source.kind === 'source' && source.source.kind === 'remote'
          ? 'remote'
          : 'files';
    set(() => ({ model: { status: 'ready', info: model, engine, source: from, loading: null, error: null } }));
    resetLab(set, get); // the worker dropped the previous model's variants
    return true;
  } catch (e) {
    const cancelled = isCancelled(e);
    set((s) => ({
      model: {
        ...s.model,
        status: s.model.info ? 'ready' : cancelled ? 'idle' : 'error',
        loading: null,
        error: cancelled ? s.model.error : toWireError(e),
      },
    }));
    if (!cancelled) get().showError(`Loading ${name}`, e);
    return false;
  }
}

export const createModelSlice: Slice<ModelSlice> = (ctx) => (set, get) => {
  let chosen: Chosen | null = null; // the pending source with its Blobs
  let seq = 0; // bumps with every inspect, choice and cancel: late answers of older ones are dropped
  let inspectCtrl: AbortController | null = null;
  let loadCtrl: AbortController | null = null;
  const patch = (f: (p: PendingModelState) => Partial<PendingModelState>) =>
    set((s) => ({ pending: { ...s.pending, ...f(s.pending) } }));

  /** Forgets the pending source, stopping its inspect (a running load is stopped by cancel only). */
  const discard = () => {
    seq++;
    inspectCtrl?.abort();
    inspectCtrl = null;
    chosen = null;
    set((s) => ({ pending: { ...initialPending(), keep: s.pending.keep, finished: s.pending.finished } }));
  };

  async function inspect(contextLength: number | undefined): Promise<void> {
    const source = chosen;
    if (!source) return;
    const my = ++seq;
    inspectCtrl?.abort();
    const ctrl = new AbortController();
    inspectCtrl = ctrl;
    const total = source.kind === 'files' ? source.files.reduce((n, f) => n + f.blob.size, 0) : 0;
    patch(() => ({
      phase: 'inspecting',
      contextLength: contextLength ?? null,
      progress: startProgress('inspect', total, now()),
      error: null,
    }));
    try {
      const plan = await ctx.engine.inspect(source, {
        contextLength,
        signal: ctrl.signal,
        onProgress: (p) => my === seq && patch((v) => ({ progress: nextProgress(v.progress, p, 'inspect', now()) })),
      });
      if (my !== seq) return;
      patch(() => ({ phase: 'planned', plan, contextLength: plan.memory.contextLength, progress: null }));
    } catch (e) {
      if (my !== seq) return; // a newer choice, context or cancel took over
      const error = toWireError(e);
      // A new context that cannot be planned keeps the previous plan; a first inspect that fails forgets the source.
      const prev = get().pending.plan;
      if (prev) patch(() => ({ phase: 'planned', contextLength: prev.memory.contextLength, progress: null, error }));
      else {
        chosen = null;
        patch((p) => ({ ...initialPending(), keep: p.keep, finished: p.finished, error }));
      }
      if (error.code !== 'cancelled') get().showError(`Reading ${source.name}`, error);
    } finally {
      if (inspectCtrl === ctrl) inspectCtrl = null;
    }
  }

  /** Makes `source` the pending one (dropping any other) and plans it at the default context. */
  function choose(source: Chosen, summary: PendingModelState['source']): Promise<void> {
    if (get().pending.phase === 'loading') return Promise.resolve();
    discard();
    chosen = source;
    patch(() => ({ source: summary }));
    return inspect(undefined);
  }

  return {
    model: initialModel,
    pending: initialPending(),

    loadDefaultModel: () => loadInto(ctx, set, get, { kind: 'default' }).then(() => undefined),

    loadModelFiles: (model, tokenizer, name) =>
      loadInto(ctx, set, get, {
        kind: 'files',
        model,
        tokenizer,
        name: name ?? ((model as File).name || 'model.bin'),
      }).then(() => undefined),

    async refreshEngineInfo() {
      try {
        const engine = await ctx.engine.getInfo();
        set((s) => ({ model: { ...s.model, engine } }));
      } catch (e) {
        get().showError('Reading the engine status', e);
      }
    },

    chooseModelFiles(files, name) {
      if (files.length === 0) {
        get().showError('Choosing a model', {
          code: 'bad-argument',
          message: 'no files were chosen (hidden files and folders are skipped)',
        });
        return Promise.resolve();
      }
      const summary = {
        kind: 'files' as const,
        name,
        ref: null,
        from: null,
        files: files.map((f) => ({ path: f.path, bytes: f.blob.size })),
      };
      return choose({ kind: 'files', name, files: files.map((f) => ({ path: f.path, blob: f.blob })) }, summary);
    },

    chooseRemoteModel(text) {
      const r = parseRemoteRef(text);
      if (!r.ok) {
        get().showError('Fetching a model', { code: 'bad-argument', message: r.message });
        return Promise.resolve();
      }
      return choose(
        { kind: 'remote', name: r.name, ref: r.ref },
        { kind: 'remote', name: r.name, ref: r.ref, from: r.from, files: [] },
      );
    },

    async setPendingContext(n) {
      const { plan, phase, contextLength } = get().pending;
      if (!plan || !chosen || phase === 'loading' || !Number.isFinite(n)) return;
      const ctxLen = Math.max(1, Math.min(Math.round(n), plan.config.seqLen));
      if (ctxLen === contextLength) return;
      await inspect(ctxLen);
    },

    setKeepPending(keep) {
      patch(() => ({ keep }));
    },

    async loadPendingModel() {
      const p = get().pending;
      const source = chosen;
      if (p.phase !== 'planned' || !p.plan || !p.source || !source || p.plan.memory.verdict === 'too-large') return;
      const { plan } = p;
      const ctrl = new AbortController();
      loadCtrl = ctrl;
      patch(() => ({ phase: 'loading', progress: startProgress('load', plan.fileBytes, now()), error: null }));
      const onProgress = (lp: LoadProgress) =>
        patch((v) => (v.phase === 'loading' ? { progress: nextProgress(v.progress, lp, 'load', now()) } : {}));
      const ok = await loadInto(
        ctx,
        set,
        get,
        { kind: 'source', source, contextLength: plan.memory.contextLength },
        { onProgress, signal: ctrl.signal },
      );
      if (loadCtrl === ctrl) loadCtrl = null;
      if (!ok) {
        patch(() => ({ phase: 'planned', progress: null, error: ctrl.signal.aborted ? null : get().model.error }));
        return;
      }
      const last = get().pending.progress;
      const finished = {
        name: get().model.info?.name ?? p.source.name,
        progress: last && last.bytesDone > 0 ? last : null,
        ms: now() - (last?.startedAt ?? now()),
      };
      const { storage } = get();
      const keep =
        p.keep && storage.status !== 'error' && storage.backend !== 'memory' ? keepable(p.source, plan) : null; // as the UI offers it
      discard();
      patch(() => ({ finished }));
      if (keep?.ok && 'convert' in keep) {
        // The worker writes the loaded model (base) as .nibble; it loads back without a tokenizer file.
        try {
          const { files } = await ctx.engine.exportModel('base', 'nibble');
          await get().storeModelFiles(source.name, new Blob([files[0].bytes]), new Blob([]));
        } catch (e) {
          get().showError(`Keeping ${source.name}`, toWireError(e));
        }
      } else if (keep?.ok && source.kind === 'files') {
        const blob = (path: string) => source.files.find((f) => f.path === path)?.blob;
        const weights = blob(keep.weights);
        if (weights)
          await get().storeModelFiles(source.name, weights, (keep.tokenizer && blob(keep.tokenizer)) || new Blob([]));
      }
    },

    cancelPendingModel() {
      const { phase, plan } = get().pending;
      if (phase === 'loading') loadCtrl?.abort();
      else if (phase === 'inspecting' && plan) {
        // Stop planning a new context: the previous plan stands.
        seq++;
        inspectCtrl?.abort();
        patch(() => ({ phase: 'planned', contextLength: plan.memory.contextLength, progress: null }));
      } else discard();
    },
  };
};

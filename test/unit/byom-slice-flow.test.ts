// The "bring your own model" flow of the model slice over a scripted Engine, where the test
// decides when inspect and load answer: progress, superseded plans, the too-large refusal,
// cancel of an inspect / a re-plan / a load, failures on the banner, the reload source, the URL
// field's validation. The same flow over the real engine is in byom-slice-engine.test.ts.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import type { AppState } from '../../src/state/types.ts';
import {
  EngineError,
  type Engine,
  type EngineInfo,
  type LoadProgress,
  type ModelInfo,
  type ModelPlan,
  type ModelSource,
} from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

interface Call {
  kind: 'inspect' | 'load';
  source: ModelSource;
  contextLength?: number;
  backend?: string;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const CONFIG = {
  ...STORIES260K_CONFIG,
  sharedClassifier: true,
};

function plan(
  contextLength = 512,
  verdict: ModelPlan['memory']['verdict'] = 'fits',
  format: ModelPlan['format'] = 'gguf',
): ModelPlan {
  return {
    name: 'm.gguf',
    format,
    architecture: 'llama',
    config: CONFIG as ModelPlan['config'],
    params: 260_000,
    fileBytes: 1000,
    files: [{ path: 'm.gguf', bytes: 1000, role: 'weights' }],
    tokenizer: 'gguf',
    chatTemplate: false,
    memory: {
      contextLength,
      weightBytes: 1000,
      weightBytesByFormat: { f32: 1000 },
      kvCacheBytes: contextLength * 1280,
      activationBytes: 10,
      totalBytes: 1010 + contextLength * 1280,
      cpuBytes: 1000,
      largest: { name: 'tok_emb', bytes: 500 },
      bindingCap: 1 << 27,
      splits: [],
      verdict,
      reasons: verdict === 'too-large' ? ['the KV cache of one layer is too big'] : [],
      maxContextForBinding: 1 << 20,
      memoryHint: null,
    },
  };
}

/** A scripted engine: every inspect/load waits until the test settles it (calls[i].resolve / reject). */
function scripted() {
  const calls: Call[] = [];
  const info = { name: 'default', backend: 'cpu' } as ModelInfo;
  const engineInfo = { backend: 'cpu', gpu: null, model: null } as unknown as EngineInfo;
  const pending = <T>(c: Omit<Call, 'resolve' | 'reject'>) =>
    new Promise<T>((resolve, reject) => {
      const call = { ...c, resolve: resolve as (v: unknown) => void, reject };
      calls.push(call);
      c.signal?.addEventListener('abort', () =>
        reject(new EngineError({ code: 'cancelled', message: `${c.kind} cancelled` })),
      );
    });
  const engine = {
    getInfo: async () => engineInfo,
    listVariants: async () => [],
    inspect: (source, opts = {}) => pending<ModelPlan>({ kind: 'inspect', source, ...opts }),
    load: (source, backend, opts = {}) => {
      if (source.kind === 'url') return Promise.resolve({ model: info, engine: engineInfo });
      return pending({ kind: 'load', source, backend, ...opts });
    },
    onEvent: () => () => undefined,
    dispose: () => undefined,
  } as Partial<Engine> as Engine;
  const store = createAppStore({
    engine,
    defaultSource: { kind: 'url', name: 'default', modelUrl: '/m', tokenizerUrl: '/t' },
  });
  const last = (kind: Call['kind']) => calls.filter((c) => c.kind === kind).at(-1)!;
  return { store, calls, last, s: (): AppState => store.getState() };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const gguf = () => [{ path: 'm.gguf', blob: new Blob([new Uint8Array(1000)]) }];
const progress = (bytesDone: number, phase: LoadProgress['phase'] = 'weights'): LoadProgress => ({
  kind: 'load',
  phase,
  file: 'm.gguf',
  bytesDone,
  bytesTotal: 1000,
  etaMs: 5,
});

describe('bring your own model: the pending flow', () => {
  it('choose → inspect with progress → plan → load with progress → the loaded model; a backend switch reloads the same source and context', async () => {
    const { store, last, s } = scripted();
    await s().loadDefaultModel();
    const chosen = s().chooseModelFiles(gguf(), 'm.gguf');
    expect(s().pending).toMatchObject({
      phase: 'inspecting',
      source: { kind: 'files', name: 'm.gguf', files: [{ path: 'm.gguf', bytes: 1000 }] },
      progress: { op: 'inspect', bytesTotal: 1000 },
    });
    const insp = last('inspect');
    expect(insp.contextLength).toBeUndefined(); // the engine picks min(model's, DEFAULT_CONTEXT)
    expect(insp.source).toMatchObject({ kind: 'files', name: 'm.gguf', files: [{ path: 'm.gguf' }] });
    insp.onProgress!(progress(300, 'headers'));
    expect(s().pending.progress).toMatchObject({ phase: 'headers', bytesDone: 300, etaMs: 5 });
    insp.resolve(plan(512));
    await chosen;
    expect(s().pending).toMatchObject({ phase: 'planned', contextLength: 512, progress: null, error: null });
    expect(s().pending.plan?.params).toBe(260_000);

    const loading = s().loadPendingModel();
    await tick();
    expect(s().pending).toMatchObject({ phase: 'loading', progress: { op: 'load', bytesDone: 0, bytesTotal: 1000 } });
    expect(s().model).toMatchObject({ status: 'loading', loading: 'm.gguf' });
    const ld = last('load');
    expect(ld).toMatchObject({ contextLength: 512, backend: 'auto' });
    ld.onProgress!(progress(1000, 'gpu'));
    expect(s().pending.progress).toMatchObject({ phase: 'gpu', bytesDone: 1000 });
    ld.resolve({ model: { name: 'm.gguf', backend: 'cpu' }, engine: {} });
    await loading;
    expect(s().model).toMatchObject({ status: 'ready', source: 'files', info: { name: 'm.gguf' } });
    expect(s().pending).toMatchObject({ phase: 'idle', plan: null, source: null, progress: null });
    expect(s().pending.finished).toMatchObject({
      name: 'm.gguf',
      progress: { op: 'load', phase: 'gpu', bytesDone: 1000, bytesTotal: 1000 },
    });

    const switching = s().setBackendPreference('cpu');
    await tick();
    const again = last('load');
    expect(again).not.toBe(ld);
    expect(again).toMatchObject({ backend: 'cpu', contextLength: 512, source: { kind: 'files', name: 'm.gguf' } });
    again.resolve({ model: { name: 'm.gguf', backend: 'cpu' }, engine: {} });
    await switching;
    store.dispose();
  });

  it('a new context plans again (clamped to the model’s own); a superseded answer is dropped; cancelling a re-plan keeps the plan', async () => {
    const { store, calls, last, s } = scripted();
    const chosen = s().chooseModelFiles(gguf(), 'm.gguf');
    last('inspect').resolve(plan(512));
    await chosen;
    const a = s().setPendingContext(100.4);
    const first = last('inspect');
    expect(first.contextLength).toBe(100);
    expect(s().pending).toMatchObject({
      phase: 'inspecting',
      contextLength: 100,
      plan: { memory: { contextLength: 512 } },
    });
    const b = s().setPendingContext(99_999);
    const second = last('inspect');
    expect(second.contextLength).toBe(512);
    expect(first.signal?.aborted).toBe(true);
    second.resolve(plan(512, 'fits'));
    await Promise.all([a, b]);
    expect(s().pending).toMatchObject({ phase: 'planned', contextLength: 512 });
    expect(s().error).toBeNull(); // the aborted one said nothing
    const n = calls.length;
    await s().setPendingContext(512); // unchanged: nothing to plan
    expect(calls.length).toBe(n);

    const c = s().setPendingContext(64);
    s().cancelPendingModel();
    await c;
    expect(last('inspect').signal?.aborted).toBe(true);
    expect(s().pending).toMatchObject({
      phase: 'planned',
      contextLength: 512,
      plan: { memory: { contextLength: 512 } },
    });
    store.dispose();
  });

  it('refuses to load a too-large plan; cancel discards it', async () => {
    const { store, calls, last, s } = scripted();
    const chosen = s().chooseModelFiles(gguf(), 'm.gguf');
    last('inspect').resolve(plan(512, 'too-large'));
    await chosen;
    await s().loadPendingModel();
    expect(calls.filter((c) => c.kind === 'load')).toHaveLength(0);
    expect(s().pending.phase).toBe('planned');
    s().cancelPendingModel();
    expect(s().pending).toMatchObject({ phase: 'idle', plan: null, source: null });
    store.dispose();
  });

  it('a failed inspect goes to the banner with its code and forgets the source; the loaded model stays', async () => {
    const { store, last, s } = scripted();
    await s().loadDefaultModel();
    const chosen = s().chooseModelFiles([{ path: 'notes.txt', blob: new Blob(['notes']) }], 'notes.txt');
    last('inspect').reject(new EngineError({ code: 'bad-format', message: 'notes.txt is not a model' }));
    await chosen;
    expect(s().error).toMatchObject({ code: 'bad-format', context: 'Reading notes.txt' });
    expect(s().pending).toMatchObject({ phase: 'idle', source: null, error: { code: 'bad-format' } });
    expect(s().model).toMatchObject({ status: 'ready', info: { name: 'default' } });
    store.dispose();
  });

  it('cancelling an inspect says nothing; cancelling a load goes back to the plan and keeps the previous model', async () => {
    const { store, last, s } = scripted();
    await s().loadDefaultModel();
    const first = s().chooseModelFiles(gguf(), 'm.gguf');
    s().cancelPendingModel();
    await first;
    expect(last('inspect').signal?.aborted).toBe(true);
    expect(s().pending.phase).toBe('idle');
    expect(s().error).toBeNull();

    const chosen = s().chooseModelFiles(gguf(), 'm.gguf');
    last('inspect').resolve(plan(256));
    await chosen;
    const loading = s().loadPendingModel();
    await tick();
    s().cancelPendingModel();
    await loading;
    expect(last('load').signal?.aborted).toBe(true);
    expect(s().pending).toMatchObject({ phase: 'planned', progress: null, error: null });
    expect(s().model).toMatchObject({ status: 'ready', loading: null, info: { name: 'default' } });
    expect(s().error).toBeNull();
    store.dispose();
  });

  it('a failed load keeps the plan and the previous model, with the typed error on the banner', async () => {
    const { store, last, s } = scripted();
    await s().loadDefaultModel();
    const chosen = s().chooseModelFiles(gguf(), 'm.gguf');
    last('inspect').resolve(plan(256));
    await chosen;
    const loading = s().loadPendingModel();
    await tick();
    last('load').reject(new EngineError({ code: 'truncated', message: 'm.gguf ends early' }));
    await loading;
    expect(s().error).toMatchObject({ code: 'truncated', context: 'Loading m.gguf' });
    expect(s().pending).toMatchObject({ phase: 'planned', error: { code: 'truncated' } });
    expect(s().model).toMatchObject({ status: 'ready', info: { name: 'default' } });
    store.dispose();
  });

  it('the URL field: nothing is asked of the engine for bad text; a repo id becomes a remote source', async () => {
    const { store, calls, last, s } = scripted();
    await s().chooseRemoteModel('not a repo');
    expect(calls).toHaveLength(0);
    expect(s().error).toMatchObject({ code: 'bad-argument', context: 'Fetching a model' });
    const chosen = s().chooseRemoteModel('https://huggingface.co/nibble-test/stories260K-hf');
    expect(last('inspect').source).toEqual({
      kind: 'remote',
      name: 'nibble-test/stories260K-hf',
      ref: 'nibble-test/stories260K-hf',
    });
    expect(s().pending.source).toMatchObject({ kind: 'remote', from: 'huggingface.co/nibble-test/stories260K-hf' });
    last('inspect').resolve({ ...plan(512), format: 'hf' });
    await chosen;
    const loading = s().loadPendingModel();
    await tick();
    last('load').resolve({ model: { name: 'nibble-test/stories260K-hf', backend: 'cpu' }, engine: {} });
    await loading;
    expect(s().model.source).toBe('remote');
    store.dispose();
  });
});

// "Bring your own model" through the store and the real engine (in-thread host, CPU runner):
// the HF fixture folder (paths as a folder pick gives them), the GGUF fixture and a llama2.c pair
// are inspected (plan, progress), re-planned for a new context, loaded, and generate the golden
// text; single-file checkpoints are kept in (fake) OPFS and load back; a corrupt file reaches the
// banner with its code while the previous model keeps working.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import type { ProgressView, SourceFile } from '../../src/state/types.ts';
import { prepareFiles } from '../../src/ui/models/source-files.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { openOpfsStore } from '../../src/worker/storage/storage.ts';
import { FakeFs } from './storage-fake-fs.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const GOLDEN = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');
const HF_DIR = 'test/fixtures/stories260K-hf';
const GGUF = readProjectFile('test/fixtures/stories260K-f32.gguf');
const DEFAULT_SOURCE = { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' } as const;
const FILES: Record<string, Uint8Array> = { '/m': stories260K(), '/t': tok512() };
const PARAMS = 260_032; // 512·64 + 5 · 45,440 + 64 (shared classifier)
const KV_PER_POSITION = 2 * 5 * 32 * 4; // K and V, 5 layers, kvDim 32, f32

const file = (path: string, bytes: Uint8Array): SourceFile => ({ path, blob: new Blob([bytes as BlobPart]) });
/** The HF fixture as a folder pick gives it: every path under the folder's name. */
const hfFolder = (): SourceFile[] =>
  readdirSync(new URL(`../../${HF_DIR}`, import.meta.url)).map((f) =>
    file(`stories260K-hf/${f}`, readProjectFile(`${HF_DIR}/${f}`)),
  );

function makeStore(fs?: FakeFs) {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  const storage = fs
    ? async () => ({ store: await openOpfsStore(fs.root as unknown as FileSystemDirectoryHandle), fallback: null })
    : undefined;
  return createAppStore({ engine, defaultSource: DEFAULT_SOURCE, streamFlushMs: 0, storage });
}

/** Every progress view the store showed (inspect and load), in order. */
function recordProgress(store: ReturnType<typeof makeStore>) {
  const seen: ProgressView[] = [];
  const unsub = store.subscribe(
    (s) => s.pending.progress && s.pending.progress !== seen.at(-1) && seen.push(s.pending.progress),
  );
  return { seen, unsub };
}

async function greedy(store: ReturnType<typeof makeStore>, n = 20): Promise<string> {
  store.getState().setSampling({ temperature: 0, maxTokens: n });
  await store.getState().send('');
  const turn = store.getState().chat.turns.at(-1)!;
  expect(turn).toMatchObject({ status: 'done', tokens: n });
  return turn.text;
}

describe('bring your own model with the real engine', () => {
  it('HF folder: plan (params, KV cache, files, tokenizer) → a new context → load → the golden text', async () => {
    const store = makeStore();
    try {
      const { files, name } = prepareFiles(hfFolder());
      expect(name).toBe('stories260K-hf');
      await store.getState().chooseModelFiles(files, name);
      const p = store.getState().pending;
      expect(p).toMatchObject({
        phase: 'planned',
        error: null,
        contextLength: 512,
        source: { kind: 'files', name: 'stories260K-hf' },
      });
      const plan = p.plan!;
      expect(plan).toMatchObject({
        format: 'hf',
        architecture: 'llama',
        params: PARAMS,
        tokenizer: 'hf',
        chatTemplate: false,
      });
      expect(plan.config).toMatchObject({ dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
      expect(plan.memory).toMatchObject({ contextLength: 512, kvCacheBytes: KV_PER_POSITION * 512, verdict: 'no-gpu' });
      expect(plan.files.find((f) => f.path === 'model.safetensors')).toMatchObject({
        role: 'weights',
        bytes: 1_044_992,
      });
      expect(plan.files.find((f) => f.path === 'tokenizer.json')?.role).toBe('tokenizer');

      await store.getState().setPendingContext(64);
      expect(store.getState().pending).toMatchObject({
        phase: 'planned',
        contextLength: 64,
        plan: { memory: { contextLength: 64, kvCacheBytes: KV_PER_POSITION * 64 } },
      });

      const { seen, unsub } = recordProgress(store);
      await store.getState().loadPendingModel();
      unsub();
      expect(store.getState().error).toBeNull();
      expect(store.getState().model).toMatchObject({
        status: 'ready',
        source: 'files',
        info: { name: 'stories260K-hf', format: 'hf' },
      });
      expect(store.getState().pending).toMatchObject({ phase: 'idle', plan: null });
      const loads = seen.filter((v) => v.op === 'load');
      expect(loads.length).toBeGreaterThan(1);
      for (let i = 1; i < loads.length; i++) expect(loads[i].bytesDone).toBeGreaterThanOrEqual(loads[i - 1].bytesDone);
      expect(store.getState().pending.finished?.progress).toMatchObject({ op: 'load' });
      const last = store.getState().pending.finished!.progress!;
      expect(last.bytesDone).toBe(last.bytesTotal);

      expect(GOLDEN.startsWith(await greedy(store))).toBe(true);
    } finally {
      store.dispose();
    }
  });

  it('GGUF file: kept in browser storage once it loads, and loads back from there', async () => {
    const fs = new FakeFs();
    const store = makeStore(fs);
    try {
      await store.getState().openStorage();
      await store.getState().chooseModelFiles([file('stories260K-f32.gguf', GGUF)], 'stories260K-f32.gguf');
      expect(store.getState().pending.plan).toMatchObject({
        format: 'gguf',
        tokenizer: 'gguf',
        params: PARAMS,
        fileBytes: GGUF.byteLength,
      });
      expect(store.getState().pending.keep).toBe(true);
      await store.getState().loadPendingModel();
      expect(store.getState().model.info).toMatchObject({ name: 'stories260K-f32.gguf', format: 'gguf' });
      const text = await greedy(store);
      expect(GOLDEN.startsWith(text)).toBe(true);

      const [entry] = store.getState().storage.entries;
      expect(entry).toMatchObject({ kind: 'model', name: 'stories260K-f32.gguf', bytes: GGUF.byteLength });
      await store.getState().loadDefaultModel();
      await store.getState().loadStored(entry.id);
      expect(store.getState().model.info?.name).toBe('stories260K-f32.gguf');
      expect(await greedy(store)).toBe(text);
    } finally {
      store.dispose();
    }
  });

  it('HF folder kept as a .nibble the worker writes; it loads back with its HF tokenizer and gives the same text', async () => {
    const fs = new FakeFs();
    const store = makeStore(fs);
    try {
      await store.getState().openStorage();
      const { files, name } = prepareFiles(hfFolder());
      await store.getState().chooseModelFiles(files, name);
      expect(store.getState().pending.keep).toBe(true);
      await store.getState().loadPendingModel();
      expect(store.getState().error).toBeNull();
      const text = await greedy(store);
      expect(GOLDEN.startsWith(text)).toBe(true);
      const [entry] = store.getState().storage.entries;
      expect(entry).toMatchObject({ kind: 'model', name: 'stories260K-hf' });
      expect(entry.bytes).toBeGreaterThan(PARAMS * 4); // f32 weights + the tokenizer.json
      await store.getState().loadDefaultModel();
      await store.getState().loadStored(entry.id);
      expect(store.getState().error).toBeNull();
      expect(store.getState().model.info).toMatchObject({ name: 'stories260K-hf', format: 'nibble', params: PARAMS });
      expect(await greedy(store)).toBe(text);
    } finally {
      store.dispose();
    }
  });

  it('llama2.c checkpoint + tokenizer as two loose files: named after the checkpoint, kept as model.bin + tokenizer.bin', async () => {
    const fs = new FakeFs();
    const store = makeStore(fs);
    try {
      await store.getState().openStorage();
      const { files, name } = prepareFiles([file('my-tok512.bin', FILES['/t']), file('my-stories.bin', FILES['/m'])]);
      expect(name).toBe('my-stories.bin');
      await store.getState().chooseModelFiles(files, name);
      const plan = store.getState().pending.plan!;
      expect(plan).toMatchObject({ format: 'llama2c', tokenizer: 'llama2c' });
      expect(plan.files.map((f) => [f.path, f.role]).sort()).toEqual([
        ['my-stories.bin', 'weights'],
        ['my-tok512.bin', 'tokenizer'],
      ]);
      await store.getState().loadPendingModel();
      expect(store.getState().model.info?.name).toBe('my-stories.bin');
      const [entry] = store.getState().storage.entries;
      expect(entry).toMatchObject({ name: 'my-stories.bin', bytes: FILES['/m'].byteLength + FILES['/t'].byteLength });
    } finally {
      store.dispose();
    }
  });

  it('a corrupt checkpoint → the banner with its code; nothing kept; the previous model still generates', async () => {
    const fs = new FakeFs();
    const store = makeStore(fs);
    try {
      await store.getState().openStorage();
      await store.getState().loadDefaultModel();
      const before = await greedy(store, 8);
      await store
        .getState()
        .chooseModelFiles([file('broken.gguf', GGUF.slice(0, Math.floor(GGUF.byteLength * 0.6)))], 'broken.gguf');
      if (store.getState().pending.phase === 'planned') await store.getState().loadPendingModel(); // headers whole: the load fails
      expect(store.getState().error?.code).toMatch(/^(truncated|bad-format)$/);
      expect(store.getState().error?.context).toMatch(/broken\.gguf/);
      expect(store.getState().model).toMatchObject({ status: 'ready', info: { name: 'stories260K' } });
      expect(store.getState().storage.entries).toEqual([]);
      expect(await greedy(store, 8)).toBe(before);
    } finally {
      store.dispose();
    }
  });
});

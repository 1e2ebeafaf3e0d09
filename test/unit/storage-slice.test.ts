// The storage slice on the store with the real engine (in-thread host, CPU): a user-loaded model
// is kept only once it loads, comes back from the store by id, variants are persisted through the
// variants slice's hook and re-imported, deletes and quota, a damaged manifest reported in the
// banner while the store keeps working, and no store at all when the app gives no opener.
import { describe, expect, it, vi } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { memoryStore, openOpfsStore, STORE_DIR } from '../../src/worker/storage/storage.ts';
import type { VariantMeta } from '../../src/worker/engine-host/lab-protocol.ts';
import { FakeFs } from './storage-fake-fs.ts';
import { stories260K, tok512 } from './helpers.ts';

const DEFAULT_SOURCE = { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' } as const;
const FILES: Record<string, Uint8Array> = { '/m': stories260K(), '/t': tok512() };

function makeStore(opts: { fs?: FakeFs; none?: boolean } = {}) {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  const storage = opts.none
    ? undefined
    : opts.fs
      ? async () => ({
          store: await openOpfsStore(opts.fs!.root as unknown as FileSystemDirectoryHandle),
          fallback: null,
        })
      : async () => ({ store: memoryStore(), fallback: 'no OPFS in Node' });
  return createAppStore({ engine, defaultSource: DEFAULT_SOURCE, storage });
}

const blob = (b: Uint8Array) => new Blob([b as BlobPart]);

describe('storage slice', () => {
  it('keeps a user-loaded model once it loads, lists it with its size, loads it back by id, deletes it', async () => {
    const fs = new FakeFs();
    const store = makeStore({ fs });
    try {
      await store.getState().openStorage();
      expect(store.getState().storage).toMatchObject({ status: 'ready', backend: 'opfs', entries: [], recovery: null });
      await store.getState().loadAndKeepModelFiles(blob(FILES['/m']), blob(FILES['/t']), 'my-stories.bin');
      expect(store.getState().model.info?.name).toBe('my-stories.bin');
      const [entry] = store.getState().storage.entries;
      expect(entry).toMatchObject({
        kind: 'model',
        name: 'my-stories.bin',
        bytes: FILES['/m'].byteLength + FILES['/t'].byteLength,
      });
      expect(store.getState().storage.usage).toBe(entry.bytes); // no navigator.storage in Node: the stored bytes

      // a file that does not load is not kept
      await store
        .getState()
        .loadAndKeepModelFiles(blob(new TextEncoder().encode('not a model')), blob(FILES['/t']), 'notes.txt');
      expect(store.getState().error?.code).toMatch(/bad-format|truncated/);
      expect(store.getState().storage.entries.map((e) => e.name)).toEqual(['my-stories.bin']);

      // a new store on the same directory (a reload) lists it; loading it by id runs the model
      const again = makeStore({ fs });
      try {
        await again.getState().openStorage();
        expect(again.getState().storage.entries).toEqual([entry]);
        await again.getState().loadDefaultModel();
        await again.getState().loadStored(entry.id);
        expect(again.getState().model).toMatchObject({
          status: 'ready',
          source: 'files',
          info: { name: 'my-stories.bin' },
        });
        await again.getState().removeStored(entry.id);
        expect(again.getState().storage.entries).toEqual([]);
        expect(again.getState().storage.busy).toEqual({});
      } finally {
        again.dispose();
      }
    } finally {
      store.dispose();
    }
  });

  it('persists variants through the variants slice hook and re-imports them with their meta', async () => {
    const store = makeStore();
    try {
      const meta: VariantMeta = {
        label: 'rtn int4 g32',
        spec: { method: 'rtn', bits: 4, group: 32 } as VariantMeta['spec'],
        report: null,
        baseModel: 'stories260K',
      };
      const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
      await store.getState().persistVariant!(bytes, meta);
      const [v] = store.getState().storage.entries;
      expect(v).toMatchObject({ kind: 'variant', name: 'rtn int4 g32', bytes: 100, meta });
      const importVariant = vi.fn(async () => null);
      store.setState({ importVariant });
      await store.getState().loadStored(v.id);
      expect(importVariant).toHaveBeenCalledWith(bytes, meta);
    } finally {
      store.dispose();
    }
  });

  it('a damaged manifest is reported in the banner and the store keeps working', async () => {
    const fs = new FakeFs();
    const first = await openOpfsStore(fs.root as unknown as FileSystemDirectoryHandle);
    await first.put(
      { kind: 'model', name: 'kept', id: 'k' },
      { 'model.bin': new Uint8Array(4), 'tokenizer.bin': new Uint8Array(2) },
    );
    fs.root.writeNow(`${STORE_DIR}/manifest.json`, '{"format": "nibble-st');
    const store = makeStore({ fs });
    try {
      await store.getState().openStorage();
      const s = store.getState();
      expect(s.storage.status).toBe('ready');
      expect(s.storage.recovery).toMatchObject({ code: 'bad-format', recovered: 1 });
      expect(s.error).toMatchObject({ code: 'bad-format', context: 'Opening stored models' });
      expect(s.storage.entries.map((e) => e.name)).toEqual(['kept']);
    } finally {
      store.dispose();
    }
  });

  it('without an opener nothing is stored and variants are not persisted', async () => {
    const store = makeStore({ none: true });
    try {
      expect(store.getState().persistVariant).toBeUndefined();
      await store.getState().openStorage();
      expect(store.getState().storage.status).toBe('idle');
      await store.getState().loadAndKeepModelFiles(blob(FILES['/m']), blob(FILES['/t']), 'x.bin');
      expect(store.getState().model.info?.name).toBe('x.bin');
      expect(store.getState().storage.entries).toEqual([]);
    } finally {
      store.dispose();
    }
  });
});

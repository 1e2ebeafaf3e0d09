// Storage slice: models the user loaded and quantized variants, kept in the browser (OPFS with a
// manifest, src/worker/storage/storage.ts) so they survive reloads and work offline. Fills the variants
// slice's `persistVariant` hook; the Models drawer lists, loads and deletes entries and shows
// the quota. Other contexts (the engine worker, other tabs) writing the store trigger a refresh.
import { toWireError } from '../worker/engine-host/protocol.ts';
import type { VariantMeta } from '../worker/engine-host/lab-protocol.ts';
import { onStoreChange, type OpenedStore } from '../worker/storage/storage.ts';
import type { Slice, SliceContext, StorageState, StorageSlice } from './types.ts';

export type { StoredEntry, StoreRecovery } from '../worker/storage/storage.ts';
export type { StorageOpener, StorageSlice, StorageState } from './types.ts';

export const MODEL_FILE = 'model.bin';
export const TOKENIZER_FILE = 'tokenizer.bin';
export const VARIANT_FILE = 'model.nibble';

export const initialStorage = (): StorageState => ({
  status: 'idle',
  backend: null,
  fallback: null,
  entries: [],
  usage: 0,
  quota: 0,
  persisted: null,
  busy: {},
  drawerOpen: false,
  recovery: null,
  error: null,
});

const storageManager = (): StorageManager | undefined => globalThis.navigator?.storage;

/** Once something is stored, ask the browser not to evict it under storage pressure (best effort). */
async function askPersist(): Promise<void> {
  const sm = storageManager();
  if (!sm?.persist || (await sm.persisted?.().catch(() => false))) return;
  await sm.persist().catch(() => false);
}

const asMeta = (m: Record<string, unknown> | undefined): VariantMeta | undefined =>
  m && typeof m.label === 'string' && typeof m.spec === 'object' && m.spec !== null
    ? (m as unknown as VariantMeta)
    : undefined;

export const createStorageSlice: Slice<StorageSlice> = (ctx: SliceContext) => (set, get) => {
  const opener = ctx.storage;
  let opening: Promise<OpenedStore | null> | null = null;
  let unwatch: (() => void) | null = null;
  const patch = (f: (s: StorageState) => Partial<StorageState>) =>
    set((s) => ({ storage: { ...s.storage, ...f(s.storage) } }));
  const setBusy = (id: string, v: 'loading' | 'deleting' | null) =>
    patch((s) => {
      const { [id]: _old, ...busy } = s.busy;
      return { busy: v ? { ...busy, [id]: v } : busy };
    });
  const fail = (context: string, e: unknown) => {
    const err = toWireError(e);
    patch(() => ({ error: err }));
    get().showError(context, err);
  };

  /** The open store (opening it on first use); null when it cannot be opened. */
  const store = (): Promise<OpenedStore | null> => {
    if (!opener) return Promise.resolve(null);
    opening ??= (async () => {
      patch(() => ({ status: 'opening' }));
      try {
        const { store: s, fallback } = await opener();
        patch(() => ({ status: 'ready', backend: s.backend, fallback, recovery: s.recovery }));
        if (s.recovery) get().showError('Opening stored models', s.recovery);
        unwatch ??= onStoreChange(() => void get().refreshStorage());
        return s;
      } catch (e) {
        patch(() => ({ status: 'error' }));
        fail('Opening stored models', e);
        return null;
      }
    })();
    return opening;
  };

  async function refresh(): Promise<void> {
    const s = await store();
    if (!s) return;
    try {
      const [entries, q, persisted] = await Promise.all([
        s.list(),
        s.quota(),
        storageManager()
          ?.persisted?.()
          .catch(() => null) ?? null,
      ]);
      patch(() => ({ entries, usage: q.usage, quota: q.quota, persisted, error: null }));
    } catch (e) {
      fail('Listing stored models', e);
    }
  }

  return {
    storage: initialStorage(),

    openStorage: refresh,
    refreshStorage: refresh,

    async storeModelFiles(name, model, tokenizer) {
      const s = await store();
      if (!s) return null;
      try {
        const [m, t] = await Promise.all([model.arrayBuffer(), tokenizer.arrayBuffer()]);
        const entry = await s.put(
          { kind: 'model', name },
          { [MODEL_FILE]: new Uint8Array(m), [TOKENIZER_FILE]: new Uint8Array(t) },
        );
        await askPersist();
        await refresh();
        return entry;
      } catch (e) {
        fail(`Storing ${name}`, e);
        return null;
      }
    },

    async loadAndKeepModelFiles(model, tokenizer, name) {
      await get().loadModelFiles(model, tokenizer, name);
      const m = get().model;
      if (m.status === 'ready' && m.source === 'files' && m.error === null && m.info?.name === name)
        await get().storeModelFiles(name, model, tokenizer);
    },

    async loadStored(id) {
      const s = await store();
      if (!s || get().storage.busy[id]) return;
      setBusy(id, 'loading');
      try {
        const { entry, files } = await s.get(id);
        if (entry.kind === 'model') {
          if (!files[MODEL_FILE] || !files[TOKENIZER_FILE])
            throw {
              code: 'bad-format',
              message: `stored model '${entry.name}' lacks ${MODEL_FILE} or ${TOKENIZER_FILE}`,
            };
          await get().loadModelFiles(
            new Blob([files[MODEL_FILE] as BlobPart]),
            new Blob([files[TOKENIZER_FILE] as BlobPart]),
            entry.name,
          );
        } else {
          if (!files[VARIANT_FILE])
            throw { code: 'bad-format', message: `stored variant '${entry.name}' lacks ${VARIANT_FILE}` };
          await get().importVariant(files[VARIANT_FILE], asMeta(entry.meta) ?? ({ label: entry.name } as VariantMeta));
        }
      } catch (e) {
        fail('Loading a stored entry', e);
      } finally {
        setBusy(id, null);
      }
    },

    async removeStored(id) {
      const s = await store();
      if (!s || get().storage.busy[id]) return;
      setBusy(id, 'deleting');
      try {
        await s.remove(id);
        await refresh();
      } catch (e) {
        fail('Deleting a stored entry', e);
      } finally {
        setBusy(id, null);
      }
    },

    setDrawerOpen(open) {
      patch(() => ({ drawerOpen: open }));
      if (open) void refresh();
    },

    persistVariant: opener
      ? async (bytes, meta) => {
          const s = await store();
          if (!s) throw { code: 'unsupported', message: 'browser storage is not available' };
          await s.put(
            { kind: 'variant', name: meta.label, meta: meta as unknown as Record<string, unknown> },
            { [VARIANT_FILE]: bytes },
          );
          await askPersist();
          await refresh();
        }
      : undefined,
  };
};

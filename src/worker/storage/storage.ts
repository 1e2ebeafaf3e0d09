// Stored models and quantized variants: OPFS (Origin Private File System) with a manifest, or
// memory. Usable from the page and from workers (no DOM beyond navigator.storage / locks).
//
// On disk, under <OPFS root>/nibble-store/:
//   manifest.json        the commit point: which entries exist (storage-manifest.ts)
//   e-<id>-<nonce>/      one directory per entry: its files + entry.json (its own record)
// A put writes every file as `<name>.tmp` and renames it, writes entry.json, then replaces the
// manifest (manifest.json.tmp, then rename) — last. A reload at any point before that leaves an
// entry directory the manifest does not name: it is removed the next time the store opens. A
// manifest that is missing or corrupt is rebuilt from the temp manifest or from the entry
// directories that are complete, and the store says so (`recovery`) instead of failing.
// Mutations hold a Web Lock ('nibble-store'), so the page and the engine worker can share it.
import { NibbleError } from '../../core/errors.ts';
import { openDirStore, type DirHandleLike } from './storage-dir.ts';
import {
  byCreated,
  notStored,
  prepareRecord,
  publicEntry,
  type ManifestRecord,
  type OpenedStore,
} from './storage-manifest.ts';

export type { ModelStore, OpenedStore, StoredEntry, StoredKind, StoreRecovery } from './storage-manifest.ts';

export const STORE_DIR = 'nibble-store';
const CHANNEL = 'nibble-store';

/**
 * Opens the OPFS store (root: navigator.storage.getDirectory(), or the handle given — tests pass
 * a fake). Cleans orphans and validates the manifest first. Throws NibbleError('unsupported')
 * when there is no OPFS here; never throws for a corrupt manifest (see `recovery`).
 */
export async function openOpfsStore(root?: FileSystemDirectoryHandle): Promise<OpenedStore> {
  let top = root;
  if (!top) {
    const storage = globalThis.navigator?.storage;
    if (!storage?.getDirectory)
      throw new NibbleError(
        'unsupported',
        'this browser has no Origin Private File System (navigator.storage.getDirectory)',
      );
    try {
      top = await storage.getDirectory();
    } catch (e) {
      throw new NibbleError(
        'unsupported',
        `the Origin Private File System is not available here: ${(e as Error).message}`,
      );
    }
  }
  const base = await top.getDirectoryHandle(STORE_DIR, { create: true });
  return openDirStore(base as unknown as DirHandleLike, { lock: withLock, notify, estimate });
}

/** The same contract in memory (tests, browsers without OPFS). Quota is reported as 0 (unknown). */
export function memoryStore(): OpenedStore {
  const records = new Map<string, { rec: ManifestRecord; files: Record<string, Uint8Array> }>();
  return {
    backend: 'memory',
    recovery: null,
    async list() {
      return [...records.values()].map((r) => publicEntry(r.rec)).sort(byCreated);
    },
    async put(entry, files) {
      const { rec, copies } = prepareRecord(entry, files, 'mem');
      records.set(rec.id, { rec, files: copies });
      return publicEntry(rec);
    },
    async get(id) {
      const r = records.get(id);
      if (!r) throw notStored(id);
      return {
        entry: publicEntry(r.rec),
        files: Object.fromEntries(Object.entries(r.files).map(([k, v]) => [k, v.slice()])),
      };
    },
    async remove(id) {
      records.delete(id);
    },
    async quota() {
      let usage = 0;
      for (const r of records.values()) usage += r.rec.bytes;
      return { usage, quota: 0 };
    },
  };
}

/** The page's store: OPFS when it works here, else memory (with the reason). */
export async function openBestStore(): Promise<{ store: OpenedStore; fallback: string | null }> {
  try {
    return { store: await openOpfsStore(), fallback: null };
  } catch (e) {
    return { store: memoryStore(), fallback: (e as Error).message };
  }
}

/** Calls `listener` when another store instance (another tab, the engine worker) changed the entries. */
export function onStoreChange(listener: () => void): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => undefined;
  const ch = new BroadcastChannel(CHANNEL);
  ch.onmessage = () => listener();
  return () => ch.close();
}

// ---- browser services (absent in Node: a process-local mutex, no broadcast, sizes only) ----

let localTail: Promise<unknown> = Promise.resolve();

async function withLock<T>(mode: 'shared' | 'exclusive', job: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  if (locks?.request) return locks.request(CHANNEL, { mode }, job) as Promise<T>;
  const p = localTail.then(job, job);
  localTail = p.catch(() => undefined);
  return p;
}

function notify(): void {
  if (typeof BroadcastChannel === 'undefined') return;
  const ch = new BroadcastChannel(CHANNEL);
  ch.postMessage('changed');
  ch.close();
}

async function estimate(): Promise<{ usage: number; quota: number } | null> {
  const storage = globalThis.navigator?.storage;
  if (!storage?.estimate) return null;
  try {
    const e = await storage.estimate();
    return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
  } catch {
    return null;
  }
}

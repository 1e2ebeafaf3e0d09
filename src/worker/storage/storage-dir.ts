// The directory-backed store behind openOpfsStore: every operation on the OPFS handle surface
// (getDirectoryHandle, getFileHandle, createWritable, removeEntry, keys, move — or a copy when
// move is missing or refuses), so Node tests run it on an in-memory fake of that surface.
import { NibbleError } from '../../core/errors.ts';
import {
  byCreated,
  ENTRY_JSON,
  MANIFEST,
  MANIFEST_TMP,
  nonce,
  notStored,
  parseManifest,
  prepareRecord,
  publicEntry,
  TMP_SUFFIX,
  validateRecord,
  type Manifest,
  type ManifestRecord,
  type OpenedStore,
  type StoreRecovery,
} from './storage-manifest.ts';

/** The parts of FileSystemWritableFileStream the store uses. */
export interface WritableLike {
  write(data: Uint8Array | string): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** The parts of FileSystemFileHandle the store uses (`move` is optional: copy otherwise). */
export interface FileHandleLike {
  getFile(): Promise<{ size: number; arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> }>;
  createWritable(): Promise<WritableLike>;
  move?(newName: string): Promise<void>;
}

/** The parts of FileSystemDirectoryHandle the store uses. */
export interface DirHandleLike {
  getDirectoryHandle(name: string, opt?: { create?: boolean }): Promise<DirHandleLike>;
  getFileHandle(name: string, opt?: { create?: boolean }): Promise<FileHandleLike>;
  removeEntry(name: string, opt?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
}

export interface DirStoreServices {
  /** Runs `job` holding the store's lock (Web Locks across page and workers). */
  lock<T>(mode: 'shared' | 'exclusive', job: () => Promise<T>): Promise<T>;
  /** Tells other contexts that the entries changed. */
  notify(): void;
  /** navigator.storage.estimate(), or null where there is none. */
  estimate(): Promise<{ usage: number; quota: number } | null>;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const isNotFound = (e: unknown): boolean =>
  (e as { name?: string })?.name === 'NotFoundError' || (e as { name?: string })?.name === 'TypeMismatchError';

async function readText(dir: DirHandleLike, name: string): Promise<string | null> {
  try {
    return await (await (await dir.getFileHandle(name)).getFile()).text();
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** Writes `name.tmp`, then renames it to `name` (move; a copy where move is missing or refuses). */
export async function writeAtomic(dir: DirHandleLike, name: string, bytes: Uint8Array): Promise<void> {
  const tmpName = name + TMP_SUFFIX;
  const tmp = await dir.getFileHandle(tmpName, { create: true });
  const w = await tmp.createWritable();
  try {
    await w.write(bytes);
    await w.close();
  } catch (e) {
    await w.abort().catch(() => undefined);
    throw e;
  }
  if (typeof tmp.move === 'function') {
    try {
      await tmp.move(name);
      return;
    } catch {
      // fall through: this browser cannot rename over an existing file; copy instead
    }
  }
  const target = await dir.getFileHandle(name, { create: true });
  const tw = await target.createWritable(); // commits atomically on close (swap file)
  try {
    await tw.write(bytes);
    await tw.close();
  } catch (e) {
    await tw.abort().catch(() => undefined);
    throw e;
  }
  await dir.removeEntry(tmpName).catch(() => undefined);
}

async function removeQuiet(dir: DirHandleLike, name: string): Promise<void> {
  await dir.removeEntry(name, { recursive: true }).catch(() => undefined);
}

/** True when every file of the record is in its directory with the recorded size. */
async function filesComplete(base: DirHandleLike, rec: ManifestRecord): Promise<boolean> {
  try {
    const dir = await base.getDirectoryHandle(rec.dir);
    for (const [name, size] of Object.entries(rec.files)) {
      if ((await (await dir.getFileHandle(name)).getFile()).size !== size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Records rebuilt from entry directories whose entry.json is valid and whose files are complete. */
async function scanEntryDirs(base: DirHandleLike, names: string[], skipIds: Set<string>): Promise<ManifestRecord[]> {
  const found = new Map<string, ManifestRecord>();
  for (const name of names) {
    if (!name.startsWith('e-')) continue;
    let rec: ManifestRecord | string;
    try {
      const text = await readText(await base.getDirectoryHandle(name), ENTRY_JSON);
      rec = text === null ? 'no entry.json' : validateRecord(JSON.parse(text));
    } catch {
      continue; // not a directory, or entry.json unreadable
    }
    if (typeof rec === 'string' || rec.dir !== name || skipIds.has(rec.id)) continue;
    if (!(await filesComplete(base, rec))) continue;
    const prev = found.get(rec.id);
    if (!prev || prev.createdAt < rec.createdAt) found.set(rec.id, rec);
  }
  return [...found.values()];
}

async function listNames(dir: DirHandleLike): Promise<string[]> {
  const names: string[] = [];
  for await (const n of dir.keys()) names.push(n);
  return names;
}

/**
 * Makes the directory consistent: a trustworthy manifest (repaired or rebuilt when needed), no
 * directories or temp files the manifest does not name. Returns what had to be repaired.
 */
async function repair(base: DirHandleLike): Promise<{ manifest: Manifest; recovery: StoreRecovery | null }> {
  const names = await listNames(base);
  const text = await readText(base, MANIFEST);
  const problems: string[] = [];
  let manifest: Manifest = { format: 'nibble-store', version: 1, entries: [] };
  let dirty = text === null;
  let rescue = false;
  if (text !== null) {
    const p = parseManifest(text);
    manifest = p.manifest;
    problems.push(...p.problems);
    rescue = !p.readable || p.problems.length > 0;
    if (!p.readable) {
      const tmpText = await readText(base, MANIFEST_TMP);
      const t = tmpText === null ? null : parseManifest(tmpText);
      if (t?.readable) {
        manifest = t.manifest;
        problems.push('recovered the last manifest written (manifest.json.tmp)');
      }
    }
  } else if (names.some((n) => n.startsWith('e-'))) {
    problems.push('manifest.json is missing');
    rescue = true;
  }
  // Entries whose files are gone or the wrong size cannot be loaded: drop them.
  const kept: ManifestRecord[] = [];
  for (const r of manifest.entries) {
    if (await filesComplete(base, r)) kept.push(r);
    else problems.push(`entry ${r.id} (${r.name}): files missing or incomplete, dropped`);
  }
  if (rescue) {
    const extra = await scanEntryDirs(base, names, new Set(kept.map((r) => r.id)));
    const used = new Set(kept.map((r) => r.dir));
    for (const r of extra) if (!used.has(r.dir)) kept.push(r);
    if (extra.length)
      problems.push(`rebuilt ${extra.length} entr${extra.length === 1 ? 'y' : 'ies'} from their directories`);
  }
  if (kept.length !== manifest.entries.length || problems.length > 0) dirty = true;
  manifest = { ...manifest, entries: kept };
  if (dirty) await writeAtomic(base, MANIFEST, utf8(JSON.stringify(manifest)));
  // Orphans: interrupted puts, removed entries whose directory survived, temp files.
  const live = new Set(kept.map((r) => r.dir));
  for (const n of names) {
    if (n === MANIFEST || live.has(n)) continue;
    await removeQuiet(base, n);
  }
  for (const r of kept) {
    const dir = await base.getDirectoryHandle(r.dir);
    for (const n of await listNames(dir)) if (n.endsWith(TMP_SUFFIX)) await removeQuiet(dir, n);
  }
  const recovery: StoreRecovery | null = problems.length
    ? {
        code: 'bad-format',
        message: `The stored-models manifest was damaged and has been repaired (${problems.join('; ')}). ${kept.length} stored entr${kept.length === 1 ? 'y was' : 'ies were'} kept.`,
        recovered: kept.length,
      }
    : null;
  return { manifest, recovery };
}

function storageError(e: unknown, what: string, bytes: number): unknown {
  if ((e as { name?: string })?.name === 'QuotaExceededError') {
    return new NibbleError(
      'too-large',
      `${what}: the browser's storage quota is full (${bytes} bytes needed). Delete stored models or variants in the Models drawer and try again.`,
    );
  }
  return e;
}

export async function openDirStore(base: DirHandleLike, svc: DirStoreServices): Promise<OpenedStore> {
  let recovery: StoreRecovery | null = null;
  const noteRecovery = (r: StoreRecovery | null) => {
    if (r) recovery = r;
  };
  await svc.lock('exclusive', async () => noteRecovery((await repair(base)).recovery));

  /** The current manifest (another context may have changed it); repaired if it went bad. */
  const load = async (): Promise<Manifest> => {
    const text = await readText(base, MANIFEST);
    const p = text === null ? null : parseManifest(text);
    if (p && p.readable && p.problems.length === 0) return p.manifest;
    const r = await repair(base);
    noteRecovery(r.recovery);
    return r.manifest;
  };
  const save = (m: Manifest) => writeAtomic(base, MANIFEST, utf8(JSON.stringify(m)));

  return {
    backend: 'opfs',
    get recovery() {
      return recovery;
    },
    list: () => svc.lock('exclusive', async () => (await load()).entries.map(publicEntry).sort(byCreated)),

    put: async (entry, files) => {
      const { rec, copies } = prepareRecord(entry, files, nonce());
      return svc.lock('exclusive', async () => {
        const m = await load();
        try {
          const dir = await base.getDirectoryHandle(rec.dir, { create: true });
          for (const [name, bytes] of Object.entries(copies)) await writeAtomic(dir, name, bytes);
          await writeAtomic(dir, ENTRY_JSON, utf8(JSON.stringify(rec)));
          const old = m.entries.find((e) => e.id === rec.id);
          await save({ ...m, entries: [...m.entries.filter((e) => e.id !== rec.id), rec] }); // the commit
          if (old) await removeQuiet(base, old.dir);
        } catch (e) {
          await removeQuiet(base, rec.dir);
          throw storageError(e, `Storing '${rec.name}'`, rec.bytes);
        }
        svc.notify();
        return publicEntry(rec);
      });
    },

    get: (id) =>
      svc.lock('exclusive', async () => {
        const rec = (await load()).entries.find((e) => e.id === id);
        if (!rec) throw notStored(id);
        const missing = (e: unknown) =>
          isNotFound(e)
            ? new NibbleError(
                'truncated',
                `stored '${rec.name}': its files are missing from browser storage. Delete it and store it again.`,
              )
            : e;
        const dir = await base.getDirectoryHandle(rec.dir).catch((e: unknown) => Promise.reject(missing(e)));
        const files: Record<string, Uint8Array> = {};
        for (const [name, size] of Object.entries(rec.files)) {
          const handle = await dir.getFileHandle(name).catch((e: unknown) => Promise.reject(missing(e)));
          const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
          if (bytes.byteLength !== size) {
            throw new NibbleError(
              'truncated',
              `stored '${rec.name}': ${name} has ${bytes.byteLength} bytes, the manifest says ${size}. Delete it and store it again.`,
            );
          }
          files[name] = bytes;
        }
        return { entry: publicEntry(rec), files };
      }),

    remove: (id) =>
      svc.lock('exclusive', async () => {
        const m = await load();
        const rec = m.entries.find((e) => e.id === id);
        if (!rec) return;
        await save({ ...m, entries: m.entries.filter((e) => e.id !== id) });
        await removeQuiet(base, rec.dir);
        svc.notify();
      }),

    quota: async () => {
      const est = await svc.estimate();
      if (est) return est;
      const entries = await svc.lock('exclusive', async () => (await load()).entries);
      return { usage: entries.reduce((s, e) => s + e.bytes, 0), quota: 0 };
    },
  };
}

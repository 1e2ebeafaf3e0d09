// The stored-models manifest: its on-disk shape, and validation that turns whatever is on disk
// into records we can trust (anything else is dropped and reported, never thrown at the page).
//
//   manifest.json = { "format": "nibble-store", "version": 1, "entries": [ManifestRecord, …] }
//   ManifestRecord = StoredEntry + { dir: "e-<id>-<nonce>", files: { "<file name>": byteLength } }
// Each entry directory also holds `entry.json` (its own record), so a lost or corrupt manifest can
// be rebuilt from the directories whose files are complete.
import { NibbleError } from '../../core/errors.ts';

export type StoredKind = 'model' | 'variant';

export interface StoredEntry {
  id: string;
  kind: StoredKind;
  name: string;
  bytes: number;
  createdAt: number;
  meta?: Record<string, unknown>;
}

export interface ModelStore {
  list(): Promise<StoredEntry[]>;
  put(
    entry: { kind: StoredKind; name: string; meta?: Record<string, unknown>; id?: string },
    files: Record<string, Uint8Array>,
  ): Promise<StoredEntry>;
  get(id: string): Promise<{ entry: StoredEntry; files: Record<string, Uint8Array> }>;
  remove(id: string): Promise<void>;
  quota(): Promise<{ usage: number; quota: number }>;
}

/** What opening found wrong and repaired; the store works either way. */
export interface StoreRecovery {
  code: 'bad-format';
  message: string; // what was wrong and what was kept
  recovered: number; // entries kept
}

export interface OpenedStore extends ModelStore {
  /** 'opfs' or 'memory' (no OPFS in this context). */
  readonly backend: 'opfs' | 'memory';
  /** Set when the manifest had to be repaired on open. */
  readonly recovery: StoreRecovery | null;
}

export interface ManifestRecord extends StoredEntry {
  dir: string; // entry directory under the store's root
  files: Record<string, number>; // file name → byte length
}

export interface Manifest {
  format: 'nibble-store';
  version: 1;
  entries: ManifestRecord[];
}

export const MANIFEST = 'manifest.json';
export const MANIFEST_TMP = 'manifest.json.tmp';
export const ENTRY_JSON = 'entry.json';
export const TMP_SUFFIX = '.tmp';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const DIR_RE = /^e-[A-Za-z0-9._-]{1,140}$/;

export const emptyManifest = (): Manifest => ({ format: 'nibble-store', version: 1, entries: [] });

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Throws bad-argument unless `id` is a safe entry id (letters, digits, `._-`, ≤ 100 chars). */
export function checkId(id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new NibbleError(
      'bad-argument',
      `stored entry id '${String(id)}' must be 1–100 letters, digits, '.', '_' or '-'`,
    );
  }
}

/** Throws bad-argument unless `name` can be a file name inside an entry. */
export function checkFileName(name: string): void {
  if (!FILE_RE.test(name) || name === ENTRY_JSON || name.endsWith(TMP_SUFFIX)) {
    throw new NibbleError(
      'bad-argument',
      `stored file name '${name}' must be letters, digits, '.', '_' or '-' (not '${ENTRY_JSON}', not ending in '${TMP_SUFFIX}')`,
    );
  }
}

/** Validates one record; returns a clean copy or a reason it is unusable. */
export function validateRecord(v: unknown): ManifestRecord | string {
  if (!isPlainObject(v)) return 'not an object';
  const { id, kind, name, bytes, createdAt, meta, dir, files } = v;
  if (typeof id !== 'string' || !ID_RE.test(id)) return `bad id ${JSON.stringify(id)}`;
  if (kind !== 'model' && kind !== 'variant') return `entry ${id}: bad kind ${JSON.stringify(kind)}`;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) return `entry ${id}: bad name`;
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) return `entry ${id}: bad createdAt`;
  if (meta !== undefined && !isPlainObject(meta)) return `entry ${id}: meta is not an object`;
  if (typeof dir !== 'string' || !DIR_RE.test(dir)) return `entry ${id}: bad directory name`;
  if (!isPlainObject(files) || Object.keys(files).length === 0) return `entry ${id}: no files`;
  let total = 0;
  for (const [f, n] of Object.entries(files)) {
    if (!FILE_RE.test(f) || f === ENTRY_JSON || f.endsWith(TMP_SUFFIX))
      return `entry ${id}: bad file name ${JSON.stringify(f)}`;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return `entry ${id}: bad size for ${f}`;
    total += n;
  }
  if (bytes !== total) return `entry ${id}: bytes ${String(bytes)} ≠ sum of its files ${total}`;
  const rec: ManifestRecord = {
    id,
    kind,
    name,
    bytes: total,
    createdAt,
    dir,
    files: { ...(files as Record<string, number>) },
  };
  if (meta !== undefined) rec.meta = meta;
  return rec;
}

export interface ParsedManifest {
  manifest: Manifest;
  /** Why records (or the whole file) were dropped; empty when the file was clean. */
  problems: string[];
  /** False when the file is not a manifest at all (not JSON, wrong format tag). */
  readable: boolean;
}

/** Parses manifest text. Bad records are dropped (listed in `problems`); duplicate ids keep the newest. */
export function parseManifest(text: string): ParsedManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { manifest: emptyManifest(), problems: [`manifest is not JSON (${(e as Error).message})`], readable: false };
  }
  if (!isPlainObject(raw) || raw.format !== 'nibble-store' || !Array.isArray(raw.entries)) {
    return {
      manifest: emptyManifest(),
      problems: ['manifest has no nibble-store header or entry list'],
      readable: false,
    };
  }
  if (raw.version !== 1) {
    return {
      manifest: emptyManifest(),
      problems: [`manifest version ${String(raw.version)} is not supported (expected 1)`],
      readable: false,
    };
  }
  const problems: string[] = [];
  const byId = new Map<string, ManifestRecord>();
  const dirs = new Set<string>();
  for (const v of raw.entries) {
    const r = validateRecord(v);
    if (typeof r === 'string') {
      problems.push(r);
      continue;
    }
    if (dirs.has(r.dir)) {
      problems.push(`entry ${r.id}: directory ${r.dir} is used twice`);
      continue;
    }
    const prev = byId.get(r.id);
    if (prev) problems.push(`entry ${r.id} appears twice; the newer one is kept`);
    if (!prev || prev.createdAt <= r.createdAt) byId.set(r.id, r);
    dirs.add(r.dir);
  }
  return { manifest: { ...emptyManifest(), entries: [...byId.values()] }, problems, readable: true };
}

/** The public view of a record (no directory or file table). */
export function publicEntry(r: ManifestRecord): StoredEntry {
  const e: StoredEntry = { id: r.id, kind: r.kind, name: r.name, bytes: r.bytes, createdAt: r.createdAt };
  if (r.meta !== undefined) e.meta = r.meta;
  return e;
}

/** A short random suffix for ids and directory names. */
export function nonce(): string {
  const c = globalThis.crypto;
  if (c?.getRandomValues) {
    const b = c.getRandomValues(new Uint8Array(6));
    return Array.from(b, (x) => x.toString(36).padStart(2, '0')).join('');
  }
  return Math.random().toString(36).slice(2, 12);
}

export const newId = (kind: StoredKind): string => `${kind}-${Date.now().toString(36)}-${nonce()}`;

export const byCreated = (a: StoredEntry, b: StoredEntry): number =>
  a.createdAt - b.createdAt || a.id.localeCompare(b.id);

export const notStored = (id: string): NibbleError =>
  new NibbleError('bad-argument', `no stored model or variant has id '${id}' (it may have been deleted)`);

/** Validates a put and builds its record (files copied so the caller may reuse its buffers). */
export function prepareRecord(
  entry: { kind: StoredKind; name: string; meta?: Record<string, unknown>; id?: string },
  files: Record<string, Uint8Array>,
  dirNonce: string,
): { rec: ManifestRecord; copies: Record<string, Uint8Array> } {
  if (entry.kind !== 'model' && entry.kind !== 'variant')
    throw new NibbleError('bad-argument', `stored kind '${String(entry.kind)}' must be 'model' or 'variant'`);
  if (typeof entry.name !== 'string' || entry.name.trim() === '' || entry.name.length > 200)
    throw new NibbleError('bad-argument', 'a stored entry needs a name of 1–200 characters');
  const id = entry.id ?? newId(entry.kind);
  checkId(id);
  const names = Object.keys(files);
  if (names.length === 0) throw new NibbleError('bad-argument', `stored entry '${entry.name}' has no files`);
  const copies: Record<string, Uint8Array> = {};
  const sizes: Record<string, number> = {};
  let bytes = 0;
  for (const n of names) {
    checkFileName(n);
    const f = files[n];
    if (!(f instanceof Uint8Array)) throw new NibbleError('bad-argument', `stored file '${n}' is not a Uint8Array`);
    copies[n] = f.slice();
    sizes[n] = f.byteLength;
    bytes += f.byteLength;
  }
  let meta: Record<string, unknown> | undefined;
  if (entry.meta !== undefined) {
    try {
      meta = JSON.parse(JSON.stringify(entry.meta)) as Record<string, unknown>;
    } catch (e) {
      throw new NibbleError('bad-argument', `the meta of '${entry.name}' is not JSON data: ${(e as Error).message}`);
    }
  }
  const rec: ManifestRecord = {
    id,
    kind: entry.kind,
    name: entry.name,
    bytes,
    createdAt: Date.now(),
    dir: `e-${id}-${dirNonce}`,
    files: sizes,
  };
  if (meta !== undefined) rec.meta = meta;
  return { rec, copies };
}

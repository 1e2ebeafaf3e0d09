// The user's files → SourceFile[] (path relative to the chosen folder, the Blob itself: no bytes
// are read here). Three ways in: a file input (multi-select, or `webkitdirectory`, whose files
// carry webkitRelativePath), a drop (FileSystemEntry trees from DataTransferItem.webkitGetAsEntry,
// or File System Access handles), and window.showDirectoryPicker (a directory handle).
// Hidden files and folders (.git, .DS_Store, .cache) are skipped: a cloned HF repo's .git holds a
// second copy of every weight. DOM-free apart from the structural types below, so Node tests
// drive it with fakes.
import type { SourceFile } from '../../state/types.ts';

/** Hidden entries are never part of a model (".git", ".gitattributes", ".DS_Store"). */
export const isHidden = (name: string): boolean => name.startsWith('.');

/** Any file the user chose: webkitRelativePath is set (non-empty) for `webkitdirectory` inputs. */
interface PickedFile extends Blob {
  readonly name: string;
  readonly webkitRelativePath?: string;
}

/**
 * Removes the leading folders every path shares ("stories260K-hf/config.json" → "config.json").
 * Returns the stripped files and the innermost folder removed (the model's natural name), or
 * null when the paths share none. A lone file keeps its name.
 */
export function stripCommonRoot(files: readonly SourceFile[]): { files: SourceFile[]; root: string | null } {
  let parts = files.map((f) => f.path.split('/').filter(Boolean));
  let root: string | null = null;
  while (parts.length > 0 && parts.every((p) => p.length > 1 && p[0] === parts[0][0])) {
    root = parts[0][0];
    parts = parts.map((p) => p.slice(1));
  }
  return { files: files.map((f, i) => ({ path: parts[i].join('/'), blob: f.blob })), root };
}

/** Files from an <input type=file> (multi-select or webkitdirectory), hidden paths dropped. */
export function filesFromList(list: Iterable<PickedFile>): SourceFile[] {
  const out: SourceFile[] = [];
  for (const f of list) {
    const path = f.webkitRelativePath || f.name;
    if (path.split('/').some(isHidden)) continue;
    out.push({ path, blob: f });
  }
  return out;
}

// ---- drag and drop: FileSystemEntry (webkitGetAsEntry) ----

/** The parts of FileSystemEntry the walker uses (Chromium, Firefox and Safari all have them). */
export interface EntryLike {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  file?(ok: (f: File) => void, fail?: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: EntryLike[]) => void, fail?: (e: unknown) => void): void };
}

const fileOf = (e: EntryLike): Promise<File> => new Promise((ok, fail) => e.file!(ok, fail));

/** All children of a directory entry: readEntries answers in batches (100 in Chromium) until empty. */
async function childrenOf(dir: EntryLike): Promise<EntryLike[]> {
  const reader = dir.createReader!();
  const all: EntryLike[] = [];
  for (;;) {
    const batch = await new Promise<EntryLike[]>((ok, fail) => reader.readEntries(ok, fail));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/** Every file under the dropped entries, paths relative to the drop ("folder/sub/file"). */
export async function walkEntries(entries: readonly EntryLike[], prefix = ''): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const e of entries) {
    if (isHidden(e.name)) continue;
    const path = prefix + e.name;
    if (e.isFile) out.push({ path, blob: await fileOf(e) });
    else if (e.isDirectory) out.push(...(await walkEntries(await childrenOf(e), `${path}/`)));
  }
  return out;
}

// ---- File System Access API: showDirectoryPicker / getAsFileSystemHandle ----

/** The parts of FileSystemHandle the walker uses. */
export type HandleLike =
  | { readonly kind: 'file'; readonly name: string; getFile(): Promise<File> }
  | { readonly kind: 'directory'; readonly name: string; values(): AsyncIterable<HandleLike> };

/** Every file under `handle`; a directory handle's own name is the first path segment. */
export async function walkHandle(handle: HandleLike, prefix = ''): Promise<SourceFile[]> {
  if (isHidden(handle.name)) return [];
  const path = prefix + handle.name;
  if (handle.kind === 'file') return [{ path, blob: await handle.getFile() }];
  const out: SourceFile[] = [];
  for await (const child of handle.values()) out.push(...(await walkHandle(child, `${path}/`)));
  return out;
}

/** Tokenizer-looking names: the file that is not the model when the user picks two. */
const TOKENIZER_NAME = /(tokenizer|tok\d*|vocab)[^/]*\.(bin|json|model)$/i;

/**
 * The name the model goes by: the folder's, else the largest file that is not a tokenizer
 * ("stories.bin" beside "tok512.bin"), else the largest file.
 */
export function nameForFiles(files: readonly SourceFile[], root: string | null): string {
  if (root) return root;
  const bySize = [...files].sort((a, b) => b.blob.size - a.blob.size);
  const best = bySize.find((f) => !TOKENIZER_NAME.test(f.path)) ?? bySize[0];
  return best ? best.path.split('/').pop()! : 'model';
}

/** Files (already relative to one folder or a drop) → what the store takes: stripped paths and a name. */
export function prepareFiles(files: readonly SourceFile[]): { files: SourceFile[]; name: string } {
  const stripped = stripCommonRoot(files);
  return { files: stripped.files, name: nameForFiles(stripped.files, stripped.root) };
}

/**
 * The files of a drop. Must be called synchronously in the drop handler: DataTransferItems are
 * only readable during the event. Uses webkitGetAsEntry (folders included), else the plain files.
 */
export function collectDrop(dt: DataTransfer): Promise<SourceFile[]> {
  const items = [...dt.items].filter((i) => i.kind === 'file');
  const entries = items.map((i) => i.webkitGetAsEntry?.() as EntryLike | null | undefined);
  if (entries.length > 0 && entries.every((e) => e)) return walkEntries(entries as EntryLike[]);
  return Promise.resolve(filesFromList([...dt.files]));
}

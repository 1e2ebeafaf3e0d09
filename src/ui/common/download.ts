// Saving bytes the engine made (exports) on the user's machine. One file: a download (Blob +
// object URL + <a download>, the URL revoked once the browser has taken it). Several files that
// belong together (a GPTQ checkpoint: model.safetensors + quantize_config.json + config.json,
// names AutoGPTQ loads): into a folder the user picks when the browser has showDirectoryPicker
// (Chromium), else one download each. The only DOM code of the export path (the store returns
// plain ExportedFiles).
import type { ExportedFiles } from '../../state/lab-types.ts';

type Bytes = ArrayBuffer | Uint8Array;

/** Starts the download of one file. */
export function downloadBytes(name: string, mime: string, bytes: Bytes): void {
  const blob = new Blob([bytes instanceof Uint8Array ? bytes.slice() : bytes], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The browser resolves the URL when the download starts; keep it a while for slow starts.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The File System Access API as far as this file uses it (not in every DOM lib). */
interface WritableDir {
  getDirectoryHandle(name: string, opts: { create: boolean }): Promise<WritableDir>;
  getFileHandle(
    name: string,
    opts: { create: boolean },
  ): Promise<{ createWritable(): Promise<{ write(data: Blob): Promise<void>; close(): Promise<void> }> }>;
}
type DirectoryPicker = (opts?: { id?: string; mode?: 'read' | 'readwrite' }) => Promise<WritableDir>;

/** Whether several files can go into a folder the user picks (else they download one by one). */
export const canPickFolder = (): boolean =>
  typeof (globalThis as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';

export type SaveOutcome = { how: 'download' | 'downloads' } | { how: 'folder'; folder: string } | { how: 'cancelled' };

const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Saves an export. Multi-file exports go into `<picked folder>/<exp.folder>/` when a folder can
 * be picked (cancelling the picker saves nothing); where it cannot, or the picker is refused
 * (e.g. a sandboxed frame), each file downloads on its own under its canonical name.
 */
export async function saveExportedFiles(exp: ExportedFiles): Promise<SaveOutcome> {
  if (exp.files.length === 1) {
    const [f] = exp.files;
    downloadBytes(f.name, f.mime, f.bytes);
    return { how: 'download' };
  }
  if (canPickFolder()) {
    const pick = (globalThis as unknown as { showDirectoryPicker: DirectoryPicker }).showDirectoryPicker;
    let root: WritableDir | null = null;
    try {
      root = await pick({ id: 'nibble-export', mode: 'readwrite' });
    } catch (e) {
      if (isAbort(e)) return { how: 'cancelled' };
    }
    if (root) {
      const folder = exp.folder ?? exp.format;
      const dir = await root.getDirectoryHandle(folder, { create: true });
      for (const f of exp.files) {
        const w = await (await dir.getFileHandle(f.name, { create: true })).createWritable();
        await w.write(new Blob([f.bytes], { type: f.mime }));
        await w.close();
      }
      return { how: 'folder', folder };
    }
  }
  for (const [i, f] of exp.files.entries()) {
    if (i > 0) await pause(250); // browsers drop downloads started in the same instant
    downloadBytes(f.name, f.mime, f.bytes);
  }
  return { how: 'downloads' };
}

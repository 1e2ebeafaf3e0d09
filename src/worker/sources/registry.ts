// The files one load (or inspect) reads, whatever they come from (Blobs, HTTP, bytes in
// memory): each is opened once, its size added to the progress total, every byte read counted
// into the load's ProgressTracker with its phase, and every read refused once the load is
// cancelled. Reads made while `caching` (the header pass that precedes a load: inspect) are kept
// and served again to the load, so headers are read once; tensor data is never cached.
import { NibbleError } from '../../core/errors.ts';
import type { RangeReader } from '../../core/formats/safetensors.ts';
import type { ModelPlan } from '../engine-host/protocol.ts';
import type { LoadPhase, ProgressTracker } from './progress.ts';

export type FileRole = ModelPlan['files'][number]['role'];

/** Counts `bytes` read at `offset` of one file (readers that stream call it as bytes arrive). */
export type Count = (bytes: number, offset: number) => void;

/** Opens one file: a reader that calls `count` for every byte it reads; undefined when absent. */
export type Opener = (count: Count) => Promise<RangeReader | undefined>;

export const cancelledError = () => new NibbleError('cancelled', 'the load was cancelled');

/** A RangeReader over a Blob (a File from a picker or a drop): slice() reads only the range. */
export function blobReader(blob: Blob, count: Count): RangeReader {
  return {
    size: blob.size,
    async read(offset, length) {
      const end = Math.min(blob.size, offset + length);
      if (end <= offset) return new Uint8Array(0);
      const bytes = new Uint8Array(await blob.slice(offset, end).arrayBuffer());
      count(bytes.byteLength, offset);
      return bytes;
    },
  };
}

/** A RangeReader over bytes in memory, counting what is read (views, not copies). */
export function memoryReader(bytes: Uint8Array, count: Count): RangeReader {
  return {
    size: bytes.byteLength,
    async read(offset, length) {
      const out = bytes.subarray(offset, Math.min(bytes.byteLength, offset + length));
      count(out.byteLength, offset);
      return out;
    },
  };
}

/** Which phase a read of a file of this role belongs to. */
function phaseOf(role: FileRole, path: string, offset: number, files: SourceFiles): LoadPhase {
  if (role === 'tokenizer') return 'tokenizer';
  if (role !== 'weights') return 'headers';
  // A safetensors file is its 8-byte length, its JSON header, then tensor data; a checkpoint's
  // header pass ends when its loader says so (weightsStarted).
  if (path.endsWith('.safetensors')) return offset <= 8 ? 'headers' : 'weights';
  return files.weightsStarted ? 'weights' : 'headers';
}

export class SourceFiles {
  /** Set by the loader when the checkpoint's headers are read and its tensor data follows. */
  weightsStarted = false;
  /** While true, reads are kept for the load that follows (the header pass). */
  caching = false;
  /** Time spent waiting for reads (the network, for remote sources). */
  readMs = 0;
  private readonly opened = new Map<string, Promise<RangeReader | undefined>>();
  private readonly found: ModelPlan['files'] = [];
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly tracker: ProgressTracker,
    private readonly signal?: AbortSignal,
  ) {}

  /** Throws 'cancelled' once the load's signal has aborted. */
  check(): void {
    if (this.signal?.aborted) throw cancelledError();
  }

  /** The files opened so far, with their sizes and roles (for the plan). */
  list(): ModelPlan['files'] {
    return this.found.map((f) => ({ ...f }));
  }

  /** Opens `path` once (later calls share the reader); undefined when the opener finds nothing. */
  open(path: string, role: FileRole, opener: Opener): Promise<RangeReader | undefined> {
    let p = this.opened.get(path);
    if (!p) {
      p = this.openOnce(path, role, opener);
      this.opened.set(path, p);
    }
    return p;
  }

  private async openOnce(path: string, role: FileRole, opener: Opener): Promise<RangeReader | undefined> {
    this.check();
    const count: Count = (bytes, offset) => this.tracker.add(bytes, phaseOf(role, path, offset, this), path);
    const t0 = globalThis.performance.now();
    const inner = await opener(count);
    this.readMs += globalThis.performance.now() - t0;
    this.check();
    if (!inner) return undefined;
    this.found.push({ path, bytes: inner.size, role });
    this.tracker.addTotal(inner.size);
    return {
      size: inner.size,
      read: async (offset, length) => {
        this.check();
        const key = `${path}\n${offset}\n${length}`;
        const hit = this.cache.get(key);
        if (hit) return hit;
        const t0 = globalThis.performance.now();
        const bytes = await inner.read(offset, length);
        this.readMs += globalThis.performance.now() - t0;
        this.check();
        if (this.caching) this.cache.set(key, bytes);
        return bytes;
      },
    };
  }

  /** Drops the cached header reads (the load has used them). */
  clearCache(): void {
    this.cache.clear();
    this.caching = false;
  }
}

// An in-memory stand-in for the OPFS handles the store uses (getDirectoryHandle, getFileHandle,
// createWritable — contents appear on close, like Chromium's swap file — removeEntry, keys,
// move), with an operation log and a crash switch: `crashAt = n` makes the n-th mutating
// operation throw, as if the page were reloaded there; the tree keeps what was done before.
import type { DirHandleLike, FileHandleLike, WritableLike } from '../../src/worker/storage/storage-dir.ts';

export type MoveMode = 'move' | 'no-move' | 'no-overwrite';

export class Crash extends Error {
  constructor(op: string) {
    super(`simulated reload during ${op}`);
    this.name = 'Crash';
  }
}

const domError = (name: string, message: string) => Object.assign(new Error(message), { name });

export class FakeFs {
  log: string[] = [];
  ops = 0; // mutating operations so far
  crashAt = Infinity;
  crashed = false; // after the crash every operation fails, as in a page being torn down
  readonly root: FakeDir;
  constructor(public moveMode: MoveMode = 'move') {
    this.root = new FakeDir(this, null, '');
  }
  /** Counts a mutating operation (and crashes if it is the chosen one). */
  step(op: string): void {
    this.ops++;
    if (this.ops === this.crashAt) this.crashed = true;
    if (this.crashed) throw new Crash(op);
    this.log.push(op);
  }
  /** Every path in the tree, directories ending in '/', sorted. */
  paths(): string[] {
    const out: string[] = [];
    const walk = (d: FakeDir, prefix: string) => {
      for (const [n, c] of d.children) {
        if (c instanceof FakeDir) {
          out.push(`${prefix}${n}/`);
          walk(c, `${prefix}${n}/`);
        } else out.push(`${prefix}${n}`);
      }
    };
    walk(this.root, '');
    return out.sort();
  }
}

export class FakeFile implements FileHandleLike {
  data = new Uint8Array(0);
  constructor(
    readonly fs: FakeFs,
    public parent: FakeDir,
    public name: string,
  ) {}
  get path(): string {
    return `${this.parent.path}${this.name}`;
  }
  async getFile() {
    if (this.fs.crashed) throw new Crash(`read ${this.path}`);
    if (this.parent.children.get(this.name) !== this) throw domError('NotFoundError', `${this.path} is gone`);
    const bytes = this.data.slice();
    return {
      size: bytes.byteLength,
      arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      text: async () => new TextDecoder().decode(bytes),
    };
  }
  async createWritable(): Promise<WritableLike> {
    const chunks: Uint8Array[] = [];
    return {
      write: async (d) => {
        this.fs.step(`write ${this.path}`);
        chunks.push(typeof d === 'string' ? new TextEncoder().encode(d) : d.slice());
      },
      close: async () => {
        this.fs.step(`close ${this.path}`);
        const n = chunks.reduce((s, c) => s + c.byteLength, 0);
        const out = new Uint8Array(n);
        let o = 0;
        for (const c of chunks) {
          out.set(c, o);
          o += c.byteLength;
        }
        this.data = out;
      },
      abort: async () => undefined,
    };
  }
}

// `move` exists only in 'move' / 'no-overwrite' modes (the store must cope without it).
function addMove(f: FakeFile): void {
  (f as FileHandleLike).move = async (newName: string) => {
    if (f.fs.moveMode === 'no-overwrite' && f.parent.children.has(newName))
      throw domError('InvalidModificationError', `${newName} exists`);
    f.fs.step(`move ${f.path} -> ${newName}`);
    f.parent.children.delete(f.name);
    f.name = newName;
    f.parent.children.set(newName, f);
  };
}

export class FakeDir implements DirHandleLike {
  readonly children = new Map<string, FakeDir | FakeFile>();
  constructor(
    readonly fs: FakeFs,
    readonly parent: FakeDir | null,
    readonly name: string,
  ) {}
  get path(): string {
    return this.parent ? `${this.parent.path}${this.name}/` : '';
  }
  async getDirectoryHandle(name: string, opt: { create?: boolean } = {}): Promise<FakeDir> {
    if (this.fs.crashed) throw new Crash(`open ${name}`);
    const c = this.children.get(name);
    if (c instanceof FakeDir) return c;
    if (c) throw domError('TypeMismatchError', `${name} is a file`);
    if (!opt.create) throw domError('NotFoundError', `${this.path}${name}/ not found`);
    this.fs.step(`mkdir ${this.path}${name}/`);
    const d = new FakeDir(this.fs, this, name);
    this.children.set(name, d);
    return d;
  }
  async getFileHandle(name: string, opt: { create?: boolean } = {}): Promise<FakeFile> {
    if (this.fs.crashed) throw new Crash(`open ${name}`);
    const c = this.children.get(name);
    if (c instanceof FakeFile) {
      if (this.fs.moveMode !== 'no-move') addMove(c);
      return c;
    }
    if (c) throw domError('TypeMismatchError', `${name} is a directory`);
    if (!opt.create) throw domError('NotFoundError', `${this.path}${name} not found`);
    this.fs.step(`create ${this.path}${name}`);
    const f = new FakeFile(this.fs, this, name);
    this.children.set(name, f);
    if (this.fs.moveMode !== 'no-move') addMove(f);
    return f;
  }
  async removeEntry(name: string, opt: { recursive?: boolean } = {}): Promise<void> {
    const c = this.children.get(name);
    if (!c) throw domError('NotFoundError', `${this.path}${name} not found`);
    if (c instanceof FakeDir && c.children.size > 0 && !opt.recursive)
      throw domError('InvalidModificationError', `${name} is not empty`);
    this.fs.step(`remove ${this.path}${name}`);
    this.children.delete(name);
  }
  async *keys(): AsyncIterable<string> {
    for (const k of [...this.children.keys()]) yield k;
  }
  /** Test helpers (synchronous, not counted). */
  file(path: string): FakeFile | undefined {
    const parts = path.split('/');
    let d: FakeDir | undefined = self(this);
    for (const p of parts.slice(0, -1)) {
      const c: FakeDir | FakeFile | undefined = d?.children.get(p);
      d = c instanceof FakeDir ? c : undefined;
    }
    const f = d?.children.get(parts[parts.length - 1]);
    return f instanceof FakeFile ? f : undefined;
  }
  writeNow(path: string, content: string | Uint8Array): void {
    const parts = path.split('/');
    let d: FakeDir = self(this);
    for (const p of parts.slice(0, -1)) {
      let c = d.children.get(p);
      if (!(c instanceof FakeDir)) {
        c = new FakeDir(this.fs, d, p);
        d.children.set(p, c);
      }
      d = c;
    }
    const name = parts[parts.length - 1];
    const f = new FakeFile(this.fs, d, name);
    f.data = typeof content === 'string' ? new TextEncoder().encode(content) : content.slice();
    d.children.set(name, f);
  }
}

const self = (d: FakeDir): FakeDir => d;

// Seeded GGUF fuzzing shared by test/unit/gguf-fuzz.test.ts (a bounded count in `npm test`) and
// scripts/fuzz-gguf.mjs (10,000 cases). Mutations of a real GGUF file, aimed by a map of its
// fields: bit flips, truncations, header fields set to huge/negative/edge values, tensor offsets
// made to overlap or misalign, wrong tensor/metadata type ids, spliced and inserted bytes.
// Each case must end in a NibbleError or a model that runs a forward step and tokenizes text;
// never another exception, more than 2 s, or one allocation larger than the (mutated) file —
// typed-array and ArrayBuffer constructors are wrapped while the loader runs to measure that
// (views and slices of the file cannot exceed it; nothing else in the loader allocates by a count).
import { isNibbleError } from '../../src/core/errors.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { describeCheckpoint } from '../../src/core/formats/model-inspect.ts';
import { bytesReader, openCheckpoint } from '../../src/core/formats/model-open.ts';

export interface FieldMap {
  u64: number[]; // counts, string/array lengths, tensor dims, tensor offsets
  u32: number[]; // value types, array element types, n_dims, tensor types
  tensorOffsets: number[]; // positions of each tensor's u64 offset
  tensorTypes: number[];
  kvTypes: number[];
  dataStart: number;
}

/** Walks a valid GGUF and records where each field lives (independent of the reader under test). */
export function mapFields(b: Uint8Array): FieldMap {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const m: FieldMap = { u64: [8, 16], u32: [4], tensorOffsets: [], tensorTypes: [], kvTypes: [], dataStart: 0 };
  let p = 24;
  const u32 = () => ((p += 4), dv.getUint32(p - 4, true));
  const u64 = () => ((p += 8), Number(dv.getBigUint64(p - 8, true)));
  const str = () => {
    m.u64.push(p);
    const n = u64();
    p += n;
  };
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (t: number): void => {
    if (t === 8) return void str();
    if (t === 9) {
      m.u32.push(p);
      const et = u32();
      m.u64.push(p);
      const n = u64();
      if (SIZES[et]) p += n * SIZES[et];
      else for (let i = 0; i < n; i++) value(et);
      return;
    }
    p += SIZES[t];
  };
  const nTensors = Number(dv.getBigUint64(8, true));
  const nKv = Number(dv.getBigUint64(16, true));
  for (let i = 0; i < nKv; i++) {
    str();
    m.u32.push(p);
    m.kvTypes.push(p);
    value(u32());
  }
  for (let i = 0; i < nTensors; i++) {
    str();
    m.u32.push(p);
    const nd = u32();
    for (let d = 0; d < nd; d++) {
      m.u64.push(p);
      p += 8;
    }
    m.u32.push(p);
    m.tensorTypes.push(p);
    p += 4;
    m.u64.push(p);
    m.tensorOffsets.push(p);
    p += 8;
  }
  m.dataStart = Math.ceil(p / 32) * 32;
  return m;
}

export interface Mutation {
  kind: string;
  bytes: Uint8Array;
}

const U64_VALUES = [
  0n,
  1n,
  2n ** 31n - 1n,
  2n ** 32n,
  2n ** 40n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n - 2n,
];
const U32_VALUES = [0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 14, 30, 31, 255, 2 ** 31, 2 ** 32 - 1];

/** One seeded mutation of `orig`. */
export function mutate(orig: Uint8Array, map: FieldMap, rnd: () => number): Mutation {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const int = (n: number) => Math.floor(rnd() * n);
  const b = orig.slice();
  const dv = new DataView(b.buffer);
  const headerPos = () => int(Math.min(map.dataStart, b.length));
  // Field writes after an earlier truncation (in 'multi') may fall off the end: skip those.
  const set64 = (at: number, v: bigint) => at + 8 <= b.length && dv.setBigUint64(at, v, true);
  const set32 = (at: number, v: number) => at + 4 <= b.length && dv.setUint32(at, v, true);
  const get64 = (at: number) => (at + 8 <= b.length ? dv.getBigUint64(at, true) : 0n);
  const kinds = [
    'bitflip',
    'bitflip',
    'truncate',
    'u64',
    'u64',
    'u32',
    'offset',
    'tensor-type',
    'kv-type',
    'splice',
    'insert',
    'delete',
    'multi',
  ];
  const kind = pick(kinds);
  switch (kind) {
    case 'bitflip': {
      for (let i = 1 + int(4); i > 0; i--) {
        const at = rnd() < 0.8 ? headerPos() : int(b.length);
        if (at < b.length) b[at] ^= 1 << int(8);
      }
      return { kind, bytes: b };
    }
    case 'truncate':
      return { kind, bytes: b.slice(0, rnd() < 0.7 ? headerPos() : int(b.length)) };
    case 'u64': {
      const at = pick(map.u64);
      const v = rnd() < 0.8 ? pick(U64_VALUES) : BigInt(int(2 ** 32)) * BigInt(1 + int(4));
      set64(at, rnd() < 0.15 ? BigInt(orig.length) + BigInt(int(3)) - 1n : v);
      return { kind, bytes: b };
    }
    case 'u32':
      set32(pick(map.u32), rnd() < 0.7 ? pick(U32_VALUES) : int(64));
      return { kind, bytes: b };
    case 'offset': {
      const [a, c] = [pick(map.tensorOffsets), pick(map.tensorOffsets)];
      const other = get64(c);
      const choice = int(4);
      const v = choice === 0 ? other : choice === 1 ? other + 32n : choice === 2 ? get64(a) + 1n : other - 32n;
      set64(a, BigInt.asUintN(64, v));
      return { kind, bytes: b };
    }
    case 'tensor-type':
      set32(pick(map.tensorTypes), int(40));
      return { kind, bytes: b };
    case 'kv-type':
      set32(pick(map.kvTypes), int(16));
      return { kind, bytes: b };
    case 'splice': {
      const len = 1 + int(64);
      const from = headerPos();
      b.copyWithin(headerPos(), from, Math.min(from + len, map.dataStart));
      return { kind, bytes: b };
    }
    case 'insert': {
      const at = headerPos();
      const extra = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b.subarray(0, at));
      out.set(extra, at);
      out.set(b.subarray(at), at + extra.length);
      return { kind, bytes: out };
    }
    case 'delete': {
      const n = Math.min(1 + int(16), b.length);
      const at = Math.min(headerPos(), b.length - n);
      const out = new Uint8Array(b.length - n);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + n), at);
      return { kind, bytes: out };
    }
    default: {
      // several of the above in a row
      let m: Mutation = { kind, bytes: b };
      for (let i = 2 + int(3); i > 0; i--) m = mutate(m.bytes, map, rnd);
      return { kind: 'multi', bytes: m.bytes };
    }
  }
}

const TRACKED = [
  'ArrayBuffer',
  'Uint8Array',
  'Int8Array',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

/** Runs fn with the typed-array constructors wrapped; returns its result and the largest allocation (bytes). */
export function trackAllocations<T>(fn: () => T): { result: T; maxAlloc: number } {
  const t = installTracker();
  try {
    return { result: fn(), maxAlloc: t.max() };
  } finally {
    t.restore();
  }
}

/** trackAllocations for an async loader (the probe stays installed across its awaits). */
export async function trackAllocationsAsync<T>(fn: () => Promise<T>): Promise<{ result: T; maxAlloc: number }> {
  const t = installTracker();
  try {
    const result = await fn();
    return { result, maxAlloc: t.max() };
  } finally {
    t.restore();
  }
}

function installTracker(): { max(): number; restore(): void } {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = TRACKED.map((n) => g[n]);
  let maxAlloc = 0;
  TRACKED.forEach((name, i) => {
    const target = saved[i] as { BYTES_PER_ELEMENT?: number } & (new (...a: unknown[]) => unknown);
    const per = target.BYTES_PER_ELEMENT ?? 1;
    const proxy: unknown = new Proxy(target, {
      construct(t, args, newTarget) {
        const a = args[0];
        const n =
          typeof a === 'number'
            ? a * per
            : a && typeof a === 'object' && !(a instanceof (saved[0] as typeof ArrayBuffer)) && 'length' in a
              ? Number((a as { length: number }).length) * per
              : 0;
        maxAlloc = Math.max(maxAlloc, n);
        return Reflect.construct(t, args, newTarget === proxy ? t : newTarget);
      },
    });
    g[name] = proxy;
  });
  return { max: () => maxAlloc, restore: () => TRACKED.forEach((name, i) => (g[name] = saved[i])) };
}

export interface CaseResult {
  outcome: string; // 'model' or the NibbleError code
  ms: number;
  maxAlloc: number;
}

/** Loads one mutated file; rethrows anything that is not a NibbleError. A loaded model must run. */
export function runCase(bytes: Uint8Array): CaseResult {
  const t0 = performance.now();
  const { result, maxAlloc } = trackAllocations(() => {
    try {
      return loadGguf(bytes);
    } catch (e) {
      if (isNibbleError(e)) return e.code;
      throw e;
    }
  });
  const ms = performance.now() - t0;
  if (typeof result === 'string') return { outcome: result, ms, maxAlloc };
  // A model that loads must be usable: one forward step (short KV cache) and the tokenizer.
  const { config, weights } = result.model;
  const logits = new CpuForward({ config: { ...config, seqLen: 4 }, weights }).forward(
    [1, Math.min(5, config.vocabSize - 1)],
    0,
  );
  if (logits.length !== config.vocabSize)
    throw new Error(`forward returned ${logits.length} logits for a vocabulary of ${config.vocabSize}`);
  result.tokenizer.decode(result.tokenizer.encode('Once upon a time, ünïcode 🦙', { bos: true, eos: true }));
  return { outcome: 'model', ms, maxAlloc };
}

/**
 * The page's path for the same bytes: the header-only description (inspect) and the ranged load
 * (one tensor at a time) over a RangeReader. Each must end typed; a file the whole-bytes loader
 * (runCase) accepts must also load here, to the same logits, and be described.
 */
export async function runRangedCase(bytes: Uint8Array, whole: string): Promise<CaseResult & { inspect: string }> {
  const reader = bytesReader(bytes);
  const typed = (e: unknown) => {
    if (isNibbleError(e)) return e.code;
    throw e;
  };
  const t0 = performance.now();
  const { result, maxAlloc } = await trackAllocationsAsync(async () => {
    const inspect = await describeCheckpoint(reader).then(() => 'model', typed);
    const opened = await openCheckpoint(reader).catch(typed);
    return { inspect, opened };
  });
  const ms = performance.now() - t0;
  const { inspect, opened } = result;
  const outcome = typeof opened === 'string' ? opened : 'model';
  if (whole === 'model' && (outcome !== 'model' || inspect !== 'model'))
    throw new Error(`loadGguf accepts the file, the ranged path says load ${outcome}, inspect ${inspect}`);
  if (typeof opened !== 'string') {
    const { config, weights } = opened.model;
    const logits = new CpuForward({ config: { ...config, seqLen: 4 }, weights }).forward(
      [1, Math.min(5, config.vocabSize - 1)],
      0,
    );
    if (logits.length !== config.vocabSize)
      throw new Error(`forward returned ${logits.length} logits for a vocabulary of ${config.vocabSize}`);
  }
  return { outcome, inspect, ms, maxAlloc };
}

// Seeded fuzzer for the HF loader (safetensors + config.json + tokenizer.json). Each case mutates
// one file of the real stories260K-hf folder and loads it; the outcome must be a NibbleError or a
// valid model that runs one forward step and round-trips text. Anything else is a failure: another
// exception, a load over 2 s, or one typed-array / ArrayBuffer allocation larger than the largest
// file of the folder (tracked by wrapping the global constructors while the loader runs).
// Used by test/unit/hf-fuzz.test.ts (bounded count) and scripts/fuzz-hf.mjs (10,000).
import { isNibbleError } from '../../src/core/errors.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { loadHfModel, memoryFolder } from '../../src/core/formats/hf/load.ts';
import { describeHfFolder } from '../../src/core/formats/model-inspect.ts';
import { hfFixtureFiles, tensorsOf, writeTensors } from './hf-fixture.ts';
import { seededRandom } from './helpers.ts';

export interface FuzzFailure {
  index: number;
  mutation: string;
  problem: string;
}
export interface FuzzSummary {
  runs: number;
  valid: number; // loaded and ran
  errors: Record<string, number>; // NibbleError code → count
  samples: Record<string, string>; // NibbleError code → the first message seen (for reports)
  byMutation: Record<string, number>;
  failures: FuzzFailure[];
  maxMs: number;
  totalMs: number;
  maxAllocRatio: number; // largest single allocation / largest file, over all runs
}

type Files = Record<string, Uint8Array>;
type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, n: number) => Math.floor(r() * n);
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const WEIRD = [
  -1,
  0,
  1,
  3,
  1.5,
  -(2 ** 31),
  2 ** 31,
  2 ** 32 + 64,
  2 ** 53,
  2 ** 64,
  1e308,
  -1e308,
  '64',
  null,
  true,
  [],
  {},
  [64],
];
const DTYPES = [
  'F64',
  'I32',
  'I64',
  'U8',
  'BOOL',
  'F8_E4M3',
  'f32',
  'F33',
  '',
  'BF16',
  'F16',
  'constructor',
  '__proto__',
  7,
  null,
];

function flipBits(b: Uint8Array, r: Rand, lo: number, hi: number): Uint8Array {
  const out = b.slice();
  for (let k = 1 + int(r, 8); k > 0; k--) out[lo + int(r, Math.max(1, hi - lo))] ^= 1 << int(r, 8);
  return out;
}

/** The safetensors file re-encoded with an edited header (N recomputed, data unchanged). */
function editHeader(
  b: Uint8Array,
  edit: (h: Record<string, Record<string, unknown>>, names: string[]) => void,
): Uint8Array {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  edit(
    h,
    Object.keys(h).filter((k) => k !== '__metadata__'),
  );
  const json = enc(h);
  const out = new Uint8Array(8 + json.length + b.length - 8 - n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(b.subarray(8 + n), 8 + json.length);
  return out;
}

let halfFiles: Uint8Array[] | null = null; // the fixture re-encoded as F16 and BF16 (built once)
const halves = (b: Uint8Array) =>
  (halfFiles ??= [writeTensors(tensorsOf(b), 'F16'), writeTensors(tensorsOf(b), 'BF16')]);

const SAFETENSORS_MUTATIONS: Record<string, (b: Uint8Array, r: Rand) => Uint8Array> = {
  'st:half-precision': (b, r) => {
    const h = pick(r, halves(b));
    return r() < 0.5 ? h : flipBits(h, r, 0, h.length);
  },
  'st:flip-header': (b, r) => flipBits(b, r, 0, 8 + new DataView(b.buffer, b.byteOffset).getUint32(0, true)),
  'st:flip-anywhere': (b, r) => flipBits(b, r, 0, b.length),
  'st:truncate': (b, r) => b.slice(0, int(r, b.length)),
  'st:append': (b, r) => {
    const out = new Uint8Array(b.length + 1 + int(r, 64));
    out.set(b);
    return out;
  },
  'st:header-length': (b, r) => {
    const out = b.slice();
    const v = pick(r, [
      0n,
      1n,
      2n ** 63n,
      2n ** 64n - 1n,
      BigInt(b.length),
      BigInt(b.length - 7),
      BigInt(int(r, b.length)),
      100_000_001n,
    ]);
    new DataView(out.buffer).setBigUint64(0, v, true);
    return out;
  },
  'st:shape': (b, r) =>
    editHeader(b, (h, names) => {
      const e = h[pick(r, names)];
      const shape = e.shape as unknown[];
      const k = int(r, 4);
      if (k === 0) shape[int(r, shape.length)] = pick(r, WEIRD);
      else if (k === 1) shape.push(pick(r, [1, 2, 0, -1]));
      else if (k === 2) shape.pop();
      else e.shape = pick(r, WEIRD);
    }),
  'st:offsets': (b, r) =>
    editHeader(b, (h, names) => {
      const e = h[pick(r, names)];
      const other = h[pick(r, names)].data_offsets as number[];
      const [s, t] = e.data_offsets as number[];
      e.data_offsets = pick(r, [
        [other[0], other[1]],
        [other[0] + 4, t],
        [s, other[1]],
        [t, s],
        [s, t + 4],
        [s - 4, t - 4],
        [s + 4, t + 4],
        [s, 2 ** 53],
        [-s, t],
        [s, t, 0],
        [s],
        [s + 0.5, t],
        `${s},${t}`,
        null,
        [s, 1e308],
      ]);
    }),
  'st:dtype': (b, r) => editHeader(b, (h, names) => void (h[pick(r, names)].dtype = pick(r, DTYPES))),
  'st:entries': (b, r) =>
    editHeader(b, (h, names) => {
      const name = pick(r, names);
      const k = int(r, 4);
      if (k === 0) delete h[name];
      else if (k === 1) h[`${name}.copy`] = { ...h[name] };
      else if (k === 2) [h[`${name}x`], h[name]] = [h[name], undefined as never];
      else h.__metadata__ = pick(r, [{ format: 1 }, [], 'x', { a: 'b' }]) as never;
    }),
};

const CONFIG_KEYS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'vocab_size',
  'max_position_embeddings',
  'rms_norm_eps',
  'head_dim',
  'tie_word_embeddings',
  'bos_token_id',
  'eos_token_id',
  'architectures',
  'rope_parameters',
  'hidden_act',
  'model_type',
  'rope_scaling',
  'attention_bias',
  'use_sliding_window',
  'sliding_window',
];

const CONFIG_MUTATIONS: Record<string, (b: Uint8Array, r: Rand) => Uint8Array> = {
  'cfg:flip': (b, r) => flipBits(b, r, 0, b.length),
  'cfg:truncate': (b, r) => b.slice(0, int(r, b.length)),
  'cfg:value': (b, r) => {
    const c = JSON.parse(new TextDecoder().decode(b));
    c[pick(r, CONFIG_KEYS)] = pick(r, [
      ...WEIRD,
      ['LlamaForCausalLM'],
      ['Qwen2ForCausalLM'],
      ['GPT2LMHeadModel'],
      'silu',
      'gelu',
      'qwen2',
      { rope_type: 'yarn' },
      { rope_theta: -1 },
      { rope_theta: 1e6, rope_type: 'default' },
    ]);
    return enc(c);
  },
  'cfg:delete': (b, r) => {
    const c = JSON.parse(new TextDecoder().decode(b));
    delete c[pick(r, CONFIG_KEYS)];
    return enc(c);
  },
  'cfg:not-object': (_b, r) => enc(pick(r, ['[]', 'null', '7', '"x"', '', '{'])),
};

const TOKENIZER_MUTATIONS: Record<string, (b: Uint8Array, r: Rand) => Uint8Array> = {
  'tok:flip': (b, r) => flipBits(b, r, 0, b.length),
  'tok:truncate': (b, r) => b.slice(0, int(r, b.length)),
  'tok:value': (b, r) => {
    const j = JSON.parse(new TextDecoder().decode(b));
    const k = int(r, 5);
    if (k === 0) j.model.vocab[pick(r, Object.keys(j.model.vocab))] = pick(r, WEIRD);
    else if (k === 1) j.added_tokens[int(r, j.added_tokens.length)].id = pick(r, WEIRD);
    else if (k === 2)
      j[pick(r, ['model', 'decoder', 'pre_tokenizer', 'post_processor', 'normalizer', 'added_tokens'])] = pick(
        r,
        WEIRD,
      );
    else if (k === 3) j.model.merges[int(r, j.model.merges.length)] = pick(r, WEIRD);
    else j.model.type = pick(r, ['Unigram', 'WordPiece', 'X', 7]);
    return enc(j);
  },
};

/** Runs `fn` with typed-array and ArrayBuffer constructors wrapped; returns its result and the largest allocation. */
async function tracked<T>(fn: () => Promise<T>): Promise<{ result: T; maxAlloc: number }> {
  const g = globalThis as unknown as Record<string, unknown>;
  const kinds = {
    ArrayBuffer: 1,
    Uint8Array: 1,
    Int8Array: 1,
    Uint16Array: 2,
    Int16Array: 2,
    Uint32Array: 4,
    Int32Array: 4,
    Float32Array: 4,
    Float64Array: 8,
  } as const;
  const saved = Object.keys(kinds).map((k) => [k, g[k]] as const);
  let maxAlloc = 0;
  for (const [name, per] of Object.entries(kinds)) {
    const target = g[name] as new (...a: unknown[]) => object;
    g[name] = new Proxy(target, {
      construct(t, args) {
        const a = args[0];
        // new X(n) and new X(arrayLike) allocate; new X(buffer, offset, n) is a view (nothing new).
        const n =
          typeof a === 'number' ? a : ArrayBuffer.isView(a) || Array.isArray(a) ? (a as ArrayLike<unknown>).length : 0;
        maxAlloc = Math.max(maxAlloc, n * per);
        return Reflect.construct(t, args);
      },
    });
  }
  try {
    return { result: await fn(), maxAlloc };
  } finally {
    for (const [k, v] of saved) g[k] = v;
  }
}

export async function fuzzHf(count: number, seed: number, onProgress?: (i: number) => void): Promise<FuzzSummary> {
  const base = hfFixtureFiles();
  const r = seededRandom(seed);
  const s: FuzzSummary = {
    runs: 0,
    valid: 0,
    errors: {},
    samples: {},
    byMutation: {},
    failures: [],
    maxMs: 0,
    totalMs: 0,
    maxAllocRatio: 0,
  };
  const groups: [string, Record<string, (b: Uint8Array, r: Rand) => Uint8Array>, number][] = [
    ['model.safetensors', SAFETENSORS_MUTATIONS, 0.6],
    ['config.json', CONFIG_MUTATIONS, 0.28],
    ['tokenizer.json', TOKENIZER_MUTATIONS, 0.12],
  ];
  for (let i = 0; i < count; i++) {
    const u = r();
    const [file, muts] = u < 0.6 ? groups[0] : u < 0.88 ? groups[1] : groups[2];
    const mutation = pick(r, Object.keys(muts));
    const files: Files = { ...base, [file]: muts[mutation](base[file], r) };
    const biggest = Math.max(...Object.values(files).map((f) => f.length), 1);
    s.byMutation[mutation] = (s.byMutation[mutation] ?? 0) + 1;
    const t0 = performance.now();
    let problem: string | null = null;
    try {
      // Odd cases read the safetensors by ranges (ModelFolder.open); each read counts as an allocation.
      let maxRead = 0;
      const folder = memoryFolder(files);
      if (i % 2 === 1) {
        folder.open = async (name) => {
          const b = files[name];
          return (
            b && {
              size: b.length,
              read: async (off: number, len: number) => ((maxRead = Math.max(maxRead, len)), b.slice(off, off + len)),
            }
          );
        };
      }
      // Ranged cases also run the page's header-only inspect first: typed, and never refusing a
      // folder that then loads.
      let inspected = 'skipped';
      const { result, maxAlloc: allocated } = await tracked(async () => {
        if (i % 2 === 1) {
          inspected = await describeHfFolder(folder).then(
            () => 'ok',
            (e: unknown) => {
              if (isNibbleError(e)) return e.code;
              throw e;
            },
          );
        }
        return loadHfModel(folder);
      });
      if (inspected !== 'ok' && inspected !== 'skipped') problem = `loads, but inspect refused it (${inspected})`;
      const maxAlloc = Math.max(allocated, maxRead);
      s.maxAllocRatio = Math.max(s.maxAllocRatio, maxAlloc / biggest);
      if (maxAlloc > biggest) problem = `allocated ${maxAlloc} bytes at once, the largest file has ${biggest}`;
      // A "valid" model must also run and tokenize without untyped failures.
      const ids = result.tokenizer.encode('Once upon a time', { bos: true, eos: false });
      new CpuForward(result.model).forward(
        ids.filter((id) => id < result.model.config.vocabSize).slice(0, Math.min(4, result.model.config.seqLen)),
        0,
      );
      result.tokenizer.decode(ids);
      s.valid++;
    } catch (e) {
      if (isNibbleError(e)) {
        s.errors[e.code] = (s.errors[e.code] ?? 0) + 1;
        s.samples[e.code] ??= `${mutation}: ${e.message}`;
      } else problem = `untyped ${(e as Error)?.name}: ${(e as Error)?.message}`;
    }
    const ms = performance.now() - t0;
    s.totalMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
    if (ms > 2000) problem ??= `took ${ms.toFixed(0)} ms`;
    if (problem) s.failures.push({ index: i, mutation, problem });
    s.runs++;
    onProgress?.(i);
  }
  return s;
}

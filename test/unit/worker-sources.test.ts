// The readers under a page load: HTTP by ranges against a real local server (with and without
// Range support, 404s, a connection cut mid-body), Blobs, the progress tracker, the 'files'
// classifier, 'remote' refs, and the GGUF header read by growing prefixes.
import type { UniformQuantTensor } from '../../src/core/tensor.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNibbleError, NibbleError } from '../../src/core/errors.ts';
import { loadGguf, loadGgufRanged } from '../../src/core/formats/gguf/llama.ts';
import { parseGguf, readGgufHeader } from '../../src/core/formats/gguf/read.ts';
import { loadHfModel, memoryFolder } from '../../src/core/formats/hf/load.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { describeCheckpoint, describeHfFolder } from '../../src/core/formats/model-inspect.ts';
import { describeModelTensors } from '../../src/core/plan/model-tensors.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import type { RangeReader } from '../../src/core/formats/safetensors.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { countParams } from '../../src/worker/sources/model-source.ts';
import { EngineError, type LoadProgress, type SourceFile } from '../../src/worker/engine-host/protocol.ts';
import { MAX_WHOLE_BYTES, openUrl, type HttpOptions } from '../../src/worker/sources/http.ts';
import { checkHfFiles, classifyFiles, stripCommonRoot } from '../../src/worker/sources/local.ts';
import { ProgressTracker } from '../../src/worker/sources/progress.ts';
import { blobReader, SourceFiles } from '../../src/worker/sources/registry.ts';
import { parseRemoteRef, repoFileUrl } from '../../src/worker/sources/resolve.ts';
import { mapFields, mutate } from './gguf-fuzz-lib.ts';
import { hfFixtureFiles, sharded } from './hf-fixture.ts';
import { readProjectFile, seededRandom, stories260K, tok512 } from './helpers.ts';
import { serveFiles, type Served } from './worker-sources-server.ts';

const GGUF = readProjectFile('test/fixtures/stories260K-f32.gguf');
const MODEL = stories260K();
const TOK = tok512();
const http = (o: Partial<HttpOptions> = {}): HttpOptions => ({
  fetch: globalThis.fetch,
  maxWholeBytes: MAX_WHOLE_BYTES,
  ...o,
});

/** The error a promise rejects with: its code and message. */
async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isNibbleError(e) || e instanceof EngineError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a rejection');
}

const part = (b: Uint8Array | string): BlobPart => b as BlobPart;
const file = (path: string, bytes: Uint8Array | string): SourceFile => ({ path, blob: new Blob([part(bytes)]) });

let server: Served;
beforeAll(async () => {
  server = await serveFiles({ 'model.gguf': GGUF, 'small.bin': TOK, 'empty.bin': new Uint8Array(0) });
});
afterAll(() => server.close());

describe('HTTP reader', () => {
  it('probes the size with a 0-0 range, then reads exactly the ranges asked for', async () => {
    let counted = 0;
    const r = (await openUrl(`${server.base}/range/model.gguf`, http(), (n) => (counted += n)))!;
    expect(r.size).toBe(GGUF.byteLength);
    const from = server.log.length;
    const part = await r.read(1000, 5000);
    expect(Buffer.from(part).equals(Buffer.from(GGUF.subarray(1000, 6000)))).toBe(true);
    expect(server.log.slice(from)).toMatchObject([{ range: 'bytes=1000-5999', status: 206, bytes: 5000 }]);
    expect((await r.read(GGUF.byteLength - 10, 100)).byteLength).toBe(10); // clamped at the end, like a file
    expect(counted).toBe(5010);
    const header = await readGgufHeader(r);
    expect(header.tensors.map((t) => t.name)).toEqual(parseGguf(GGUF).tensors.map((t) => t.name));
  });

  it('reads the whole body once when the server ignores Range, sized by Content-Length', async () => {
    let counted = 0;
    const from = server.log.length;
    const r = (await openUrl(`${server.base}/plain/model.gguf`, http(), (n) => (counted += n)))!;
    expect(counted).toBe(GGUF.byteLength);
    expect(Buffer.from(await r.read(0, r.size)).equals(Buffer.from(GGUF))).toBe(true);
    await r.read(100, 100);
    expect(server.log.length - from).toBe(1); // no further requests
  });

  it('refuses a Range-less server without Content-Length, or a file too big to hold whole, with typed errors', async () => {
    const none = await failure(openUrl(`${server.base}/chunked/model.gguf`, http(), () => undefined));
    expect(none.code).toBe('fetch-failed');
    expect(none.message).toContain(`${server.base}/chunked/model.gguf`);
    expect(none.message).toMatch(/Content-Length/);
    const big = await failure(
      openUrl(`${server.base}/plain/model.gguf`, http({ maxWholeBytes: 1000 }), () => undefined),
    );
    expect(big.code).toBe('too-large');
  });

  it('answers 404 as absent for optional files and fetch-failed (URL, status) otherwise', async () => {
    expect(await openUrl(`${server.base}/range/nope.json`, http(), () => undefined, true)).toBeUndefined();
    const e = await failure(openUrl(`${server.base}/range/nope.json`, http(), () => undefined));
    expect(e).toEqual({ code: 'fetch-failed', message: expect.stringMatching(/range\/nope\.json.*HTTP 404/) });
    const down = await failure(openUrl('http://127.0.0.1:9/x.gguf', http(), () => undefined));
    expect(down.code).toBe('fetch-failed');
  });

  it('turns a connection cut mid-body into fetch-failed', async () => {
    const r = (await openUrl(`${server.base}/cut/model.gguf`, http(), () => undefined))!;
    const e = await failure(r.read(0, 200_000));
    expect(e.code).toBe('fetch-failed');
    expect(e.message).toMatch(/cut\/model\.gguf \(HTTP 206\).*(connection|bytes)/);
  });

  it('opens an empty file (416 on the probe) as size 0', async () => {
    const r = (await openUrl(`${server.base}/range/empty.bin`, http(), () => undefined))!;
    expect(r.size).toBe(0);
  });
});

describe('progress tracker', () => {
  it('throttles to the interval, keeps bytesDone monotone and within the total, and finishes at the total', () => {
    let t = 0;
    const posts: LoadProgress[] = [];
    const p = new ProgressTracker((x) => posts.push(x), { now: () => t, intervalMs: 100 });
    p.addTotal(1000);
    for (let i = 0; i < 40; i++) {
      t += 10;
      p.add(50, i < 2 ? 'headers' : 'weights', 'model.safetensors');
    }
    expect(posts.length).toBeLessThanOrEqual(5); // 400 ms at ≤ 10 Hz (+ the first)
    p.finish();
    const done = posts.map((x) => x.bytesDone);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(posts.every((x) => x.bytesDone <= x.bytesTotal)).toBe(true);
    expect(posts.at(-1)).toMatchObject({ kind: 'load', bytesDone: 1000, bytesTotal: 1000, etaMs: 0 });
    expect(posts.some((x) => x.etaMs !== null && x.etaMs > 0)).toBe(true);
  });
});

describe('GGUF header by ranges', () => {
  const counting = (bytes: Uint8Array) => {
    const reads: number[] = [];
    const r: RangeReader = { size: bytes.byteLength, read: async (o, n) => (reads.push(n), bytes.slice(o, o + n)) };
    return { r, reads };
  };

  it('grows the prefix until the header parses, reading a small part of the file', async () => {
    const { r, reads } = counting(GGUF);
    const h = await readGgufHeader(r, { first: 256 });
    const whole = parseGguf(GGUF);
    expect([h.dataStart, h.alignment, h.tensors, [...h.kv.keys()]]).toEqual([
      whole.dataStart,
      whole.alignment,
      whole.tensors,
      [...whole.kv.keys()],
    ]);
    expect(reads.length).toBeGreaterThan(2);
    expect(reads.reduce((a, b) => a + b, 0)).toBeLessThan(GGUF.byteLength / 4);
  });

  it('keeps parseGguf errors for cut files and refuses a header above the cap', async () => {
    const cut = GGUF.slice(0, 5000);
    const want = (() => {
      try {
        parseGguf(cut);
      } catch (e) {
        return (e as NibbleError).code;
      }
    })();
    expect(await failure(readGgufHeader(counting(cut).r, { first: 64 }))).toMatchObject({ code: want });
    expect(await failure(readGgufHeader(counting(GGUF).r, { first: 64, max: 1024 }))).toMatchObject({
      code: 'unsupported',
    });
  });
});

describe("'files' sources", () => {
  const hf = hfFixtureFiles();

  it('strips the folder name a chosen directory puts in front of every path', () => {
    expect(
      stripCommonRoot([file('stories/config.json', '{}'), file('stories/sub/a.bin', 'x')]).map((f) => f.path),
    ).toEqual(['config.json', 'sub/a.bin']);
    expect(stripCommonRoot([file('config.json', '{}'), file('a/b', 'x')]).map((f) => f.path)).toEqual([
      'config.json',
      'a/b',
    ]);
  });

  it('recognises an HF folder, a checkpoint with its tokenizer by content, and a GGUF alone', async () => {
    const folder = await classifyFiles(Object.entries(hf).map(([n, b]) => file(`my-model/${n}`, b)));
    expect(folder.kind === 'hf' && [...folder.files.keys()].sort()).toEqual(Object.keys(hf).sort());
    const pair = await classifyFiles([file('a.dat', TOK), file('b.dat', MODEL)]);
    expect(pair.kind === 'checkpoint' && [pair.checkpoint.path, pair.tokenizer?.path]).toEqual(['b.dat', 'a.dat']);
    const gguf = await classifyFiles([file('x.bin', GGUF)]);
    expect(gguf.kind === 'checkpoint' && gguf.tokenizer).toBeNull();
  });

  it('refuses a bare .safetensors, ambiguous and missing files, naming them', async () => {
    expect(await failure(classifyFiles([file('model.safetensors', hf['model.safetensors'])]))).toMatchObject({
      code: 'unsupported',
      message: expect.stringMatching(/whole model folder/),
    });
    expect(await failure(classifyFiles([file('a.gguf', GGUF), file('b.bin', MODEL)]))).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/a\.gguf, b\.bin.*choose one/),
    });
    expect(await failure(classifyFiles([file('t.bin', TOK)]))).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/none of the files is a model/),
    });
    expect(await failure(classifyFiles([]))).toMatchObject({ code: 'bad-argument' });
    expect(await failure(classifyFiles([file('a/b/config.json', '{}'), file('a/c.txt', 'x')]))).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/in b\/: choose that folder/),
    });
    const noTok = new Map(
      Object.entries(hf)
        .filter(([n]) => n !== 'tokenizer.json')
        .map(([n, b]) => [n, new Blob([part(b)])]),
    );
    expect(await failure(checkHfFiles(noTok))).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/missing tokenizer\.json/),
    });
    const shards = sharded(hf, 2);
    const oneShard = new Map(
      Object.entries(shards)
        .filter(([n]) => !n.startsWith('model-00002'))
        .map(([n, b]) => [n, new Blob([part(b)])]),
    );
    expect(await failure(checkHfFiles(oneShard))).toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/model-00002-of-00002\.safetensors/),
    });
  });

  it('reads Blobs by slices, counted, and refuses reads once cancelled', async () => {
    const posts: LoadProgress[] = [];
    const ctrl = new AbortController();
    const files = new SourceFiles(new ProgressTracker((p) => posts.push(p), { intervalMs: 0 }), ctrl.signal);
    const r = (await files.open('tok.bin', 'tokenizer', async (count) => blobReader(new Blob([part(TOK)]), count)))!;
    expect(Buffer.from(await r.read(10, 20)).equals(Buffer.from(TOK.subarray(10, 30)))).toBe(true);
    expect(posts.at(-1)).toMatchObject({
      phase: 'tokenizer',
      file: 'tok.bin',
      bytesDone: 20,
      bytesTotal: TOK.byteLength,
    });
    expect(files.list()).toEqual([{ path: 'tok.bin', bytes: TOK.byteLength, role: 'tokenizer' }]);
    ctrl.abort();
    expect(await failure(r.read(0, 10))).toMatchObject({ code: 'cancelled' });
  });
});

describe("'remote' refs", () => {
  it('accepts repo ids (with a revision) and file URLs, and lists the forms otherwise', () => {
    expect(parseRemoteRef('karpathy/tinyllamas')).toEqual({
      kind: 'repo',
      repo: 'karpathy/tinyllamas',
      revision: 'main',
    });
    expect(parseRemoteRef(' HuggingFaceTB/SmolLM2-135M@v1.0 ')).toEqual({
      kind: 'repo',
      repo: 'HuggingFaceTB/SmolLM2-135M',
      revision: 'v1.0',
    });
    expect(parseRemoteRef('https://example.com/m/model.Q8_0.gguf')).toEqual({
      kind: 'file',
      url: 'https://example.com/m/model.Q8_0.gguf',
    });
    expect(parseRemoteRef('http://127.0.0.1:8080/stories.bin').kind).toBe('file');
    expect(repoFileUrl('https://huggingface.co/', 'a/b', 'refs/pr/1', 'config.json')).toBe(
      'https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/config.json',
    );
    for (const bad of [
      '',
      'llama',
      'a/b/c',
      'http://example.com/model.gguf',
      'https://example.com/readme.md',
      'ftp://x/y.gguf',
      '../etc/passwd',
      'a/..b',
    ]) {
      expect(() => parseRemoteRef(bad), bad).toThrow(
        expect.objectContaining({ code: 'bad-argument', message: expect.stringMatching(/owner\/name/) }),
      );
    }
  });
});

describe('GGUF loaded by ranges = GGUF loaded whole', () => {
  const ranged = async (bytes: Uint8Array, opts: { weights?: 'f32' | 'native' } = {}) => {
    const r: RangeReader = { size: bytes.byteLength, read: async (o, n) => bytes.slice(o, o + n) };
    return loadGgufRanged(await readGgufHeader(r, { first: 128 }), r, opts);
  };
  const outcome = async (f: () => unknown) => {
    try {
      const g = (await f()) as { model: { config: unknown; weights: { wcls: unknown; tokEmb: unknown } } };
      return `model ${JSON.stringify(g.model.config)} shared=${g.model.weights.wcls === g.model.weights.tokEmb}`;
    } catch (e) {
      if (isNibbleError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
  };

  it('gives the same model (f32 and native) and, on seeded mutations, the same outcome and message', async () => {
    for (const weights of ['f32', 'native'] as const) {
      const [a, b] = [loadGguf(GGUF, { weights }).model, (await ranged(GGUF, { weights })).model];
      expect(b.config).toEqual(a.config);
      expect(b.weights.layers[3].w2).toEqual(a.weights.layers[3].w2);
      expect(b.weights.wcls).toBe(b.weights.tokEmb); // output.weight repeats the embedding: shared
    }
    const map = mapFields(GGUF);
    const rnd = seededRandom(0x5eed);
    for (let i = 0; i < 120; i++) {
      const m = mutate(GGUF, map, rnd);
      expect(await outcome(() => ranged(m.bytes)), `case ${i} (${m.kind})`).toBe(
        await outcome(() => loadGguf(m.bytes)),
      );
    }
  });
});

describe('header descriptions = the runner plan of the loaded model', () => {
  const bytesReader = (b: Uint8Array): RangeReader => ({ size: b.byteLength, read: async (o, n) => b.slice(o, o + n) });

  it('HF (one file and sharded), GGUF, llama2.c and .nibble variants (every format, gIdx) agree with describeModelTensors', async () => {
    const hf = hfFixtureFiles();
    for (const files of [hf, sharded(hf, 3)]) {
      const d = await describeHfFolder(memoryFolder(files, true));
      const m = (await loadHfModel(memoryFolder(files))).model;
      expect(d.tensors).toEqual(describeModelTensors(m));
      expect(d.params).toBe(countParams(m));
    }
    const checks: [Uint8Array, LlamaModel][] = [
      [GGUF, loadGguf(GGUF).model],
      [MODEL, parseLlama2c(MODEL)],
    ];
    const base = parseLlama2c(MODEL);
    for (const s of [
      { method: 'rtn', bits: 4, group: 32 },
      { method: 'rtn', bits: 3, group: 0, sym: false },
      { method: 'rtn', bits: 2, group: 64, scaleType: 'f16' },
      { method: 'nf4', group: 64, doubleQuant: true },
      { method: 'llmint8', threshold: 6 },
    ] as Partial<QuantSpec>[]) {
      const { model: q } = await quantizeModel(base, { ...DEFAULT_SPEC, ...s } as QuantSpec);
      if (s.bits === 4) {
        // act-order group indices: the same on wq/wk/wv (they merge), another on w1 (w1;w3 do not)
        const l0 = q.weights.layers[0];
        const gi = (shift: number) => Uint32Array.from({ length: 64 }, (_, j) => ((j + shift) % 64) >> 5);
        for (const k of ['wq', 'wk', 'wv'] as const) (l0[k] as UniformQuantTensor).buffers.gIdx = gi(0);
        (l0.w1 as UniformQuantTensor).buffers.gIdx = gi(7);
      }
      const bytes = writeNibbleFile(q, { tokenizer: TOK });
      checks.push([bytes, readNibbleFile(bytes).model]);
    }
    for (const [bytes, m] of checks) {
      const d = await describeCheckpoint(bytesReader(bytes));
      expect(d.tensors).toEqual(describeModelTensors(m));
      expect(d.params).toBe(countParams(m));
      expect({ ...d.config, seqLen: 0 }).toEqual({ ...m.config, seqLen: 0 });
    }
    const native = await describeCheckpoint(bytesReader(GGUF), { ggufWeights: 'native' });
    expect(native.tensors).toEqual(describeModelTensors(loadGguf(GGUF, { weights: 'native' }).model));
  });
});

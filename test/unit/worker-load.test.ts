// Bring-your-own-model through the real engine host (CPU runner): 'files' sources (an HF folder,
// a GGUF, a llama2.c pair, a .nibble with an HF tokenizer), 'remote' sources from a real local
// HTTP server (repo ids and file URLs, with and without Range support), inspect (headers only),
// the context choice, load progress, cancellation, and the typed error of every failure.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvCacheBytes } from '../../src/core/plan/memory-plan.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { kvDim } from '../../src/core/model/model.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { createEngineHost, type HostDeps } from '../../src/worker/engine-host/host.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import type {
  LoadProgress,
  ModelPlan,
  ModelSource,
  Reply,
  Request,
  SamplingSettings,
  SourceFile,
} from '../../src/worker/engine-host/protocol.ts';
import { hfFixtureFiles } from './hf-fixture.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';
import { serveFiles, type Served } from './worker-sources-server.ts';

const GOLDEN = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');
const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 24, seed: 1 };
const GGUF = readProjectFile('test/fixtures/stories260K-f32.gguf');
const MODEL = stories260K();
const TOK = tok512();
const HF = hfFixtureFiles();
const HF_BYTES = Object.values(HF).reduce((n, b) => n + b.byteLength, 0);

/** A Blob that counts the bytes sliced out of it (what a load or inspect actually reads). */
class CountingBlob extends Blob {
  static read = 0;
  override slice(start?: number, end?: number, type?: string): Blob {
    CountingBlob.read += Math.max(0, Math.min(end ?? this.size, this.size) - (start ?? 0));
    return super.slice(start, end, type);
  }
}
const files = (entries: Record<string, Uint8Array>, prefix = ''): SourceFile[] =>
  Object.entries(entries).map(([path, b]) => ({
    path: prefix + path,
    blob: new CountingBlob([b as Uint8Array<ArrayBuffer>]),
  }));
const filesSource = (entries: Record<string, Uint8Array>, prefix = '', name = 'mine'): ModelSource => ({
  kind: 'files',
  name,
  files: files(entries, prefix),
});

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

function makeHost(deps: HostDeps = {}) {
  const replies: Reply[] = [];
  const host = createEngineHost(deps, (r) => replies.push(structuredClone(r)));
  let id = 0;
  const send = async (body: WithoutId<Request>) => {
    const req = { ...body, id: ++id } as Request;
    const from = replies.length;
    await host.handle(req);
    const mine = replies.slice(from).filter((r) => r.id === req.id);
    return {
      id: req.id,
      replies: mine,
      final: mine[mine.length - 1],
      progress: mine.flatMap((r) => (r.kind === 'job-progress' && r.progress.kind === 'load' ? [r.progress] : [])),
    };
  };
  const greedy = async () => {
    const { final } = await send({ kind: 'generate', prompt: '', settings: GREEDY });
    if (final.kind !== 'response' || final.request !== 'generate')
      throw new Error(`expected a generate response, got ${JSON.stringify(final)}`);
    return final.result.text;
  };
  return { host, send, greedy };
}

function resultOf<K extends 'load' | 'inspect'>(r: Reply, kind: K) {
  if (r.kind !== 'response' || r.request !== kind)
    throw new Error(`expected a ${kind} response, got ${JSON.stringify(r)}`);
  return r.result as K extends 'load' ? Extract<Reply, { request: 'load' }>['result'] : ModelPlan;
}

/** Progress of one load: monotone, within the total, ending at the total. */
function expectProgress(p: LoadProgress[], total?: number) {
  expect(p.length).toBeGreaterThan(0);
  const done = p.map((x) => x.bytesDone);
  expect(done).toEqual([...done].sort((a, b) => a - b));
  expect(p.every((x) => x.kind === 'load' && (x.bytesTotal === 0 || x.bytesDone <= x.bytesTotal))).toBe(true);
  const last = p[p.length - 1];
  expect(last.bytesDone).toBe(last.bytesTotal);
  if (total !== undefined) expect(last.bytesTotal).toBe(total);
}

describe("'files' sources through the host", () => {
  it('loads an HF folder (picked as a directory) in the page and reproduces the golden greedy text', async () => {
    const h = makeHost();
    const l = await h.send({ kind: 'load', source: filesSource(HF, 'stories260K-hf/'), backend: 'auto' });
    const { model } = resultOf(l.final, 'load');
    expect(model).toMatchObject({
      format: 'hf',
      architecture: 'llama',
      chatTemplate: false,
      backend: 'cpu',
      modelBytes: HF_BYTES - HF['tokenizer.json'].byteLength - HF['tokenizer_config.json'].byteLength,
    });
    expect(model.config).toMatchObject({ dim: 64, nLayers: 5, seqLen: 512, ropeStyle: 'half' });
    expectProgress(l.progress, HF_BYTES);
    expect(l.progress.every((p) => ['headers', 'tokenizer', 'weights'].includes(p.phase))).toBe(true);
    expect(GOLDEN.startsWith(await h.greedy())).toBe(true);
  });

  it('loads a GGUF alone and a llama2.c checkpoint + tokenizer (told apart by content) to the same text', async () => {
    const ref = makeHost();
    await ref.send({
      kind: 'load',
      source: { kind: 'bytes', name: 'ref', model: MODEL.slice().buffer, tokenizer: TOK.slice().buffer },
      backend: 'auto',
    });
    const want = await ref.greedy();
    expect(GOLDEN.startsWith(want)).toBe(true);
    for (const entries of [{ 'stories.gguf': GGUF }, { 'a.bin': TOK, 'b.bin': MODEL }] as Record<
      string,
      Uint8Array
    >[]) {
      const h = makeHost();
      const l = await h.send({ kind: 'load', source: filesSource(entries), backend: 'auto' });
      expect(resultOf(l.final, 'load').model.format).toBe('stories.gguf' in entries ? 'gguf' : 'llama2c');
      expectProgress(l.progress);
      expect(await h.greedy()).toBe(want);
    }
  });

  it('loads a .nibble variant that carries an HF tokenizer (refused before), keeping the tokenizer files', async () => {
    const nibble = writeNibbleFile(parseLlama2c(MODEL), {
      tokenizer: { kind: 'hf', json: HF['tokenizer.json'], config: HF['tokenizer_config.json'] },
    });
    const h = makeHost();
    const l = await h.send({ kind: 'load', source: filesSource({ 'v.nibble': nibble }), backend: 'auto' });
    expect(resultOf(l.final, 'load').model).toMatchObject({
      format: 'nibble',
      tokenizerBytes: HF['tokenizer.json'].byteLength + HF['tokenizer_config.json'].byteLength,
    });
    expect(GOLDEN.startsWith(await h.greedy())).toBe(true);
  });

  it('inspects from headers only: params, files, KV bytes for the chosen context', async () => {
    const h = makeHost();
    const loaded = resultOf(
      (await h.send({ kind: 'load', source: filesSource(HF), backend: 'auto' })).final,
      'load',
    ).model;
    for (const [entries, format, tokenizer] of [
      [HF, 'hf', 'hf'],
      [{ 'm.gguf': GGUF }, 'gguf', 'gguf'],
      [{ 'm.bin': MODEL, 't.bin': TOK }, 'llama2c', 'llama2c'],
    ] as const) {
      CountingBlob.read = 0;
      const size = Object.values(entries).reduce((n, b) => n + b.byteLength, 0);
      const r = await h.send({ kind: 'inspect', source: filesSource(entries), contextLength: 100 });
      const plan = resultOf(r.final, 'inspect');
      expect(plan).toMatchObject({ format, architecture: 'llama', params: loaded.params, tokenizer, fileBytes: size });
      expect(plan.config.seqLen).toBe(format === 'gguf' ? 128 : 512); // the model's own context
      expect(plan.memory.contextLength).toBe(100);
      expect(plan.memory.kvCacheBytes).toBe(2 * 5 * 100 * kvDim(plan.config) * 4);
      expect(plan.memory.kvCacheBytes).toBe(kvCacheBytes(plan.config, 100));
      expect(plan.memory.weightBytes).toBe(4 * plan.params);
      expect(plan.memory.verdict).toBe('no-gpu');
      expect(plan.files.map((f) => f.role).sort()).toEqual(
        format === 'hf'
          ? ['config', 'config', 'tokenizer', 'tokenizer', 'weights']
          : format === 'gguf'
            ? ['weights']
            : ['tokenizer', 'weights'],
      );
      // Headers only: a small part of the files (the 4 KiB head read to classify each file included).
      expect(CountingBlob.read, format).toBeLessThan(size / 8);
      expectProgress(r.progress);
    }
    expect(
      resultOf((await h.send({ kind: 'inspect', source: filesSource(HF) })).final, 'inspect').memory.contextLength,
    ).toBe(512); // min(own, 2048)
  });

  it('applies the context length by capping seqLen and refuses one outside 1..own', async () => {
    const h = makeHost();
    for (const entries of [HF, { 'm.gguf': GGUF }, { 'm.bin': MODEL, 't.bin': TOK }]) {
      const l = await h.send({ kind: 'load', source: filesSource(entries), backend: 'auto', contextLength: 64 });
      expect(resultOf(l.final, 'load').model.config.seqLen).toBe(64);
      for (const bad of [0, 1.5, 100_000]) {
        const r = await h.send({ kind: 'load', source: filesSource(entries), backend: 'auto', contextLength: bad });
        expect(r.final).toMatchObject({
          kind: 'error',
          error: { code: 'bad-argument', message: expect.stringMatching(/context length/) },
        });
      }
    }
    const g = await h.send({ kind: 'generate', prompt: '', settings: { ...GREEDY, maxTokens: 100 } });
    expect(g.final).toMatchObject({ kind: 'response', result: { stoppedBy: 'context' } }); // 64 positions
  });

  it('answers every bad choice with its typed error and keeps the previous model', async () => {
    const h = makeHost();
    await h.send({ kind: 'load', source: filesSource({ 'm.bin': MODEL, 't.bin': TOK }), backend: 'auto' });
    const noTok = Object.fromEntries(Object.entries(HF).filter(([n]) => n !== 'tokenizer.json'));
    const badConfig = { ...HF, 'config.json': new TextEncoder().encode('{"architectures": ["GPT2LMHeadModel"]}') };
    const cases: [ModelSource, string][] = [
      [filesSource({ 'model.safetensors': HF['model.safetensors'] }), 'unsupported'],
      [filesSource(noTok), 'bad-argument'],
      [filesSource({ 'm.bin': MODEL }), 'bad-argument'], // no tokenizer
      [filesSource({ 'a.gguf': GGUF, 'b.bin': MODEL }), 'bad-argument'],
      [filesSource({ 'm.gguf': GGUF.slice(0, 600_000) }), 'truncated'],
      [filesSource({ 'm.bin': MODEL.slice(0, 500_000), 't.bin': TOK }), 'truncated'],
      [filesSource({ 'm.bin': new TextEncoder().encode('not a model at all\n'.repeat(10)) }), 'bad-format'],
      [filesSource({ 'm.bin': MODEL, 't.bin': TOK.slice(0, 3000) }), 'tokenizer-mismatch'],
      [filesSource(badConfig), 'unsupported'],
      [{ kind: 'remote', name: 'x', ref: 'not a model' }, 'bad-argument'],
    ];
    for (const [source, code] of cases) {
      const r = await h.send({ kind: 'load', source, backend: 'auto' });
      expect(r.final, `${code}: ${JSON.stringify(r.final)}`).toMatchObject({ kind: 'error', error: { code } });
      const i = await h.send({ kind: 'inspect', source });
      if (
        code !== 'tokenizer-mismatch' &&
        !(
          source.kind === 'files' &&
          source.files.length === 1 &&
          source.files[0].path === 'm.bin' &&
          code === 'bad-argument'
        )
      ) {
        expect(i.final, `inspect ${code}`).toMatchObject({ kind: 'error', error: { code } });
      }
    }
    const info = await h.send({ kind: 'get-info' });
    expect(info.final).toMatchObject({ result: { model: { format: 'llama2c' } } });
    expect(GOLDEN.startsWith(await h.greedy())).toBe(true);
  });

  it('cancels a load by id (the previous model stays) and through the client signal', async () => {
    const h = makeHost();
    await h.send({ kind: 'load', source: filesSource({ 'm.bin': MODEL, 't.bin': TOK }), backend: 'auto' });
    const pending = h.send({ kind: 'load', source: filesSource(HF), backend: 'auto' }); // request 2
    expect((await h.send({ kind: 'cancel', target: 2 })).final).toMatchObject({ result: { cancelled: true } });
    expect((await pending).final).toMatchObject({ kind: 'error', error: { code: 'cancelled' } });
    expect((await h.send({ kind: 'get-info' })).final).toMatchObject({ result: { model: { format: 'llama2c' } } });

    const client = new EngineClient(inThreadTransport({}));
    const seen: LoadProgress[] = [];
    const ok = await client.load(filesSource(HF), 'auto', { contextLength: 100, onProgress: (x) => seen.push(x) });
    expect(ok.model.config.seqLen).toBe(100);
    expect(seen.at(-1)).toMatchObject({ bytesDone: HF_BYTES, bytesTotal: HF_BYTES });
    const plan = await client.inspect(filesSource({ 'm.gguf': GGUF }));
    expect(plan.format).toBe('gguf');
    client.dispose();
  });
});

describe("'remote' sources from a local HTTP server", () => {
  let server: Served;
  const repo = (rev: string) =>
    Object.fromEntries(Object.entries(HF).map(([n, b]) => [`me/stories/resolve/${rev}/${n}`, b]));
  beforeAll(async () => {
    server = await serveFiles({
      ...repo('main'),
      ...repo('v1'),
      'files/stories.gguf': GGUF,
      'files/stories.nibble': writeNibbleFile(parseLlama2c(MODEL), { tokenizer: TOK }),
    });
  });
  afterAll(() => server.close());

  it('loads a repo id (and @revision) by ranges and reproduces the golden text', async () => {
    const h = makeHost({ hfBaseUrl: `${server.base}/range` });
    for (const ref of ['me/stories', 'me/stories@v1']) {
      const from = server.log.length;
      const l = await h.send({ kind: 'load', source: { kind: 'remote', name: ref, ref }, backend: 'auto' });
      expect(resultOf(l.final, 'load').model).toMatchObject({ format: 'hf', name: ref });
      expectProgress(l.progress, HF_BYTES);
      const got = server.log.slice(from);
      expect(got.every((r) => r.range !== null && r.status !== 200)).toBe(true); // every request ranged
      expect(
        got.some(
          (r) =>
            r.path.includes(`/resolve/${ref.endsWith('v1') ? 'v1' : 'main'}/model.safetensors`) && r.status === 206,
        ),
      ).toBe(true);
      expect(got.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(HF_BYTES * 1.05); // headers are not read twice
      expect(GOLDEN.startsWith(await h.greedy())).toBe(true);
    }
    const plan = resultOf(
      (await h.send({ kind: 'inspect', source: { kind: 'remote', name: 'r', ref: 'me/stories' } })).final,
      'inspect',
    );
    expect(plan.files.map((f) => f.path).sort()).toEqual(Object.keys(HF).sort());
  });

  it('loads one file by URL, with or without Range support on the server', async () => {
    const h = makeHost();
    for (const url of [
      `${server.base}/range/files/stories.gguf`,
      `${server.base}/plain/files/stories.gguf`,
      `${server.base}/range/files/stories.nibble`,
    ]) {
      const l = await h.send({ kind: 'load', source: { kind: 'remote', name: 'u', ref: url }, backend: 'auto' });
      expect(resultOf(l.final, 'load').model.format).toBe(url.endsWith('.gguf') ? 'gguf' : 'nibble');
      expect(GOLDEN.startsWith(await h.greedy())).toBe(true);
    }
  });

  it('cancels a remote load through the client signal; the previous model stays', async () => {
    const client = new EngineClient(inThreadTransport({ hfBaseUrl: `${server.base}/range` }));
    await client.load(filesSource({ 'm.bin': MODEL, 't.bin': TOK }));
    const ctrl = new AbortController();
    const p = client.load({ kind: 'remote', name: 'r', ref: 'me/stories' }, 'auto', { signal: ctrl.signal });
    ctrl.abort();
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    expect((await client.getInfo()).model).toMatchObject({ format: 'llama2c' });
    client.dispose();
  });

  it('turns 404s and cut connections into fetch-failed with the URL and status', async () => {
    const h = makeHost({ hfBaseUrl: `${server.base}/range` });
    const missing = await h.send({
      kind: 'load',
      source: { kind: 'remote', name: 'x', ref: 'me/nothing' },
      backend: 'auto',
    });
    expect(missing.final).toMatchObject({
      kind: 'error',
      error: {
        code: 'fetch-failed',
        message: expect.stringMatching(/me\/nothing\/resolve\/main\/config\.json \(HTTP 404\)/),
      },
    });
    const cut = makeHost({ hfBaseUrl: `${server.base}/cut` });
    const r = await cut.send({
      kind: 'load',
      source: { kind: 'remote', name: 'x', ref: 'me/stories' },
      backend: 'auto',
    });
    expect(r.final).toMatchObject({
      kind: 'error',
      error: { code: 'fetch-failed', message: expect.stringMatching(/\/cut\/me\/stories\/resolve\/main\/.*HTTP 206/) },
    });
    const chunked = await h.send({
      kind: 'load',
      source: { kind: 'remote', name: 'x', ref: `${server.base}/chunked/files/stories.gguf` },
      backend: 'auto',
    });
    expect(chunked.final).toMatchObject({
      kind: 'error',
      error: { code: 'fetch-failed', message: expect.stringMatching(/Content-Length/) },
    });
  });
});

// The engine protocol driven in Node: the real host (engine.worker.ts's core) with the real CPU
// runner and the embedded stories260K model, first request by request, then through the
// EngineClient over the in-thread transport (structured clone + transfer, like a Worker).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { createEngineHost } from '../../src/worker/engine-host/host.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import {
  EngineError,
  type ModelSource,
  type Reply,
  type Request,
  type SamplingSettings,
} from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const GOLDEN = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');
const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 20, seed: 1 };

const buf = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;
const bytesSource = (model: Uint8Array = MODEL, tok: Uint8Array = TOK, name = 'stories260K'): ModelSource => ({
  kind: 'bytes',
  name,
  model: buf(model),
  tokenizer: buf(tok),
});

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** A host plus every reply it posted, and a helper that sends one request and returns its replies. */
function makeHost(deps: Parameters<typeof createEngineHost>[0] = {}) {
  const replies: Reply[] = [];
  const host = createEngineHost(deps, (r) => replies.push(structuredClone(r)));
  let id = 0;
  const send = async (body: WithoutId<Request>) => {
    const req = { ...body, id: ++id } as Request;
    const from = replies.length;
    await host.handle(req);
    return { id: req.id, replies: replies.slice(from).filter((r) => r.id === req.id) };
  };
  return { host, replies, send };
}

const final = (rs: Reply[]) => rs[rs.length - 1];

/** What the engine itself produces for greedy decoding from BOS (the reference, not hardcoded). */
async function referenceGreedy(maxTokens: number) {
  const model = parseLlama2c(MODEL);
  const tok = Tokenizer.fromLlama2c(TOK, model.config.vocabSize);
  return generate(createCpuRunner(model), tok, '', { maxTokens, temperature: 0, topP: 1, seed: 1 });
}

describe('engine host (request by request)', () => {
  it('reports the CPU backend and why WebGPU is unavailable when there is no navigator.gpu', async () => {
    const { send } = makeHost();
    const { replies } = await send({ kind: 'get-info' });
    expect(replies).toHaveLength(1);
    const r = final(replies);
    expect(r.kind === 'response' && r.request === 'get-info').toBe(true);
    if (r.kind !== 'response' || r.request !== 'get-info') return;
    expect(r.result.backend).toBe('cpu');
    expect(r.result.gpu).toBeNull();
    expect(r.result.gpuUnavailable).toMatch(/navigator\.gpu/);
    expect(r.result.model).toBeNull();
  });

  it('refuses to generate before a model is loaded, with a typed error', async () => {
    const { send } = makeHost();
    const { id, replies } = await send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(replies).toEqual([
      { kind: 'error', id, error: { code: 'bad-argument', message: expect.stringMatching(/no model/) } },
    ]);
  });

  it('loads the embedded model from bytes and describes it', async () => {
    const { send } = makeHost();
    const r = final((await send({ kind: 'load', source: bytesSource(), backend: 'auto' })).replies);
    if (r.kind !== 'response' || r.request !== 'load')
      throw new Error(`expected a load response, got ${JSON.stringify(r)}`);
    const m = r.result.model;
    expect(m.config).toMatchObject({
      ...STORIES260K_CONFIG,
    });
    expect(m.modelBytes).toBe(MODEL.byteLength);
    expect(m.tokenizerBytes).toBe(TOK.byteLength);
    expect(m.backend).toBe('cpu');
    // 260K-class model: every f32 in the file except the 7-int header and the skipped RoPE tables.
    expect(m.params).toBe((MODEL.byteLength - 28) / 4 - m.config.seqLen * m.config.headSize);
    expect(r.result.engine.model).toEqual(m);
  });

  it('loads from URLs through the injected fetch and times the fetch separately', async () => {
    const files: Record<string, Uint8Array> = { '/m.bin': MODEL, '/t.bin': TOK };
    const { send } = makeHost({ fetchBytes: async (u) => files[u] });
    const r = final(
      (
        await send({
          kind: 'load',
          source: { kind: 'url', name: 'x', modelUrl: '/m.bin', tokenizerUrl: '/t.bin' },
          backend: 'auto',
        })
      ).replies,
    );
    expect(r.kind === 'response' && r.request === 'load' && r.result.model.name).toBe('x');
  });

  it('maps an unreachable URL to fetch-failed', async () => {
    const { send } = makeHost();
    const src: ModelSource = {
      kind: 'url',
      name: 'x',
      modelUrl: 'http://127.0.0.1:9/none.bin',
      tokenizerUrl: 'http://127.0.0.1:9/t.bin',
    };
    const r = final((await send({ kind: 'load', source: src, backend: 'auto' })).replies);
    expect(r).toMatchObject({ kind: 'error', error: { code: 'fetch-failed' } });
  });

  it('answers bad files with typed errors and keeps the previous model usable', async () => {
    const { send } = makeHost();
    await send({ kind: 'load', source: bytesSource(), backend: 'auto' });
    const notModel = new TextEncoder().encode('this is a text file, not a checkpoint\n'.repeat(10));
    const cases: [Uint8Array, Uint8Array, string][] = [
      [notModel, TOK, 'bad-format'],
      [MODEL.subarray(0, MODEL.byteLength - 1000), TOK, 'truncated'],
      [MODEL, TOK.subarray(0, 3000), 'tokenizer-mismatch'],
    ];
    for (const [model, tok, code] of cases) {
      const r = final((await send({ kind: 'load', source: bytesSource(model, tok), backend: 'auto' })).replies);
      expect(r).toMatchObject({ kind: 'error', error: { code } });
    }
    const g = final((await send({ kind: 'generate', prompt: '', settings: GREEDY })).replies);
    expect(g.kind).toBe('response');
  });

  it('generates the golden greedy prefix, one progress reply per token, then the summary', async () => {
    const ref = await referenceGreedy(20);
    expect(GOLDEN.startsWith(ref.text)).toBe(true);
    const { send } = makeHost();
    await send({ kind: 'load', source: bytesSource(), backend: 'auto' });
    const { replies } = await send({ kind: 'generate', prompt: '', settings: GREEDY });
    const progress = replies.filter((r) => r.kind === 'progress');
    const r = final(replies);
    if (r.kind !== 'response' || r.request !== 'generate')
      throw new Error(`expected a generate response, got ${JSON.stringify(r)}`);
    expect(r.result.text).toBe(ref.text);
    expect(r.result.tokens).toEqual(ref.tokens);
    expect(r.result).toMatchObject({ stoppedBy: 'length', promptTokens: 1, backend: 'cpu' });
    expect(progress.map((p) => p.kind === 'progress' && p.token.index)).toEqual([...Array(20).keys()]);
    expect(progress.map((p) => (p.kind === 'progress' ? p.token.text : '')).join('')).toBe(ref.text);
  });

  it('loads GGUF and .nibble checkpoints that carry their tokenizer (no tokenizer file)', async () => {
    const ref = await referenceGreedy(20);
    const { writeNibbleFile } = await import('../../src/core/formats/nibble-file.ts');
    const nibble = writeNibbleFile(parseLlama2c(MODEL), { tokenizer: TOK });
    for (const [name, bytes] of [
      ['stories260K-f32.gguf', read('test/fixtures/stories260K-f32.gguf')],
      ['stories.nibble', nibble],
    ] as const) {
      const { send } = makeHost();
      const l = final(
        (await send({ kind: 'load', source: bytesSource(bytes, new Uint8Array(0), name), backend: 'auto' })).replies,
      );
      expect(l.kind).toBe('response');
      const r = final((await send({ kind: 'generate', prompt: '', settings: GREEDY })).replies);
      if (r.kind !== 'response' || r.request !== 'generate')
        throw new Error(`expected a generate response, got ${JSON.stringify(r)}`);
      expect(r.result.text).toBe(ref.text);
    }
    const { send } = makeHost();
    const r = final(
      (await send({ kind: 'load', source: bytesSource(MODEL, new Uint8Array(0)), backend: 'auto' })).replies,
    );
    expect(r).toMatchObject({ kind: 'error', error: { code: 'bad-argument' } });
  });

  it('rejects invalid sampling settings before running', async () => {
    const { send } = makeHost();
    await send({ kind: 'load', source: bytesSource(), backend: 'auto' });
    for (const bad of [{ temperature: -1 }, { topP: 0 }, { maxTokens: 0 }, { maxTokens: 1.5 }, { seed: -3 }]) {
      const r = final((await send({ kind: 'generate', prompt: '', settings: { ...GREEDY, ...bad } })).replies);
      expect(r).toMatchObject({ kind: 'error', error: { code: 'bad-argument' } });
    }
  });

  it('cancels a running generation and refuses a second concurrent one', async () => {
    const { host, replies, send } = makeHost();
    await send({ kind: 'load', source: bytesSource(), backend: 'auto' });
    const running = host.handle({
      kind: 'generate',
      id: 100,
      prompt: 'Once upon a time',
      settings: { ...GREEDY, maxTokens: 400 },
    });
    while (!replies.some((r) => r.id === 100 && r.kind === 'progress')) await new Promise((r) => setTimeout(r, 1));
    const second = final((await send({ kind: 'generate', prompt: '', settings: GREEDY })).replies);
    expect(second).toMatchObject({
      kind: 'error',
      error: { code: 'bad-argument', message: expect.stringMatching(/still running/) },
    });
    const cancel = final((await send({ kind: 'cancel', target: 100 })).replies);
    expect(cancel).toMatchObject({ kind: 'response', result: { cancelled: true } });
    await running;
    const r = final(replies.filter((x) => x.id === 100));
    expect(r).toMatchObject({ kind: 'response', result: { stoppedBy: 'cancelled' } });
    expect(r.kind === 'response' && r.request === 'generate' && r.result.tokens.length).toBeLessThan(400);
    const late = final((await send({ kind: 'cancel', target: 100 })).replies);
    expect(late).toMatchObject({ kind: 'response', result: { cancelled: false } });
  });

  it('answers an unknown request kind with bad-argument', async () => {
    const { send } = makeHost();
    const r = final((await send({ kind: 'bogus' } as unknown as WithoutId<Request>)).replies);
    expect(r).toMatchObject({ kind: 'error', error: { code: 'bad-argument' } });
  });
});

describe('EngineClient over a failing transport', () => {
  it('rejects pending requests and emits an internal error when the host dies', async () => {
    let fatal!: (message: string) => void;
    const client = new EngineClient({ send() {}, listen: (_r, f) => (fatal = f), close() {} });
    const events: unknown[] = [];
    client.onEvent((e) => events.push(e));
    const info = client.getInfo();
    fatal('the engine worker failed: SyntaxError');
    await expect(info).rejects.toMatchObject({
      name: 'EngineError',
      code: 'internal',
      message: 'the engine worker failed: SyntaxError',
    });
    expect(events).toEqual([
      { kind: 'error', error: { code: 'internal', message: 'the engine worker failed: SyntaxError' } },
    ]);
  });
});

describe('EngineClient over the in-thread transport', () => {
  it('transfers the bytes, streams tokens and resolves with the summary', async () => {
    const client = new EngineClient(inThreadTransport({}));
    try {
      const src = bytesSource();
      if (src.kind !== 'bytes') throw new Error('unreachable');
      const { model } = await client.load(src);
      expect(src.model.byteLength).toBe(0); // transferred, as to a Worker
      expect(model.backend).toBe('cpu');
      const pieces: string[] = [];
      const res = await client.generate('', GREEDY, { onToken: (t) => pieces.push(t.text) });
      expect(pieces.join('')).toBe(res.text);
      expect(res.text).toBe((await referenceGreedy(20)).text);
    } finally {
      client.dispose();
    }
  });

  it('stops through an AbortSignal and rejects errors as EngineError with the wire code', async () => {
    const client = new EngineClient(inThreadTransport({}));
    try {
      await expect(client.load(bytesSource(new Uint8Array(10)))).rejects.toMatchObject({
        name: 'EngineError',
        code: 'truncated',
      });
      await client.load(bytesSource());
      const ctrl = new AbortController();
      let n = 0;
      const res = await client.generate(
        '',
        { ...GREEDY, maxTokens: 400 },
        { signal: ctrl.signal, onToken: () => ++n === 3 && ctrl.abort() },
      );
      expect(res.stoppedBy).toBe('cancelled');
      expect(res.tokens.length).toBeGreaterThanOrEqual(3);
      expect(res.tokens.length).toBeLessThan(400);
    } finally {
      client.dispose();
    }
    await expect(client.getInfo()).rejects.toBeInstanceOf(EngineError);
  });
});

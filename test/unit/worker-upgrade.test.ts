// The host's WebGPU path in Node, with the GPU modules replaced by scripted fakes: the model is
// usable on the CPU at once, moves to the "WebGPU" runner when it is built (between turns),
// stays on the CPU when the runner fails, and is dropped when the device is lost.
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createEngineHost } from '../../src/worker/engine-host/host.ts';
import type { Reply, Request, SamplingSettings } from '../../src/worker/engine-host/protocol.ts';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const fake = vi.hoisted(() => ({
  runnerGate: null as null | { promise: Promise<void> },
  runnerError: null as unknown,
  lost: null as null | ((e: unknown) => void),
  built: 0,
  disposed: 0,
}));

vi.mock('../../src/gpu/device.ts', () => ({
  requestGpuContext: async () => {
    const lost = new Promise((r) => (fake.lost = r));
    return {
      device: {},
      lost,
      lostError: () => null,
      destroy() {},
      adapterInfo: { vendor: 'test', architecture: 'fake', device: '', description: 'scripted adapter' },
      caps: { shaderF16: false, subgroups: true, timestampQuery: false, subgroupMinSize: 4, subgroupMaxSize: 4 },
      limits: { maxBufferSize: 1 << 28, maxStorageBufferBindingSize: 1 << 27 },
      kernels: { label: 'f32, subgroup reductions' },
    };
  },
}));

vi.mock('../../src/engine/gpu-runner.ts', () => ({
  createGpuRunner: async (_ctx: unknown, model: LlamaModel) => {
    await fake.runnerGate?.promise;
    if (fake.runnerError) throw fake.runnerError;
    fake.built++;
    const cpu = createCpuRunner(model);
    return { ...cpu, backend: 'webgpu', dispose: () => fake.disposed++ };
  },
}));

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 8, seed: 1 };
const source = () => ({
  kind: 'bytes' as const,
  name: 'm',
  model: MODEL.slice().buffer,
  tokenizer: TOK.slice().buffer,
});

function makeHost() {
  const replies: Reply[] = [];
  const host = createEngineHost({ gpu: {} as GPU }, (r) => replies.push(structuredClone(r)));
  let id = 0;
  const send = (body: Record<string, unknown>) => host.handle({ ...body, id: ++id } as Request);
  const events = () => replies.filter((r) => r.id === null);
  const last = () => replies[replies.length - 1];
  const settle = () => new Promise((r) => setTimeout(r, 5));
  return { host, replies, send, events, last, settle };
}

beforeEach(() => {
  fake.runnerGate = null;
  fake.runnerError = null;
  fake.built = 0;
  fake.disposed = 0;
});

describe('engine host with a WebGPU device', () => {
  it('answers the load on the CPU at once, then moves the model to WebGPU', async () => {
    // (the adapter request may still be pending at the answer: the event carries the adapter)
    const gate = deferred<void>();
    fake.runnerGate = gate;
    const h = makeHost();
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    expect(h.last()).toMatchObject({
      kind: 'response',
      result: { model: { backend: 'cpu', gpuMs: null }, engine: { backend: 'cpu', upgrading: true } },
    });
    await h.send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(h.last()).toMatchObject({ kind: 'response', result: { backend: 'cpu' } });
    gate.resolve();
    await h.settle();
    expect(h.events()).toEqual([
      {
        kind: 'event',
        id: null,
        event: {
          kind: 'model-updated',
          model: expect.objectContaining({ backend: 'webgpu', gpuMs: expect.any(Number) }),
          engine: expect.objectContaining({
            backend: 'webgpu',
            upgrading: false,
            gpuChecking: false,
            gpuUnavailable: null,
            gpu: expect.objectContaining({ adapter: expect.objectContaining({ vendor: 'test' }) }),
          }),
        },
      },
    ]);
    await h.send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(h.last()).toMatchObject({ kind: 'response', result: { backend: 'webgpu' } });
  });

  it('lets a running turn finish on the CPU before swapping', async () => {
    const gate = deferred<void>();
    fake.runnerGate = gate;
    const h = makeHost();
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    const turn = h.send({ kind: 'generate', prompt: '', settings: { ...GREEDY, maxTokens: 60 } });
    gate.resolve();
    await turn;
    const done = h.replies.find((r) => r.kind === 'response' && r.request === 'generate');
    expect(done).toMatchObject({ result: { backend: 'cpu', stoppedBy: 'length' } });
    await h.settle();
    expect(h.events().map((e) => e.kind === 'event' && e.event.model.backend)).toEqual(['webgpu']);
    const at = (f: (r: Reply) => boolean) => h.replies.findIndex(f);
    expect(at((r) => r.kind === 'event')).toBeGreaterThan(at((r) => r.kind === 'response' && r.request === 'generate'));
  });

  it('stays on the CPU and says why when the WebGPU runner cannot be built', async () => {
    fake.runnerError = new NibbleError('too-large', 'tok_emb needs 3 GiB, maxBufferSize is 1 GiB');
    const h = makeHost();
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    await h.settle();
    const [err, upd] = h.events();
    expect(err).toMatchObject({
      kind: 'error',
      error: { code: 'too-large', message: expect.stringMatching(/keeps running on the CPU/) },
    });
    expect(upd).toMatchObject({
      kind: 'event',
      event: {
        model: { backend: 'cpu' },
        engine: { upgrading: false, gpuUnavailable: expect.stringMatching(/maxBufferSize/) },
      },
    });
    await h.send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(h.last()).toMatchObject({ kind: 'response', result: { backend: 'cpu' } });
  });

  it('drops an upgrade made obsolete by a newer load, and never upgrades with the CPU preference', async () => {
    const gate = deferred<void>();
    fake.runnerGate = gate;
    const h = makeHost();
    await h.send({ kind: 'get-info' }); // the device is held from here on
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    await h.send({ kind: 'load', source: source(), backend: 'cpu' });
    expect(h.last()).toMatchObject({
      result: {
        model: { backend: 'cpu' },
        engine: { upgrading: false, gpuUnavailable: null, gpu: { kernels: 'f32, subgroup reductions' } },
      },
    });
    gate.resolve();
    await h.settle();
    expect(fake.built).toBe(1);
    expect(fake.disposed).toBe(1); // the obsolete runner was freed, not swapped in
    expect(h.events()).toEqual([]);
    await h.send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(h.last()).toMatchObject({ kind: 'response', result: { backend: 'cpu' } });
  });

  it('with the CPU preference, still tells the UI about the adapter once it is known', async () => {
    const h = makeHost();
    await h.send({ kind: 'load', source: source(), backend: 'cpu' });
    expect(h.last()).toMatchObject({
      result: { model: { backend: 'cpu' }, engine: { upgrading: false, gpuChecking: true, gpu: null } },
    });
    await h.settle();
    expect(h.events()).toMatchObject([
      {
        kind: 'event',
        event: { model: { backend: 'cpu' }, engine: { gpuChecking: false, gpu: { adapter: { vendor: 'test' } } } },
      },
    ]);
    expect(fake.built).toBe(0);
  });

  it('reports device loss and drops the WebGPU model', async () => {
    const h = makeHost();
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    await h.settle();
    fake.lost!(new NibbleError('device-lost', 'The GPU device was lost (test).'));
    await h.settle();
    expect(h.last()).toEqual({
      kind: 'error',
      id: null,
      error: { code: 'device-lost', message: 'The GPU device was lost (test).' },
    });
    await h.send({ kind: 'get-info' });
    expect(h.last()).toMatchObject({ result: { model: null } });
    await h.send({ kind: 'generate', prompt: '', settings: GREEDY });
    expect(h.last()).toMatchObject({ kind: 'error', error: { code: 'bad-argument' } });
  });
});

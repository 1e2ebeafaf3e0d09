// The memory plan against a (scripted) WebGPU device: inspect plans against the device's limits
// and navigator.deviceMemory; a model the plan says does not fit still loads on the CPU and the
// WebGPU runner is never attempted; a model the RAM hint cannot hold is refused before its
// weights are read.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createEngineHost, type HostDeps } from '../../src/worker/engine-host/host.ts';
import type { ModelSource, Reply, Request } from '../../src/worker/engine-host/protocol.ts';
import { hfFixtureFiles } from './hf-fixture.ts';
import { stories260K, tok512 } from './helpers.ts';

const fake = vi.hoisted(() => ({ limits: { maxBufferSize: 1 << 28, maxStorageBufferBindingSize: 1 << 27 }, built: 0 }));

vi.mock('../../src/gpu/device.ts', () => ({
  requestGpuContext: async () => ({
    device: {},
    lost: new Promise(() => undefined),
    lostError: () => null,
    destroy() {},
    adapterInfo: { vendor: 'test', architecture: 'fake', device: '', description: 'scripted adapter' },
    caps: { shaderF16: false, subgroups: false, timestampQuery: false, subgroupMinSize: 4, subgroupMaxSize: 4 },
    limits: { ...fake.limits },
    kernels: { label: 'f32' },
  }),
}));

vi.mock('../../src/engine/gpu-runner.ts', () => ({
  createGpuRunner: async (_ctx: unknown, model: LlamaModel) => {
    fake.built++;
    return { ...createCpuRunner(model), backend: 'webgpu' };
  },
}));

const HF = hfFixtureFiles();
const HF_BYTES = Object.values(HF).reduce((n, b) => n + b.byteLength, 0);
let sliced = 0;
class CountingBlob extends Blob {
  override slice(start?: number, end?: number, type?: string): Blob {
    sliced += Math.max(0, Math.min(end ?? this.size, this.size) - (start ?? 0));
    return super.slice(start, end, type);
  }
}
const source = (): ModelSource => ({
  kind: 'files',
  name: 'hf',
  files: Object.entries(HF).map(([path, b]) => ({ path, blob: new CountingBlob([b as Uint8Array<ArrayBuffer>]) })),
});

function makeHost(deps: Partial<HostDeps> = {}) {
  const replies: Reply[] = [];
  const host = createEngineHost({ gpu: {} as GPU, ...deps }, (r) => replies.push(structuredClone(r)));
  let id = 0;
  const send = async (body: Record<string, unknown>) => {
    await host.handle({ ...body, id: ++id } as Request);
    return replies[replies.length - 1];
  };
  const settle = () => new Promise((r) => setTimeout(r, 10));
  return { send, settle, events: () => replies.filter((r) => r.id === null) };
}

beforeEach(() => {
  fake.limits = { maxBufferSize: 1 << 28, maxStorageBufferBindingSize: 1 << 27 };
  fake.built = 0;
  sliced = 0;
});

describe('memory plan against the device', () => {
  it('inspect plans against the held device and navigator.deviceMemory', async () => {
    const h = makeHost({ deviceMemoryGiB: 4 });
    const r = await h.send({ kind: 'inspect', source: source(), contextLength: 128 });
    expect(r).toMatchObject({
      kind: 'response',
      result: { memory: { verdict: 'fits', bindingCap: 1 << 27, contextLength: 128 } },
    });
    fake.limits = { maxBufferSize: 4096, maxStorageBufferBindingSize: 4096 };
    const small = await makeHost().send({ kind: 'inspect', source: source() });
    expect(small).toMatchObject({
      result: { memory: { verdict: 'too-large', maxContextForBinding: 4096 / (4 * 8 * 4) } },
    });
    fake.limits = { maxBufferSize: 1 << 28, maxStorageBufferBindingSize: 1 << 27 };
    const tiny = await makeHost({ deviceMemoryGiB: 1 / 2 ** 20 }).send({ kind: 'inspect', source: source() }); // a 1 KiB hint
    expect(tiny).toMatchObject({
      result: { memory: { verdict: 'too-large', reasons: [expect.stringMatching(/navigator\.deviceMemory/)] } },
    });
  });

  it('loads a model too large for the device on the CPU and never builds its WebGPU runner', async () => {
    fake.limits = { maxBufferSize: 4096, maxStorageBufferBindingSize: 4096 }; // one layer's KV cache does not fit
    const h = makeHost();
    await h.send({ kind: 'get-info' }); // the device is held
    const r = await h.send({ kind: 'load', source: source(), backend: 'auto' });
    expect(r).toMatchObject({
      kind: 'response',
      result: {
        model: { backend: 'cpu' },
        engine: { upgrading: false, gpuUnavailable: expect.stringMatching(/does not fit this GPU.*KV cache/) },
      },
    });
    await h.settle();
    expect(fake.built).toBe(0);
    // The device still pending at the answer (bytes in memory load before the adapter request):
    // the same verdict once it is known, in the model-updated event.
    const late = makeHost();
    const bytes = { kind: 'bytes', name: 'b', model: stories260K().buffer, tokenizer: tok512().buffer };
    const l = await late.send({ kind: 'load', source: bytes, backend: 'auto' });
    expect(l).toMatchObject({ result: { engine: { upgrading: true } } });
    await late.settle();
    expect(late.events()).toMatchObject([
      {
        event: {
          kind: 'model-updated',
          model: { backend: 'cpu' },
          engine: { upgrading: false, gpuUnavailable: expect.stringMatching(/does not fit/) },
        },
      },
    ]);
    expect(fake.built).toBe(0);
  });

  it('moves a model that fits to WebGPU as before', async () => {
    const h = makeHost({ deviceMemoryGiB: 8 });
    await h.send({ kind: 'load', source: source(), backend: 'auto' });
    await h.settle();
    expect(fake.built).toBe(1);
    expect(h.events()).toMatchObject([{ event: { model: { backend: 'webgpu' }, engine: { gpuUnavailable: null } } }]);
  });

  it('refuses, before reading the weights, a model the RAM hint cannot hold; the previous model stays', async () => {
    const h = makeHost({ deviceMemoryGiB: 1 / 2 ** 20 });
    const r = await h.send({ kind: 'load', source: source(), backend: 'cpu' });
    expect(r).toMatchObject({
      kind: 'error',
      error: { code: 'too-large', message: expect.stringMatching(/navigator\.deviceMemory/) },
    });
    expect(sliced).toBeLessThan(HF_BYTES / 4);
    expect(await h.send({ kind: 'get-info' })).toMatchObject({ result: { model: null } });
  });
});

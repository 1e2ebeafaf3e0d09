// The vision slice: with a scripted VisionEngine (timing, cancellation, sweep order, stale
// answers, errors), and end to end on the real vision host in this thread (onnxruntime-web's
// Node build, the embedded ViT and 2,000 held-out digits): the slider at 3 bits gives the
// engine's own accuracy, measured on a model rewritten and re-opened in the host.
import * as ort from 'onnxruntime-web';
import { afterEach, describe, expect, it } from 'vitest';
import { createAppStore, type AppStore } from '../../src/state/store.ts';
import { COARSE_BITS, FINE_BITS, visionCurve, visionKey, type VisionDeps } from '../../src/state/vision-slice.ts';
import { createVisionLab } from '../../src/engine/vision/lab.ts';
import { datasetFromIdx } from '../../src/engine/vision/dataset.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { VisionClient } from '../../src/worker/vision/vision-client.ts';
import { inThreadVisionTransport } from '../../src/worker/vision/vision-host.ts';
import type {
  TruncMode,
  VisionEngine,
  VisionEvaluation,
  VisionModelInfo,
  VisionPoint,
  VisionProgress,
} from '../../src/worker/vision/vision-protocol.ts';
import { readProjectFile } from './helpers.ts';

ort.env.wasm.numThreads = 1;

const SOURCE = {
  kind: 'url',
  name: 'vit-mnist',
  dataName: 'MNIST held-out',
  modelUrl: '/models/vit-mnist.onnx',
  imagesUrl: '/data/i.idx3',
  labelsUrl: '/data/l.idx1',
} as const;
const DEFAULT_SOURCE = { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' } as const;
const stores: AppStore[] = [];
afterEach(() => {
  while (stores.length) stores.pop()!.dispose();
});

function makeStore(vision: VisionDeps) {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async () => new Uint8Array(0) }));
  const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE, vision });
  stores.push(store);
  return store;
}

const until = async (cond: () => boolean, ms = 2000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 1));
  }
};

/** A scripted engine: each evaluate/sweep waits until the test releases it. */
function scripted() {
  const calls: string[] = [];
  const waiting: {
    key: string;
    release: (acc?: number) => void;
    fail: (e: unknown) => void;
    signal?: AbortSignal;
    onProgress?: (p: VisionProgress) => void;
  }[] = [];
  const info = {
    name: 'vit-mnist',
    dataName: 'MNIST held-out',
    images: 4,
    height: 2,
    width: 2,
    samples: { indices: [0, 1], pixels: new Float32Array(8), labels: [3, 4] },
  } as unknown as VisionModelInfo;
  const point = (k: number | null, mode: TruncMode | null, accuracy: number): VisionPoint => ({
    k,
    mode,
    accuracy,
    correct: accuracy * 4,
    count: 4,
    seconds: 0.1,
  });
  const engine: VisionEngine = {
    async open(src) {
      calls.push(`open ${src.name}`);
      return { ...info, name: src.name };
    },
    evaluate(k, mode, opts = {}) {
      const key = visionKey(k, mode);
      calls.push(`evaluate ${key}`);
      return new Promise<VisionEvaluation>((resolve, reject) => {
        const cancel = () => reject({ code: 'cancelled', message: 'cancelled' });
        if (opts.signal?.aborted) return cancel();
        opts.signal?.addEventListener('abort', cancel);
        waiting.push({
          key,
          signal: opts.signal,
          onProgress: opts.onProgress,
          fail: reject,
          release: (acc = 0.5) => resolve({ ...point(k, mode, acc), predictions: Uint8Array.of(3, 4, 0, 0) }),
        });
      });
    },
    async sweep(modes, bits, opts = {}) {
      calls.push(`sweep ${modes.join('+')} ${bits.join(',')}`);
      const points: VisionPoint[] = [];
      let done = 0;
      for (const m of modes) {
        for (const k of bits) {
          if (opts.signal?.aborted) throw { code: 'cancelled', message: 'cancelled' };
          const p = point(k, m, k / 23);
          points.push(p);
          opts.onProgress?.({ phase: 'point', point: p, done: ++done, total: modes.length * bits.length });
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      return { points };
    },
    dispose() {
      calls.push('dispose');
    },
  };
  const next = async (key: string) => {
    const live = (w: (typeof waiting)[number]) => w.key === key && !w.signal?.aborted;
    await until(() => waiting.some(live));
    return waiting.splice(waiting.findIndex(live), 1)[0];
  };
  return { engine, calls, next };
}

describe('vision slice (scripted engine)', () => {
  it('opens lazily, evaluates fp32 then the slider, and shows the slider point once it arrives', async () => {
    const fake = scripted();
    let spawned = 0;
    const store = makeStore({ spawn: () => (spawned++, fake.engine), source: SOURCE });
    expect(spawned).toBe(0); // nothing until the lab is opened
    const opening = store.getState().openVisionDefault();
    expect(store.getState().vision).toMatchObject({ status: 'opening', opening: 'vit-mnist' });
    (await fake.next('fp32')).release(0.98);
    (await fake.next('truncate:23')).release(0.98);
    await opening;
    const v = store.getState().vision;
    expect(spawned).toBe(1);
    expect(v.status).toBe('ready');
    expect(v.points.fp32.accuracy).toBe(0.98);
    expect(v.shown?.key).toBe('truncate:23');
    expect(fake.calls).toEqual(['open vit-mnist', 'evaluate fp32', 'evaluate truncate:23']);
    await store.getState().openVisionDefault(); // already open: nothing happens
    expect(fake.calls.length).toBe(3);
  });

  it('a newer slider move cancels the evaluation in flight; progress and the readout follow the slider', async () => {
    const fake = scripted();
    const store = makeStore({ spawn: () => fake.engine, source: SOURCE });
    const opening = store.getState().openVisionDefault();
    (await fake.next('fp32')).release(0.98);
    (await fake.next('truncate:23')).release(0.98);
    await opening;
    store.getState().setVisionBits(5);
    const five = await fake.next('truncate:5');
    five.onProgress?.({ phase: 'images', k: 5, mode: 'truncate', done: 2, total: 4 });
    expect(store.getState().vision.evaluating).toEqual({ k: 5, mode: 'truncate', done: 2, total: 4 });
    store.getState().setVisionBits(3.4); // rounds to 3
    expect(five.signal?.aborted).toBe(true);
    expect(store.getState().vision.k).toBe(3);
    (await fake.next('truncate:3')).release(0.97);
    await until(() => store.getState().vision.evaluating === null);
    const v = store.getState().vision;
    expect(v.points['truncate:3'].accuracy).toBe(0.97);
    expect(v.points['truncate:5']).toBeUndefined();
    expect(v.shown?.key).toBe('truncate:3');
    expect(Array.from(v.shown!.predictions)).toEqual([3, 4, 0, 0]);
    expect(store.getState().error).toBeNull(); // cancellation is not an error
    // the mode toggle evaluates the same k in the other mode; going back to a shown point is free
    store.getState().setVisionMode('rne');
    (await fake.next('rne:3')).release(0.979);
    await until(() => store.getState().vision.shown?.key === 'rne:3');
    store.getState().setVisionBits(99);
    expect(store.getState().vision.k).toBe(23);
  });

  it('moving the slider while the fp32 reference runs does not cancel the reference', async () => {
    const fake = scripted();
    const store = makeStore({ spawn: () => fake.engine, source: SOURCE });
    const opening = store.getState().openVisionDefault();
    const fp32 = await fake.next('fp32');
    store.getState().setVisionBits(2);
    expect(fp32.signal?.aborted).toBe(false);
    fp32.release(0.98);
    (await fake.next('truncate:2')).release(0.96);
    await opening;
    await until(() => store.getState().vision.shown?.key === 'truncate:2');
    const v = store.getState().vision;
    expect([v.points.fp32.accuracy, v.points['truncate:2'].accuracy, v.evaluating]).toEqual([0.98, 0.96, null]);
    expect(v.reference).toEqual(Uint8Array.of(3, 4, 0, 0));
    expect(fake.calls).toEqual(['open vit-mnist', 'evaluate fp32', 'evaluate truncate:2']); // not 23 as well
  });

  it('sweeps coarse bits first, then the rest, skipping points it has; Stop ends it', async () => {
    const fake = scripted();
    const store = makeStore({ spawn: () => fake.engine, source: SOURCE });
    const opening = store.getState().openVisionDefault();
    (await fake.next('fp32')).release(0.98);
    (await fake.next('truncate:23')).release(0.98);
    await opening;
    await store.getState().sweepVision();
    const sweeps = fake.calls.filter((c) => c.startsWith('sweep'));
    expect(sweeps).toEqual([
      `sweep truncate+rne ${COARSE_BITS.join(',')}`,
      `sweep truncate+rne ${FINE_BITS.join(',')}`,
    ]);
    const curve = visionCurve(store.getState().vision.points);
    expect(curve).toHaveLength(24);
    expect(curve.every((r) => r.truncate !== null && r.rne !== null)).toBe(true);
    expect(store.getState().vision.sweep).toBeNull();
    // everything is there: a second sweep asks for nothing
    await store.getState().sweepVision();
    expect(fake.calls.filter((c) => c.startsWith('sweep')).length).toBe(2);
  });

  it('errors go to the banner; answers for a model that was replaced are dropped', async () => {
    const fake = scripted();
    const store = makeStore({ spawn: () => fake.engine, source: SOURCE });
    const opening = store.getState().openVisionDefault();
    (await fake.next('fp32')).fail({ code: 'bad-format', message: 'onnxruntime could not load the model' });
    await until(() => store.getState().error !== null);
    expect(store.getState().error).toMatchObject({ code: 'bad-format', context: expect.stringMatching(/Vision lab/) });
    (await fake.next('truncate:23')).release(0.9);
    await opening;
    const reopen = store.getState().openVision({
      kind: 'idx',
      name: 'mine',
      dataName: 'my digits',
      model: new ArrayBuffer(1),
      images: new ArrayBuffer(1),
      labels: new ArrayBuffer(1),
    });
    expect(store.getState().vision.points).toEqual({});
    (await fake.next('fp32')).release(0.5);
    (await fake.next('truncate:23')).release(0.5);
    await reopen;
    expect(store.getState().vision.model?.name).toBe('mine');
    store.getState().closeVision();
    expect(fake.calls.at(-1)).toBe('dispose');
    expect(store.getState().vision.status).toBe('idle');
  });
});

describe('vision slice on the real vision host (onnxruntime-web, Node)', () => {
  it('slider at 3 bits: the accuracy of the rewritten ViT equals the engine computed directly', async () => {
    const files: Record<string, Uint8Array> = {
      [SOURCE.modelUrl]: readProjectFile('public/models/vit-mnist.onnx'),
      [SOURCE.imagesUrl]: readProjectFile('public/data/mnist-heldout-images.idx3'),
      [SOURCE.labelsUrl]: readProjectFile('public/data/mnist-heldout-labels.idx1'),
    };
    const spawn = () => new VisionClient(inThreadVisionTransport({ ort, fetchBytes: async (u) => files[u].slice() }));
    const store = makeStore({ spawn, source: SOURCE, samples: 12 });
    store.setState((s) => ({ vision: { ...s.vision, k: 3 } })); // as if the slider were at 3 before opening
    await store.getState().openVisionDefault();
    await until(() => store.getState().vision.shown?.key === 'truncate:3', 60_000);
    const v = store.getState().vision;
    expect(v.model).toMatchObject({ images: 2000, height: 28, width: 28, classes: 10, weights: 139018, tensors: 56 });
    expect(v.model!.input).toBe('image [batch, 1, 28, 28]');
    expect(v.model!.samples.pixels.length).toBe(12 * 784);
    expect(v.model!.samples.labels).toEqual(Array.from(files[SOURCE.labelsUrl].subarray(8, 20)));
    expect(v.points.fp32).toMatchObject({ accuracy: 0.9795, correct: 1959 });
    // the same computation without the worker protocol or the store
    const lab = await createVisionLab(
      ort,
      files[SOURCE.modelUrl],
      datasetFromIdx(files[SOURCE.imagesUrl], files[SOURCE.labelsUrl]),
    );
    const direct = await lab.evaluateTruncated(3, 'truncate');
    await lab.dispose();
    expect(v.points['truncate:3']).toMatchObject({ accuracy: direct.accuracy, correct: direct.correct });
    expect(v.points['truncate:3'].accuracy).toBe(0.978);
    expect(v.shown!.predictions).toEqual(direct.predictions);
  }, 120_000);
});

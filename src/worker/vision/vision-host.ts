// The vision host: answers vision-protocol requests with the truncation lab (src/engine/vision)
// on the onnxruntime module it is given — the wasm build in vision.worker.ts, the Node build in
// tests (inThreadVisionTransport). One model + data set at a time; evaluations queue in the lab
// (one ORT session at a time), so a slider request waits at most for the sweep point in flight.
import { NibbleError } from '../../core/errors.ts';
import { sweepTruncationCurve } from '../../engine/vision/curve.ts';
import { datasetFromIdx, datasetFromImages, parseLabelsText, type VisionDataset } from '../../engine/vision/dataset.ts';
import { createVisionLab, type VisionLab, type VisionResult } from '../../engine/vision/lab.ts';
import type { OrtModuleLike } from '../../engine/vision/ort.ts';
import { inThreadLoop } from '../rpc/in-thread-loop.ts';
import { toWireError } from '../engine-host/protocol.ts';
import type { VisionTransport } from './vision-client.ts';
import type {
  VisionEvaluation,
  VisionModelInfo,
  VisionPoint,
  VisionReply,
  VisionRequest,
  VisionSource,
} from './vision-protocol.ts';

export interface VisionHostDeps {
  ort: OrtModuleLike;
  /** Reads a URL into bytes (default: fetch, failures as 'fetch-failed'). */
  fetchBytes?: (url: string) => Promise<Uint8Array>;
  /** Images per ORT run (default 200). */
  batchSize?: number;
}

export type VisionPost = (reply: VisionReply, transfer?: Transferable[]) => void;

export interface VisionHost {
  handle(req: VisionRequest): Promise<void>;
  dispose(): void;
}

async function defaultFetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw { code: 'fetch-failed', message: `could not fetch ${url}: ${(e as Error).message}` };
  }
  if (!res.ok) throw { code: 'fetch-failed', message: `could not fetch ${url}: HTTP ${res.status} ${res.statusText}` };
  return new Uint8Array(await res.arrayBuffer());
}

async function readSource(
  source: VisionSource,
  fetchBytes: (url: string) => Promise<Uint8Array>,
): Promise<{ model: Uint8Array; data: VisionDataset }> {
  switch (source.kind) {
    case 'url': {
      const [model, images, labels] = await Promise.all([
        fetchBytes(source.modelUrl),
        fetchBytes(source.imagesUrl),
        fetchBytes(source.labelsUrl),
      ]);
      return { model, data: datasetFromIdx(images, labels) };
    }
    case 'idx':
      return {
        model: new Uint8Array(source.model),
        data: datasetFromIdx(new Uint8Array(source.images), new Uint8Array(source.labels)),
      };
    case 'images': {
      const labels = parseLabelsText(source.labelsText, source.names);
      return {
        model: new Uint8Array(source.model),
        data: datasetFromImages(
          new Float32Array(source.pixels),
          { height: source.height, width: source.width },
          labels,
        ),
      };
    }
    default:
      throw new NibbleError('bad-argument', `unknown vision source kind '${(source as { kind: string }).kind}'`);
  }
}

const shape = (dims: readonly (number | string | null)[] | null): string =>
  dims ? `[${dims.map((d) => d ?? '?').join(', ')}]` : '';
const point = (r: VisionResult): VisionPoint => ({
  k: r.k,
  mode: r.mode,
  accuracy: r.accuracy,
  correct: r.correct,
  count: r.count,
  seconds: r.seconds,
});

export function createVisionHost(deps: VisionHostDeps, post: VisionPost): VisionHost {
  const fetchBytes = deps.fetchBytes ?? defaultFetchBytes;
  let lab: VisionLab | null = null;
  let generation = 0; // bumps on every open: jobs of an older model are stale
  const running = new Map<number, AbortController>();
  let disposed = false;

  const cancelAll = () => {
    for (const c of running.values()) c.abort();
  };

  async function open(source: VisionSource, samples: number): Promise<VisionModelInfo> {
    const gen = ++generation;
    cancelAll();
    const t0 = performance.now();
    const { model, data } = await readSource(source, fetchBytes);
    const next = await createVisionLab(deps.ort, model, data, { batchSize: deps.batchSize });
    if (gen !== generation || disposed) {
      await next.dispose();
      throw new NibbleError('cancelled', 'a newer model was opened');
    }
    const old = lab;
    lab = next;
    void old?.dispose();
    const n = Math.max(0, Math.min(samples, data.count));
    const hw = data.height * data.width;
    const inp = next.info.inputs[0];
    const out = next.info.outputs.find((o) => o.name === next.io.output);
    return {
      name: source.name,
      dataName: source.dataName,
      modelBytes: model.byteLength,
      input: `${inp.name} ${shape(inp.dims)}`.trim(),
      output: `${next.io.output} ${shape(out?.dims ?? null)}`.trim(),
      classes: next.io.classes,
      weights: next.weights.values,
      tensors: next.weights.tensors.length,
      untouched: next.weights.untouched,
      images: data.count,
      height: data.height,
      width: data.width,
      samples: {
        indices: Array.from({ length: n }, (_, i) => i),
        pixels: data.pixels.slice(0, n * hw),
        labels: Array.from(data.labels.subarray(0, n)),
      },
      openMs: performance.now() - t0,
    };
  }

  function currentLab(): VisionLab {
    if (!lab) throw new NibbleError('bad-argument', 'no vision model is open yet');
    return lab;
  }

  async function handle(req: VisionRequest): Promise<void> {
    if (req.kind === 'cancel') {
      const c = running.get(req.target);
      c?.abort();
      post({ kind: 'response', id: req.id, request: 'cancel', result: { cancelled: c !== undefined } });
      return;
    }
    const ctrl = new AbortController();
    running.set(req.id, ctrl);
    const gen = generation;
    try {
      switch (req.kind) {
        case 'open': {
          running.delete(req.id); // an open is not cancellable; a newer open supersedes it
          const info = await open(req.source, req.samples);
          post({ kind: 'response', id: req.id, request: 'open', result: info }, [info.samples.pixels.buffer]);
          return;
        }
        case 'evaluate': {
          const l = currentLab();
          const onProgress = (done: number, total: number) =>
            post({
              kind: 'progress',
              id: req.id,
              progress: { phase: 'images', k: req.k, mode: req.mode, done, total },
            });
          let r: VisionResult;
          if (req.k === null) r = await l.evaluateFp32({ signal: ctrl.signal, onProgress });
          else {
            if (req.mode === null)
              throw new NibbleError('bad-argument', 'a truncated evaluation needs a mode (truncate or rne)');
            r = await l.evaluateTruncated(req.k, req.mode, { signal: ctrl.signal, onProgress });
          }
          if (gen !== generation) throw new NibbleError('cancelled', 'a newer model was opened');
          const result: VisionEvaluation = { ...point(r), predictions: r.predictions.slice() };
          post({ kind: 'response', id: req.id, request: 'evaluate', result }, [result.predictions.buffer]);
          return;
        }
        case 'sweep': {
          const l = currentLab();
          const points = await sweepTruncationCurve(l, {
            modes: req.modes,
            bits: req.bits,
            signal: ctrl.signal,
            onPoint: (p, done, total) => {
              const r = l.cached(p.k, p.mode);
              if (r) post({ kind: 'progress', id: req.id, progress: { phase: 'point', point: point(r), done, total } });
            },
            onProgress: (p, done, total) =>
              post({ kind: 'progress', id: req.id, progress: { phase: 'images', k: p.k, mode: p.mode, done, total } }),
          });
          post({
            kind: 'response',
            id: req.id,
            request: 'sweep',
            result: { points: points.map((p) => point(l.cached(p.k, p.mode)!)) },
          });
          return;
        }
        default:
          throw new NibbleError('bad-argument', `unknown vision request '${(req as { kind: string }).kind}'`);
      }
    } catch (e) {
      post({ kind: 'error', id: req.id, error: toWireError(e) });
    } finally {
      running.delete(req.id);
    }
  }

  return {
    handle,
    dispose() {
      disposed = true;
      cancelAll();
      void lab?.dispose();
      lab = null;
    },
  };
}

/** The vision host in this thread behind the worker's transport (tests; Node's onnxruntime). */
export function inThreadVisionTransport(deps: VisionHostDeps): VisionTransport {
  return inThreadLoop<VisionRequest, VisionReply>((post) => createVisionHost(deps, post));
}

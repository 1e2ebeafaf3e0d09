// Client proxy for the vision worker: the vision protocol as promises, progress callbacks, and
// cancellation through AbortSignal (a `cancel` request for the running id). The same class runs
// over the Worker (the app) or the in-thread host (vision-host.ts: Node tests).
import { EngineError } from '../engine-host/protocol.ts';
import {
  sourceTransfer,
  type TruncMode,
  type VisionEngine,
  type VisionProgress,
  type VisionReply,
  type VisionRequest,
  type VisionRequestKind,
  type VisionResultMap,
  type VisionSource,
} from './vision-protocol.ts';

export interface VisionTransport {
  send(req: VisionRequest, transfer: Transferable[]): void;
  /** The single reply handler, and the handler for a failure of the host itself (script did not load). */
  listen(onReply: (r: VisionReply) => void, onFatal: (message: string) => void): void;
  close(): void;
}

interface Pending {
  resolve: (r: never) => void;
  reject: (e: EngineError) => void;
  onProgress?: (p: VisionProgress) => void;
}

type Body<K extends VisionRequestKind> = Omit<Extract<VisionRequest, { kind: K }>, 'id' | 'kind'>;
type Opts = { signal?: AbortSignal; onProgress?: (p: VisionProgress) => void };

export class VisionClient implements VisionEngine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly transport: VisionTransport) {
    transport.listen(
      (r) => this.onReply(r),
      (message) => this.failAll(message),
    );
  }

  open(source: VisionSource, opts: { samples?: number } = {}) {
    return this.request('open', { source, samples: opts.samples ?? 48 }, sourceTransfer(source));
  }

  evaluate(k: number | null, mode: TruncMode | null, opts: Opts = {}) {
    return this.cancellable('evaluate', { k, mode }, opts);
  }

  sweep(modes: TruncMode[], bits: number[], opts: Opts = {}) {
    return this.cancellable('sweep', { modes, bits }, opts);
  }

  dispose(): void {
    if (this.closed) return;
    this.failAll('the vision worker was shut down');
    this.closed = true;
    this.transport.close();
  }

  private async cancellable<K extends 'evaluate' | 'sweep'>(
    kind: K,
    body: Body<K>,
    opts: Opts,
  ): Promise<VisionResultMap[K]> {
    const id = this.nextId; // the id `request` is about to use
    const done = this.request(kind, body, [], opts.onProgress);
    const { signal } = opts;
    if (!signal) return done;
    const onAbort = () => void this.request('cancel', { target: id }).catch(() => undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await done;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new EngineError({ code: 'internal', message }));
    this.pending.clear();
  }

  private request<K extends VisionRequestKind>(
    kind: K,
    body: Body<K>,
    transfer: Transferable[] = [],
    onProgress?: (p: VisionProgress) => void,
  ): Promise<VisionResultMap[K]> {
    if (this.closed)
      return Promise.reject(new EngineError({ code: 'internal', message: 'the vision worker was shut down' }));
    const id = this.nextId++;
    return new Promise<VisionResultMap[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: never) => void, reject, onProgress });
      try {
        this.transport.send({ kind, id, ...body } as unknown as VisionRequest, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(new EngineError({ code: 'internal', message: `could not send ${kind}: ${(e as Error).message}` }));
      }
    });
  }

  private onReply(r: VisionReply): void {
    const p = r.id === null ? undefined : this.pending.get(r.id);
    if (!p) return;
    switch (r.kind) {
      case 'progress':
        p.onProgress?.(r.progress);
        return;
      case 'response':
        this.pending.delete(r.id);
        p.resolve(r.result as never);
        return;
      case 'error':
        this.pending.delete(r.id!);
        p.reject(new EngineError(r.error));
        return;
    }
  }
}

/** Transport over a dedicated Worker; a worker that fails to start rejects everything pending. */
export function visionWorkerTransport(worker: Worker): VisionTransport {
  return {
    send: (req, transfer) => worker.postMessage(req, transfer),
    listen(onReply, onFatal) {
      worker.onmessage = (e: MessageEvent<VisionReply>) => onReply(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        onFatal(`the vision worker failed: ${e.message || 'its script could not be loaded'}`);
      };
      worker.onmessageerror = () => onFatal('the vision worker sent a message that could not be read');
    },
    close: () => worker.terminate(),
  };
}

/** The app's vision engine: a module Worker running onnxruntime-web (wasm). Create it on first use. */
export function spawnVisionWorker(): VisionClient {
  const worker = new Worker(new URL('./vision.worker.ts', import.meta.url), { type: 'module', name: 'nibble-vision' });
  return new VisionClient(visionWorkerTransport(worker));
}

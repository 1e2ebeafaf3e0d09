// Client proxy: turns the request/reply protocol into promises. One promise per request id,
// progress callbacks for generation, cancel through an AbortSignal. The same class runs over a
// Web Worker (the app) or over an in-thread host (in-thread.ts: tests, the same protocol in Node).
import {
  EngineError,
  type BackendPreference,
  type Engine,
  type EngineEvent,
  type ModelSource,
  type Reply,
  type Request,
  type RequestKind,
  type ResultMap,
  type SamplingSettings,
  type TokenProgress,
} from './protocol.ts';

/** A message pipe to an engine host. Replies arrive asynchronously, in the order posted. */
export interface Transport {
  send(req: Request, transfer: Transferable[]): void;
  /**
   * Registers the single reply handler, and the handler for a failure of the host itself
   * (e.g. the worker script did not load): no pending request will be answered after it.
   */
  listen(onReply: (r: Reply) => void, onFatal: (message: string) => void): void;
  close(): void;
}

interface Pending {
  resolve: (result: never) => void;
  reject: (e: EngineError) => void;
  onProgress?: (t: TokenProgress) => void;
}

type Body<K extends RequestKind> = Omit<Extract<Request, { kind: K }>, 'id' | 'kind'>;

export class EngineClient implements Engine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private closed = false;

  constructor(private readonly transport: Transport) {
    transport.listen(
      (r) => this.onReply(r),
      (message) => {
        const error = { code: 'internal' as const, message };
        this.failAll(error);
        for (const l of this.listeners) l({ kind: 'error', error });
      },
    );
  }

  getInfo() {
    return this.request('get-info', {});
  }

  load(source: ModelSource, backend: BackendPreference = 'auto') {
    const transfer = source.kind === 'bytes' ? [source.model, source.tokenizer] : [];
    return this.request('load', { source, backend }, transfer);
  }

  async generate(
    prompt: string,
    settings: SamplingSettings,
    opts: { onToken?: (t: TokenProgress) => void; signal?: AbortSignal } = {},
  ) {
    const id = this.nextId; // the id `request` is about to use
    const done = this.request('generate', { prompt, settings }, [], opts.onToken);
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

  onEvent(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Rejects every pending request (code 'internal') and closes the transport. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll({ code: 'internal', message: 'the engine was shut down' });
    this.transport.close();
  }

  private failAll(error: { code: 'internal'; message: string }): void {
    for (const p of this.pending.values()) p.reject(new EngineError(error));
    this.pending.clear();
  }

  private request<K extends RequestKind>(
    kind: K,
    body: Body<K>,
    transfer: Transferable[] = [],
    onProgress?: (t: TokenProgress) => void,
  ): Promise<ResultMap[K]> {
    if (this.closed) return Promise.reject(new EngineError({ code: 'internal', message: 'the engine was shut down' }));
    const id = this.nextId++;
    return new Promise<ResultMap[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: never) => void, reject, onProgress });
      try {
        this.transport.send({ kind, id, ...body } as Request, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(new EngineError({ code: 'internal', message: `could not send ${kind}: ${(e as Error).message}` }));
      }
    });
  }

  private onReply(r: Reply): void {
    const p = r.id === null ? undefined : this.pending.get(r.id);
    switch (r.kind) {
      case 'event':
        for (const l of this.listeners) l(r.event);
        return;
      case 'progress':
        p?.onProgress?.(r.token);
        return;
      case 'response':
        if (!p) return;
        this.pending.delete(r.id);
        p.resolve(r.result as never);
        return;
      case 'error':
        if (!p) {
          for (const l of this.listeners) l({ kind: 'error', error: r.error });
          return;
        }
        this.pending.delete(r.id!);
        p.reject(new EngineError(r.error));
        return;
    }
  }
}

/** Transport over a dedicated Worker; worker crashes surface as unsolicited 'internal' errors. */
export function workerTransport(worker: Worker): Transport {
  return {
    send: (req, transfer) => worker.postMessage(req, transfer),
    listen(onReply, onFatal) {
      worker.onmessage = (e: MessageEvent<Reply>) => onReply(e.data);
      // The host answers every request itself, so an uncaught worker error means the worker
      // is broken (typically its script failed to load): treat it as fatal.
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        onFatal(`the engine worker failed: ${e.message || 'its script could not be loaded'}`);
      };
      worker.onmessageerror = () => onFatal('the engine worker sent a message that could not be read');
    },
    close: () => worker.terminate(),
  };
}

/** The app's engine: a module Worker running engine.worker.ts. */
export function spawnEngineWorker(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'nibble-engine' });
  return new EngineClient(workerTransport(worker));
}

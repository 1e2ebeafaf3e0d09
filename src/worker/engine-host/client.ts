// Client proxy: turns the request/reply protocol into promises. One promise per request id,
// progress callbacks for generation, cancel through an AbortSignal. The same class runs over a
// Web Worker (the app) or over an in-thread host (in-thread.ts: tests, the same protocol in Node).
import type {
  CollisionQuery,
  DriftQuery,
  EvalJobProgress,
  ExportFileFormat,
  HistogramQuery,
  JobOptions,
  JobProgress,
  OutlierQuery,
  QuantSpec,
  QuantizeJobProgress,
  TextSources,
  TruncationQuery,
  VariantMeta,
} from './lab-protocol.ts';
import {
  EngineError,
  type BackendPreference,
  type ChatMessage,
  type Engine,
  type EngineEvent,
  type LoadProgress,
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
  onToken?: (t: TokenProgress) => void;
  onJob?: (p: JobProgress) => void;
}

interface CallOptions {
  transfer?: Transferable[];
  onToken?: (t: TokenProgress) => void;
  onJob?: (p: JobProgress) => void;
  /** Aborting sends `cancel` for the request (its reply still settles the promise). */
  signal?: AbortSignal;
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

  load(
    source: ModelSource,
    backend: BackendPreference = 'auto',
    opts: { contextLength?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal } = {},
  ) {
    const transfer = source.kind === 'bytes' ? [source.model, source.tokenizer] : [];
    const body: Body<'load'> = { source, backend };
    if (opts.contextLength !== undefined) body.contextLength = opts.contextLength;
    return this.request('load', body, { transfer, signal: opts.signal, onJob: loadProgress(opts.onProgress) });
  }

  inspect(
    source: ModelSource,
    opts: { contextLength?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal } = {},
  ) {
    const body: Body<'inspect'> = { source };
    if (opts.contextLength !== undefined) body.contextLength = opts.contextLength;
    return this.request('inspect', body, { signal: opts.signal, onJob: loadProgress(opts.onProgress) });
  }

  generate(
    prompt: string,
    settings: SamplingSettings,
    opts: {
      onToken?: (t: TokenProgress) => void;
      signal?: AbortSignal;
      variant?: string;
      messages?: ChatMessage[];
    } = {},
  ) {
    const body: Body<'generate'> = { prompt, settings };
    if (opts.variant !== undefined) body.variant = opts.variant;
    if (opts.messages !== undefined) body.messages = opts.messages.map((m) => ({ role: m.role, content: m.content })); // plain data only
    return this.request('generate', body, { onToken: opts.onToken, signal: opts.signal });
  }

  // ---- the playground (lab-protocol.ts) ----

  quantize(spec: QuantSpec, text: TextSources, opts: JobOptions<QuantizeJobProgress> = {}) {
    return this.request('quantize', { spec, text }, jobOpts(opts, 'quantize'));
  }

  listVariants() {
    return this.request('list-variants', {});
  }

  deleteVariant(variant: string) {
    return this.request('delete-variant', { variant });
  }

  exportVariant(variant: string) {
    return this.request('export-variant', { variant });
  }

  exportModel(variant: string, format: ExportFileFormat) {
    return this.request('export-model', { variant, format });
  }

  importVariant(bytes: ArrayBuffer, meta?: Partial<VariantMeta>) {
    return this.request('import-variant', meta ? { bytes, meta } : { bytes }, { transfer: [bytes] });
  }

  weightHistogram(query: HistogramQuery) {
    return this.request('weight-histogram', { query });
  }

  collisions(query: CollisionQuery) {
    return this.request('collisions', { query });
  }

  outliers(query: OutlierQuery, opts: JobOptions = {}) {
    return this.request('outliers', { query }, { signal: opts.signal, onJob: opts.onProgress });
  }

  drift(query: DriftQuery, opts: JobOptions<EvalJobProgress> = {}) {
    return this.request('drift', { query }, jobOpts(opts, 'eval'));
  }

  truncationPoint(query: TruncationQuery, opts: JobOptions<EvalJobProgress> = {}) {
    return this.request('truncation-point', { query }, jobOpts(opts, 'eval'));
  }

  generatePair(
    prompt: string,
    settings: SamplingSettings,
    variants: [string, string],
    opts: { onToken?: (side: 0 | 1, t: TokenProgress) => void; signal?: AbortSignal; messages?: ChatMessage[] } = {},
  ) {
    const onJob = (p: JobProgress) => p.kind === 'pair-token' && opts.onToken?.(p.side, p.token);
    return this.request(
      'generate-pair',
      { prompt, settings, variants, ...(opts.messages ? { messages: opts.messages } : {}) },
      { signal: opts.signal, onJob },
    );
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

  private request<K extends RequestKind>(kind: K, body: Body<K>, opts: CallOptions = {}): Promise<ResultMap[K]> {
    if (this.closed) return Promise.reject(new EngineError({ code: 'internal', message: 'the engine was shut down' }));
    const id = this.nextId++;
    const done = new Promise<ResultMap[K]>((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (r: never) => void,
        reject,
        onToken: opts.onToken,
        onJob: opts.onJob,
      });
      try {
        this.transport.send({ kind, id, ...body } as Request, opts.transfer ?? []);
      } catch (e) {
        this.pending.delete(id);
        reject(new EngineError({ code: 'internal', message: `could not send ${kind}: ${(e as Error).message}` }));
      }
    });
    const { signal } = opts;
    if (!signal) return done;
    const onAbort = () => void this.request('cancel', { target: id }).catch(() => undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const off = () => signal.removeEventListener('abort', onAbort);
    done.then(off, off);
    return done;
  }

  private onReply(r: Reply): void {
    const p = r.id === null ? undefined : this.pending.get(r.id);
    switch (r.kind) {
      case 'event':
        for (const l of this.listeners) l(r.event);
        return;
      case 'progress':
        p?.onToken?.(r.token);
        return;
      case 'job-progress':
        p?.onJob?.(r.progress);
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

/** Job options → call options, passing on only the progress kind the caller asked about. */
function jobOpts<P extends JobProgress>(opts: JobOptions<P>, kind: P['kind']): CallOptions {
  const { onProgress, signal } = opts;
  return { signal, onJob: onProgress ? (p) => p.kind === kind && onProgress(p as P) : undefined };
}

/** A load/inspect progress callback as a job-progress handler (other progress kinds ignored). */
const loadProgress = (f?: (p: LoadProgress) => void) => (f ? (p: JobProgress) => p.kind === 'load' && f(p) : undefined);

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

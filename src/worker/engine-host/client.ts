// Client proxy: the engine protocol as the `Engine` interface, over the generic RPC client
// (rpc/rpc-client.ts: one promise per request id, cancel through an AbortSignal). Token and job
// progress go to the callbacks of their call; unsolicited replies become engine events. The same
// class runs over a Web Worker (the app) or an in-thread host (in-thread.ts: tests, Node).
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
import { RpcClient, type RequestBody, type RpcTransport } from '../rpc/rpc-client.ts';
import type {
  BackendPreference,
  ChatMessage,
  Engine,
  EngineEvent,
  LoadProgress,
  ModelSource,
  Reply,
  Request,
  RequestKind,
  ResultMap,
  SamplingSettings,
  TokenProgress,
} from './protocol.ts';

/** A message pipe to an engine host. Replies arrive asynchronously, in the order posted. */
export type Transport = RpcTransport<Request, Reply>;

interface CallOptions {
  transfer?: Transferable[];
  onToken?: (t: TokenProgress) => void;
  onJob?: (p: JobProgress) => void;
  /** Aborting sends `cancel` for the request (its reply still settles the promise). */
  signal?: AbortSignal;
}

type Body<K extends RequestKind> = RequestBody<Request, K>;

export class EngineClient implements Engine {
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly rpc: RpcClient<Request, Reply, ResultMap>;

  constructor(transport: Transport) {
    this.rpc = new RpcClient<Request, Reply, ResultMap>(transport, {
      closedMessage: 'the engine was shut down',
      onUnsolicited: (r) => {
        if (r.kind === 'event') for (const l of this.listeners) l(r.event);
        else if (r.kind === 'error') for (const l of this.listeners) l({ kind: 'error', error: r.error });
      },
      onFatal: (error) => {
        for (const l of this.listeners) l({ kind: 'error', error });
      },
    });
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
    this.rpc.dispose();
  }

  private request<K extends RequestKind>(kind: K, body: Body<K>, opts: CallOptions = {}): Promise<ResultMap[K]> {
    const { onToken, onJob } = opts;
    const onUpdate = (r: Reply) => {
      if (r.kind === 'progress') onToken?.(r.token);
      else if (r.kind === 'job-progress') onJob?.(r.progress);
    };
    return this.rpc.request(kind, body, { transfer: opts.transfer, signal: opts.signal, onUpdate });
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

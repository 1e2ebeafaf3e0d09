// The engine host: answers protocol requests (protocol.ts, lab-protocol.ts) with an engine
// session (session.ts). It runs inside the Web Worker (engine.worker.ts) and, unchanged, in Node
// tests and the in-thread transport. One handler per request kind: `Handlers` is derived from the
// protocol, so a kind without a handler (or a handler for no kind) does not compile.
//
// Every request that is not itself a `cancel` can be cancelled by its id: the host keeps its
// AbortController while the handler runs. Replies follow protocol.ts: progress, then exactly one
// response or error; session events go out with id null.
import { NibbleError } from '../../core/errors.ts';
import type { Lab } from '../../engine/lab/lab.ts';
import { BASE_VARIANT } from '../../engine/lab/lab-types.ts';
import { createEngineSession, type HostDeps } from './session.ts';
import type { JobProgress, LabRequest } from './lab-protocol.ts';
import {
  toWireError,
  type EngineEvent,
  type Reply,
  type Request,
  type RequestKind,
  type ResultMap,
  type TokenProgress,
} from './protocol.ts';

export type { HostDeps };

export type Post = (reply: Reply, transfer?: Transferable[]) => void;

export interface EngineHost {
  /** Handles one request; every outcome, errors included, is posted (never rejects). */
  handle(req: Request): Promise<void>;
  dispose(): void;
}

/** What a handler may do besides answering: report progress, list buffers to transfer with its result. */
interface HandlerContext {
  id: number;
  signal: AbortSignal;
  token(t: TokenProgress): void;
  progress(p: JobProgress): void;
  /** Buffers of the result that move to the caller instead of being copied. */
  transfer(buffers: Transferable[]): void;
}

type RequestOf<K extends RequestKind> = Extract<Request, { kind: K }>;
type Handlers = { [K in RequestKind]: (req: RequestOf<K>, ctx: HandlerContext) => Promise<ResultMap[K]> };

/** The lab's requests (all but generate-pair), each answered by one lab method as a job a load can cancel. */
type LabKind = Exclude<LabRequest['kind'], 'generate-pair'>;
type LabHandlers = {
  [K in LabKind]: (
    lab: Lab,
    req: RequestOf<K>,
    ctx: HandlerContext,
    signal: AbortSignal,
  ) => Promise<ResultMap[K]> | ResultMap[K];
};

const LAB: LabHandlers = {
  quantize: (lab, r, ctx, signal) => lab.quantize(r.spec, r.text, { signal, onProgress: ctx.progress }),
  'list-variants': (lab) => lab.listVariants(),
  'delete-variant': (lab, r) => lab.deleteVariant(r.variant),
  'export-variant': (lab, r, ctx) => {
    const result = lab.exportVariant(r.variant);
    ctx.transfer([result.bytes]);
    return result;
  },
  'export-model': (lab, r, ctx) => {
    const result = lab.exportModel(r.variant, r.format);
    ctx.transfer(result.files.map((f) => f.bytes));
    return result;
  },
  'import-variant': (lab, r) => lab.importVariant(r.bytes, r.meta),
  'weight-histogram': (lab, r) => lab.weightHistogram(r.query),
  collisions: (lab, r, _ctx, signal) => lab.collisions(r.query, signal),
  outliers: (lab, r, _ctx, signal) => lab.outliers(r.query, signal),
  drift: (lab, r, ctx, signal) => lab.drift(r.query, { signal, onProgress: ctx.progress }),
  'truncation-point': (lab, r, ctx, signal) => lab.truncationPoint(r.query, { signal, onProgress: ctx.progress }),
};

export function createEngineHost(deps: HostDeps, post: Post): EngineHost {
  const inFlight = new Map<number, AbortController>(); // cancellable requests by id
  const toReply = (e: EngineEvent): Reply =>
    e.kind === 'error' ? { kind: 'error', id: null, error: e.error } : { kind: 'event', id: null, event: e };
  const session = createEngineSession(deps, (e) => post(toReply(e)));

  const labJob =
    <K extends LabKind>(kind: K) =>
    (req: RequestOf<K>, ctx: HandlerContext): Promise<ResultMap[K]> =>
      session.labJob(ctx.signal, async (lab, signal) => LAB[kind](lab, req, ctx, signal));

  const handlers: Handlers = {
    'get-info': () => session.info(),
    load: (r, ctx) =>
      session.load(r.source, r.backend, {
        contextLength: r.contextLength,
        signal: ctx.signal,
        onProgress: ctx.progress,
      }),
    inspect: (r, ctx) =>
      session.inspect(r.source, { contextLength: r.contextLength, signal: ctx.signal, onProgress: ctx.progress }),
    generate: (r, ctx) =>
      session.generate(r.prompt, r.settings, r.variant ?? BASE_VARIANT, {
        signal: ctx.signal,
        id: r.id,
        messages: r.messages,
        onToken: ctx.token,
      }),
    'generate-pair': (r, ctx) =>
      session.generatePair(r.prompt, r.settings, r.variants, {
        signal: ctx.signal,
        id: r.id,
        messages: r.messages,
        onToken: (side, token) => ctx.progress({ kind: 'pair-token', side, token }),
      }),
    cancel: async (r) => {
      const target = inFlight.get(r.target);
      target?.abort();
      return { cancelled: target !== undefined };
    },
    quantize: labJob('quantize'),
    'list-variants': labJob('list-variants'),
    'delete-variant': labJob('delete-variant'),
    'export-variant': labJob('export-variant'),
    'export-model': labJob('export-model'),
    'import-variant': labJob('import-variant'),
    'weight-histogram': labJob('weight-histogram'),
    collisions: labJob('collisions'),
    outliers: labJob('outliers'),
    drift: labJob('drift'),
    'truncation-point': labJob('truncation-point'),
  };

  async function handle(req: Request): Promise<void> {
    const id = typeof (req as { id?: unknown }).id === 'number' ? req.id : null;
    const ctrl = new AbortController();
    const cancellable = id !== null && req.kind !== 'cancel' && req.kind !== 'get-info';
    if (cancellable) inFlight.set(id, ctrl);
    try {
      const handler = Object.hasOwn(handlers, req.kind)
        ? (handlers[req.kind] as (r: Request, c: HandlerContext) => Promise<unknown>)
        : null;
      if (!handler) {
        const unknown: { kind?: unknown } = req;
        throw new NibbleError('bad-argument', `unknown request kind ${String(unknown.kind)}`);
      }
      let transfer: Transferable[] = [];
      const result = await handler(req, {
        id: req.id,
        signal: ctrl.signal,
        token: (token) => post({ kind: 'progress', id: req.id, token }),
        progress: (progress) => post({ kind: 'job-progress', id: req.id, progress }),
        transfer: (buffers) => (transfer = buffers),
      });
      post({ kind: 'response', id: req.id, request: req.kind, result } as Reply, transfer);
    } catch (e) {
      post({ kind: 'error', id, error: toWireError(e) });
    } finally {
      if (cancellable && inFlight.get(id) === ctrl) inFlight.delete(id);
    }
  }

  return {
    handle,
    dispose() {
      inFlight.forEach((c) => c.abort());
      session.dispose();
    },
  };
}

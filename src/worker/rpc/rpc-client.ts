// The caller's half of a worker protocol: one promise per request id, progress replies routed to
// the request they belong to, cancellation through an AbortSignal (a `cancel` request naming the
// id). Both workers use it (engine-host/client.ts, vision/vision-client.ts); their protocols
// share the reply rules: per id, zero or more progress replies, then one `response` or `error`.
import { EngineError, type WireError } from '../engine-host/protocol.ts';

/** A message pipe to a host. Replies arrive asynchronously, in the order posted. */
export interface RpcTransport<Req, Rep> {
  send(req: Req, transfer: Transferable[]): void;
  /**
   * Registers the single reply handler, and the handler for a failure of the host itself
   * (e.g. the worker script did not load): no pending request will be answered after it.
   */
  listen(onReply: (r: Rep) => void, onFatal: (message: string) => void): void;
  close(): void;
}

/** The replies every protocol has; any other kind is progress for `id`. */
export type RpcReply =
  | { kind: 'response'; id: number; result: unknown }
  | { kind: 'error'; id: number | null; error: WireError }
  | { kind: string; id: number | null };

/** A request's fields besides `kind` and `id`. */
export type RequestBody<Req extends { kind: string }, K extends Req['kind']> = Omit<
  Extract<Req, { kind: K }>,
  'id' | 'kind'
>;

export interface RpcCallOptions<Rep> {
  transfer?: Transferable[];
  /** Progress replies of this request. */
  onUpdate?: (r: Rep) => void;
  /** Aborting sends `cancel` for the request (its reply still settles the promise). */
  signal?: AbortSignal;
}

export interface RpcClientOptions<Rep> {
  /** The rejection message once the client is disposed ("the engine was shut down"). */
  closedMessage: string;
  /** Replies for no pending request (id null, or a request already settled). */
  onUnsolicited?: (r: Rep) => void;
  /** After every pending request was rejected because the host failed. */
  onFatal?: (error: WireError) => void;
}

interface Pending<Rep> {
  resolve: (result: never) => void;
  reject: (e: EngineError) => void;
  onUpdate?: (r: Rep) => void;
}

/**
 * `Results` maps each request kind to its result type. Requests are sent as `{ kind, id, ...body }`;
 * a `cancel` request is `{ kind: 'cancel', id, target }`, so Req must include one.
 */
export class RpcClient<
  Req extends { kind: string; id: number },
  Rep extends RpcReply,
  Results extends { [K in Req['kind']]: unknown },
> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending<Rep>>();
  private closed = false;

  constructor(
    private readonly transport: RpcTransport<Req, Rep>,
    private readonly opts: RpcClientOptions<Rep>,
  ) {
    transport.listen(
      (r) => this.onReply(r),
      (message) => {
        const error = { code: 'internal' as const, message };
        this.failAll(error);
        opts.onFatal?.(error);
      },
    );
  }

  request<K extends Req['kind']>(
    kind: K,
    body: RequestBody<Req, K>,
    opts: RpcCallOptions<Rep> = {},
  ): Promise<Results[K]> {
    if (this.closed) return Promise.reject(new EngineError({ code: 'internal', message: this.opts.closedMessage }));
    const id = this.nextId++;
    const done = new Promise<Results[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: never) => void, reject, onUpdate: opts.onUpdate });
      try {
        this.transport.send({ kind, id, ...body } as unknown as Req, opts.transfer ?? []);
      } catch (e) {
        this.pending.delete(id);
        reject(new EngineError({ code: 'internal', message: `could not send ${kind}: ${(e as Error).message}` }));
      }
    });
    const { signal } = opts;
    if (!signal) return done;
    const cancel = { target: id } as unknown as RequestBody<Req, Req['kind']>;
    const onAbort = () => void this.request('cancel' as Req['kind'], cancel).catch(() => undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const off = () => signal.removeEventListener('abort', onAbort);
    done.then(off, off);
    return done;
  }

  /** Rejects every pending request (code 'internal') and closes the transport. */
  dispose(): void {
    if (this.closed) return;
    this.failAll({ code: 'internal', message: this.opts.closedMessage });
    this.closed = true;
    this.transport.close();
  }

  private failAll(error: WireError): void {
    for (const p of this.pending.values()) p.reject(new EngineError(error));
    this.pending.clear();
  }

  private onReply(r: Rep): void {
    const p = r.id === null ? undefined : this.pending.get(r.id);
    if (!p) {
      this.opts.onUnsolicited?.(r);
      return;
    }
    if (r.kind === 'response') {
      this.pending.delete(r.id!);
      p.resolve((r as { result: unknown }).result as never);
    } else if (r.kind === 'error') {
      this.pending.delete(r.id!);
      p.reject(new EngineError((r as { error: WireError }).error));
    } else {
      p.onUpdate?.(r);
    }
  }
}

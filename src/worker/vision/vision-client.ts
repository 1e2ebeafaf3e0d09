// Client proxy for the vision worker: the vision protocol as the `VisionEngine` interface, over
// the generic RPC client (rpc/rpc-client.ts: promises, progress callbacks, cancellation through
// AbortSignal). The same class runs over the Worker (the app) or the in-thread host (vision-host.ts).
import { RpcClient, type RequestBody, type RpcTransport } from '../rpc/rpc-client.ts';
import {
  sourceTransfer,
  type TruncMode,
  type VisionEngine,
  type VisionProgress,
  type VisionReply,
  type VisionRequest,
  type VisionResultMap,
  type VisionSource,
} from './vision-protocol.ts';

export type VisionTransport = RpcTransport<VisionRequest, VisionReply>;

type Opts = { signal?: AbortSignal; onProgress?: (p: VisionProgress) => void };

export class VisionClient implements VisionEngine {
  private readonly rpc: RpcClient<VisionRequest, VisionReply, VisionResultMap>;

  constructor(transport: VisionTransport) {
    this.rpc = new RpcClient(transport, { closedMessage: 'the vision worker was shut down' });
  }

  open(source: VisionSource, opts: { samples?: number } = {}) {
    return this.rpc.request('open', { source, samples: opts.samples ?? 48 }, { transfer: sourceTransfer(source) });
  }

  evaluate(k: number | null, mode: TruncMode | null, opts: Opts = {}) {
    return this.cancellable('evaluate', { k, mode }, opts);
  }

  sweep(modes: TruncMode[], bits: number[], opts: Opts = {}) {
    return this.cancellable('sweep', { modes, bits }, opts);
  }

  dispose(): void {
    this.rpc.dispose();
  }

  private cancellable<K extends 'evaluate' | 'sweep'>(
    kind: K,
    body: RequestBody<VisionRequest, K>,
    opts: Opts,
  ): Promise<VisionResultMap[K]> {
    const { onProgress, signal } = opts;
    const onUpdate = (r: VisionReply) => r.kind === 'progress' && onProgress?.(r.progress);
    return this.rpc.request(kind, body, { signal, onUpdate });
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

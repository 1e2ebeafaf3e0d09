// Worker entry: one engine host per worker. WebGPU comes from the worker's own navigator.gpu
// (absent → CPU backend); every request is answered through postMessage, device loss included.
/// <reference lib="webworker" />
import { createEngineHost } from './host.ts';
import type { Request } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

const host = createEngineHost({ gpu: self.navigator.gpu ?? undefined }, (reply, transfer) =>
  self.postMessage(reply, transfer ?? []),
);

self.onmessage = (e: MessageEvent<Request>) => {
  void host.handle(e.data);
};

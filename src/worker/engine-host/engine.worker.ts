// Worker entry: one engine host per worker. WebGPU comes from the worker's own navigator.gpu
// (absent → CPU backend); every request is answered through postMessage, device loss included.
// Model sources ('files' Blobs, 'remote' refs) are read from here with fetch() and Blob.slice().
/// <reference lib="webworker" />
import { createEngineHost } from './host.ts';
import type { Request } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

// navigator.deviceMemory (GiB, Chromium only): a hint about the RAM, which integrated GPUs share.
const deviceMemoryGiB = (self.navigator as WorkerNavigator & { deviceMemory?: number }).deviceMemory;

const host = createEngineHost({ gpu: self.navigator.gpu ?? undefined, deviceMemoryGiB }, (reply, transfer) =>
  self.postMessage(reply, transfer ?? []),
);

self.onmessage = (e: MessageEvent<Request>) => {
  void host.handle(e.data);
};

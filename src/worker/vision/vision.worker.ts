// Vision worker entry: onnxruntime-web's wasm backend, one thread (no SharedArrayBuffer or
// cross-origin isolation needed), its .wasm file served by Vite (hashed asset, precached by the
// service worker), and one vision host answering the vision protocol.
/// <reference lib="webworker" />
import * as ort from 'onnxruntime-web/wasm';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import { createVisionHost } from './vision-host.ts';
import type { VisionRequest } from './vision-protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
// Absolute: ORT resolves relative paths against its own chunk, which Vite may place elsewhere.
ort.env.wasm.wasmPaths = { wasm: new URL(ortWasmUrl, self.location.href).href };
ort.env.logLevel = 'error';

const host = createVisionHost({ ort }, (reply, transfer) => self.postMessage(reply, transfer ?? []));

self.onmessage = (e: MessageEvent<VisionRequest>) => {
  void host.handle(e.data);
};

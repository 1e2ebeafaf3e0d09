// Worker entry: one engine host per worker. WebGPU comes from the worker's own navigator.gpu
// (absent → CPU backend); every request is answered through postMessage, device loss included.
/// <reference lib="webworker" />
import { createEngineHost } from './host.ts';
import type { Request } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

// generate.ts yields to the event loop after every token (so a Stop request gets in) with
// setImmediate where it exists, else setTimeout(0), which browsers clamp to >= 4 ms once
// nested: that caps decoding near 250 tokens/s. Workers have no setImmediate, so give them an
// unclamped one on a MessageChannel (callbacks run in order, one per message).
if (typeof (self as { setImmediate?: unknown }).setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  Object.assign(self, {
    setImmediate: (fn: () => void) => {
      queue.push(fn);
      channel.port2.postMessage(null);
    },
  });
}

const host = createEngineHost({ gpu: self.navigator.gpu ?? undefined }, (reply, transfer) =>
  self.postMessage(reply, transfer ?? []),
);

self.onmessage = (e: MessageEvent<Request>) => {
  void host.handle(e.data);
};

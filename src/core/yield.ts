// Lets queued messages (a Stop or Cancel request) run between steps of long loops, without the
// ≥ 4 ms clamp browsers put on nested setTimeout(0): setImmediate in Node, a MessageChannel
// elsewhere (workers and pages), callbacks run in order.
type Resolve = () => void;
let post: ((fn: Resolve) => void) | null = null;

function scheduler(): (fn: Resolve) => void {
  if (typeof setImmediate === 'function') return (fn) => setImmediate(fn);
  if (typeof MessageChannel === 'function') {
    const channel = new MessageChannel();
    const queue: Resolve[] = [];
    channel.port1.onmessage = () => queue.shift()?.();
    return (fn) => {
      queue.push(fn);
      channel.port2.postMessage(null);
    };
  }
  return (fn) => setTimeout(fn, 0);
}

export function yieldToEventLoop(): Promise<void> {
  post ??= scheduler();
  return new Promise((resolve) => post!(resolve));
}

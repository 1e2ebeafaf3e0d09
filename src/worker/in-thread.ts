// The engine host in the calling thread, behind the same Transport as the Worker. Node tests
// drive the real protocol through it; nothing here touches DOM or Worker APIs.
import type { Transport } from './client.ts';
import { createEngineHost, type HostDeps } from './host.ts';
import type { Reply } from './protocol.ts';

/**
 * Transport to a host in this thread. Messages are structured-cloned both ways (transferring
 * buffers as a Worker would) and delivered on later tasks, so behaviour matches the Worker.
 */
export function inThreadTransport(deps: HostDeps): Transport {
  let onReply: ((r: Reply) => void) | null = null;
  let closed = false;
  const later = (f: () => void) => setTimeout(f, 0);
  const host = createEngineHost(deps, (reply, transfer) => {
    const copy = structuredClone(reply, { transfer: transfer ?? [] });
    later(() => !closed && onReply?.(copy));
  });
  return {
    send(req, transfer) {
      const copy = structuredClone(req, { transfer });
      later(() => void host.handle(copy));
    },
    listen(h) {
      onReply = h;
    },
    close() {
      closed = true;
      host.dispose();
    },
  };
}

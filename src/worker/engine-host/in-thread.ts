// The engine host in the calling thread, behind the same Transport as the Worker. Node tests
// drive the real protocol through it; nothing here touches DOM or Worker APIs.
import type { Transport } from './client.ts';
import { createEngineHost } from './host.ts';
import type { HostDeps } from './session.ts';
import { inThreadLoop } from '../rpc/in-thread-loop.ts';
import type { Reply, Request } from './protocol.ts';

/** Transport to an engine host in this thread (see in-thread-loop.ts). */
export function inThreadTransport(deps: HostDeps): Transport {
  return inThreadLoop<Request, Reply>((post) => createEngineHost(deps, post));
}

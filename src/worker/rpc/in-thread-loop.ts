// A host in the calling thread behind a Worker-shaped transport, for any request/reply pair.
// Messages are structured-cloned both ways (transferring buffers as a Worker would) and
// delivered on later tasks, so behaviour matches a real Worker. No DOM or Worker APIs.

export interface ThreadHost<Req> {
  handle(req: Req): unknown;
  dispose(): void;
}

export interface ThreadTransport<Req, Rep> {
  send(req: Req, transfer: Transferable[]): void;
  listen(onReply: (r: Rep) => void): void;
  close(): void;
}

export function inThreadLoop<Req, Rep>(
  create: (post: (reply: Rep, transfer?: Transferable[]) => void) => ThreadHost<Req>,
): ThreadTransport<Req, Rep> {
  let onReply: ((r: Rep) => void) | null = null;
  let closed = false;
  const later = (f: () => void) => setTimeout(f, 0);
  const host = create((reply, transfer) => {
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

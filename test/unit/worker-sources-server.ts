// A real HTTP server (node:http on 127.0.0.1) for the worker-source tests. The first path segment
// picks how it behaves, the rest names the file:
//   /range/<file>    honours `Range: bytes=a-b` (206 + Content-Range), HEAD gives Content-Length
//   /plain/<file>    ignores Range: 200 with the whole body and Content-Length
//   /chunked/<file>  ignores Range: 200, chunked, no Content-Length
//   /cut/<file>      honours Range but closes the connection halfway through every body
// Unknown files are 404. Every request is logged with the bytes it was sent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  base: string; // http://127.0.0.1:PORT
  log: { method: string; path: string; range: string | null; status: number; bytes: number }[];
  close(): Promise<void>;
}

export async function serveFiles(files: Record<string, Uint8Array>): Promise<Served> {
  const log: Served['log'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const [, mode, ...rest] = decodeURIComponent((req.url ?? '/').split('?')[0]).split('/');
    const body = files[rest.join('/')];
    const entry = {
      method: req.method ?? 'GET',
      path: req.url ?? '',
      range: req.headers.range ?? null,
      status: 200,
      bytes: 0,
    };
    log.push(entry);
    const send = (status: number, headers: Record<string, string | number>, bytes: Uint8Array, cut = false) => {
      entry.status = status;
      res.writeHead(status, headers);
      if (req.method === 'HEAD') return void res.end();
      if (cut) {
        const half = bytes.subarray(0, Math.floor(bytes.byteLength / 2));
        entry.bytes = half.byteLength;
        res.write(half, () => setTimeout(() => res.socket?.destroy(), 5));
        return;
      }
      entry.bytes = bytes.byteLength;
      res.end(bytes);
    };
    if (!body || !['range', 'plain', 'chunked', 'cut'].includes(mode))
      return send(404, { 'Content-Type': 'text/plain' }, new TextEncoder().encode('not found'));
    if (mode === 'plain') return send(200, { 'Content-Length': body.byteLength }, body);
    if (mode === 'chunked') return send(200, { 'Transfer-Encoding': 'chunked' }, body);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m) return send(200, { 'Content-Length': body.byteLength, 'Accept-Ranges': 'bytes' }, body, mode === 'cut');
    const [a, b] = [Number(m[1]), Math.min(Number(m[2]), body.byteLength - 1)];
    if (a >= body.byteLength) return send(416, { 'Content-Range': `bytes */${body.byteLength}` }, new Uint8Array(0));
    const part = body.subarray(a, b + 1);
    // A cut body still announces its full length, so the client sees the connection drop.
    send(
      206,
      { 'Content-Range': `bytes ${a}-${b}/${body.byteLength}`, 'Content-Length': part.byteLength },
      part,
      mode === 'cut' && part.byteLength > 1,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Files over HTTP, read by ranges. Opening probes with `Range: bytes=0-0`:
// - 206 + Content-Range "bytes 0-0/SIZE": later reads ask for exactly their range and check the
//   206 and its Content-Range (a HEAD gives the size when Content-Range is not readable, e.g. not
//   exposed by CORS);
// - 200 (the server ignores Range): the body, the whole file, is streamed once into a buffer of
//   the size Content-Length announces, which must be present ('fetch-failed') and at most
//   `maxWholeBytes` ('too-large'); reads are then served from that buffer;
// - 404 on an optional file: absent; any other status, or a network failure: 'fetch-failed' with
//   the URL and the HTTP status. A body that ends early or runs long is 'fetch-failed' too.
// Bodies are streamed into buffers of the size asked for, counting bytes as they arrive.
import { NibbleError } from '../../core/errors.ts';
import type { RangeReader } from '../../core/formats/safetensors.ts';
import { EngineError } from '../engine-host/protocol.ts';
import { cancelledError, type Count } from './registry.ts';

export interface HttpOptions {
  fetch: typeof globalThis.fetch;
  /** Largest file read whole from a server that ignores Range requests. */
  maxWholeBytes: number;
  signal?: AbortSignal;
}

/** Default for HttpOptions.maxWholeBytes: 1 GiB. */
export const MAX_WHOLE_BYTES = 1 << 30;

const failed = (url: string, why: string, status?: number) =>
  new EngineError({
    code: 'fetch-failed',
    message: `could not fetch ${url}${status === undefined ? '' : ` (HTTP ${status})`}: ${why}`,
  });

async function request(url: string, opts: HttpOptions, init: RequestInit): Promise<Response> {
  try {
    return await opts.fetch(url, { ...init, signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw cancelledError();
    throw failed(url, (e as Error).message || String(e));
  }
}

const drop = (res: Response) => void res.body?.cancel().catch(() => undefined);

function contentRange(res: Response): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range')?.trim() ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) } : null;
}

const lengthOf = (res: Response): number | null => {
  const v = res.headers.get('content-length');
  return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : null;
};

/** Streams the body into `into` (exactly its length), counting bytes at file offset `offset` on. */
async function readBody(
  res: Response,
  url: string,
  into: Uint8Array,
  offset: number,
  count: Count,
  opts: HttpOptions,
): Promise<void> {
  if (!res.body) {
    if (into.byteLength === 0) return;
    throw failed(url, 'the response has no body', res.status);
  }
  const reader = res.body.getReader();
  let at = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.byteLength > into.byteLength)
        throw failed(url, `the server sent more than the ${into.byteLength} bytes it announced`, res.status);
      into.set(value, at);
      at += value.byteLength;
      count(value.byteLength, offset + at - value.byteLength);
    }
  } catch (e) {
    void reader.cancel().catch(() => undefined);
    if (opts.signal?.aborted) throw cancelledError();
    if (e instanceof EngineError) throw e;
    throw failed(
      url,
      `the connection broke after ${at} of ${into.byteLength} bytes (${(e as Error).message || String(e)})`,
      res.status,
    );
  }
  if (at < into.byteLength)
    throw failed(url, `the connection closed after ${at} of ${into.byteLength} bytes`, res.status);
}

/** Opens `url` for reading; undefined when it is `optional` and the server answers 404. */
export async function openUrl(
  url: string,
  opts: HttpOptions,
  count: Count,
  optional = false,
): Promise<RangeReader | undefined> {
  const res = await request(url, opts, { headers: { Range: 'bytes=0-0' } });
  if (res.status === 404 && optional) {
    drop(res);
    return undefined;
  }
  if (res.status === 416) {
    drop(res); // nothing at byte 0: an empty file ("bytes */0")
    if (/\/0$/.test(res.headers.get('content-range') ?? '')) return { size: 0, read: async () => new Uint8Array(0) };
    throw failed(url, 'the server refused the range request', 416);
  }
  if (res.status === 206) {
    drop(res);
    const cr = contentRange(res);
    let size = cr?.total ?? null;
    if (size === null) size = await headSize(url, opts);
    return rangedReader(url, size, opts, count);
  }
  if (res.status === 200) return wholeReader(url, res, opts, count);
  drop(res);
  throw failed(url, res.statusText || 'the server refused the request', res.status);
}

async function headSize(url: string, opts: HttpOptions): Promise<number> {
  const res = await request(url, opts, { method: 'HEAD' });
  drop(res);
  const n = res.ok ? lengthOf(res) : null;
  if (n === null)
    throw failed(
      url,
      'the server tells neither Content-Range nor Content-Length, so the file size is unknown',
      res.status,
    );
  return n;
}

function rangedReader(url: string, size: number, opts: HttpOptions, count: Count): RangeReader {
  return {
    size,
    async read(offset, length) {
      const len = Math.max(0, Math.min(length, size - offset));
      if (len === 0) return new Uint8Array(0);
      const last = offset + len - 1;
      const res = await request(url, opts, { headers: { Range: `bytes=${offset}-${last}` } });
      if (res.status !== 206) {
        drop(res);
        throw failed(
          url,
          res.status === 200
            ? 'the server stopped honouring Range requests'
            : res.statusText || 'the range request failed',
          res.status,
        );
      }
      const cr = contentRange(res);
      if (cr && (cr.start !== offset || cr.end !== last)) {
        drop(res);
        throw failed(url, `asked for bytes ${offset}-${last}, the server sent ${cr.start}-${cr.end}`, res.status);
      }
      const out = new Uint8Array(len);
      await readBody(res, url, out, offset, count, opts);
      return out;
    },
  };
}

/** The server ignores Range: read the whole body once, sized by a checked Content-Length. */
async function wholeReader(url: string, res: Response, opts: HttpOptions, count: Count): Promise<RangeReader> {
  const n = lengthOf(res);
  if (n === null) {
    drop(res);
    throw failed(
      url,
      'the server ignores Range requests and sends no Content-Length, so the file size is unknown',
      res.status,
    );
  }
  if (n > opts.maxWholeBytes) {
    drop(res);
    throw new NibbleError(
      'too-large',
      `${url}: the server ignores Range requests, so the whole file (${n} bytes) would have to be held in memory; at most ${opts.maxWholeBytes} bytes are read that way`,
    );
  }
  const buf = new Uint8Array(n);
  await readBody(res, url, buf, 0, count, opts);
  return { size: n, read: async (offset, length) => buf.subarray(offset, Math.min(n, offset + length)) };
}

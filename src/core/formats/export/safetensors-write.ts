// Minimal safetensors writer: u64 header length N | N bytes of JSON (padded with spaces to a
// multiple of 8, as the Rust/Python writers do) | tensor bytes, back to back in header order with
// no holes (the format forbids them). data_offsets are [begin, end) relative to the data start.
// Header: { "__metadata__": { string: string }, name: { dtype, shape, data_offsets } }.
import { NibbleError } from '../../errors.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'I8' | 'U8';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, I8: 1, U8: 1 };

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView; // little-endian, exactly numel · dtype size bytes
}

export function writeSafetensors(
  entries: readonly SafetensorsEntry[],
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name) || e.name === '__metadata__')
      throw new NibbleError('bad-argument', `safetensors: duplicate or reserved tensor name '${e.name}'`);
    names.add(e.name);
    const need = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    if (e.data.byteLength !== need)
      throw new NibbleError(
        'bad-argument',
        `safetensors: '${e.name}' ${e.dtype} [${e.shape}] needs ${need} bytes, got ${e.data.byteLength}`,
      );
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let o = 8 + json.byteLength;
  for (const e of entries) {
    out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), o);
    o += e.data.byteLength;
  }
  return out;
}

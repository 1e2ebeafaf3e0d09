// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): big-endian header
//   u8 0, u8 0, u8 type (0x08 = unsigned byte), u8 rank, then rank × u32 sizes, then the data.
// So the magic, read as a big-endian u32, is 0x00000803 for images [count, rows, cols] and
// 0x00000801 for labels [count]. Only u8 data is accepted (what MNIST and its clones use).
// The header is validated against the byte length before anything is read; the result is a view
// on the input bytes (no copy). Bytes past the data are rejected too: a mis-sized file is corrupt.

import { NibbleError, requireBytes } from '../errors.ts';

export const IDX_IMAGES_MAGIC = 0x803;
export const IDX_LABELS_MAGIC = 0x801;
const IDX_U8 = 0x08;

export interface IdxArray {
  dims: number[]; // e.g. [2000, 28, 28] or [2000]
  data: Uint8Array; // view on the file bytes, row-major, length = product of dims
}

/** Any u8 IDX file of the given rank (1 or 3 in practice). */
export function readIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  requireBytes(what, 0, 4, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new NibbleError(
      'bad-format',
      `${what}: magic 0x${view.getUint32(0).toString(16).padStart(8, '0')} is not an IDX header (expected 0x00000801 or 0x00000803)`,
    );
  }
  if (bytes[2] !== IDX_U8) {
    throw new NibbleError(
      'unsupported',
      `${what}: data type 0x${bytes[2].toString(16)} (only unsigned-byte IDX, type 0x08, is supported)`,
    );
  }
  const rank = bytes[3];
  if (rank < 1 || rank > 4) throw new NibbleError('bad-dims', `${what}: rank ${rank} (expected 1 to 4)`);
  requireBytes(`${what} header`, 4, 4 * rank, bytes.length);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i); // big-endian
    dims.push(d);
    count *= d; // exact: ≤ (2^32)^4 stays comparable with the byte length below
  }
  const start = 4 + 4 * rank;
  requireBytes(`${what} (dims [${dims.join(', ')}])`, start, count, bytes.length);
  if (start + count !== bytes.length) {
    throw new NibbleError(
      'bad-format',
      `${what}: dims [${dims.join(', ')}] need ${start + count} bytes, file has ${bytes.length} (trailing bytes)`,
    );
  }
  return { dims, data: bytes.subarray(start, start + count) };
}

export interface IdxImages {
  count: number;
  rows: number; // image height
  cols: number; // image width
  pixels: Uint8Array; // [count, rows, cols], 0 = background, 255 = ink (MNIST)
}

/** An images file: magic 0x803, dims [count, rows, cols]. */
export function readIdxImages(bytes: Uint8Array): IdxImages {
  const what = 'IDX images file';
  checkRank(bytes, 3, what);
  const { dims, data } = readIdx(bytes, what);
  const [count, rows, cols] = dims;
  if (rows === 0 || cols === 0) throw new NibbleError('bad-dims', `${what}: images of ${rows}×${cols} pixels`);
  return { count, rows, cols, pixels: data };
}

/** A labels file: magic 0x801, dims [count]. */
export function readIdxLabels(bytes: Uint8Array): Uint8Array {
  const what = 'IDX labels file';
  checkRank(bytes, 1, what);
  return readIdx(bytes, what).data;
}

function checkRank(bytes: Uint8Array, rank: number, what: string): void {
  requireBytes(what, 0, 4, bytes.length);
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const want = 0x800 | rank;
  if (magic === want) return;
  const other =
    magic === IDX_IMAGES_MAGIC
      ? ' (that is an images file)'
      : magic === IDX_LABELS_MAGIC
        ? ' (that is a labels file)'
        : '';
  throw new NibbleError(
    'bad-format',
    `${what}: magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${want.toString(16).padStart(8, '0')}${other}`,
  );
}

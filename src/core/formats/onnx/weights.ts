// Reading and replacing an ONNX model's float32 weights.
//
// float32 values are fixed-width in both encodings ONNX uses (raw_data bytes, float_data
// fixed32), so new values of the same count take exactly the bytes of the old ones: the rewritten
// model is a copy of the file with only the float payloads overwritten. Every length prefix, every
// other field (unknown ones included) and the field order stay byte-for-byte as they were, and
// the result is a valid serialization of the same ModelProto with new weights.

import { NibbleError } from '../../errors.ts';
import type { OnnxFloatTensor, OnnxModelInfo } from './model.ts';

/** The tensor's values: a fresh, aligned copy of its little-endian bytes, bit for bit (NaNs too). */
export function readFloatTensor(bytes: Uint8Array, t: OnnxFloatTensor): Float32Array {
  const out = new Float32Array(t.count);
  const bits = new Uint32Array(out.buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  for (const s of t.segments) {
    checkSegment(bytes, t, s.offset, s.count);
    for (let j = 0; j < s.count; j++) bits[i++] = view.getUint32(s.offset + 4 * j, true);
  }
  return out;
}

/**
 * A copy of `bytes` with every tensor that `replace` answers for overwritten in place.
 * `replace(values, tensor)` gets the current values and returns the new ones (same length) or
 * null to leave the tensor as it is. Values are written as their bit patterns.
 */
export function mapFloatTensors(
  bytes: Uint8Array,
  info: OnnxModelInfo,
  replace: (values: Float32Array, tensor: OnnxFloatTensor) => Float32Array | null,
): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const t of info.floatTensors) {
    const next = replace(readFloatTensor(bytes, t), t);
    if (next === null) continue;
    if (next.length !== t.count) {
      throw new NibbleError(
        'bad-argument',
        `new values for '${t.name}': ${next.length} floats, the tensor holds ${t.count}`,
      );
    }
    const bits = new Uint32Array(next.buffer, next.byteOffset, next.length);
    let i = 0;
    for (const s of t.segments) {
      for (let j = 0; j < s.count; j++) view.setUint32(s.offset + 4 * j, bits[i++], true);
    }
  }
  return out;
}

function checkSegment(bytes: Uint8Array, t: OnnxFloatTensor, offset: number, count: number): void {
  if (offset < 0 || offset + 4 * count > bytes.length) {
    throw new NibbleError(
      'bad-argument',
      `tensor '${t.name}' lies outside these ${bytes.length} bytes (info from another file?)`,
    );
  }
}

// Protocol-buffers wire format, read side: a bounds-checked walker over one message's fields.
// https://protobuf.dev/programming-guides/encoding/
//
// A message is a sequence of fields `tag value`; tag = varint (fieldNumber << 3 | wireType):
//   0 VARINT  base-128 varint, ≤ 10 bytes (int32/int64/enum/bool; negative int64 → 10 bytes)
//   1 I64     8 bytes little-endian
//   2 LEN     varint length, then that many bytes (string, bytes, sub-message, packed repeated)
//   5 I32     4 bytes little-endian (float, fixed32)
//   3/4       groups (deprecated, never used by ONNX) → rejected, as are wire types 6 and 7.
// Every length is checked against the bytes left in the enclosing message before it is used, so
// a corrupt file gives a NibbleError ('truncated' or 'bad-format') and never a huge allocation
// or an endless loop (each field consumes ≥ 1 byte). Nothing is copied: fields are byte ranges.

import { NibbleError } from '../../errors.ts';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** One field of a message: `[tagStart, end)` is the whole field, `[start, end)` its payload. */
export interface WireField {
  field: number; // field number ≥ 1
  wire: number; // wire type 0, 1, 2 or 5
  tagStart: number; // offset of the tag's first byte
  start: number; // payload start (LEN: after the length prefix)
  end: number; // payload end (exclusive)
  /** VARINT only: the value as a JS number (exact below 2^53; larger values are approximate). */
  varint: number;
}

/** Reads a varint at `pos` (must end before `limit`); returns [value, next offset]. */
export function readVarint(bytes: Uint8Array, pos: number, limit: number, what: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= limit)
      throw new NibbleError('truncated', `${what}: varint runs past the end of its message at byte ${pos}`);
    const b = bytes[pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
  throw new NibbleError(
    'bad-format',
    `${what}: varint longer than 10 bytes at byte ${pos - 10} (not a protobuf file?)`,
  );
}

/**
 * Iterates the fields of the message in `bytes[start, end)`. `what` names the message in errors
 * ("ModelProto", "TensorProto 'patch.weight'"…).
 */
export function* fields(bytes: Uint8Array, start: number, end: number, what: string): Generator<WireField> {
  if (start < 0 || end > bytes.length || start > end) {
    throw new NibbleError(
      'truncated',
      `${what}: range [${start}, ${end}) lies outside the ${bytes.length}-byte buffer`,
    );
  }
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const [tag, afterTag] = readVarint(bytes, pos, end, what);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field < 1 || field > 0x1fffffff)
      throw new NibbleError('bad-format', `${what}: invalid field number ${field} at byte ${tagStart}`);
    pos = afterTag;
    let payload = pos;
    let varint = 0;
    switch (wire) {
      case WIRE_VARINT:
        [varint, pos] = readVarint(bytes, pos, end, what);
        break;
      case WIRE_I64:
        pos = need(pos, 8, end, what, field);
        break;
      case WIRE_I32:
        pos = need(pos, 4, end, what, field);
        break;
      case WIRE_LEN: {
        const [len, after] = readVarint(bytes, pos, end, what);
        payload = after;
        pos = need(after, len, end, what, field);
        break;
      }
      default:
        throw new NibbleError(
          'bad-format',
          `${what}: unsupported wire type ${wire} (field ${field}) at byte ${tagStart} (not an ONNX file?)`,
        );
    }
    yield { field, wire, tagStart, start: wire === WIRE_VARINT ? afterTag : payload, end: pos, varint };
  }
}

function need(pos: number, len: number, end: number, what: string, field: number): number {
  if (len > end - pos) {
    throw new NibbleError(
      'truncated',
      `${what}: field ${field} needs ${len} bytes at byte ${pos}, only ${end - pos} left in its message`,
    );
  }
  return pos + len;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A LEN field's payload as a UTF-8 string. */
export const fieldString = (bytes: Uint8Array, f: WireField): string => utf8.decode(bytes.subarray(f.start, f.end));

/** Throws bad-format unless `f` has the wire type the schema says. */
export function expectWire(f: WireField, wire: number, what: string): void {
  if (f.wire !== wire) {
    throw new NibbleError(
      'bad-format',
      `${what}: field ${f.field} has wire type ${f.wire}, expected ${wire} (at byte ${f.tagStart})`,
    );
  }
}

/**
 * Values of a repeated int64/int32 field, packed (one LEN field of varints) or not (one VARINT per
 * element). Appends to `out` so repeated occurrences concatenate as protobuf requires.
 */
export function readRepeatedVarint(bytes: Uint8Array, f: WireField, out: number[], what: string): void {
  if (f.wire === WIRE_VARINT) {
    out.push(f.varint);
    return;
  }
  expectWire(f, WIRE_LEN, what);
  let pos = f.start;
  while (pos < f.end) {
    const [v, next] = readVarint(bytes, pos, f.end, what);
    out.push(v);
    pos = next;
  }
}

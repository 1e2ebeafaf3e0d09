// Which loader a single file's bytes belong to, from its first bytes only (no parsing beyond
// the magic / header length). A folder (config.json + safetensors) is recognised by
// looksLikeHfFolder in load.ts instead.
import { isNibbleFile } from '../nibble-file.ts';

export type ModelFileFormat = 'nibble' | 'gguf' | 'safetensors' | 'llama2c';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const AK42_MAGIC = 0x616b3432; // llama2.c version-1 header

/**
 * 'safetensors' when a u64 header length that fits the file is followed by '{'; 'llama2c' for the
 * ak42 magic or anything else with at least a legacy 28-byte header (its loader validates).
 * `bytes` may be the first bytes (≥ 9 of them) of a file of `size` bytes.
 */
export function detectModelFormat(bytes: Uint8Array, size = bytes.byteLength): ModelFileFormat | 'unknown' {
  if (bytes.byteLength < 8 || size < 8) return 'unknown';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (isNibbleFile(bytes)) return 'nibble';
  if (magic === GGUF_MAGIC) return 'gguf';
  const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (bytes.byteLength > 8 && n >= 2 && n <= size - 8 && bytes[8] === 0x7b) return 'safetensors';
  if (magic === AK42_MAGIC || size >= 28) return 'llama2c';
  return 'unknown';
}

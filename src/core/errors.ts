// Typed errors shared by every layer. Each carries a stable `code` the UI and CLI switch on,
// and a message that says what is wrong and, where possible, what the user can do.

export type NibbleErrorCode =
  | 'bad-format' // the bytes are not the format we were told (wrong magic, impossible header)
  | 'truncated' // the file ends before the header says it should
  | 'bad-dims' // header dimensions are absurd or inconsistent
  | 'tokenizer-mismatch' // tokenizer does not fit the model's vocabulary
  | 'unsupported' // a valid file we do not handle (architecture, version, dtype)
  | 'no-webgpu' // navigator.gpu / Dawn missing or no adapter
  | 'device-lost' // GPUDevice.lost resolved while we were using it
  | 'too-large' // a tensor or buffer exceeds the device's limits
  | 'bad-argument' // a CLI flag or API argument is invalid
  | 'non-finite' // weights or computed values are NaN / Infinity
  | 'over-limit' // an input exceeded a bound on size, time or steps (template, regex, prompt, nesting)
  | 'cancelled'; // the user pressed Stop / Cancel

export class NibbleError extends Error {
  readonly code: NibbleErrorCode;
  constructor(code: NibbleErrorCode, message: string) {
    super(message);
    this.name = 'NibbleError';
    this.code = code;
  }
}

export const isNibbleError = (e: unknown): e is NibbleError =>
  e instanceof NibbleError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'NibbleError');

/** Throws `truncated` unless `need` bytes starting at `offset` fit in a buffer of `size` bytes. */
export function requireBytes(what: string, offset: number, need: number, size: number): void {
  if (offset + need > size) {
    throw new NibbleError(
      'truncated',
      `${what}: expected ${offset + need} bytes, file has ${size} (missing ${offset + need - size})`,
    );
  }
}

/**
 * A short, non-recursive description of an untrusted value for an error message: never walks
 * into objects or arrays (a JSON value may be nested 100,000 deep), never calls its toString.
 */
export function describeValue(v: unknown, maxChars = 60): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > maxChars ? `${v.slice(0, maxChars)}…` : v);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

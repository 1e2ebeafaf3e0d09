// Small, strict readers for the JSON files of a Hugging Face folder (config.json, the
// safetensors header, tokenizer_config.json, the shard index). Every failure is a NibbleError
// naming the file and the key, never a SyntaxError or a TypeError from deep inside.
import { describeValue, NibbleError } from '../../errors.ts';

export type JsonObject = Record<string, unknown>;

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deepest nesting of objects and arrays any model file needs (tokenizer.json merges: 3). */
export const MAX_JSON_DEPTH = 64;

/**
 * Throws 'over-limit' when `text` nests objects/arrays deeper than MAX_JSON_DEPTH — checked on
 * the text, before JSON.parse, so nothing later (messages, walks) recurses into a deep value.
 */
export function requireJsonDepth(text: string, what: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH)
        throw new NibbleError('over-limit', `${what} nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/** UTF-8 bytes → a JSON object, or a 'bad-format' error naming `what` (the file). */
export function parseJsonObject(bytes: Uint8Array, what: string): JsonObject {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new NibbleError('bad-format', `${what} is not valid UTF-8 text`);
  }
  requireJsonDepth(text, what);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new NibbleError('bad-format', `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(v))
    throw new NibbleError(
      'bad-format',
      `${what} must hold a JSON object, found ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`,
    );
  return v;
}

/** Typed field access on one JSON object; errors read "`file`: `key` …". */
export class JsonFields {
  constructor(
    readonly obj: JsonObject,
    readonly what: string,
  ) {}

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  private fail(key: string, want: string): never {
    throw new NibbleError('bad-format', `${this.what}: ${key} must be ${want}, got ${show(this.obj[key])}`);
  }

  /** A whole number in lo..hi (an out-of-range value is 'bad-dims'); `dflt` when absent. */
  int(key: string, lo: number, hi: number, dflt?: number): number {
    const v = this.obj[key];
    if ((v === undefined || v === null) && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(key, 'a whole number');
    if (v < lo || v > hi) throw new NibbleError('bad-dims', `${this.what}: ${key} = ${v} is outside ${lo}..${hi}`);
    return v;
  }

  /** A finite number in the open interval (lo, hi); `dflt` when absent. */
  num(key: string, lo: number, hi: number, dflt?: number): number {
    const v = this.obj[key];
    if ((v === undefined || v === null) && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a finite number');
    if (!(v > lo && v < hi)) throw new NibbleError('bad-dims', `${this.what}: ${key} = ${v} is outside (${lo}, ${hi})`);
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  /** A string, or undefined when absent/null. */
  str(key: string): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }
}

/**
 * A short printable form of any JSON value for error messages (bounded length): scalars as
 * JSON, containers one level deep at most — never recursing into an untrusted structure.
 */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  if (Array.isArray(v)) s = `[${v.slice(0, 8).map(describeValue).join(',')}${v.length > 8 ? ',…' : ''}]`;
  else if (isObject(v)) {
    const keys = Object.keys(v);
    s = `{${keys
      .slice(0, 8)
      .map((k) => `${describeValue(k)}:${describeValue(v[k])}`)
      .join(',')}${keys.length > 8 ? ',…' : ''}}`;
  } else s = describeValue(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

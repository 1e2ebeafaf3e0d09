// llama2.c tokenizer (tokenizer.bin / tok512.bin): score-ordered BPE merges over UTF-8 code
// points with byte fallback, exactly as run.c encodes and decodes.
import { NibbleError, requireBytes } from './errors.ts';

export const BOS = 1;
export const EOS = 2;
const BYTE_FALLBACK_OFFSET = 3; // byte b is token b + 3 (<0x00> .. <0xFF>)

/** Bytes → a JS string with one char per byte (a lossless Map key for byte strings). */
const bin = (b: Uint8Array): string => String.fromCharCode(...b);

export class Tokenizer {
  readonly vocabSize: number;
  readonly maxTokenLength: number;
  private readonly pieces: Uint8Array[]; // (vocab) raw bytes of each token
  private readonly scores: Float32Array; // (vocab) merge priority
  private readonly lookup: Map<string, number>; // byte string → lowest id with it

  private constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number) {
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    this.lookup = new Map();
    for (let i = pieces.length - 1; i >= 0; i--) this.lookup.set(bin(pieces[i]), i);
  }

  /** Parses tokenizer.bin for a model with `vocabSize` tokens; the file must hold exactly that many. */
  static fromLlama2c(bytes: Uint8Array, vocabSize: number): Tokenizer {
    requireBytes('tokenizer header', 0, 4, bytes.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const maxLen = view.getUint32(0, true);
    if (maxLen < 1 || maxLen > 1 << 16) {
      throw new NibbleError('bad-format', `tokenizer: max_token_length ${maxLen} is not plausible (expected 1..65536)`);
    }
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize); // vocabSize is validated by the model loader
    let off = 4;
    for (let i = 0; i < vocabSize; i++) {
      if (off + 8 > bytes.byteLength) {
        throw new NibbleError('tokenizer-mismatch', `tokenizer holds ${i} tokens (${bytes.byteLength} bytes), the model's vocabulary has ${vocabSize}`);
      }
      scores[i] = view.getFloat32(off, true);
      const len = view.getInt32(off + 4, true);
      if (len < 0 || len > maxLen) {
        throw new NibbleError('bad-format', `tokenizer: token ${i} has length ${len}, outside 0..${maxLen}`);
      }
      requireBytes(`tokenizer token ${i}`, off + 8, len, bytes.byteLength);
      pieces.push(bytes.slice(off + 8, off + 8 + len));
      off += 8 + len;
    }
    if (off !== bytes.byteLength) {
      throw new NibbleError('tokenizer-mismatch', `tokenizer has ${bytes.byteLength - off} bytes left after ${vocabSize} tokens: it was made for a larger vocabulary than the model's ${vocabSize}`);
    }
    return new Tokenizer(pieces, scores, maxLen);
  }

  piece(id: number): Uint8Array {
    return this.pieces[id];
  }

  /** run.c encode: optional BOS, dummy-prefix " " for non-empty text, code points or byte fallback, then merges. */
  encode(text: string, opts: { bos: boolean; eos: boolean }): number[] {
    const tokens: number[] = [];
    if (opts.bos) tokens.push(BOS);
    if (text.length > 0) {
      const space = this.lookup.get(' ');
      if (space !== undefined) tokens.push(space);
      for (const cp of text) {
        const utf8 = new TextEncoder().encode(cp);
        const id = this.lookup.get(bin(utf8));
        if (id !== undefined) tokens.push(id);
        else for (const b of utf8) tokens.push(b + BYTE_FALLBACK_OFFSET);
      }
      this.mergePairs(tokens);
    }
    if (opts.eos) tokens.push(EOS);
    return tokens;
  }

  /** Repeatedly merges the adjacent pair whose concatenation is a token with the highest score. */
  private mergePairs(tokens: number[]): void {
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const merged = bin(this.pieces[tokens[i]]) + bin(this.pieces[tokens[i + 1]]);
        const id = this.lookup.get(merged);
        if (id !== undefined && this.scores[id] > bestScore) {
          bestScore = this.scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) return;
      tokens.splice(bestIdx, 2, bestId);
    }
  }

  /** Bytes token `id` contributes after `prev` (run.c decode): no leading space after BOS, <0xHH> → byte. */
  decodeBytes(prev: number, id: number): Uint8Array {
    if (id < 0 || id >= this.vocabSize) return new Uint8Array(0);
    let p = this.pieces[id];
    if (prev === BOS && p[0] === 0x20) p = p.subarray(1);
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(bin(p));
    if (m) return Uint8Array.of(parseInt(m[1], 16));
    return p;
  }

  /** Whole-sequence decode; `tokens[0]` is treated as the context of the first piece. */
  decode(tokens: readonly number[]): string {
    const stream = new TextStream(this);
    let out = '';
    for (let i = 1; i < tokens.length; i++) out += stream.push(tokens[i - 1], tokens[i]);
    return out + stream.flush();
  }
}

/** Incremental decoder: byte-fallback tokens of one code point come out together, never as U+FFFD halves. */
export class TextStream {
  private readonly dec = new TextDecoder('utf-8');
  constructor(private readonly tok: Tokenizer) {}
  push(prev: number, id: number): string {
    const b = this.tok.decodeBytes(prev, id);
    // run.c's safe_printf: a lone control byte (other than whitespace) is not printed.
    if (b.length === 1 && (b[0] < 0x20 || b[0] === 0x7f) && !(b[0] >= 0x09 && b[0] <= 0x0d)) return '';
    return this.dec.decode(b, { stream: true });
  }
  flush(): string {
    return this.dec.decode();
  }
}

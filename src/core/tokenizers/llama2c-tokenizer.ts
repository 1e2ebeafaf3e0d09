// llama2.c tokenizer (tokenizer.bin / tok512.bin): score-ordered BPE merges over UTF-8 code
// points with byte fallback, exactly as run.c encodes and decodes.
import { NibbleError, requireBytes } from '../errors.ts';
import type { TextTokenizer, TokenStream } from './text-tokenizer.ts';

export const BOS = 1;
export const EOS = 2;
const BYTE_FALLBACK_OFFSET = 3; // byte b is token b + 3 (<0x00> .. <0xFF>)

/** Bytes → a JS string with one char per byte (a lossless Map key for byte strings). */
const bin = (b: Uint8Array): string => String.fromCharCode(...b);

export class Tokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId = BOS;
  readonly eosId = EOS;
  readonly stopIds: readonly number[] = [BOS, EOS]; // run.c stops on either
  readonly maxTokenLength: number;
  private readonly pieces: Uint8Array[]; // (vocab) raw bytes of each token
  private readonly scores: Float32Array; // (vocab) merge priority
  private readonly lookup: Map<string, number>; // byte string → lowest id with it
  private readonly pairCache = new Map<number, number>(); // a·vocab + b → merged id or −1
  private readonly utf8 = new TextEncoder();

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
        throw new NibbleError(
          'tokenizer-mismatch',
          `tokenizer holds ${i} tokens (${bytes.byteLength} bytes), the model's vocabulary has ${vocabSize}`,
        );
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
      throw new NibbleError(
        'tokenizer-mismatch',
        `tokenizer has ${bytes.byteLength - off} bytes left after ${vocabSize} tokens: it was made for a larger vocabulary than the model's ${vocabSize}`,
      );
    }
    return new Tokenizer(pieces, scores, maxLen);
  }

  /** A tokenizer from raw pieces and merge scores (e.g. GGUF tokenizer.ggml.tokens / scores). */
  static fromVocab(pieces: Uint8Array[], scores: Float32Array): Tokenizer {
    if (pieces.length !== scores.length || pieces.length < 3) {
      throw new NibbleError(
        'bad-format',
        `tokenizer: ${pieces.length} pieces and ${scores.length} scores (need equal counts, at least 3)`,
      );
    }
    return new Tokenizer(
      pieces,
      Float32Array.from(scores),
      pieces.reduce((m, p) => Math.max(m, p.length), 1),
    );
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
        const utf8 = this.utf8.encode(cp);
        const id = this.lookup.get(bin(utf8));
        if (id !== undefined) tokens.push(id);
        else for (const b of utf8) tokens.push(b + BYTE_FALLBACK_OFFSET);
      }
      this.mergePairs(tokens);
    }
    if (opts.eos) tokens.push(EOS);
    return tokens;
  }

  /** Token id of the concatenation of tokens a and b, or −1 (memoized: merges repeat a lot). */
  private pairId(a: number, b: number): number {
    const key = a * this.vocabSize + b;
    let id = this.pairCache.get(key);
    if (id === undefined) {
      id = this.lookup.get(bin(this.pieces[a]) + bin(this.pieces[b])) ?? -1;
      this.pairCache.set(key, id);
    }
    return id;
  }

  /**
   * Repeatedly merges the adjacent pair whose concatenation is a token with the highest score
   * (first such pair on ties, as run.c), until no pair merges. Pair scores are kept in an array
   * and only the two neighbours of a merge are recomputed.
   */
  private mergePairs(tokens: number[]): void {
    const score: number[] = []; // score[i]: merge score of (tokens[i], tokens[i+1]), or -Infinity
    const merged: number[] = [];
    const rescore = (i: number) => {
      const id = this.pairId(tokens[i], tokens[i + 1]);
      merged[i] = id;
      score[i] = id >= 0 ? this.scores[id] : -Infinity;
    };
    for (let i = 0; i < tokens.length - 1; i++) rescore(i);
    for (;;) {
      let best = -1;
      let bestScore = -1e10;
      for (let i = 0; i < score.length; i++) {
        if (score[i] > bestScore) {
          bestScore = score[i];
          best = i;
        }
      }
      if (best < 0) return;
      tokens.splice(best, 2, merged[best]);
      score.splice(best, 1);
      merged.splice(best, 1);
      if (best < tokens.length - 1) rescore(best);
      if (best > 0) rescore(best - 1);
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

  stream(): TokenStream {
    return new TextStream(this);
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
export class TextStream implements TokenStream {
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

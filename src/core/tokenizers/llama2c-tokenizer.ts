// llama2.c tokenizer (tokenizer.bin / tok512.bin): score-ordered BPE merges over UTF-8 code
// points with byte fallback, exactly as run.c encodes and decodes.
import { NibbleError, requireBytes } from '../errors.ts';
import { MODEL_BOUNDS } from '../formats/bounds.ts';
import type { TextTokenizer, TokenStream } from './text-tokenizer.ts';

export const BOS = 1;
export const EOS = 2;
const BYTE_FALLBACK_OFFSET = 3; // byte b is token b + 3 (<0x00> .. <0xFF>)
/** Byte fallback needs ids 3 .. 258 (<0x00> .. <0xFF>) after <unk>, BOS, EOS. */
export const MIN_VOCAB = BYTE_FALLBACK_OFFSET + 256;
/** Longest token piece, in bytes, any format may carry (llama2.c's max_token_length bound). */
export const MAX_TOKEN_BYTES = MODEL_BOUNDS.tokenBytes;
/** Longest text encode() accepts, in UTF-16 units (a 1 MB evaluation text is one call per line). */
export const MAX_ENCODE_CHARS = 16 << 20;

/** Bytes → a JS string with one char per byte (a lossless Map key for byte strings); chunked, never spread. */
function bin(b: Uint8Array): string {
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i += 4096)
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

/** Throws unless the pieces can back byte fallback and none exceeds MAX_TOKEN_BYTES. */
function checkPieces(pieces: readonly Uint8Array[]): void {
  if (pieces.length < MIN_VOCAB)
    throw new NibbleError(
      'tokenizer-mismatch',
      `tokenizer: a vocabulary of ${pieces.length} tokens is too small: byte fallback needs ${MIN_VOCAB} (<unk>, BOS, EOS and 256 byte tokens)`,
    );
  const long = pieces.findIndex((p) => p.length > MAX_TOKEN_BYTES);
  if (long >= 0)
    throw new NibbleError(
      'over-limit',
      `tokenizer: token ${long} is ${pieces[long].length} bytes long; at most ${MAX_TOKEN_BYTES} are supported`,
    );
}

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
    checkPieces(pieces);
    this.lookup = new Map();
    for (let i = pieces.length - 1; i >= 0; i--) this.lookup.set(bin(pieces[i]), i);
  }

  /** Parses tokenizer.bin for a model with `vocabSize` tokens; the file must hold exactly that many. */
  static fromLlama2c(bytes: Uint8Array, vocabSize: number): Tokenizer {
    requireBytes('tokenizer header', 0, 4, bytes.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const maxLen = view.getUint32(0, true);
    if (maxLen < 1 || maxLen > MAX_TOKEN_BYTES) {
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
    if (text.length > MAX_ENCODE_CHARS)
      throw new NibbleError(
        'over-limit',
        `the text is ${text.length} characters; at most ${MAX_ENCODE_CHARS} are encoded at once`,
      );
    if (opts.bos) tokens.push(BOS);
    if (text.length > 0) {
      const space = this.lookup.get(' ');
      if (space !== undefined) tokens.push(space);
      for (const cp of text) {
        if (cp.charCodeAt(0) < 0x80) {
          // ASCII: the byte string is the character itself
          const id = this.lookup.get(cp);
          tokens.push(id ?? cp.charCodeAt(0) + BYTE_FALLBACK_OFFSET);
          continue;
        }
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
   * (first such pair on ties, as run.c), until no pair merges — in O(n log n): the tokens are a
   * doubly linked list, candidate pairs sit in a max-heap ordered by (score desc, position asc),
   * and a popped pair whose tokens changed since it was pushed is stale and skipped. Positions
   * are the original indices of each pair's left token; list order equals index order, so
   * "first on ties" is "lowest left index", exactly run.c's left-to-right scan.
   */
  private mergePairs(tokens: number[]): void {
    const n = tokens.length;
    if (n < 2) return;
    const id = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const version = new Uint32Array(n); // bumped when the token at i changes or is removed
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    const push = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const m = this.pairId(id[i], id[j]);
      if (m < 0) return;
      const score = this.scores[m];
      if (!(score > -1e10)) return; // run.c only takes pairs scoring above -1e10
      heap.push(score, i, version[i], version[j], m);
    };
    for (let i = 0; i < n - 1; i++) push(i);
    while (heap.size > 0) {
      const { left, vLeft, vRight, merged } = heap.pop();
      const right = next[left];
      if (version[left] !== vLeft || right < 0 || version[right] !== vRight) continue;
      id[left] = merged;
      version[left]++;
      version[right]++;
      const after = next[right];
      next[left] = after;
      if (after >= 0) prev[after] = left;
      if (prev[left] >= 0) push(prev[left]);
      push(left);
    }
    tokens.length = 0;
    for (let i = 0; i >= 0; i = next[i]) tokens.push(id[i]);
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

/** Max-heap of merge candidates: higher score first, then lower left position (run.c's tie rule). */
class PairHeap {
  // Entries are append-only parallel arrays; the heap orders entry numbers.
  private readonly score: number[] = [];
  private readonly left: number[] = [];
  private readonly vLeft: number[] = [];
  private readonly vRight: number[] = [];
  private readonly merged: number[] = [];
  private readonly heap: number[] = [];
  get size(): number {
    return this.heap.length;
  }
  private before(a: number, b: number): boolean {
    const sa = this.score[a];
    const sb = this.score[b];
    return sa > sb || (sa === sb && this.left[a] < this.left[b]);
  }
  push(score: number, left: number, vLeft: number, vRight: number, merged: number): void {
    const e = this.score.length;
    this.score.push(score);
    this.left.push(left);
    this.vLeft.push(vLeft);
    this.vRight.push(vRight);
    this.merged.push(merged);
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
  }
  pop(): { left: number; vLeft: number; vRight: number; merged: number } {
    const h = this.heap;
    const top = h[0];
    const e = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && this.before(h[l + 1], h[l]) ? l + 1 : l;
        if (!this.before(h[c], e)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = e;
    }
    return { left: this.left[top], vLeft: this.vLeft[top], vRight: this.vRight[top], merged: this.merged[top] };
  }
}

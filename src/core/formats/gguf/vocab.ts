// The SentencePiece-style vocabulary ("tokenizer.ggml.model" = "llama") in its two spellings:
//   GGUF:     tokens as text with U+2581 "▁" for spaces, token_type per id, f32 scores;
//   llama2.c: tokenizer.bin pieces as raw bytes with real spaces, BOS/EOS written "\n<s>\n" and
//             "\n</s>\n" (llama2.c's tokenizer export), byte tokens "<0xHH>".
// llama.cpp's llama-convert-llama2c-to-ggml maps llama2.c → GGUF as: id 0 → "<unk>" (UNKNOWN),
// BOS/EOS → "<s>"/"</s>" (CONTROL), "<0xHH>" → BYTE, others NORMAL with ' ' → '▁'. The two
// functions here are that map and its inverse, so a GGUF from llama2.c round-trips piece for piece
// and `Tokenizer.fromVocab` behaves exactly as the llama2.c tokenizer.
import { NibbleError, requireBytes } from '../../errors.ts';

export interface Vocab {
  pieces: Uint8Array[]; // (vocab) llama2.c spelling, raw bytes
  scores: Float32Array; // (vocab) merge priority
}

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface GgufVocab {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  bos: number;
  eos: number;
}

const SPACE_MARK = '\u2581';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
const utf8 = new TextEncoder();

/** GGUF tokenizer arrays → llama2.c pieces (bos/eos: the ids whose CONTROL text gets "\n…\n"). */
export function vocabFromGguf(v: GgufVocab): Vocab {
  const pieces = v.tokens.map((text, id) => {
    const type = v.types[id] ?? TokenType.NORMAL;
    if (type === TokenType.BYTE || BYTE_TOKEN.test(text)) return utf8.encode(text);
    if (type === TokenType.CONTROL && (id === v.bos || id === v.eos)) return utf8.encode(`\n${text}\n`);
    if (type === TokenType.CONTROL || type === TokenType.UNKNOWN) return utf8.encode(text);
    return utf8.encode(text.replaceAll(SPACE_MARK, ' '));
  });
  return { pieces, scores: v.scores };
}

/** llama2.c pieces → GGUF tokenizer arrays (the converter's map). Pieces must be UTF-8. */
export function vocabToGguf(v: Vocab, bos = 1, eos = 2): GgufVocab {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const tokens: string[] = [];
  const types = new Int32Array(v.pieces.length);
  v.pieces.forEach((p, id) => {
    let text: string;
    try {
      text = dec.decode(p);
    } catch {
      throw new NibbleError('unsupported', `tokenizer piece ${id} is not UTF-8: GGUF stores tokens as text`);
    }
    if (id === 0 && text === '<unk>') {
      types[id] = TokenType.UNKNOWN;
    } else if (id === bos || id === eos) {
      types[id] = TokenType.CONTROL;
      text = text.trim();
    } else if (BYTE_TOKEN.test(text)) {
      types[id] = TokenType.BYTE;
    } else {
      types[id] = TokenType.NORMAL;
      text = text.replaceAll(' ', SPACE_MARK);
    }
    tokens.push(text);
  });
  return { tokens, scores: Float32Array.from(v.scores), types, bos, eos };
}

/** llama2.c tokenizer.bin bytes for a vocab: u32 max_token_length, then {f32 score, i32 len, bytes}. */
export function llama2cTokenizerBytes(v: Vocab): Uint8Array {
  const maxLen = v.pieces.reduce((m, p) => Math.max(m, p.length), 1);
  const out = new Uint8Array(4 + v.pieces.reduce((n, p) => n + 8 + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, maxLen, true);
  let o = 4;
  v.pieces.forEach((p, i) => {
    dv.setFloat32(o, v.scores[i], true);
    dv.setInt32(o + 4, p.length, true);
    out.set(p, o + 8);
    o += 8 + p.length;
  });
  return out;
}

/** Pieces and scores of a llama2.c tokenizer.bin holding exactly `vocabSize` tokens. */
export function vocabFromLlama2c(bytes: Uint8Array, vocabSize: number): Vocab {
  requireBytes('tokenizer header', 0, 4, bytes.byteLength);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: Uint8Array[] = [];
  const scores = new Float32Array(vocabSize);
  let o = 4;
  for (let i = 0; i < vocabSize; i++) {
    requireBytes(`tokenizer token ${i}`, o, 8, bytes.byteLength);
    scores[i] = dv.getFloat32(o, true);
    const len = dv.getInt32(o + 4, true);
    if (len < 0) throw new NibbleError('bad-format', `tokenizer: token ${i} has length ${len}`);
    requireBytes(`tokenizer token ${i}`, o + 8, len, bytes.byteLength);
    pieces.push(bytes.slice(o + 8, o + 8 + len));
    o += 8 + len;
  }
  if (o !== bytes.byteLength)
    throw new NibbleError('tokenizer-mismatch', `tokenizer has bytes left after ${vocabSize} tokens`);
  return { pieces, scores };
}

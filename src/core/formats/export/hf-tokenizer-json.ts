// A llama2.c tokenizer.bin → Hugging Face tokenizer.json + tokenizer_config.json that encode and
// decode exactly as core/tokenizer.ts (run.c) does. Shape (the layout of Meta's Llama 2
// tokenizer.json, i.e. transformers' LlamaConverter with legacy = true):
//   model        BPE { vocab: piece → id, merges: [[left, right], …], byte_fallback: true,
//                fuse_unk: true, unk_token: null } (as in test/fixtures/stories260K-hf)
//   normalizer   Sequence [Prepend "▁", Replace " " → "▁"]; pre_tokenizer null
//   post_process TemplateProcessing "<s> $A" (the BOS our HfTokenizer adds on encode({ bos }))
//   decoder      Sequence [Replace "▁" → " ", ByteFallback, Fuse, Strip 1 leading " "]
//   added_tokens <unk> (id 0 when its piece is "<unk>"), <s> (1), </s> (2): special, unnormalized
// Why the normalizer and not the Metaspace pre-tokenizer transformers 5 writes (the committed
// fixture's): Metaspace does not prepend "▁" to text that already starts with one, so " hi" loses
// run.c's dummy prefix (ids [▁hi] instead of [▁, ▁hi]); Prepend + Replace always adds it, like
// SentencePiece's add_dummy_prefix and run.c's encode. Vocabulary, merges, added tokens,
// post-processor and decoder are the fixture's, entry for entry.
//
// Pieces: llama2.c spells them as raw bytes with real spaces, BOS/EOS as "\n<s>\n"/"\n</s>\n"
// (core/gguf/vocab.ts); here spaces become "▁" and BOS/EOS are trimmed. Byte fallback: byte b
// is id b + 3 in run.c, so ids 3..258 must be "<0xHH>" (the library looks them up by text).
//
// Merges (transformers' generate_merges): for every piece, each split into a left and right part
// that are both pieces, in split order (left length ascending, in code points); all of them
// ordered by the merged piece's score, highest first (ties: lower id first; transformers 5 orders
// by the merged piece's id, the same order where score = −rank as in SentencePiece BPE vocabularies,
// and the committed fixture's 165 merges are exactly these). An HF BPE applies the
// lowest-ranked adjacent pair, run.c the pair whose merged piece scores highest: the same rule
// while scores are distinct (SentencePiece's are; on a tie run.c takes the leftmost pair, HF the
// lower rank). Pieces run.c can never merge to are left out: BOS/EOS (their llama2.c text is
// "\n<s>\n") and scores ≤ −1e10 or NaN (run.c's best-score sentinel is −1e10). The literal text
// "▁", "<s>" and "</s>" in the input is where the two differ (HF reads them as a space / specials).
import { NibbleError } from '../../errors.ts';
import { vocabFromLlama2c } from '../gguf/vocab.ts';
import { BOS, EOS } from '../../tokenizers/llama2c-tokenizer.ts';

const SPACE_MARK = '\u2581';
const BYTE_OFFSET = 3; // byte b is token b + 3
const RUN_C_MIN_SCORE = -1e10; // run.c merges only pairs scoring above this

export interface TokenizerJsonFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

const hex2 = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');

/** HF piece text of every llama2.c piece (see the header); refuses what tokenizer.json cannot hold exactly. */
function hfPieces(pieces: Uint8Array[]): string[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const seen = new Map<string, number>();
  return pieces.map((p, id) => {
    let text: string;
    try {
      text = dec.decode(p);
    } catch {
      throw new NibbleError('unsupported', `tokenizer piece ${id} is not UTF-8: tokenizer.json stores pieces as text`);
    }
    if (id === BOS || id === EOS) text = text.trim();
    else if (id >= BYTE_OFFSET && id < BYTE_OFFSET + 256) {
      const want = `<0x${hex2(id - BYTE_OFFSET)}>`;
      if (text !== want)
        throw new NibbleError(
          'unsupported',
          `tokenizer piece ${id} is ${JSON.stringify(text)}, not ${want}: byte fallback needs byte b at id b + 3`,
        );
    } else text = text.replaceAll(' ', SPACE_MARK);
    const dup = seen.get(text);
    if (dup !== undefined)
      throw new NibbleError(
        'unsupported',
        `tokenizer pieces ${dup} and ${id} are both ${JSON.stringify(text)}: tokenizer.json needs distinct pieces`,
      );
    seen.set(text, id);
    return text;
  });
}

/** Merge rules [left, right] in rank order (see the header). */
export function mergesFromScores(texts: readonly string[], scores: Float32Array): [string, string][] {
  const vocab = new Map(texts.map((t, id) => [t, id]));
  const merges: { l: string; r: string; score: number }[] = []; // pushed in (id, split) order
  texts.forEach((text, id) => {
    const score = scores[id];
    if (id === BOS || id === EOS || !(score > RUN_C_MIN_SCORE)) return;
    const chars = Array.from(text); // code points, as Python slices a str
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      if (vocab.has(l) && vocab.has(r)) merges.push({ l, r, score });
    }
  });
  merges.sort((a, b) => b.score - a.score); // stable: ties keep (id, split) order
  return merges.map((m) => [m.l, m.r]);
}

/** A tokenizer.json `added_tokens` entry for a special token (matched whole, never normalized). */
export const addedToken = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** tokenizer.json + tokenizer_config.json objects for a llama2.c tokenizer.bin of exactly `vocabSize` pieces. */
export function llama2cTokenizerJson(
  bytes: Uint8Array,
  vocabSize: number,
  modelMaxLength?: number,
): TokenizerJsonFiles {
  const { pieces, scores } = vocabFromLlama2c(bytes, vocabSize);
  if (vocabSize < BYTE_OFFSET + 256)
    throw new NibbleError(
      'unsupported',
      `a llama2.c vocabulary of ${vocabSize} pieces has no byte-fallback tokens (<0x00>..<0xFF> at ids 3..258)`,
    );
  const texts = hfPieces(pieces);
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>; // a piece may be "__proto__"
  texts.forEach((t, id) => (vocab[t] = id));
  const bos = texts[BOS];
  const eos = texts[EOS];
  const unk = texts[0] === '<unk>' ? '<unk>' : undefined;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...(unk ? [addedToken(0, unk)] : []), addedToken(BOS, bos), addedToken(EOS, eos)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: SPACE_MARK },
        { type: 'Replace', pattern: { String: ' ' }, content: SPACE_MARK },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [BOS], tokens: [bos] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE_MARK }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: mergesFromScores(texts, scores),
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: true,
    add_eos_token: false,
    bos_token: bos,
    eos_token: eos,
    ...(unk ? { unk_token: unk } : {}),
    pad_token: null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    ...(modelMaxLength !== undefined ? { model_max_length: modelMaxLength } : {}),
  };
  return { tokenizerJson, tokenizerConfig };
}

// The tokenizer interface the engine, metrics and hosts use, whatever the model's tokenizer is:
// the llama2.c tokenizer (core/tokenizer.ts) and Hugging Face tokenizer.json (core/hf-tokenizer.ts)
// both implement it, so generate() and the evaluator cannot tell them apart.

/** Incremental decoder for generation: pieces come out UTF-8 safe, never half a character. */
export interface TokenStream {
  /**
   * Text that token `id` adds after `prev` (the previous token: the last prompt token, BOS, or the
   * previous generated one). '' while a multi-byte character is still incomplete.
   */
  push(prev: number, id: number): string;
  /** Whatever is still buffered at the end of a generation. */
  flush(): string;
}

export interface TextTokenizer {
  /** Number of token ids the tokenizer knows (≤ the model's vocabulary). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id; null when the model has none (e.g. Qwen2). */
  readonly bosId: number | null;
  /** End-of-sequence id; null when the tokenizer declares none. */
  readonly eosId: number | null;
  /** Ids that end a generation (EOS and its relatives, e.g. <|im_end|>; llama2.c also stops on BOS). */
  readonly stopIds: readonly number[];
  /**
   * Token ids of `text`. `bos`: start with BOS the way the model's tokenizer does it (nothing for
   * a model without BOS); `eos`: end with EOS.
   */
  encode(text: string, opts: { bos: boolean; eos: boolean }): number[];
  /** Text of a whole sequence as `encode(text, { bos: true })` returns it (a leading BOS is context). */
  decode(ids: readonly number[]): string;
  /** A fresh streaming decoder for one generation. */
  stream(): TokenStream;
}

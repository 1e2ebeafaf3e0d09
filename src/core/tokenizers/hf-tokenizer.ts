// Hugging Face tokenizer.json (+ tokenizer_config.json) behind our TextTokenizer interface.
// Tokenization itself is @huggingface/tokenizers (pure JS, no native addon: the same code runs
// in Node and in the browser bundle); this file only validates the files, works out BOS/EOS,
// and adds a UTF-8-safe streaming decoder. Chat templates: core/hf/chat-template.ts.
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { NibbleError } from '../errors.ts';
import { renderChatTemplate, type ChatMessage } from '../formats/hf/chat-template.ts';
import { isObject, parseJsonObject, show, type JsonObject } from '../formats/hf/json.ts';
import { vetTokenizerRegexes } from './regex-vet.ts';
import type { TextTokenizer, TokenStream } from './text-tokenizer.ts';

const MAX_VOCAB = 1 << 20; // ids beyond this are a corrupt file (the largest real vocabularies are ~256K)

export interface HfTokenizerOptions {
  /** Fallbacks from config.json / generation_config.json when tokenizer_config.json is silent. */
  bosId?: number;
  eosIds?: readonly number[];
  /** A template from chat_template.jinja, which overrides tokenizer_config.json's. */
  chatTemplate?: string;
}

const badTok = (msg: string) => new NibbleError('bad-format', `tokenizer.json: ${msg}`);

/** Checks every id the library will index arrays with; returns max id + 1. */
function vocabularySize(json: JsonObject): number {
  const model = json.model;
  if (!isObject(model)) throw badTok(`model must be an object, got ${show(model)}`);
  let size = 0;
  const note = (id: unknown, what: string) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= MAX_VOCAB)
      throw badTok(`${what} has id ${show(id)}, outside 0..${MAX_VOCAB - 1}`);
    size = Math.max(size, id + 1);
  };
  const vocab = model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], …], id = index
    if (vocab.length > MAX_VOCAB) throw badTok(`model.vocab has ${vocab.length} entries (more than ${MAX_VOCAB})`);
    vocab.forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number')
        throw badTok(`model.vocab[${i}] must be [piece, score], got ${show(e)}`);
    });
    size = vocab.length;
  } else if (isObject(vocab)) {
    // BPE / WordPiece / WordLevel: { piece: id }
    for (const [piece, id] of Object.entries(vocab)) note(id, `model.vocab[${show(piece)}]`);
  } else {
    throw badTok(`model.vocab must be an object or a list, got ${show(vocab)}`);
  }
  if (model.type === 'BPE' && !Array.isArray(model.merges))
    throw badTok(`model.merges must be a list, got ${show(model.merges)}`);
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw badTok(`added_tokens must be a list, got ${show(added)}`);
  added.forEach((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string')
      throw badTok(`added_tokens[${i}] must have a string content, got ${show(t)}`);
    note(t.id, `added token ${show(t.content)}`);
  });
  if (size === 0) throw badTok('the vocabulary is empty');
  return size;
}

/** A special token named in tokenizer_config.json: a string, an AddedToken object, or null. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly stopIds: readonly number[];
  readonly chatTemplate: string | undefined;
  /** Where the chat template came from, for error messages. */
  readonly chatTemplateSource: string;
  /** Whether encode({ bos: true }) starts with BOS: the tokenizer's post-processor adds one. */
  readonly addsBos: boolean;
  private readonly lib: LibTokenizer;
  private readonly special: ReadonlySet<number>; // ids of special added tokens (skipped in decode)
  private readonly specialText: Record<string, string>; // bos_token, eos_token, … for templates

  private constructor(json: JsonObject, cfg: JsonObject, opts: HfTokenizerOptions) {
    this.vocabSize = vocabularySize(json);
    vetTokenizerRegexes(json);
    try {
      this.lib = new LibTokenizer(json, cfg);
    } catch (e) {
      throw badTok(`cannot be used (${(e as Error).message})`);
    }
    const idOf = (text: string | undefined) => (text === undefined ? undefined : this.lib.token_to_id(text));
    const special = new Set<number>();
    for (const [id, t] of this.lib.get_added_tokens_decoder()) if (t.special) special.add(id);
    this.special = special;
    this.specialText = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
      const text = tokenText(cfg[key]);
      if (text !== undefined) this.specialText[key] = text;
    }
    const inRange = (id: number | undefined) => (id !== undefined && id < this.vocabSize ? id : undefined);
    this.bosId = inRange(idOf(this.specialText.bos_token)) ?? inRange(opts.bosId) ?? null;
    const eos = [idOf(this.specialText.eos_token), ...(opts.eosIds ?? [])].filter(
      (id) => inRange(id) !== undefined,
    ) as number[];
    this.eosId = eos[0] ?? null;
    this.stopIds = [...new Set(eos)];
    this.addsBos = this.bosId !== null && this.probeAddsBos(this.bosId);
    this.probeRoundTrip();
    const tpl = opts.chatTemplate ?? cfg.chat_template;
    this.chatTemplateSource =
      opts.chatTemplate !== undefined ? 'chat_template.jinja' : 'tokenizer_config.json chat_template';
    this.chatTemplate = typeof tpl === 'string' ? tpl : Array.isArray(tpl) ? namedTemplate(tpl) : undefined;
  }

  /** tokenizer.json bytes (+ tokenizer_config.json bytes) → a tokenizer; every failure is a NibbleError. */
  static fromFiles(
    tokenizerJson: Uint8Array,
    tokenizerConfig?: Uint8Array,
    opts: HfTokenizerOptions = {},
  ): HfTokenizer {
    const json = parseJsonObject(tokenizerJson, 'tokenizer.json');
    const cfg = tokenizerConfig ? parseJsonObject(tokenizerConfig, 'tokenizer_config.json') : {};
    return new HfTokenizer(json, cfg, opts);
  }

  /** Does the post-processor put BOS in front (Llama) or not (Qwen2, SmolLM2)? Decided once, on "a". */
  private probeAddsBos(bos: number): boolean {
    try {
      const withSpecial = this.lib.encode('a', { add_special_tokens: true }).ids;
      const plain = this.lib.encode('a', { add_special_tokens: false }).ids;
      return withSpecial[0] === bos && withSpecial.length > plain.length;
    } catch (e) {
      throw badTok(`cannot encode text (${(e as Error).message})`);
    }
  }

  /**
   * A full encode → decode of a text with letters, digits, punctuation, whitespace, accents, CJK
   * and an emoji, at load: a decoder or normalizer the library cannot run (e.g. a Sequence with a
   * null step) fails here as 'bad-format', not at the first generated token.
   */
  private probeRoundTrip(): void {
    const probe = 'Hello, world! 12 + 3.5 = 15.5\n\tcafé 漢字 😀 — end';
    try {
      const ids = this.lib.encode(probe, { add_special_tokens: true }).ids;
      if (ids.some((id) => !Number.isInteger(id))) return; // no unk/byte fallback: encode() reports it per text
      const text = this.lib.decode(ids, { skip_special_tokens: true });
      if (typeof text !== 'string') throw new Error(`decode returned ${typeof text}`);
    } catch (e) {
      throw badTok(`fails an encode/decode round trip (${(e as Error).message})`);
    }
  }

  encode(text: string, opts: { bos: boolean; eos: boolean }): number[] {
    let ids: number[];
    try {
      ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    } catch (e) {
      throw new NibbleError('bad-argument', `tokenizer could not encode the text (${(e as Error).message})`);
    }
    if (ids.some((id) => id === undefined))
      throw new NibbleError(
        'tokenizer-mismatch',
        'tokenizer.json maps some text to no token id (no unk_token or byte fallback)',
      );
    if (opts.bos && this.addsBos) ids.unshift(this.bosId!);
    if (opts.eos && this.eosId !== null) ids.push(this.eosId);
    return ids;
  }

  /** Text of ids; special tokens are skipped, ids outside the vocabulary ignored. */
  decode(ids: readonly number[]): string {
    const known = ids.filter((id) => Number.isInteger(id) && id >= 0 && id < this.vocabSize && !this.special.has(id));
    if (known.length === 0) return '';
    try {
      return this.lib.decode(known, { skip_special_tokens: true });
    } catch (e) {
      throw new NibbleError('bad-format', `tokenizer.json cannot decode these tokens (${(e as Error).message})`);
    }
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  stream(): TokenStream {
    return new HfTokenStream(this);
  }

  /** The chat rendered as the model expects its prompt; 'unsupported' when the model has no template. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: { add_generation_prompt: boolean }): string {
    if (this.chatTemplate === undefined)
      throw new NibbleError(
        'unsupported',
        'this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja)',
      );
    return renderChatTemplate(
      this.chatTemplate,
      messages,
      { ...this.specialText, add_generation_prompt: opts.add_generation_prompt },
      this.chatTemplateSource,
    );
  }
}

function namedTemplate(list: unknown[]): string | undefined {
  const named = list.filter(
    (t): t is { name: unknown; template: string } => isObject(t) && typeof t.template === 'string',
  );
  return (named.find((t) => t.name === 'default') ?? named[0])?.template;
}

/**
 * Incremental detokenization over a window of ids (as text-generation-inference does): decode
 * window[prefix..] and window[prefix..read], emit the difference once it does not end in U+FFFD
 * (an incomplete UTF-8 sequence), then slide the window. Decoding a window instead of single
 * tokens keeps decoder rules that look at neighbours (Metaspace's leading-space strip, byte
 * fallback of one character split over several tokens) exactly as a whole-sequence decode.
 */
class HfTokenStream implements TokenStream {
  private ids: number[] = []; // the window: ids[0..read) already emitted, ids[0..prefix) context only
  private prefix = 0;
  private read = 0;
  private started = false;

  constructor(private readonly tok: HfTokenizer) {}

  push(prev: number, id: number): string {
    if (!this.started) {
      this.started = true;
      // The previous token (last of the prompt) is context, so " upon" after "Once" keeps its space.
      if (!this.tok.isSpecial(prev) && prev >= 0 && prev < this.tok.vocabSize) {
        this.ids.push(prev);
        this.read = 1;
      }
    }
    this.ids.push(id);
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const now = this.tok.decode(this.ids.slice(this.prefix));
    if (now.length <= before.length || now.endsWith('\uFFFD')) return '';
    // Slide: the emitted part becomes the next context; drop ids before it.
    this.ids = this.ids.slice(this.read);
    this.prefix = 0;
    this.read = this.ids.length;
    return now.slice(before.length);
  }

  flush(): string {
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const now = this.tok.decode(this.ids.slice(this.prefix));
    this.ids = [];
    this.prefix = this.read = 0;
    return now.length > before.length ? now.slice(before.length) : '';
  }
}

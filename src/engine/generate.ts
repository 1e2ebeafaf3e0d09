// Autoregressive generation over any ModelRunner, following llama2.c's loop: the prompt
// (with BOS) is prefilled in one pass, then one token per step until maxTokens, one of the
// tokenizer's stop ids (EOS, BOS for llama2.c, <|im_end|>, …), the end of the context, or
// cancellation.
//
// Prompts are plain text (BOS added the way the tokenizer does it) or a chat rendered by the
// model's template (renderChat). Invariant for a rendered chat: the template wrote every special
// token itself (bos_token, <|im_start|>, …), so its text is tokenized with no BOS/EOS added —
// transformers' rule (apply_chat_template output is encoded with add_special_tokens=False).
import { NibbleError } from '../core/errors.ts';
import type { ChatMessage } from '../core/formats/hf/chat-template.ts';
import { Sampler } from '../core/model/sampler.ts';
import type { TextTokenizer } from '../core/tokenizers/text-tokenizer.ts';
import { yieldToEventLoop } from '../core/yield.ts';
import { nonFiniteError } from './evaluate.ts';
import type { ModelRunner } from './runner.ts';

export interface GenerateOptions {
  maxTokens: number; // tokens to generate (the prompt does not count)
  temperature: number; // 0 = greedy (argmax on the GPU)
  topP: number;
  seed: number;
  signal?: AbortSignal;
}

export interface TokenEvent {
  token: number;
  text: string; // decoded piece; UTF-8 safe (may be '' while a multi-byte character is incomplete)
  index: number; // 0-based among generated tokens
  tokensPerSecond: number; // decode rate so far
}

export interface GenerateResult {
  text: string;
  tokens: number[]; // generated ids
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  stoppedBy: 'length' | 'eos' | 'cancelled' | 'context';
}

/** A prompt a chat template rendered: its special tokens are in `rendered` already (see the header). */
export interface RenderedPrompt {
  rendered: string;
}

/** Plain text (BOS added by the tokenizer's rule) or a rendered chat (nothing added). */
export type Prompt = string | RenderedPrompt;

/** A tokenizer that can render chats (HfTokenizer); the llama2.c tokenizer has no template. */
interface ChatTemplating {
  readonly chatTemplate: string | undefined;
  applyChatTemplate(messages: readonly ChatMessage[], opts: { add_generation_prompt: boolean }): string;
}

/** Whether `tokenizer` carries a chat template. */
export function hasChatTemplate(tokenizer: TextTokenizer): tokenizer is TextTokenizer & ChatTemplating {
  const t = tokenizer as Partial<ChatTemplating>;
  return typeof t.applyChatTemplate === 'function' && typeof t.chatTemplate === 'string';
}

/**
 * `messages` rendered through the tokenizer's chat template, ending with the generation prompt
 * (the assistant's turn is next). 'unsupported' when there is no template; 'bad-argument' for
 * messages that are not { role, content } strings.
 */
export function renderChat(tokenizer: TextTokenizer, messages: readonly ChatMessage[]): RenderedPrompt {
  if (!Array.isArray(messages) || messages.length === 0)
    throw new NibbleError('bad-argument', 'a chat needs at least one message');
  messages.forEach((m, i) => {
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof m.role !== 'string' ||
      typeof m.content !== 'string' ||
      m.role === ''
    ) {
      throw new NibbleError('bad-argument', `chat message ${i} must be { role, content } strings`);
    }
  });
  if (!hasChatTemplate(tokenizer)) {
    throw new NibbleError(
      'unsupported',
      "this model's tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja): give a plain prompt",
    );
  }
  return { rendered: tokenizer.applyChatTemplate(messages, { add_generation_prompt: true }) };
}

/** Token ids of a prompt: plain text with BOS (when the tokenizer adds one), a rendered chat as written. */
export function promptTokenIds(tokenizer: TextTokenizer, prompt: Prompt): number[] {
  return typeof prompt === 'string'
    ? tokenizer.encode(prompt, { bos: true, eos: false })
    : tokenizer.encode(prompt.rendered, { bos: false, eos: false });
}

const now = (): number => globalThis.performance.now();

export async function generate(
  runner: ModelRunner,
  tokenizer: TextTokenizer,
  prompt: Prompt,
  opts: GenerateOptions,
  onToken?: (ev: TokenEvent) => void,
): Promise<GenerateResult> {
  const { seqLen } = runner.config;
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0)
    throw new NibbleError('bad-argument', `maxTokens must be a whole number ≥ 0, got ${opts.maxTokens}`);
  if (!(opts.temperature >= 0))
    throw new NibbleError('bad-argument', `temperature must be ≥ 0, got ${opts.temperature}`);
  // Before encoding: a token covers at most maxTokenLength bytes (≥ UTF-16 units), so a longer
  // text cannot fit the context whatever it encodes to — refused without spending the time.
  const maxTokenLength = (tokenizer as { maxTokenLength?: number }).maxTokenLength;
  const chars = typeof prompt === 'string' ? prompt.length : prompt.rendered.length;
  if (maxTokenLength !== undefined && Math.ceil(chars / maxTokenLength) >= seqLen)
    throw new NibbleError(
      'bad-argument',
      `the prompt is ${chars} characters, at least ${Math.ceil(chars / maxTokenLength)} tokens; the model's context holds ${seqLen}`,
    );
  const promptIds = promptTokenIds(tokenizer, prompt);
  if (promptIds.length === 0) {
    throw new NibbleError(
      'bad-argument',
      typeof prompt === 'string'
        ? 'the prompt is empty and the model has no BOS token to start from: give a prompt'
        : 'the chat template rendered an empty prompt',
    );
  }
  if (promptIds.length >= seqLen) {
    throw new NibbleError(
      'bad-argument',
      `the prompt is ${promptIds.length} tokens; the model's context holds ${seqLen}`,
    );
  }
  const sampler = new Sampler({ temperature: opts.temperature, topP: opts.topP, seed: opts.seed });
  const want = sampler.greedy ? 'argmax' : 'logits';
  const stream = tokenizer.stream();
  const generated: number[] = [];
  let text = '';
  let stoppedBy: GenerateResult['stoppedBy'] = 'length';

  const t0 = now();
  let prefillMs = 0;
  let tDecode = t0;
  let prev = promptIds[promptIds.length - 1];
  let pos = 0;
  let feed: readonly number[] = promptIds; // the first step is the whole prompt (prefill)
  while (generated.length < opts.maxTokens) {
    if (opts.signal?.aborted) {
      stoppedBy = 'cancelled';
      break;
    }
    if (pos + feed.length > seqLen) {
      stoppedBy = 'context';
      break;
    }
    const r = await runner.step(feed, pos, want);
    if (r.kind === 'logits' && !r.logits.every(Number.isFinite))
      throw await nonFiniteError(runner, [...promptIds, ...generated], `at position ${pos + feed.length - 1}`);
    const next = r.kind === 'argmax' ? r.token : sampler.sample(r.logits);
    if (!Number.isInteger(next) || next < 0 || next >= runner.config.vocabSize)
      throw new NibbleError(
        'non-finite',
        `the runner chose token ${next}, outside the vocabulary of ${runner.config.vocabSize}`,
      );
    if (pos === 0) {
      prefillMs = now() - t0;
      tDecode = now();
    }
    pos += feed.length;
    if (tokenizer.stopIds.includes(next)) {
      stoppedBy = 'eos';
      break;
    }
    const piece = stream.push(prev, next);
    text += piece;
    generated.push(next);
    const elapsed = (now() - tDecode) / 1000;
    onToken?.({
      token: next,
      text: piece,
      index: generated.length - 1,
      tokensPerSecond: generated.length > 1 && elapsed > 0 ? (generated.length - 1) / elapsed : 0,
    });
    prev = next;
    feed = [next];
    await yieldToEventLoop();
  }
  text += stream.flush();
  const decodeMs = generated.length > 0 ? now() - tDecode : 0;
  const decodeSteps = Math.max(0, generated.length - 1); // the first token came from the prefill
  return {
    text,
    tokens: generated,
    promptTokens: promptIds.length,
    prefillMs,
    decodeMs,
    prefillTokensPerSecond: prefillMs > 0 ? (promptIds.length / prefillMs) * 1000 : 0,
    decodeTokensPerSecond: decodeMs > 0 ? (decodeSteps / decodeMs) * 1000 : 0,
    stoppedBy,
  };
}

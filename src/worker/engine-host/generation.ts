// One generation on one runner, as the protocol reports it: the engine's result plus the
// backend, the variant and the GPU memory its runner holds. Used for chat and for A/B pairs.
// A request with `messages` is a chat: rendered through the tokenizer's template (no BOS added
// by us, see engine/generate.ts) and `prompt` ignored; 'unsupported' without a template.
import { NibbleError } from '../../core/errors.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import { generate, renderChat, type Prompt } from '../../engine/generate.ts';
import type { ModelRunner } from '../../engine/runner.ts';
import type { ChatMessage, GenerationSummary, GpuMemory, SamplingSettings, TokenProgress } from './protocol.ts';

/** runner.memory() as plain numbers; null on the CPU runner. */
export function memoryOf(runner: ModelRunner): GpuMemory | null {
  const m = runner.memory?.();
  if (!m) return null;
  return {
    weightBytes: m.weightBytes,
    kvCacheBytes: m.kvCacheBytes,
    activationBytes: m.activationBytes,
    totalBytes: m.weightBytes + m.kvCacheBytes + m.activationBytes,
  };
}

export function checkSettings(s: SamplingSettings): void {
  const bad = (what: string) => {
    throw new NibbleError('bad-argument', what);
  };
  if (!Number.isFinite(s.temperature) || s.temperature < 0) bad(`temperature must be ≥ 0, got ${s.temperature}`);
  if (!Number.isFinite(s.topP) || s.topP <= 0 || s.topP > 1) bad(`top-p must be in (0, 1], got ${s.topP}`);
  if (!Number.isInteger(s.maxTokens) || s.maxTokens < 1)
    bad(`max tokens must be a whole number ≥ 1, got ${s.maxTokens}`);
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff)
    bad(`seed must be a whole number in 0..4294967295, got ${s.seed}`);
}

/** What a generate request asks to continue: the plain prompt, or its chat when `messages` is given. */
export function requestPrompt(
  tokenizer: TextTokenizer,
  prompt: string,
  messages: readonly ChatMessage[] | undefined,
): Prompt {
  if (messages === undefined) {
    if (typeof prompt !== 'string') throw new NibbleError('bad-argument', 'the prompt must be text');
    return prompt;
  }
  return renderChat(tokenizer, messages);
}

export async function generateOn(
  runner: ModelRunner,
  tokenizer: TextTokenizer,
  variant: string,
  prompt: string,
  settings: SamplingSettings,
  signal: AbortSignal,
  onToken: (t: TokenProgress) => void,
  messages?: readonly ChatMessage[],
): Promise<GenerationSummary> {
  const res = await generate(
    runner,
    tokenizer,
    requestPrompt(tokenizer, prompt, messages),
    { ...settings, signal },
    (ev) => onToken({ token: ev.token, text: ev.text, index: ev.index, tokensPerSecond: ev.tokensPerSecond }),
  );
  return { ...res, backend: runner.backend, variant, gpuMemory: memoryOf(runner) };
}

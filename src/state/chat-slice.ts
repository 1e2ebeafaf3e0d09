// Chat slice: turns (prompt → streamed continuation), live decode rate, sampling settings, and
// which held variant answers. Two modes, decided per turn by the loaded model:
// - completion (no chat template, e.g. llama2.c stories): the prompt is the start of the text;
// - chat (ModelInfo.chatTemplate): the prompt is the user's message; the engine receives the
//   system prompt + every earlier chat turn (user, assistant) + it as `messages`, and renders
//   them through the model's template. Turns from completion mode are never sent as history.
import { BASE_VARIANT } from '../worker/engine-host/lab-protocol.ts';
import {
  toWireError,
  type ChatMessage,
  type SamplingSettings,
  type TokenProgress,
} from '../worker/engine-host/protocol.ts';
import type { ChatSlice, ChatTurn, Slice } from './types.ts';

export const DEFAULT_SAMPLING: SamplingSettings = { temperature: 0.8, topP: 0.9, maxTokens: 256, seed: 42 };

export const SAMPLING_LIMITS = {
  temperature: { min: 0, max: 2 },
  topP: { min: 0.01, max: 1 }, // top-p 0 would keep no token
  maxTokens: { min: 1, max: 4096 }, // the model's context (seqLen) stops it earlier
  seed: { min: 0, max: 0xffffffff },
} as const;

/**
 * The messages of a chat turn: the system prompt (when not blank), the earlier chat turns that
 * ended (done or stopped: the reply as far as it got), then `prompt` as the user's message.
 */
export function chatMessages(turns: readonly ChatTurn[], system: string, prompt: string): ChatMessage[] {
  const out: ChatMessage[] = system.trim() ? [{ role: 'system', content: system }] : [];
  for (const t of turns) {
    if (!t.chat || (t.status !== 'done' && t.status !== 'stopped')) continue;
    out.push({ role: 'user', content: t.prompt }, { role: 'assistant', content: t.text });
  }
  out.push({ role: 'user', content: prompt });
  return out;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Valid settings from a patch: each finite field clamped to SAMPLING_LIMITS, integers rounded. */
export function applySamplingPatch(cur: SamplingSettings, patch: Partial<SamplingSettings>): SamplingSettings {
  const next = { ...cur };
  for (const key of Object.keys(SAMPLING_LIMITS) as (keyof SamplingSettings)[]) {
    const v = patch[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const { min, max } = SAMPLING_LIMITS[key];
    const integer = key === 'maxTokens' || key === 'seed';
    next[key] = clamp(integer ? Math.round(v) : v, min, max);
  }
  return next;
}

export const createChatSlice: Slice<ChatSlice> = (ctx) => (set, get) => {
  let nextTurnId = 1;
  let ctrl: AbortController | null = null;
  const randomSeed = ctx.randomSeed ?? (() => Math.floor(Math.random() * 0x100000000));
  const flushMs = ctx.streamFlushMs ?? 16;

  const updateTurn = (id: number, f: (t: ChatTurn) => Partial<ChatTurn>) =>
    set((s) => ({ chat: { ...s.chat, turns: s.chat.turns.map((t) => (t.id === id ? { ...t, ...f(t) } : t)) } }));

  return {
    chat: { turns: [], streaming: null, sampling: DEFAULT_SAMPLING, variant: BASE_VARIANT, system: '' },

    async send(prompt) {
      const s = get();
      if (s.model.status !== 'ready' || s.chat.streaming || s.ab.streaming) return;
      const chat = s.model.info?.chatTemplate === true;
      if (chat && prompt.trim() === '') return; // a chat turn needs the user's message
      const messages = chat ? chatMessages(s.chat.turns, s.chat.system, prompt) : undefined;
      if (s.settings.randomSeed) s.setSampling({ seed: randomSeed() });
      const settings = get().chat.sampling;
      const variant = s.chat.variant;
      const id = nextTurnId++;
      const turn: ChatTurn = {
        id,
        prompt,
        text: '',
        tokens: 0,
        status: 'streaming',
        settings,
        result: null,
        error: null,
        ...(chat ? { chat } : {}),
      };
      set((st) => ({
        chat: { ...st.chat, turns: [...st.chat.turns, turn], streaming: { turnId: id, tokensPerSecond: 0 } },
      }));
      const mine = new AbortController();
      ctrl = mine;
      // Tokens are applied to the state at most once per `flushMs` (one render per frame, not per
      // token: at hundreds of tokens/s, per-token renders would compete with the engine for CPU).
      let pending = '';
      let last: TokenProgress | null = null;
      let timer: ReturnType<typeof setTimeout> | null = null;
      const flush = () => {
        timer = null;
        if (!last) return;
        const [text, t] = [pending, last];
        pending = '';
        last = null;
        updateTurn(id, (cur) => ({ text: cur.text + text, tokens: t.index + 1 }));
        set((st) => ({ chat: { ...st.chat, streaming: { turnId: id, tokensPerSecond: t.tokensPerSecond } } }));
      };
      try {
        const result = await ctx.engine.generate(prompt, settings, {
          signal: mine.signal,
          ...(variant === BASE_VARIANT ? {} : { variant }),
          ...(messages ? { messages } : {}),
          onToken: (t) => {
            pending += t.text;
            last = t;
            if (flushMs <= 0) flush();
            else timer ??= setTimeout(flush, flushMs);
          },
        });
        if (timer) clearTimeout(timer);
        flush();
        // The summary's text is authoritative (it includes any bytes flushed at the end).
        updateTurn(id, () => ({
          text: result.text,
          tokens: result.tokens.length,
          result,
          status: result.stoppedBy === 'cancelled' ? 'stopped' : 'done',
        }));
      } catch (e) {
        if (timer) clearTimeout(timer);
        flush();
        updateTurn(id, () => ({ status: 'error', error: toWireError(e) }));
        get().showError('Generating', e);
      } finally {
        if (ctrl === mine) ctrl = null;
        set((st) => ({ chat: { ...st.chat, streaming: st.chat.streaming?.turnId === id ? null : st.chat.streaming } }));
      }
    },

    stop() {
      ctrl?.abort();
    },

    setSampling(patch) {
      set((s) => ({ chat: { ...s.chat, sampling: applySamplingPatch(s.chat.sampling, patch) } }));
    },

    setSystemPrompt(text) {
      set((s) => ({ chat: { ...s.chat, system: text } }));
    },

    setChatVariant(id) {
      set((s) => ({ chat: { ...s.chat, variant: id } }));
    },

    clearChat() {
      if (get().chat.streaming) return; // the running turn would lose its target
      set((s) => ({ chat: { ...s.chat, turns: [] } }));
    },
  };
};

// A/B chat: the same prompt, sampling settings and seed on two variants at once, both streaming;
// the first generated token where they differ is marked. Tokens reach the state at most once
// per flush interval (as in the chat slice). With a chat model (ModelInfo.chatTemplate) the
// prompt is one user message after the chat's system prompt, rendered by the template.
import { BASE_VARIANT } from '../worker/engine-host/lab-protocol.ts';
import { toWireError, type TokenProgress } from '../worker/engine-host/protocol.ts';
import type { AbSide, AbSlice, AbTurn } from './lab-types.ts';
import { chatMessages } from './chat-slice.ts';
import { variantLabel } from './variants-slice.ts';
import type { Slice } from './types.ts';

/** Index of the first position where the two token sequences differ; null while one is a prefix of the other. */
export function firstDivergence(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return null;
}

/**
 * Divergence of a finished pair: where they first differ, or where the shorter one stopped
 * (null when identical).
 */
export function finalDivergence(a: readonly number[], b: readonly number[]): number | null {
  return firstDivergence(a, b) ?? (a.length === b.length ? null : Math.min(a.length, b.length));
}

const side = (variant: string, label: string): AbSide => ({
  variant,
  label,
  text: '',
  pieces: [],
  tokens: [],
  tokensPerSecond: 0,
  result: null,
});

export const createAbSlice: Slice<AbSlice> = (ctx) => (set, get) => {
  let nextId = 1;
  let ctrl: AbortController | null = null;
  const flushMs = ctx.streamFlushMs ?? 16;

  const updateTurn = (id: number, f: (t: AbTurn) => Partial<AbTurn>) =>
    set((s) => ({ ab: { ...s.ab, turns: s.ab.turns.map((t) => (t.id === id ? { ...t, ...f(t) } : t)) } }));

  return {
    ab: { enabled: false, a: BASE_VARIANT, b: BASE_VARIANT, turns: [], streaming: false },

    setAb(p) {
      set((s) => ({ ab: { ...s.ab, ...p } }));
    },

    async sendAb(prompt) {
      const s = get();
      if (s.model.status !== 'ready' || s.ab.streaming || s.chat.streaming) return;
      if (s.ab.a === s.ab.b) {
        get().showError('A/B', {
          code: 'bad-argument',
          message: 'pick two different variants for A and B (quantize one first)',
        });
        return;
      }
      if (s.settings.randomSeed) s.setSampling({ seed: Math.floor(Math.random() * 0x100000000) });
      const settings = get().chat.sampling;
      const id = nextId++;
      const list = s.variants.list;
      const turn: AbTurn = {
        id,
        prompt,
        settings,
        sides: [side(s.ab.a, variantLabel(list, s.ab.a)), side(s.ab.b, variantLabel(list, s.ab.b))],
        divergeAt: null,
        status: 'streaming',
        error: null,
      };
      set((st) => ({ ab: { ...st.ab, turns: [...st.ab.turns, turn], streaming: true } }));
      const mine = new AbortController();
      ctrl = mine;
      const pending: [TokenProgress[], TokenProgress[]] = [[], []];
      let timer: ReturnType<typeof setTimeout> | null = null;
      const flush = () => {
        timer = null;
        if (!pending[0].length && !pending[1].length) return;
        const batch: [TokenProgress[], TokenProgress[]] = [pending[0].splice(0), pending[1].splice(0)];
        updateTurn(id, (t) => {
          const sides = t.sides.map((sd, i) => {
            const add = batch[i];
            if (!add.length) return sd;
            return {
              ...sd,
              text: sd.text + add.map((x) => x.text).join(''),
              pieces: [...sd.pieces, ...add.map((x) => x.text)],
              tokens: [...sd.tokens, ...add.map((x) => x.token)],
              tokensPerSecond: add[add.length - 1].tokensPerSecond,
            };
          }) as [AbSide, AbSide];
          return { sides, divergeAt: firstDivergence(sides[0].tokens, sides[1].tokens) };
        });
      };
      try {
        const { results } = await ctx.engine.generatePair(prompt, settings, [s.ab.a, s.ab.b], {
          signal: mine.signal,
          ...(s.model.info?.chatTemplate === true ? { messages: chatMessages([], s.chat.system, prompt) } : {}),
          onToken: (sideIx, t) => {
            pending[sideIx].push(t);
            if (flushMs <= 0) flush();
            else timer ??= setTimeout(flush, flushMs);
          },
        });
        if (timer) clearTimeout(timer);
        flush();
        updateTurn(id, (t) => {
          const sides = t.sides.map((sd, i) => ({
            ...sd,
            text: results[i].text,
            tokens: results[i].tokens,
            result: results[i],
            tokensPerSecond: results[i].decodeTokensPerSecond,
          })) as [AbSide, AbSide];
          const stopped = results.some((r) => r.stoppedBy === 'cancelled');
          return {
            sides,
            divergeAt: finalDivergence(sides[0].tokens, sides[1].tokens),
            status: stopped ? 'stopped' : 'done',
          };
        });
      } catch (e) {
        if (timer) clearTimeout(timer);
        flush();
        updateTurn(id, () => ({ status: 'error', error: toWireError(e) }));
        get().showError('A/B generation', e);
      } finally {
        if (ctrl === mine) ctrl = null;
        set((st) => ({ ab: { ...st.ab, streaming: false } }));
      }
    },

    stopAb() {
      ctrl?.abort();
    },

    clearAb() {
      if (get().ab.streaming) return;
      set((s) => ({ ab: { ...s.ab, turns: [] } }));
    },
  };
};

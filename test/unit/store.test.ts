// Store logic in Node: the real engine (in-thread host, CPU runner, embedded model) for loads
// and streaming, and a scripted fake Engine where the test must control timing or events.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { applySamplingPatch, DEFAULT_SAMPLING } from '../../src/state/chat-slice.ts';
import { createAppStore } from '../../src/state/store.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import type { LabEngine } from '../../src/worker/engine-host/lab-protocol.ts';
import {
  EngineError,
  type Engine,
  type EngineEvent,
  type EngineInfo,
  type ModelInfo,
} from '../../src/worker/engine-host/protocol.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const FILES: Record<string, Uint8Array> = { '/models/stories260K.bin': MODEL, '/models/tok512.bin': TOK };
const DEFAULT_SOURCE = {
  kind: 'url',
  name: 'stories260K',
  modelUrl: '/models/stories260K.bin',
  tokenizerUrl: '/models/tok512.bin',
} as const;

function realStore(randomSeed?: () => number) {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  return createAppStore({ engine, defaultSource: DEFAULT_SOURCE, randomSeed, streamFlushMs: 0 });
}

async function referenceText(maxTokens: number) {
  const model = parseLlama2c(MODEL);
  const tok = Tokenizer.fromLlama2c(TOK, model.config.vocabSize);
  return (await generate(createCpuRunner(model), tok, '', { maxTokens, temperature: 0, topP: 1, seed: 1 })).text;
}

/** The lab half of a scripted Engine: no variants; anything else is unsupported. */
function labStubs(): LabEngine {
  const no = async (): Promise<never> => {
    throw new EngineError({ code: 'unsupported', message: 'not scripted' });
  };
  return {
    listVariants: async () => [],
    quantize: no,
    deleteVariant: no,
    exportVariant: no,
    exportModel: no,
    importVariant: no,
    weightHistogram: no,
    collisions: no,
    outliers: no,
    drift: no,
    truncationPoint: no,
    generatePair: no,
  };
}

/** A scripted Engine: records calls, lets the test emit events; generate streams 3 tokens. */
function fakeEngine() {
  const calls: string[] = [];
  const listeners = new Set<(e: EngineEvent) => void>();
  const info = { name: 'fake', backend: 'webgpu' } as ModelInfo;
  const engineInfo: EngineInfo = {
    backend: 'webgpu',
    gpu: null,
    gpuChecking: false,
    gpuUnavailable: null,
    upgrading: false,
    model: info,
  };
  const engine: Engine = {
    ...labStubs(),
    async getInfo() {
      calls.push('get-info');
      return { ...engineInfo, model: null };
    },
    async load(_src, backend) {
      calls.push(`load:${backend}`);
      return { model: { ...info, backend: backend === 'cpu' ? 'cpu' : 'webgpu' }, engine: engineInfo };
    },
    async inspect() {
      throw new EngineError({ code: 'unsupported', message: 'not scripted' });
    },
    async generate(_p, settings, opts) {
      calls.push(`generate:seed=${settings.seed}`);
      for (let i = 0; i < 3; i++) opts?.onToken?.({ token: 10 + i, text: `t${i}`, index: i, tokensPerSecond: 100 });
      return {
        text: 't0t1t2',
        tokens: [10, 11, 12],
        promptTokens: 1,
        prefillMs: 1,
        decodeMs: 1,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 100,
        stoppedBy: 'length',
        backend: 'webgpu',
      };
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    dispose() {
      calls.push('dispose');
    },
  };
  return { engine, calls, emit: (e: EngineEvent) => listeners.forEach((l) => l(e)) };
}

describe('store with the real engine', () => {
  it('loads the embedded model, then streams a greedy turn token by token', async () => {
    const store = realStore();
    try {
      expect(store.getState().model.status).toBe('idle');
      const loading = store.getState().loadDefaultModel();
      expect(store.getState().model).toMatchObject({ status: 'loading', loading: 'stories260K' });
      await loading;
      const m = store.getState().model;
      expect(m).toMatchObject({ status: 'ready', loading: null, error: null });
      expect(m.info?.config.vocabSize).toBe(512);
      expect(m.engine).toMatchObject({ backend: 'cpu', gpu: null });
      expect(m.engine?.gpuUnavailable).toMatch(/WebGPU/);

      store.getState().setSampling({ temperature: 0, maxTokens: 20 });
      const seen: string[] = [];
      const unsub = store.subscribe((s) => {
        const t = s.chat.turns[0];
        if (t && s.chat.streaming && seen[seen.length - 1] !== t.text) seen.push(t.text);
      });
      await store.getState().send('');
      unsub();
      const { chat } = store.getState();
      expect(chat.streaming).toBeNull();
      expect(chat.turns).toHaveLength(1);
      const turn = chat.turns[0];
      expect(turn).toMatchObject({ prompt: '', status: 'done', tokens: 20, error: null });
      expect(turn.text).toBe(await referenceText(20));
      expect(turn.result).toMatchObject({ stoppedBy: 'length', backend: 'cpu' });
      // Streamed: the text grew through many intermediate states, each a prefix of the last.
      expect(seen.length).toBeGreaterThan(10);
      for (const s of seen) expect(turn.text.startsWith(s)).toBe(true);
    } finally {
      store.dispose();
    }
  });

  it('stops a running turn and keeps what was generated', async () => {
    const store = realStore();
    try {
      await store.getState().loadDefaultModel();
      store.getState().setSampling({ maxTokens: 500 });
      const unsub = store.subscribe((s) => {
        if ((s.chat.turns[0]?.tokens ?? 0) >= 3) s.stop();
      });
      await store.getState().send('Once upon a time');
      unsub();
      const turn = store.getState().chat.turns[0];
      expect(turn.status).toBe('stopped');
      expect(turn.result?.stoppedBy).toBe('cancelled');
      expect(turn.tokens).toBeGreaterThanOrEqual(3);
      expect(turn.tokens).toBeLessThan(500);
      expect(store.getState().chat.streaming).toBeNull();
    } finally {
      store.dispose();
    }
  });

  it('shows a bad file in the banner with its code and keeps the loaded model', async () => {
    const store = realStore();
    try {
      await store.getState().loadDefaultModel();
      const before = store.getState().model.info;
      await store
        .getState()
        .loadModelFiles(
          new Blob(['not a checkpoint at all, just some text\n'.repeat(4)]),
          new Blob([TOK.slice()]),
          'notes.txt',
        );
      const s = store.getState();
      expect(s.error).toMatchObject({ code: 'bad-format', context: 'Loading notes.txt' });
      expect(s.model).toMatchObject({ status: 'ready', info: before, error: { code: 'bad-format' } });
      s.dismissError();
      expect(store.getState().error).toBeNull();
      await store.getState().loadModelFiles(new Blob([MODEL.slice(0, 5000)]), new Blob([TOK.slice()]), 'cut.bin');
      expect(store.getState().error).toMatchObject({ code: 'truncated' });
    } finally {
      store.dispose();
    }
  });

  it('a failed first load leaves status error and send is a no-op', async () => {
    const engine = new EngineClient(inThreadTransport({ fetchBytes: async () => new Uint8Array(3) }));
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    try {
      await store.getState().loadDefaultModel();
      expect(store.getState().model).toMatchObject({ status: 'error', info: null, error: { code: 'truncated' } });
      await store.getState().send('hi');
      expect(store.getState().chat.turns).toHaveLength(0);
    } finally {
      store.dispose();
    }
  });
});

describe('store logic with a scripted engine', () => {
  it('clamps sampling settings and ignores non-finite values', () => {
    expect(applySamplingPatch(DEFAULT_SAMPLING, { temperature: -1, topP: 5, maxTokens: 2.6, seed: NaN })).toEqual({
      ...DEFAULT_SAMPLING,
      temperature: 0,
      topP: 1,
      maxTokens: 3,
    });
    expect(applySamplingPatch(DEFAULT_SAMPLING, { topP: 0, maxTokens: 0, seed: 2 ** 40 })).toEqual({
      ...DEFAULT_SAMPLING,
      topP: 0.01,
      maxTokens: 1,
      seed: 0xffffffff,
    });
  });

  it('draws and shows a fresh seed per send in random-seed mode', async () => {
    const { engine, calls } = fakeEngine();
    let n = 1000;
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE, randomSeed: () => n++ });
    await store.getState().loadDefaultModel();
    await store.getState().send('a');
    store.getState().setRandomSeed(true);
    await store.getState().send('b');
    await store.getState().send('c');
    expect(calls.filter((c) => c.startsWith('generate'))).toEqual([
      `generate:seed=${DEFAULT_SAMPLING.seed}`,
      'generate:seed=1000',
      'generate:seed=1001',
    ]);
    expect(store.getState().chat.sampling.seed).toBe(1001);
    expect(store.getState().chat.turns.map((t) => [t.text, t.settings.seed, t.status])).toEqual([
      ['t0t1t2', DEFAULT_SAMPLING.seed, 'done'],
      ['t0t1t2', 1000, 'done'],
      ['t0t1t2', 1001, 'done'],
    ]);
  });

  it('reloads the current model when the backend preference changes', async () => {
    const { engine, calls } = fakeEngine();
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    await store.getState().loadDefaultModel();
    await store.getState().setBackendPreference('cpu');
    await store.getState().setBackendPreference('cpu'); // unchanged: no reload
    expect(calls.filter((c) => c.startsWith('load'))).toEqual(['load:auto', 'load:cpu']);
    expect(store.getState().model.info?.backend).toBe('cpu');
  });

  it('bridges device loss into state: the model is dropped and the banner says why', async () => {
    const { engine, calls, emit } = fakeEngine();
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    await store.getState().loadDefaultModel();
    emit({ kind: 'error', error: { code: 'device-lost', message: 'GPU device was lost: reason unknown' } });
    const s = store.getState();
    expect(s.model).toMatchObject({ status: 'error', info: null, error: { code: 'device-lost' } });
    expect(s.error).toMatchObject({ code: 'device-lost', context: 'WebGPU device lost' });
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toContain('get-info');
    store.dispose();
    expect(calls[calls.length - 1]).toBe('dispose');
  });

  it('applies model-updated events (the model moved to WebGPU) without touching the banner', async () => {
    const { engine, emit } = fakeEngine();
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    await store.getState().loadDefaultModel();
    const cpuInfo = { ...store.getState().model.info!, backend: 'cpu' as const };
    store.setState((s) => ({ model: { ...s.model, info: cpuInfo } }));
    const engineInfo: EngineInfo = {
      backend: 'webgpu',
      gpu: null,
      gpuChecking: false,
      gpuUnavailable: null,
      upgrading: false,
      model: null,
    };
    emit({ kind: 'model-updated', model: { ...cpuInfo, backend: 'webgpu', gpuMs: 12 }, engine: engineInfo });
    expect(store.getState().model).toMatchObject({
      status: 'ready',
      info: { backend: 'webgpu', gpuMs: 12 },
      engine: engineInfo,
    });
    expect(store.getState().error).toBeNull();
  });

  it('coalesces streamed tokens into at most one state update per flush interval', async () => {
    const { engine } = fakeEngine();
    engine.generate = async (_p, _s, opts) => {
      const emit = (i: number) => opts?.onToken?.({ token: i, text: `t${i}`, index: i, tokensPerSecond: 50 });
      [0, 1, 2].forEach(emit);
      await new Promise((r) => setTimeout(r, 60));
      [3, 4].forEach(emit);
      return {
        text: 't0t1t2t3t4',
        tokens: [0, 1, 2, 3, 4],
        promptTokens: 1,
        prefillMs: 1,
        decodeMs: 1,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 50,
        stoppedBy: 'length',
        backend: 'cpu',
      };
    };
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE, streamFlushMs: 20 });
    await store.getState().loadDefaultModel();
    const texts: string[] = [];
    store.subscribe((s) => {
      const t = s.chat.turns[0];
      if (t && texts[texts.length - 1] !== t.text) texts.push(t.text);
    });
    await store.getState().send('');
    expect(texts).toEqual(['', 't0t1t2', 't0t1t2t3t4']);
    expect(store.getState().chat.turns[0]).toMatchObject({ tokens: 5, status: 'done' });
  });

  it('sends the conversation as messages when the model has a chat template, a plain prompt otherwise', async () => {
    const { engine } = fakeEngine();
    const sent: { prompt: string; messages?: unknown }[] = [];
    const generate = engine.generate.bind(engine);
    engine.generate = async (prompt, settings, opts) => {
      sent.push({ prompt, messages: opts?.messages });
      return generate(prompt, settings, opts);
    };
    const load = engine.load.bind(engine);
    let template = true;
    engine.load = async (src, backend) => {
      const r = await load(src, backend);
      return { ...r, model: { ...r.model, chatTemplate: template } };
    };
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    await store.getState().loadDefaultModel();
    store.getState().setSystemPrompt('Be brief.');
    await store.getState().send('Hi');
    await store.getState().send(''); // an empty chat message is not sent
    await store.getState().send('More');
    expect(sent).toEqual([
      {
        prompt: 'Hi',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
      },
      {
        prompt: 'More',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 't0t1t2' },
          { role: 'user', content: 'More' },
        ],
      },
    ]);
    expect(store.getState().chat.turns.map((t) => [t.prompt, t.chat])).toEqual([
      ['Hi', true],
      ['More', true],
    ]);
    template = false; // a model without a template: completions, and the chat turns are not history
    await store.getState().loadDefaultModel();
    await store.getState().send('Once');
    expect(sent[2]).toEqual({ prompt: 'Once', messages: undefined });
    expect(store.getState().chat.turns[2].chat).toBeUndefined();
  });

  it('marks a turn as failed and shows the engine error when generation throws', async () => {
    const { engine } = fakeEngine();
    engine.generate = async () => {
      throw new EngineError({ code: 'bad-argument', message: 'the prompt is 600 tokens; the model holds 512' });
    };
    const store = createAppStore({ engine, defaultSource: DEFAULT_SOURCE });
    await store.getState().loadDefaultModel();
    await store.getState().send('long');
    expect(store.getState().chat.turns[0]).toMatchObject({ status: 'error', error: { code: 'bad-argument' } });
    expect(store.getState().error).toMatchObject({ code: 'bad-argument', context: 'Generating' });
    expect(store.getState().chat.streaming).toBeNull();
  });
});

// The playground's store slices: variants (with the persistence hook), jobs, charts, the
// truncation lab's point scheduling, A/B chat, and the URL hash. The real engine (in-thread
// host, CPU) where numbers matter; a scripted engine where the test must control timing.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import { firstDivergence, finalDivergence } from '../../src/state/ab-slice.ts';
import { progressLine } from '../../src/state/jobs-slice.ts';
import { nextTruncKey, truncKey, initialTruncation } from '../../src/state/truncation-slice.ts';
import { applyHash, bindUrlHash, encodeHash, specFromParams } from '../../src/state/url-hash.ts';
import { applyFormPatch, INITIAL_FORM } from '../../src/state/variants-slice.ts';
import type { VariantMeta } from '../../src/state/lab-types.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import type { TruncationPoint, TruncationQuery } from '../../src/worker/engine-host/lab-protocol.ts';
import type { Engine, GenerationSummary, TokenProgress } from '../../src/worker/engine-host/protocol.ts';
import { storiesFiles, STORIES_SOURCE as SOURCE } from './helpers.ts';

const FILES = storiesFiles();

const TEXT = { calib: '/calib.txt', eval: '/eval.txt' };

function realStore() {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  return createAppStore({ engine, defaultSource: SOURCE, text: TEXT, streamFlushMs: 0 });
}

const settle = async (store: ReturnType<typeof realStore>, until: () => boolean, ms = 20_000) => {
  const t0 = Date.now();
  while (!until()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
  return store.getState();
};

describe('variants, jobs and charts with the real engine', () => {
  it('quantizes with stage progress, persists through the hook, imports it back, deletes', async () => {
    const store = realStore();
    const persisted: { bytes: Uint8Array; meta: VariantMeta }[] = [];
    store.setState({ persistVariant: async (bytes, meta) => void persisted.push({ bytes, meta }) });
    try {
      await store.getState().loadDefaultModel();
      await settle(store, () => store.getState().variants.list.length === 1);
      expect(store.getState().variants.list[0]).toMatchObject({ id: 'base', label: 'fp32' });
      const stages: string[] = [];
      const unsub = store.subscribe((s) => {
        const j = s.jobs.list[0];
        if (j && stages[stages.length - 1] !== j.stage) stages.push(j.stage);
      });
      const v = await store.getState().quantize();
      unsub();
      expect(v).toMatchObject({ id: 'v1', label: 'rtn int4 g32' });
      expect(stages).toContain('layer 3 of 5');
      expect(store.getState().jobs.list[0]).toMatchObject({ kind: 'quantize', status: 'done', fraction: 1 });
      // A new variant becomes A/B's B (A stays fp32).
      expect(store.getState().ab).toMatchObject({ a: 'base', b: 'v1' });
      await settle(store, () => store.getState().variants.saved.v1 === 'saved');
      expect(persisted[0].meta).toMatchObject({
        label: 'rtn int4 g32',
        baseModel: 'stories260K',
        spec: { method: 'rtn', bits: 4, group: 32 },
      });
      expect([...persisted[0].bytes.subarray(0, 4)]).toEqual([0x4e, 0x49, 0x42, 0x4c]); // "NIBL"

      const back = await store.getState().importVariant(persisted[0].bytes, persisted[0].meta);
      expect(back).toMatchObject({
        id: 'v2',
        origin: 'imported',
        label: 'rtn int4 g32',
        bitsPerWeight: v!.bitsPerWeight,
      });
      store.getState().setChatVariant('v2');
      store.getState().setAb({ enabled: true, a: 'v1', b: 'v2' });
      await store.getState().deleteVariant('v2');
      expect(store.getState().variants.list.map((x) => x.id)).toEqual(['base', 'v1']);
      expect(store.getState().chat.variant).toBe('base');
      expect(store.getState().ab).toMatchObject({ a: 'v1', b: 'base' });
    } finally {
      store.dispose();
    }
  });

  it('charts: histogram and collisions of the chosen tensor; drift of a variant computes fp32 first', async () => {
    const store = realStore();
    try {
      await store.getState().loadDefaultModel();
      store.getState().selectTensor({ layer: 9, linear: 'w2' }); // clamped to the last layer
      expect(store.getState().charts.tensor).toEqual({ layer: 4, linear: 'w2' });
      await store.getState().loadHistogram();
      const h = store.getState().charts.histogram;
      expect(h.status).toBe('ready');
      expect(h.data).toMatchObject({ layer: 4, linear: 'w2', shape: [64, 172], nGroups: 6 });
      expect(h.data!.counts.reduce((a, b) => a + b, 0)).toBe(64 * 172);
      store.getState().setCollisionOptions({ bits: [4], groups: [0] });
      await store.getState().loadCollisions();
      expect(store.getState().charts.collisions.data?.rows.map((r) => r.label)).toEqual(['int4 per-row']);

      await store.getState().quantize();
      store.getState().setEvalWindows(2);
      await store.getState().computeDrift('v1');
      const d = store.getState().charts.drift;
      expect(d.base).toMatchObject({ status: 'ready', data: { windows: 2, klMean: null } });
      expect(d.v1).toMatchObject({ status: 'ready', data: { windows: 2 } });
      expect(d.v1.data!.ppl).toBeGreaterThan(d.base.data!.ppl);
      store.getState().setEvalWindows(4); // results for another window count are dropped
      expect(store.getState().charts.drift).toEqual({});
    } finally {
      store.dispose();
    }
  });

  it('a cancelled job ends as cancelled without a banner', async () => {
    const store = realStore();
    try {
      await store.getState().loadDefaultModel();
      store.getState().setQuantForm({ method: 'gptq' });
      const run = store.getState().quantize();
      await settle(store, () => store.getState().jobs.list.some((j) => j.status === 'running'));
      store.getState().cancelJob(store.getState().jobs.list[0].id);
      expect(await run).toBeNull();
      expect(store.getState().jobs.list[0]).toMatchObject({ status: 'cancelled', error: null });
      expect(store.getState().error).toBeNull();
      expect(store.getState().variants.list).toHaveLength(1);
    } finally {
      store.dispose();
    }
  });
});

/** A scripted engine for the parts whose timing the test controls. */
function scripted() {
  const calls: TruncationQuery[] = [];
  const gates: (() => void)[] = [];
  const engine = {
    onEvent: () => () => undefined,
    dispose() {},
    load: async () => ({ model: { name: 'm', config: { nLayers: 5 } }, engine: {} }),
    listVariants: async () => [],
    truncationPoint: (q: TruncationQuery) => {
      calls.push(q);
      return new Promise<TruncationPoint>((resolve) =>
        gates.push(() =>
          resolve({
            k: q.k,
            mode: q.mode,
            ppl: 30 - q.k,
            top1: q.k / 23,
            klMean: 0,
            sample: `k${q.k}`,
            windows: q.windows,
            tokens: 10,
            seconds: 0,
            backend: 'cpu',
          }),
        ),
      );
    },
    generatePair: async (
      _p: string,
      _s: unknown,
      variants: [string, string],
      opts?: { onToken?: (side: 0 | 1, t: TokenProgress) => void },
    ) => {
      const ids = [
        [1, 2, 3, 4],
        [1, 2, 9],
      ];
      const results = ids.map((tokens, side) => {
        tokens.forEach((token, index) =>
          opts?.onToken?.(side as 0 | 1, { token, text: `<${token}>`, index, tokensPerSecond: 10 }),
        );
        return {
          text: tokens.map((t) => `<${t}>`).join(''),
          tokens,
          promptTokens: 1,
          prefillMs: 1,
          decodeMs: 1,
          prefillTokensPerSecond: 1,
          decodeTokensPerSecond: 10,
          stoppedBy: 'length',
          backend: 'cpu',
          variant: variants[side],
          gpuMemory: null,
        } as GenerationSummary;
      });
      return { results };
    },
  } as unknown as Engine;
  return { engine, calls, release: () => gates.shift()?.() };
}

describe('truncation lab scheduling and A/B with a scripted engine', () => {
  it('computes the slider’s point, skips positions only passed through, caches every point', async () => {
    const { engine, calls, release } = scripted();
    const store = createAppStore({ engine, defaultSource: SOURCE, streamFlushMs: 0 });
    await store.getState().loadDefaultModel();
    store.getState().setTruncation({}); // k = 23 first
    expect(calls.map((c) => c.k)).toEqual([23]);
    store.getState().setTruncation({ k: 10 });
    store.getState().setTruncation({ k: 3 }); // 10 was only passed through
    release();
    await settle(store as never, () => calls.length === 2);
    expect(calls.map((c) => c.k)).toEqual([23, 3]);
    release();
    await settle(store as never, () => store.getState().truncation.running === null);
    expect(Object.keys(store.getState().truncation.points).sort()).toEqual(['truncate:23', 'truncate:3']);
    store.getState().setTruncation({ k: 23 }); // cached: nothing to compute
    expect(calls).toHaveLength(2);
    store.getState().setTruncation({ mode: 'rne' });
    expect(calls[2]).toMatchObject({ k: 23, mode: 'rne' });
    store.getState().stopTruncation();
    expect(nextTruncKey({ ...initialTruncation(), k: 5, points: {}, queue: [truncKey('rne', 1)] })).toBe('truncate:5');
  });

  it('A/B streams both sides and marks the first diverging token', async () => {
    const { engine } = scripted();
    const store = createAppStore({ engine, defaultSource: SOURCE, streamFlushMs: 0 });
    await store.getState().loadDefaultModel();
    await store.getState().sendAb('hi'); // A and B are both fp32: refused with a banner
    expect(store.getState().error).toMatchObject({ context: 'A/B', code: 'bad-argument' });
    store.getState().setAb({ a: 'base', b: 'v9' });
    await store.getState().sendAb('hi');
    const t = store.getState().ab.turns[0];
    expect(t.status).toBe('done');
    expect(t.sides.map((s) => s.text)).toEqual(['<1><2><3><4>', '<1><2><9>']);
    expect(t.sides[1].pieces).toEqual(['<1>', '<2>', '<9>']);
    expect(t.divergeAt).toBe(2);
    expect(firstDivergence([1, 2], [1, 2, 3])).toBeNull();
    expect(finalDivergence([1, 2], [1, 2, 3])).toBe(2);
    expect(finalDivergence([1, 2], [1, 2])).toBeNull();
  });
});

describe('pure helpers', () => {
  it('stage lines of progress messages', () => {
    expect(progressLine({ kind: 'quantize', stage: 'calibration', layer: 0, nLayers: 5, fraction: 0 })).toBe(
      'capturing calibration activations',
    );
    expect(
      progressLine({
        kind: 'quantize',
        stage: 'quantize',
        layer: 1,
        nLayers: 5,
        linear: 'wq',
        gptqLoss: 0.012345,
        fraction: 0.3,
      }),
    ).toBe('layer 2 of 5 · wq · loss 0.01235');
    expect(progressLine({ kind: 'eval', window: 3, windows: 8, pplSoFar: 6.5, fraction: 0.4 })).toBe(
      'window 3 of 8 · ppl 6.500',
    );
    expect(progressLine({ kind: 'eval', window: 3, windows: 8, pplSoFar: NaN, fraction: 0.4 })).toBe(
      'window 3 of 8 · fp32 reference',
    );
  });

  it('switching between uniform and codebook methods swaps the group default', () => {
    expect(applyFormPatch(INITIAL_FORM, { method: 'nf4' }).group).toBe(64);
    expect(applyFormPatch({ ...INITIAL_FORM, method: 'nf4', group: 64 }, { method: 'gptq' }).group).toBe(32);
    expect(applyFormPatch(INITIAL_FORM, { method: 'gptq' }).group).toBe(32);
  });
});

describe('URL hash', () => {
  const fakeStore = () => createAppStore({ engine: scripted().engine, defaultSource: SOURCE });

  it('writes only what differs from the defaults and reads it back', () => {
    const a = fakeStore();
    expect(encodeHash(a.getState())).toBe('');
    a.getState().setTab('charts');
    a.getState().setQuantForm({ method: 'gptq', bits: 3, group: 64, actOrder: true });
    a.getState().selectTensor({ layer: 2, linear: 'w2' });
    a.getState().setHistogramOptions({ logCount: true, row: 3 });
    a.setState({ truncation: { ...a.getState().truncation, k: 5, mode: 'rne' } });
    a.getState().setAb({ enabled: true });
    const hash = encodeHash(a.getState());
    expect(hash).toBe('v=charts&m=gptq&b=3&g=64&ao=1&L=2&lin=w2&row=3&log=1&k=5&tm=rne&ab=1');
    const b = fakeStore();
    applyHash(b, `#${hash}`);
    expect(encodeHash(b.getState())).toBe(hash);
    expect(b.getState().variants.form).toMatchObject({
      method: 'gptq',
      bits: 3,
      group: 64,
      actOrder: true,
      sym: false,
    });
    expect(specFromParams(new URLSearchParams('m=bogus&b=-1&s=yes&r=rne'))).toMatchObject({
      method: 'rtn',
      bits: 4,
      sym: false,
      truncMode: 'rne',
    });
  });

  it('follows the store with replaceState and applies hash changes', () => {
    const store = fakeStore();
    let listener: (() => void) | null = null;
    const urls: string[] = [];
    const win = {
      location: { hash: '#v=quantize&b=8', href: 'http://x/app/#v=quantize&b=8' },
      history: { replaceState: (_d: unknown, _u: string, url?: string) => void urls.push(url!) },
      addEventListener: (_t: 'hashchange', l: () => void) => void (listener = l),
      removeEventListener: () => void (listener = null),
    };
    const unbind = bindUrlHash(store, win);
    expect(store.getState().settings.tab).toBe('quantize');
    expect(store.getState().variants.form.bits).toBe(8);
    store.getState().setTab('truncation');
    expect(urls[urls.length - 1]).toBe('http://x/app/#v=truncation&b=8');
    win.location.hash = '#v=charts';
    listener!();
    expect(store.getState().settings.tab).toBe('charts');
    expect(store.getState().variants.form.bits).toBe(4);
    unbind();
    expect(listener).toBeNull();
  });
});

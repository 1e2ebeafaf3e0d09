// @vitest-environment jsdom
// The "Bring your own model" card in jsdom on a scripted engine: choosing files inspects them
// (the URL field fetches nothing until Fetch), the plan card shows the model and its memory,
// a too-large verdict disables Load with its reasons, the context field plans again on Enter,
// and Load shows the progress line (bytes, %, ETA) until the model is in.
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreProvider } from '../../src/state/react.tsx';
import { createAppStore } from '../../src/state/store.ts';
import { ByomCard } from '../../src/ui/models/ByomCard.tsx';
import type { Engine, LoadProgress, ModelPlan, ModelSource } from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

afterEach(cleanup);

const CONFIG = {
  ...STORIES260K_CONFIG,
  seqLen: 4096,
  sharedClassifier: true,
} as ModelPlan['config'];

function plan(contextLength: number): ModelPlan {
  const tooLarge = contextLength > 1000;
  return {
    name: 'tiny-hf',
    format: 'hf',
    architecture: 'llama',
    config: CONFIG,
    params: 260_032,
    fileBytes: 1_070_000,
    files: [
      { path: 'config.json', bytes: 700, role: 'config' },
      { path: 'model.safetensors', bytes: 1_044_992, role: 'weights' },
      { path: 'tokenizer.json', bytes: 19_427, role: 'tokenizer' },
    ],
    tokenizer: 'hf',
    chatTemplate: true,
    memory: {
      contextLength,
      weightBytes: 1_040_128,
      weightBytesByFormat: { f32: 1_040_128 },
      kvCacheBytes: 1280 * contextLength,
      activationBytes: 50_000,
      totalBytes: 1_090_128 + 1280 * contextLength,
      cpuBytes: 1_040_128,
      largest: { name: 'tok_emb', bytes: 131_072 },
      bindingCap: 1 << 20,
      splits: [],
      verdict: tooLarge ? 'too-large' : 'fits',
      reasons: tooLarge
        ? ['the KV cache of one layer is larger than one binding: choose a context of at most 1000']
        : [],
      maxContextForBinding: 1000,
      memoryHint: { bytes: 8 * 2 ** 30, source: 'navigator.deviceMemory' },
    },
  };
}

function setup() {
  const inspects: { source: ModelSource; contextLength?: number }[] = [];
  const loads: { finish: () => void; progress: (p: LoadProgress) => void }[] = [];
  const engine = {
    onEvent: () => () => undefined,
    dispose() {},
    listVariants: async () => [],
    getInfo: async () => ({}),
    inspect: async (source: ModelSource, opts: { contextLength?: number } = {}) => {
      inspects.push({ source, contextLength: opts.contextLength });
      return plan(opts.contextLength ?? 512);
    },
    load: (_s: ModelSource, _b: unknown, opts: { onProgress?: (p: LoadProgress) => void } = {}) =>
      new Promise((resolve) =>
        loads.push({
          progress: (p) => opts.onProgress?.(p),
          finish: () => resolve({ model: { name: 'tiny-hf', config: CONFIG, backend: 'cpu' }, engine: {} }),
        }),
      ),
  } as unknown as Engine;
  const store = createAppStore({
    engine,
    defaultSource: { kind: 'url', name: 'd', modelUrl: '/m', tokenizerUrl: '/t' },
  });
  render(
    <StoreProvider store={store}>
      <ByomCard />
    </StoreProvider>,
  );
  return { store, inspects, loads };
}

const flush = () => act(async () => new Promise((r) => setTimeout(r, 0)));

describe('ByomCard', () => {
  it('files → plan card → too-large at a long context (Load disabled, reason) → back → Load with progress', async () => {
    const { inspects, loads } = setup();
    const input = screen.getByTestId('model-files') as HTMLInputElement;
    const files = ['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => new File(['x'], n));
    Object.defineProperty(input, 'files', { value: files, configurable: true });
    fireEvent.change(input);
    await flush();
    expect(inspects).toHaveLength(1);
    expect(inspects[0].source).toMatchObject({
      kind: 'files',
      files: [{ path: 'config.json' }, { path: 'model.safetensors' }, { path: 'tokenizer.json' }],
    });
    expect(screen.getByTestId('plan-params').textContent).toBe('260K');
    expect(screen.getByTestId('plan-kv').textContent).toMatch(/KV cache \(512 positions\)\s*640 KiB/);
    expect(screen.getByTestId('plan-hint').textContent).toMatch(/Memory hint \(navigator.deviceMemory\)\s*8(\.0)? GiB/);
    expect(screen.getByTestId('plan-chat-template').textContent).toBe('yes');
    expect(screen.getByTestId('plan-files').textContent).toMatch(/model\.safetensors.*weights · 1020.5 KiB/);
    expect(screen.getByTestId('byom-keep-note').textContent).toMatch(
      /the folder is stored as one \.nibble file \(f32 weights \+ tokenizer/,
    );
    expect((screen.getByTestId('byom-load') as HTMLButtonElement).disabled).toBe(false);

    const ctx = screen.getByTestId('byom-context') as HTMLInputElement;
    fireEvent.change(ctx, { target: { value: '4000' } });
    fireEvent.keyDown(ctx, { key: 'Enter' });
    await flush();
    expect(inspects.at(-1)?.contextLength).toBe(4000);
    expect(screen.getByTestId('byom-plan').getAttribute('data-verdict')).toBe('too-large');
    expect(screen.getByTestId('plan-reasons').textContent).toMatch(/at most 1000/);
    const load = screen.getByTestId('byom-load') as HTMLButtonElement;
    expect(load.disabled).toBe(true);
    expect(load.getAttribute('aria-describedby')).toBe('byom-verdict');

    fireEvent.change(ctx, { target: { value: '900' } });
    fireEvent.blur(ctx);
    await flush();
    expect(screen.getByTestId('byom-plan').getAttribute('data-verdict')).toBe('fits');
    fireEvent.click(screen.getByTestId('byom-load'));
    await flush();
    expect(screen.getByTestId('byom-progress').getAttribute('data-op')).toBe('load');
    act(() =>
      loads[0].progress({
        kind: 'load',
        phase: 'weights',
        file: 'model.safetensors',
        bytesDone: 535_000,
        bytesTotal: 1_070_000,
        etaMs: 2500,
      }),
    );
    expect(screen.getByTestId('byom-progress-line').textContent).toMatch(/522.5 KiB of 1\.0 MiB · 50 % · .* · ETA 3 s/);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('50');
    act(() =>
      loads[0].progress({
        kind: 'load',
        phase: 'gpu',
        file: '',
        bytesDone: 1_070_000,
        bytesTotal: 1_070_000,
        etaMs: 0,
      }),
    );
    loads[0].finish();
    await flush();
    expect(screen.getByTestId('byom').getAttribute('data-phase')).toBe('idle');
    expect(screen.getByTestId('byom-finished').getAttribute('data-percent')).toBe('100');
  });

  it('the URL field fetches nothing until Fetch, and says where downloads come from', async () => {
    const { inspects } = setup();
    const url = screen.getByTestId('byom-url');
    expect(screen.getByText(/Nothing is downloaded until you press Fetch/)).toBeTruthy();
    fireEvent.change(url, { target: { value: 'owner/tiny-hf' } });
    await flush();
    expect(inspects).toHaveLength(0);
    fireEvent.click(screen.getByTestId('byom-fetch'));
    await flush();
    expect(inspects).toEqual([
      { source: { kind: 'remote', name: 'owner/tiny-hf', ref: 'owner/tiny-hf' }, contextLength: undefined },
    ]);
    expect(screen.getByTestId('byom-source').textContent).toMatch(/downloading from huggingface\.co\/owner\/tiny-hf/);
  });
});

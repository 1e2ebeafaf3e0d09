// @vitest-environment jsdom
// The chat panel in chat-template mode (badge, system prompt, messages sent) versus completion
// mode, and the variants' Export control (greyed-out formats with their reason, Download saving
// one file or the three GPTQ files), on a scripted store.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreProvider } from '../../src/state/react.tsx';
import { createAppStore } from '../../src/state/store.ts';
import { ChatPanel } from '../../src/ui/chat/ChatPanel.tsx';
import { VariantList } from '../../src/ui/quantize/VariantList.tsx';
import { DEFAULT_SPEC, type ExportedFiles, type VariantInfo } from '../../src/worker/engine-host/lab-protocol.ts';
import type { ChatMessage, Engine, GenerationSummary } from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

afterEach(cleanup);

const CONFIG = {
  ...STORIES260K_CONFIG,
};
const SUMMARY: GenerationSummary = {
  text: 'Hello!',
  tokens: [5],
  promptTokens: 9,
  prefillMs: 1,
  decodeMs: 1,
  prefillTokensPerSecond: 1,
  decodeTokensPerSecond: 1,
  stoppedBy: 'eos',
  backend: 'cpu',
};
const BASE: VariantInfo = {
  id: 'base',
  label: 'fp32',
  spec: DEFAULT_SPEC,
  baseModel: 'stories260K',
  origin: 'loaded',
  weightBytes: 1_040_000,
  linearBytes: 1000,
  bitsPerWeight: 32,
  nominalBits: 32,
  seconds: 0,
  report: null,
  exportIssues: {
    'gptq-safetensors': 'gptq-safetensors: layer 0 wq is f32; the GPTQ layout needs uniform-int linears',
  },
};

function scripted(chatTemplate: boolean, exportModel?: Engine['exportModel']) {
  const sent: { prompt: string; messages?: ChatMessage[] }[] = [];
  const engine = {
    onEvent: () => () => undefined,
    dispose() {},
    load: async () => ({ model: { name: 'stories260K', config: CONFIG, backend: 'cpu', chatTemplate }, engine: {} }),
    listVariants: async () => [
      BASE,
      { ...BASE, id: 'v1', label: 'rtn int4 g32', origin: 'quantized', exportIssues: {} },
    ],
    generate: async (prompt: string, _s: unknown, opts: { messages?: ChatMessage[] }) => (
      sent.push({ prompt, messages: opts.messages }),
      SUMMARY
    ),
    exportModel,
  } as unknown as Engine;
  const store = createAppStore({
    engine,
    defaultSource: { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' },
    streamFlushMs: 0,
  });
  return { store, sent };
}

describe('ChatPanel', () => {
  it('with a chat template: badge, system prompt, Send disabled until there is a message, messages sent', async () => {
    const { store, sent } = scripted(true);
    await store.getState().loadDefaultModel();
    render(
      <StoreProvider store={store}>
        <ChatPanel />
      </StoreProvider>,
    );
    expect(screen.getByTestId('chat-template-badge').textContent).toBe('chat template');
    const send = screen.getByTestId('chat-send') as HTMLButtonElement;
    expect(send.textContent).toBe('Send');
    expect(send.disabled).toBe(true);
    fireEvent.change(screen.getByTestId('chat-system'), { target: { value: 'Be kind.' } });
    fireEvent.change(screen.getByTestId('chat-input'), { target: { value: 'Hi' } });
    fireEvent.click(send);
    await waitFor(() => expect(screen.getByTestId('chat-output').getAttribute('data-status')).toBe('done'));
    expect(sent).toEqual([
      {
        prompt: 'Hi',
        messages: [
          { role: 'system', content: 'Be kind.' },
          { role: 'user', content: 'Hi' },
        ],
      },
    ]);
    expect(screen.getByTestId('chat-turn').textContent).toMatch(/^HiHello!/);
  });

  it('without one: the story completion UI, no badge, a plain prompt', async () => {
    const { store, sent } = scripted(false);
    await store.getState().loadDefaultModel();
    render(
      <StoreProvider store={store}>
        <ChatPanel />
      </StoreProvider>,
    );
    expect(screen.queryByTestId('chat-template-badge')).toBeNull();
    expect(screen.queryByTestId('chat-system')).toBeNull();
    fireEvent.click(screen.getByTestId('chat-send'));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({ prompt: '', messages: undefined });
  });
});

describe('Export control on the variants list', () => {
  it('greys out formats with their reason and downloads what the engine wrote (1 file, or 3 for GPTQ)', async () => {
    const asked: [string, string][] = [];
    const exportModel = async (variant: string, format: string): Promise<ExportedFiles> => {
      asked.push([variant, format]);
      const f = (name: string) => ({ name, mime: 'application/octet-stream', bytes: new Uint8Array([1, 2, 3]).buffer });
      return format === 'gptq-safetensors'
        ? {
            format,
            label: 'rtn int4 g32',
            files: [f('model.safetensors'), f('quantize_config.json'), f('config.json')],
            folder: 'stories260K-rtn-int4-g32',
          }
        : { format: format as 'nibble', label: 'fp32', files: [f('stories260K-q8_0.gguf')] };
    };
    const { store } = scripted(false, exportModel as Engine['exportModel']);
    await store.getState().loadDefaultModel();
    await new Promise((r) => setTimeout(r, 0));
    const names: string[] = [];
    URL.createObjectURL = vi.fn(() => 'blob:x');
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download);
    });
    try {
      render(
        <StoreProvider store={store}>
          <VariantList />
        </StoreProvider>,
      );
      const [baseSelect, v1Select] = screen.getAllByTestId('export-format') as HTMLSelectElement[];
      const gptq = [...baseSelect.options].find((o) => o.value === 'gptq-safetensors')!;
      expect(gptq.disabled).toBe(true);
      expect(gptq.title).toMatch(/uniform-int linears/);
      fireEvent.change(baseSelect, { target: { value: 'gguf-q8_0' } });
      fireEvent.click(screen.getAllByTestId('export-download')[0]);
      await waitFor(() => expect(names).toEqual(['stories260K-q8_0.gguf']));
      fireEvent.change(v1Select, { target: { value: 'gptq-safetensors' } });
      fireEvent.click(screen.getAllByTestId('export-download')[1]);
      await waitFor(() => expect(names).toHaveLength(4), { timeout: 2000 }); // no folder picker in jsdom: three downloads
      expect(names.slice(1)).toEqual(['model.safetensors', 'quantize_config.json', 'config.json']);
      expect(asked).toEqual([
        ['base', 'gguf-q8_0'],
        ['v1', 'gptq-safetensors'],
      ]);
    } finally {
      click.mockRestore();
    }
  });
});

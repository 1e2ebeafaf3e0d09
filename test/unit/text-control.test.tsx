// @vitest-environment jsdom
// The Text control in jsdom on a store whose model info is set by hand: the model-size default
// and the estimate line, switching to Paste / File, edited windows reaching the store, a binary
// file refused with the banner's typed error.
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreProvider } from '../../src/state/react.tsx';
import { createAppStore } from '../../src/state/store.ts';
import { TextControl } from '../../src/ui/quantize/TextControl.tsx';
import type { Engine, ModelInfo } from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

afterEach(cleanup);

function storeWith(name: string, params: number, seqLen: number) {
  const engine = { onEvent: () => () => undefined, dispose() {} } as unknown as Engine;
  const store = createAppStore({
    engine,
    defaultSource: { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' },
  });
  const info = { name, params, config: { ...STORIES260K_CONFIG, seqLen }, backend: 'cpu' } as unknown as ModelInfo;
  store.setState({ model: { ...store.getState().model, status: 'ready', info } });
  return store;
}

const estimate = (p: string) => screen.getByTestId(`${p}-text-estimate`).textContent;

describe('TextControl', () => {
  it('shows the default for the model, pastes, edits windows, resets to the default', () => {
    const store = storeWith('stories260K', 260e3, 512);
    render(
      <StoreProvider store={store}>
        <TextControl purpose="eval" />
      </StoreProvider>,
    );
    expect((screen.getByTestId('eval-windows') as HTMLInputElement).value).toBe('64');
    expect((screen.getByTestId('eval-window-len') as HTMLInputElement).value).toBe('256');
    expect(estimate('eval')).toMatch(/^64 windows × 256 tokens = 16384 tokens of tinystories-eval/);
    expect(estimate('eval')).not.toMatch(/children/); // a stories model: no hint

    fireEvent.click(screen.getByTestId('eval-text-pasted'));
    fireEvent.change(screen.getByTestId('eval-text-paste'), { target: { value: 'x'.repeat(4000) } });
    fireEvent.change(screen.getByTestId('eval-windows'), { target: { value: '2' } });
    fireEvent.change(screen.getByTestId('eval-window-len'), { target: { value: '100' } });
    expect(store.getState().texts.eval).toMatchObject({ kind: 'pasted', windows: 2, length: 100 });
    expect(store.getState().texts.eval.pasted).toHaveLength(4000);
    // 4000 characters ≈ 1000 tokens; 2 × 100 = 200 of them.
    expect(estimate('eval')).toMatch(
      /^2 windows × 100 tokens = 200 tokens, ≈ 20 % of the text · rough time < 1 s on the CPU/,
    );
    fireEvent.click(screen.getByTestId('eval-text-default'));
    expect(store.getState().texts.eval).toMatchObject({ windows: null, length: null });
  });

  it('hints at TinyStories on another model, scales its default, refuses a binary file', async () => {
    const store = storeWith('SmolLM2-135M', 135e6, 8192);
    render(
      <StoreProvider store={store}>
        <TextControl purpose="calib" />
      </StoreProvider>,
    );
    expect(estimate('calib')).toMatch(/^6 windows × 128 tokens = 768 tokens of tinystories-calib/);
    expect(estimate('calib')).toMatch(/children’s stories/);
    fireEvent.click(screen.getByTestId('calib-text-file'));
    const input = screen.getByTestId('calib-text-input') as HTMLInputElement;
    const png = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0])], 'cat.png');
    await act(async () => {
      fireEvent.change(input, { target: { files: [png] } });
    });
    await waitFor(() => expect(store.getState().error).toMatchObject({ code: 'bad-format' }));
    const txt = new File(['Once upon a time, a cat sat.'], 'story.txt', { type: 'text/plain' });
    await act(async () => {
      fireEvent.change(input, { target: { files: [txt] } });
    });
    await waitFor(() => expect(store.getState().texts.calib.file?.name).toBe('story.txt'));
    expect(screen.getByText(/story\.txt \(28 characters\)/)).toBeTruthy();
  });
});

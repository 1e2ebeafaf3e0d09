// @vitest-environment jsdom
// Components in jsdom: a chart card's JSON export, the Quantize form (options per method, live
// validation against the loaded model's widths) and the variants list, on a scripted store.
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreProvider } from '../../src/state/react.tsx';
import { createAppStore } from '../../src/state/store.ts';
import { ChartCard } from '../../src/ui/charts/ChartCard.tsx';
import { QuantizeForm } from '../../src/ui/quantize/QuantizeForm.tsx';
import { VariantList } from '../../src/ui/quantize/VariantList.tsx';
import { DEFAULT_SPEC, type VariantInfo } from '../../src/worker/engine-host/lab-protocol.ts';
import type { Engine } from '../../src/worker/engine-host/protocol.ts';
import { STORIES260K_CONFIG } from './helpers.ts';

afterEach(cleanup);

const CONFIG = {
  ...STORIES260K_CONFIG,
};
const variant = (id: string, label: string, bits: number): VariantInfo => ({
  id,
  label,
  spec: DEFAULT_SPEC,
  baseModel: 'stories260K',
  origin: id === 'base' ? 'loaded' : 'quantized',
  weightBytes: id === 'base' ? 1_040_000 : 284_000,
  linearBytes: 1000,
  bitsPerWeight: bits,
  nominalBits: bits,
  seconds: 1.5,
  report: null,
});

function storeWith(list: VariantInfo[]) {
  const engine = {
    onEvent: () => () => undefined,
    dispose() {},
    load: async () => ({ model: { name: 'stories260K', config: CONFIG }, engine: {} }),
    listVariants: async () => list,
  } as unknown as Engine;
  return createAppStore({
    engine,
    defaultSource: { kind: 'url', name: 'stories260K', modelUrl: '/m', tokenizerUrl: '/t' },
  });
}

describe('ChartCard', () => {
  it('exports the JSON it was given (∞ as null) as a download; exports are off until there is data', async () => {
    const blobs: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => (blobs.push(b), 'blob:x'));
    URL.revokeObjectURL = vi.fn();
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    const { rerender } = render(
      <ChartCard title="Bucket collisions" caption="How to read it." testId="c" json={null}>
        <div />
      </ChartCard>,
    );
    expect(screen.getByText('How to read it.')).toBeTruthy();
    expect((screen.getByTestId('c-json') as HTMLButtonElement).disabled).toBe(true);
    rerender(
      <ChartCard
        title="Bucket collisions"
        caption="How to read it."
        testId="c"
        json={{ counts: [1, 2], sqnr: Infinity }}
      >
        <div />
      </ChartCard>,
    );
    fireEvent.click(screen.getByTestId('c-json'));
    expect(click).toHaveBeenCalledTimes(1);
    expect(JSON.parse(await blobs[0].text())).toEqual({ counts: [1, 2], sqnr: null });
    click.mockRestore();
  });
});

describe('Quantize form and variants', () => {
  it('shows the options of the chosen method and explains an invalid group', async () => {
    const store = storeWith([variant('base', 'fp32', 32)]);
    await store.getState().loadDefaultModel();
    render(
      <StoreProvider store={store}>
        <QuantizeForm />
      </StoreProvider>,
    );
    expect(screen.getByTestId('quant-label').textContent).toBe('rtn int4 g32');
    expect(screen.queryByTestId('q-act-order')).toBeNull();
    fireEvent.change(screen.getByTestId('q-method'), { target: { value: 'gptq' } });
    expect(screen.getByTestId('q-act-order')).toBeTruthy();
    expect(screen.getByTestId('quant-label').textContent).toBe('gptq int4 g32');
    fireEvent.change(screen.getByTestId('q-group'), { target: { value: '48' } });
    expect(screen.getByTestId('quant-problem').textContent).toMatch(/group 48 does not divide the input width 64/);
    expect((screen.getByTestId('quantize-run') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByTestId('q-method'), { target: { value: 'nf4' } });
    expect((screen.getByTestId('q-block') as HTMLInputElement).value).toBe('64');
    expect(screen.queryByTestId('quant-problem')).toBeNull();
  });

  it('lists the variants with bits/weight, size relative to fp32 and their actions', async () => {
    const store = storeWith([variant('base', 'fp32', 32), variant('v1', 'rtn int4 g32', 5.31)]);
    await store.getState().loadDefaultModel();
    await new Promise((r) => setTimeout(r, 0));
    render(
      <StoreProvider store={store}>
        <VariantList />
      </StoreProvider>,
    );
    const rows = screen.getAllByTestId('variant-row');
    expect(rows.map((r) => r.getAttribute('data-variant'))).toEqual(['base', 'v1']);
    expect(rows[1].textContent).toMatch(/rtn int4 g32/);
    expect(rows[1].textContent).toMatch(/5\.31/);
    expect(rows[1].textContent).toMatch(/27 % of fp32/);
    expect(screen.getAllByTestId('variant-delete')).toHaveLength(1); // fp32 cannot be deleted
    fireEvent.click(screen.getByTestId('variant-ab'));
    expect(store.getState().ab).toMatchObject({ enabled: true, a: 'base', b: 'v1' });
    expect(store.getState().settings.tab).toBe('chat');
  });
});

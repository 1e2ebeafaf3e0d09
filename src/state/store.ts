// The app store: the slices combined, plus the bridge from unsolicited engine events (model
// moved to WebGPU, device lost, WebGPU runner failed, worker crash) into state. Framework-free (zustand/vanilla); React binds in react.tsx.
import { createStore, type StoreApi } from 'zustand/vanilla';
import { createAbSlice } from './ab-slice.ts';
import { createChartsSlice } from './charts-slice.ts';
import { createChatSlice } from './chat-slice.ts';
import { createJobsSlice } from './jobs-slice.ts';
import { createModelSlice } from './model-slice.ts';
import { createErrorSlice, createSettingsSlice } from './settings-slice.ts';
import { createTruncationSlice } from './truncation-slice.ts';
import { createStorageSlice } from './storage-slice.ts';
import { createTextsSlice } from './texts-slice.ts';
import type { AppState, Slice, SliceContext, StoreDeps } from './types.ts';
import { createVariantsSlice } from './variants-slice.ts';
import { createVisionSlice } from './vision-slice.ts';

/**
 * Every slice, in order. A slice owns its top-level key(s) and actions; adding one = its type in
 * AppState (types.ts) and its creator here.
 */
const SLICES: Slice<Partial<AppState>>[] = [
  createModelSlice,
  createChatSlice,
  createSettingsSlice,
  createErrorSlice,
  createVariantsSlice,
  createJobsSlice,
  createChartsSlice,
  createTextsSlice,
  createTruncationSlice,
  createAbSlice,
  createVisionSlice,
  createStorageSlice,
];

export type AppStore = StoreApi<AppState> & {
  /** Stops listening to the engine and shuts it down. */
  dispose(): void;
};

export function createAppStore(deps: StoreDeps): AppStore {
  const ctx: SliceContext = { ...deps, lastSource: null, jobCtrls: new Map() };
  const store = createStore<AppState>()(
    (...a) => Object.assign({}, ...SLICES.map((slice) => slice(ctx)(...a))) as AppState,
  );

  const unsubscribe = deps.engine.onEvent((ev) => {
    const s = store.getState();
    if (ev.kind === 'model-updated') {
      // Always the model the engine holds now (a load in flight replaces it when it lands).
      store.setState({ model: { ...s.model, info: ev.model, engine: ev.engine } });
      return;
    }
    if (ev.error.code === 'device-lost' && s.model.info?.backend === 'webgpu') {
      // The engine dropped the model with its device; a reload asks for a new device.
      store.setState({ model: { ...s.model, status: 'error', info: null, source: null, error: ev.error } });
      void s.refreshEngineInfo();
    }
    store.getState().showError(ev.error.code === 'device-lost' ? 'WebGPU device lost' : 'Engine', ev.error);
  });

  return Object.assign(store, {
    dispose() {
      unsubscribe();
      ctx.jobCtrls.forEach((c) => c.abort());
      store.getState().closeVision();
      deps.engine.dispose();
    },
  });
}

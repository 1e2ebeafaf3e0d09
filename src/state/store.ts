// The app store: the slices combined, plus the bridge from unsolicited engine events (model
// moved to WebGPU, device lost, WebGPU runner failed, worker crash) into state. Framework-free (zustand/vanilla); React binds in react.tsx.
import { createStore, type StoreApi } from 'zustand/vanilla';
import { createChatSlice } from './chat-slice.ts';
import { createModelSlice } from './model-slice.ts';
import { createErrorSlice, createSettingsSlice } from './settings-slice.ts';
import type { AppState, SliceContext, StoreDeps } from './types.ts';

export type AppStore = StoreApi<AppState> & {
  /** Stops listening to the engine and shuts it down. */
  dispose(): void;
};

export function createAppStore(deps: StoreDeps): AppStore {
  const ctx: SliceContext = { ...deps, lastSource: null };
  const store = createStore<AppState>()((...a) => ({
    ...createModelSlice(ctx)(...a),
    ...createChatSlice(ctx)(...a),
    ...createSettingsSlice(ctx)(...a),
    ...createErrorSlice(ctx)(...a),
  }));

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
      deps.engine.dispose();
    },
  });
}

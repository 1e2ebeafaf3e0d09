// Settings slice (tab, backend preference, random seeds) and the error banner slice.
import { toWireError } from '../worker/engine-host/protocol.ts';
import { loadInto } from './model-slice.ts';
import type { ErrorSlice, SettingsSlice, Slice } from './types.ts';

export const createSettingsSlice: Slice<SettingsSlice> = (ctx) => (set, get) => ({
  settings: { tab: 'chat', backend: 'auto', randomSeed: false },

  setTab(tab) {
    set((s) => ({ settings: { ...s.settings, tab } }));
  },

  /** Switching backends reloads the current model (the embedded one if none loaded yet). */
  async setBackendPreference(backend) {
    if (get().settings.backend === backend) return;
    set((s) => ({ settings: { ...s.settings, backend } }));
    if (get().chat.streaming) get().stop();
    await loadInto(ctx, set, get, ctx.lastSource ?? { kind: 'default' });
  },

  setRandomSeed(on) {
    set((s) => ({ settings: { ...s.settings, randomSeed: on } }));
  },
});

export const createErrorSlice: Slice<ErrorSlice> = () => (set) => ({
  error: null,

  showError(context, e) {
    set(() => ({ error: { ...toWireError(e), context } }));
  },

  dismissError() {
    set(() => ({ error: null }));
  },
});

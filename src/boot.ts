// Starts the engine as early as the page can: main.tsx imports this module first, so the
// worker boots and the embedded model loads while React is still being evaluated and rendered.
import { createAppStore } from './state/store.ts';
import { spawnEngineWorker } from './worker/client.ts';

// Absolute URLs: the worker resolves relative ones against its own script, not the page.
const asset = (path: string) => new URL(`${import.meta.env.BASE_URL}${path}`, window.location.href).href;

export const store = createAppStore({
  engine: spawnEngineWorker(),
  defaultSource: { kind: 'url', name: 'stories260K', modelUrl: asset('models/stories260K.bin'), tokenizerUrl: asset('models/tok512.bin') },
});
void store.getState().loadDefaultModel();

// User Timing marks (devtools, e2e): when the first model became usable, and when it first ran
// on WebGPU; startTime is milliseconds since navigation start.
const stopMarking = store.subscribe((s) => {
  const mark = (name: string) => performance.getEntriesByName(name).length === 0 && performance.mark(name);
  if (s.model.status === 'ready') mark('nibble:model-ready');
  if (s.model.info?.backend === 'webgpu') {
    mark('nibble:model-webgpu');
    stopMarking();
  }
});

// Nothing fails silently: a stray rejection lands in the error banner too.
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  store.getState().showError('Unexpected', e.reason);
});

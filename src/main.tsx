// Composition root. Order matters for time-to-ready: the engine worker is created and the
// embedded model requested first; React and the UI arrive as a separate chunk meanwhile.
import { createAppStore } from './state/store.ts';
import { bindUrlHash } from './state/url-hash.ts';
import { spawnEngineWorker } from './worker/engine-host/client.ts';
import { openBestStore } from './worker/storage/storage.ts';
import { spawnVisionWorker } from './worker/vision/vision-client.ts';

// Absolute URLs: the worker resolves relative ones against its own script, not the page.
const asset = (path: string) => new URL(`${import.meta.env.BASE_URL}${path}`, window.location.href).href;

const store = createAppStore({
  engine: spawnEngineWorker(),
  defaultSource: {
    kind: 'url',
    name: 'stories260K',
    modelUrl: asset('models/stories260K.bin'),
    tokenizerUrl: asset('models/tok512.bin'),
  },
  text: { calib: asset('data/tinystories-calib.txt'), eval: asset('data/tinystories-eval.txt') },
  // The vision lab's worker (onnxruntime-web) starts only when the lab is first opened.
  vision: {
    spawn: spawnVisionWorker,
    source: {
      kind: 'url',
      name: 'vit-mnist.onnx',
      dataName: 'MNIST held-out digits',
      modelUrl: asset('models/vit-mnist.onnx'),
      imagesUrl: asset('data/mnist-heldout-images.idx3'),
      labelsUrl: asset('data/mnist-heldout-labels.idx1'),
    },
  },
  storage: openBestStore, // stored models and variants (OPFS with a manifest; memory where there is none)
});
void store.getState().loadDefaultModel();
void store.getState().openStorage();
bindUrlHash(store, window); // the view and options follow the URL hash, so a link reproduces them

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

import('./ui/mount.tsx')
  .then(({ mount }) => mount(document.getElementById('root')!, store))
  .catch((e: unknown) => {
    document.getElementById('root')!.textContent =
      `nibble could not start its interface: ${(e as Error).message}. Reload the page.`;
  });

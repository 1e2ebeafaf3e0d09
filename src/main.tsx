// Composition root: the engine worker, the store bridged to it, and the React tree.
// The embedded model starts loading before the first render, so the page is ready sooner.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { StoreProvider } from './state/react.tsx';
import { createAppStore } from './state/store.ts';
import { App } from './ui/app/App.tsx';
import './ui/app.css';
import { spawnEngineWorker } from './worker/client.ts';

// Absolute URLs: the worker resolves relative ones against its own script, not the page.
const asset = (path: string) => new URL(`${import.meta.env.BASE_URL}${path}`, window.location.href).href;

const store = createAppStore({
  engine: spawnEngineWorker(),
  defaultSource: { kind: 'url', name: 'stories260K', modelUrl: asset('models/stories260K.bin'), tokenizerUrl: asset('models/tok512.bin') },
});
void store.getState().loadDefaultModel();

// Nothing fails silently: a stray rejection lands in the error banner too.
window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  store.getState().showError('Unexpected', e.reason);
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  </StrictMode>,
);

// Renders the app for a store. Loaded by main.tsx as a separate chunk, after the engine worker
// has been started, so React's evaluation does not delay the model load.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { StoreProvider } from '../state/react.tsx';
import type { AppStore } from '../state/store.ts';
import { App } from './app/App.tsx';
import './app.css';
import './controls.css';

export function mount(el: HTMLElement, store: AppStore): void {
  createRoot(el).render(
    <StrictMode>
      <StoreProvider store={store}>
        <App />
      </StoreProvider>
    </StrictMode>,
  );
}

// Composition root. `./boot.ts` comes first on purpose: it creates the engine worker and the
// store and starts loading the embedded model before React is evaluated (see boot.ts).
import { store } from './boot.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { StoreProvider } from './state/react.tsx';
import { App } from './ui/app/App.tsx';
import './ui/app.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  </StrictMode>,
);

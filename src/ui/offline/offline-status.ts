// The service worker (vite-plugin-pwa / Workbox generateSW, see vite.config.ts): registered once
// in production builds, and its state as a tiny external store for the header badge. Workbox
// precaches everything during `install`, so an active worker means the app works offline.

export type OfflineState = {
  sw: 'unsupported' | 'dev' | 'registering' | 'installing' | 'ready' | 'error';
  controlled: boolean; // this page is served by the service worker
  online: boolean;
  error: string | null;
};

let state: OfflineState = { sw: 'registering', controlled: false, online: true, error: null };
const listeners = new Set<() => void>();
let started = false;

const update = (patch: Partial<OfflineState>) => {
  state = { ...state, ...patch };
  listeners.forEach((l) => l());
};

export const offlineSnapshot = (): OfflineState => state;

export function subscribeOffline(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Registers the service worker (once) and starts tracking it and the network. */
export function startOffline(): void {
  if (started) return;
  started = true;
  const sw = navigator.serviceWorker;
  update({ online: navigator.onLine, controlled: !!sw?.controller });
  window.addEventListener('online', () => update({ online: true }));
  window.addEventListener('offline', () => update({ online: false }));
  if (!sw) return update({ sw: 'unsupported' });
  if (import.meta.env.DEV) return update({ sw: 'dev' }); // the dev server has no service worker
  sw.addEventListener('controllerchange', () => update({ controlled: !!sw.controller }));
  const base = import.meta.env.BASE_URL;
  sw.register(`${base}sw.js`, { scope: base }).then(
    (reg) => {
      const track = (w: ServiceWorker | null) => {
        if (!w) return;
        w.addEventListener('statechange', () => {
          if (w.state === 'activated') update({ sw: 'ready' });
          if (w.state === 'redundant' && !reg.active)
            update({ sw: 'error', error: 'the offline copy could not be saved (install failed)' });
        });
      };
      if (reg.active && !reg.installing) update({ sw: 'ready' });
      else update({ sw: 'installing' });
      track(reg.installing ?? reg.waiting);
      reg.addEventListener('updatefound', () => track(reg.installing));
      void sw.ready.then(() => update({ sw: 'ready' }));
    },
    (e: Error) => update({ sw: 'error', error: e.message }),
  );
}

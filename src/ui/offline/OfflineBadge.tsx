// Header badge: whether this app is saved for offline use, and whether the network is there.
import { useEffect, useSyncExternalStore } from 'react';
import { offlineSnapshot, startOffline, subscribeOffline, type OfflineState } from './offline-status.ts';

function describe(s: OfflineState): { text: string; tone: 'ok' | 'busy' | 'bad' | 'muted'; title: string } {
  if (!s.online)
    return {
      text: 'Offline',
      tone: s.sw === 'ready' ? 'ok' : 'bad',
      title:
        s.sw === 'ready' ? 'No network: running from the offline copy.' : 'No network, and no offline copy was saved.',
    };
  switch (s.sw) {
    case 'ready':
      return {
        text: 'Works offline',
        tone: 'ok',
        title:
          'The app, its runtimes and the embedded models are saved in this browser: it loads and chats without a network.',
      };
    case 'installing':
    case 'registering':
      return {
        text: 'Saving for offline…',
        tone: 'busy',
        title: 'Downloading the app, the ORT runtime and the embedded models into the offline cache.',
      };
    case 'error':
      return { text: 'No offline copy', tone: 'bad', title: s.error ?? 'the service worker failed' };
    case 'dev':
      return {
        text: 'Dev server',
        tone: 'muted',
        title: 'Offline caching is only built into production builds (npm run build).',
      };
    case 'unsupported':
      return { text: 'No offline', tone: 'muted', title: 'This browser has no service workers.' };
  }
}

export function OfflineBadge() {
  useEffect(startOffline, []);
  const s = useSyncExternalStore(subscribeOffline, offlineSnapshot);
  const d = describe(s);
  return (
    <span
      className={`pill small-pill ${d.tone}`}
      title={d.title}
      data-testid="offline-status"
      data-sw={s.sw}
      data-controlled={s.controlled}
      data-online={s.online}
    >
      <span className="dot" aria-hidden />
      {d.text}
    </span>
  );
}

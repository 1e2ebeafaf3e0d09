// Page shell: header (brand, tabs, model status), error banner, the active tab.
import { useApp } from '../../state/react.tsx';
import type { Tab } from '../../state/types.ts';
import { ChatPanel } from '../chat/ChatPanel.tsx';
import { SamplingControls } from '../chat/SamplingControls.tsx';
import { GpuStatus } from '../models/GpuStatus.tsx';
import { ModelPanel } from '../models/ModelPanel.tsx';
import { ModelStatusPill } from '../models/ModelStatusPill.tsx';
import { QuantizeTab } from '../quantize/QuantizeTab.tsx';
import { ErrorBanner } from '../shared/ErrorBanner.tsx';
import { ErrorBoundary } from '../shared/ErrorBoundary.tsx';

const TABS: { id: Tab; label: string }[] = [
  { id: 'chat', label: 'Chat' },
  { id: 'quantize', label: 'Quantize' },
];

function Header() {
  const tab = useApp((s) => s.settings.tab);
  const setTab = useApp((s) => s.setTab);
  return (
    <header className="header">
      <div className="brand">
        <span className="logo" aria-hidden>
          n
        </span>
        <div>
          <div className="brand-name">nibble</div>
          <div className="brand-tag">small Llamas on your GPU</div>
        </div>
      </div>
      <nav className="tabs" role="tablist" aria-label="Sections">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            className={tab === t.id ? 'tab active' : 'tab'}
            onClick={() => setTab(t.id)}
            data-testid={`tab-${t.id}`}
          >
            {t.label}
          </button>
        ))}
      </nav>
      <ModelStatusPill />
    </header>
  );
}

export function App() {
  const tab = useApp((s) => s.settings.tab);
  return (
    <ErrorBoundary>
      <div className="app">
        <Header />
        <ErrorBanner />
        {tab === 'chat' ? (
          <main className="layout">
            <ChatPanel />
            <aside className="sidebar">
              <ModelPanel />
              <SamplingControls />
              <GpuStatus />
            </aside>
          </main>
        ) : (
          <QuantizeTab />
        )}
      </div>
    </ErrorBoundary>
  );
}

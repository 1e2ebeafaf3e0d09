// Page shell: header (brand, tabs, model status), error banner, the active view. Other features
// plug panels in through slots.tsx (vision lab, models drawer, header actions).
import type { ComponentType } from 'react';
import { useApp } from '../../state/react.tsx';
import type { Tab } from '../../state/types.ts';
import { ChartsTab } from '../charts/ChartsTab.tsx';
import { AbChat } from '../chat/AbChat.tsx';
import { ChatModeCard } from '../chat/ChatModeCard.tsx';
import { ChatPanel } from '../chat/ChatPanel.tsx';
import { SamplingControls } from '../chat/SamplingControls.tsx';
import { ByomCard } from '../models/ByomCard.tsx';
import { GpuStatus } from '../models/GpuStatus.tsx';
import { ModelPanel } from '../models/ModelPanel.tsx';
import { ModelStatusPill } from '../models/ModelStatusPill.tsx';
import { QuantizeTab } from '../quantize/QuantizeTab.tsx';
import { ErrorBanner } from '../common/ErrorBanner.tsx';
import { ErrorBoundary } from '../common/ErrorBoundary.tsx';
import { LmTruncationLab } from '../truncation/lm-lab.tsx';
import { Slot } from './slots.tsx';
import './lab.css';

const TABS: { id: Tab; label: string }[] = [
  { id: 'chat', label: 'Chat' },
  { id: 'quantize', label: 'Quantize' },
  { id: 'charts', label: 'Charts' },
  { id: 'truncation', label: 'Truncation lab' },
];

function Header() {
  const tab = useApp((s) => s.settings.tab);
  const setTab = useApp((s) => s.setTab);
  const variants = useApp((s) => Math.max(0, s.variants.list.length - 1));
  const running = useApp((s) => s.jobs.list.some((j) => j.status === 'running'));
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
            {t.id === 'quantize' && (variants > 0 || running) && (
              <span className={running ? 'tab-count busy' : 'tab-count'}>{running ? '…' : variants}</span>
            )}
          </button>
        ))}
      </nav>
      <div className="header-end">
        <Slot name="HeaderActions" />
        <ModelStatusPill />
      </div>
    </header>
  );
}

function ChatView() {
  const ab = useApp((s) => s.ab.enabled);
  return (
    <main className="layout">
      {ab ? <AbChat /> : <ChatPanel />}
      <aside className="sidebar">
        <ChatModeCard />
        <ModelPanel />
        <ByomCard />
        <SamplingControls />
        <GpuStatus />
      </aside>
    </main>
  );
}

function TruncationView() {
  return (
    <main className="lab truncation-grid" data-testid="truncation-tab">
      <LmTruncationLab />
      <div className="vision-slot">
        <Slot name="VisionLab" />
      </div>
    </main>
  );
}

const VIEWS: Record<Tab, ComponentType> = {
  chat: ChatView,
  quantize: QuantizeTab,
  charts: ChartsTab,
  truncation: TruncationView,
};

export function App() {
  const tab = useApp((s) => s.settings.tab);
  const View = VIEWS[tab] ?? ChatView;
  return (
    <ErrorBoundary>
      <div className="app">
        <Header />
        <ErrorBanner />
        <View />
        <Slot name="ModelsDrawer" />
      </div>
    </ErrorBoundary>
  );
}

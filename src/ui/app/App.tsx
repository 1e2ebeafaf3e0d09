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
import { Segmented } from '../common/Segmented.tsx';
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
  const count = running ? '…' : variants;
  const tabs = TABS.map((t) => ({
    id: t.id,
    label: (
      <>
        {t.label}
        {t.id === 'quantize' && (variants > 0 || running) && (
          <span className={running ? 'tab-count busy' : 'tab-count'}>{count}</span>
        )}
      </>
    ),
  }));
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
      <Segmented tabs label="Sections" options={tabs} value={tab} onChange={setTab} testIdPrefix="tab-" />
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

// The Models drawer: models and quantized variants kept in this browser (OPFS), with size, Load,
// Delete, and the storage quota. Also the header actions that open it (with the offline badge).
// Both are slots of the app shell (src/ui/app/slots.tsx).
import { useEffect, useState } from 'react';
import { useApp } from '../../state/react.tsx';
import type { StoredEntry } from '../../state/storage-slice.ts';
import { OfflineBadge } from '../offline/OfflineBadge.tsx';
import { formatBytes } from '../common/format.ts';
import { ProgressBar } from '../common/ProgressBar.tsx';
import './models-drawer.css';

/** Sizes for the quota line: one decimal from MiB up, so "used" and "free" read alike. */
const size = (n: number): string => (n >= 1024 * 1024 ? formatBytes(n).replace(/^(\d+) /, '$1.0 ') : formatBytes(n));
const when = (ms: number) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function Quota() {
  const usage = useApp((s) => s.storage.usage);
  const quota = useApp((s) => s.storage.quota);
  const backend = useApp((s) => s.storage.backend);
  const fallback = useApp((s) => s.storage.fallback);
  const persisted = useApp((s) => s.storage.persisted);
  const share = quota > 0 ? Math.min(1, usage / quota) : 0;
  return (
    <div className="quota" data-testid="storage-quota" data-usage={usage} data-quota={quota}>
      <div className="quota-line">
        <span>
          <strong>{size(usage)}</strong> used
        </span>
        <span className="muted">
          {quota > 0 ? `${size(Math.max(0, quota - usage))} free of ${size(quota)}` : 'quota unknown'}
        </span>
      </div>
      <ProgressBar
        role="meter"
        className="quota-bar"
        fillClassName=""
        label="Storage used"
        value={share}
        max={1}
        fill={Math.max(share * 100, usage > 0 ? 1 : 0)}
      />
      <p className="muted small">
        {backend === 'memory'
          ? `Kept in memory only — lost on reload (${fallback ?? 'no Origin Private File System here'}).`
          : `Kept in this browser (Origin Private File System) for this site: survives reloads, works offline${persisted === false ? ', though the browser may evict it when the disk runs low' : ''}. Usage counts everything the site stores, the offline copy of the app included.`}
      </p>
    </div>
  );
}

function EntryRow({ e }: { e: StoredEntry }) {
  const busy = useApp((s) => s.storage.busy[e.id]);
  const load = useApp((s) => s.loadStored);
  const remove = useApp((s) => s.removeStored);
  const loadedName = useApp((s) => s.model.info?.name);
  const blocked = useApp((s) => s.model.status === 'loading' || s.chat.streaming !== null);
  const [confirm, setConfirm] = useState(false);
  const meta = e.meta ?? {};
  const base = typeof meta.baseModel === 'string' ? meta.baseModel : null;
  const mismatch = e.kind === 'variant' && base !== null && loadedName !== undefined && base !== loadedName;
  return (
    <li className="stored" data-testid="stored-entry" data-id={e.id} data-kind={e.kind} data-name={e.name}>
      <div className="stored-main">
        <div className="stored-name">{e.name}</div>
        <div className="muted small">
          {formatBytes(e.bytes)} · {when(e.createdAt)}
          {e.kind === 'variant' && base && ` · from ${base}`}
        </div>
        {mismatch && <div className="warn-text small">Made from {base}; load that model first.</div>}
      </div>
      <div className="stored-actions">
        {confirm ? (
          <>
            <button
              type="button"
              className="mini-button danger"
              onClick={() => void remove(e.id)}
              disabled={!!busy}
              data-testid="stored-confirm-delete"
            >
              {busy === 'deleting' ? 'Deleting…' : 'Delete'}
            </button>
            <button type="button" className="mini-button" onClick={() => setConfirm(false)}>
              Keep
            </button>
          </>
        ) : (
          <>
            <button
              type="button"
              className="mini-button primary"
              onClick={() => void load(e.id)}
              disabled={!!busy || blocked || mismatch}
              data-testid="stored-load"
            >
              {busy === 'loading' ? 'Loading…' : 'Load'}
            </button>
            <button
              type="button"
              className="mini-button"
              onClick={() => setConfirm(true)}
              disabled={!!busy}
              aria-label={`Delete ${e.name}`}
              data-testid="stored-delete"
            >
              Delete
            </button>
          </>
        )}
      </div>
    </li>
  );
}

function Section({ title, entries, empty }: { title: string; entries: StoredEntry[]; empty: string }) {
  return (
    <section className="drawer-section">
      <h3>
        {title} <span className="muted">({entries.length})</span>
      </h3>
      {entries.length ? (
        <ul className="stored-list">
          {entries.map((e) => (
            <EntryRow key={e.id} e={e} />
          ))}
        </ul>
      ) : (
        <p className="muted small">{empty}</p>
      )}
    </section>
  );
}

export function ModelsDrawer() {
  const open = useApp((s) => s.storage.drawerOpen);
  const setOpen = useApp((s) => s.setDrawerOpen);
  const entries = useApp((s) => s.storage.entries);
  const status = useApp((s) => s.storage.status);
  const recovery = useApp((s) => s.storage.recovery);
  useEffect(() => {
    if (!open) return;
    const onKey = (ev: KeyboardEvent) => ev.key === 'Escape' && setOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, setOpen]);
  if (!open) return null;
  return (
    <div className="drawer-layer">
      <div className="drawer-backdrop" onClick={() => setOpen(false)} aria-hidden />
      <aside
        className="drawer"
        role="dialog"
        aria-modal="true"
        aria-labelledby="drawer-title"
        data-testid="models-drawer"
        data-status={status}
      >
        <div className="drawer-head">
          <h2 id="drawer-title">Stored models</h2>
          <button
            type="button"
            className="icon-button"
            onClick={() => setOpen(false)}
            aria-label="Close the Models drawer"
            data-testid="models-drawer-close"
          >
            ×
          </button>
        </div>
        <Quota />
        {recovery && <p className="warn-text small">{recovery.message}</p>}
        <Section
          title="Models"
          entries={entries.filter((e) => e.kind === 'model')}
          empty="Single-file models you load with Bring your own model (Chat tab) are kept here."
        />
        <Section
          title="Quantized variants"
          entries={entries.filter((e) => e.kind === 'variant')}
          empty="Variants you make in the Quantize tab are kept here and load again without re-quantizing."
        />
      </aside>
    </div>
  );
}

/** Header: the offline badge and the button that opens the drawer (with the number stored). */
export function HeaderActions() {
  const count = useApp((s) => s.storage.entries.length);
  const setOpen = useApp((s) => s.setDrawerOpen);
  return (
    <>
      <OfflineBadge />
      <button type="button" className="header-button" onClick={() => setOpen(true)} data-testid="models-drawer-open">
        Stored models{count > 0 && <span className="tab-count">{count}</span>}
      </button>
    </>
  );
}

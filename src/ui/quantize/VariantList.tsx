// The variants held side by side: size, bits per weight, time taken, perplexity once evaluated;
// chat with one, compare it in A/B, export it (GGUF, GPTQ safetensors, .nibble), delete it.
import { Fragment, useState } from 'react';
import type { VariantInfo } from '../../state/lab-types.ts';
import { BASE_VARIANT } from '../../state/lab-constants.ts';
import { useApp } from '../../state/react.tsx';
import { formatBytes } from '../common/format.ts';
import { ExportControl } from './ExportControl.tsx';
import { VariantDetails } from './VariantDetails.tsx';

const ORIGIN: Record<VariantInfo['origin'], string> = {
  loaded: 'loaded',
  quantized: 'quantized here',
  imported: 'from storage',
};

function Row({
  v,
  fp32Bytes,
  open,
  onToggle,
}: {
  v: VariantInfo;
  fp32Bytes: number;
  open: boolean;
  onToggle: () => void;
}) {
  const drift = useApp((s) => s.charts.drift[v.id]);
  const saved = useApp((s) => s.variants.saved[v.id]);
  const del = useApp((s) => s.deleteVariant);
  const setChatVariant = useApp((s) => s.setChatVariant);
  const setAb = useApp((s) => s.setAb);
  const setTab = useApp((s) => s.setTab);
  const evaluate = useApp((s) => s.computeDrift);
  const busy = useApp((s) => s.chat.streaming !== null || s.ab.streaming);
  const base = v.id === BASE_VARIANT;
  const layers = v.report?.layers ?? [];
  const loss = layers.reduce((n, l) => n + (l.gptqLoss ?? 0), 0);
  return (
    <tr data-testid="variant-row" data-variant={v.id}>
      <td>
        <div className="strong" data-testid="variant-label">
          {v.label}
        </div>
        <div className="muted small">
          {!base && (
            <button type="button" className="link-button inline" onClick={onToggle} aria-expanded={open}>
              {open ? 'hide layers' : 'layers'}
            </button>
          )}
          {!base && ' · '}
          {ORIGIN[v.origin]}
          {saved === 'saved' && ' · stored'}
          {saved === 'saving' && ' · storing…'}
          {saved === 'error' && <span className="error-text"> · not stored</span>}
        </div>
      </td>
      <td className="num" data-testid="variant-bits">
        {v.bitsPerWeight.toFixed(2)}
      </td>
      <td className="num" title={`${v.weightBytes} bytes; linears ${v.linearBytes} bytes`}>
        {formatBytes(v.weightBytes)}
        {!base && <div className="muted small">{((100 * v.weightBytes) / fp32Bytes).toFixed(0)} % of fp32</div>}
      </td>
      <td className="num">
        {base ? '—' : v.seconds < 1 ? `${(v.seconds * 1000).toFixed(0)} ms` : `${v.seconds.toFixed(2)} s`}
      </td>
      <td className="num">
        {drift?.status === 'ready' && drift.data ? (
          drift.data.ppl.toFixed(3)
        ) : drift?.status === 'loading' ? (
          '…'
        ) : (
          <button type="button" className="link-button" onClick={() => void evaluate(v.id)}>
            evaluate
          </button>
        )}
        {loss > 0 && <div className="muted small">GPTQ loss {loss.toPrecision(3)}</div>}
      </td>
      <td>
        <div className="actions">
          <button
            type="button"
            className="mini-button"
            disabled={busy}
            onClick={() => (setChatVariant(v.id), setAb({ enabled: false }), setTab('chat'))}
          >
            Chat
          </button>
          {!base && (
            <button
              type="button"
              className="mini-button"
              disabled={busy}
              onClick={() => (setAb({ enabled: true, a: BASE_VARIANT, b: v.id }), setTab('chat'))}
              data-testid="variant-ab"
            >
              A/B vs fp32
            </button>
          )}
          <ExportControl v={v} />
          {!base && (
            <button
              type="button"
              className="mini-button danger"
              disabled={busy}
              onClick={() => void del(v.id)}
              data-testid="variant-delete"
              aria-label={`Delete ${v.label}`}
            >
              Delete
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}

export function VariantList() {
  const list = useApp((s) => s.variants.list);
  const [open, setOpen] = useState<string | null>(null);
  const fp32 = list.find((v) => v.id === BASE_VARIANT)?.weightBytes ?? 1;
  return (
    <section className="card" aria-labelledby="variants-title" data-testid="variants">
      <div className="card-head">
        <h2 id="variants-title">Variants of the loaded model</h2>
        <span className="muted small">{list.length ? `${list.length} held in the engine` : ''}</span>
      </div>
      {list.length === 0 ? (
        <p className="muted">No model loaded.</p>
      ) : (
        <table className="data-table variants-table">
          <thead>
            <tr>
              <th>Variant</th>
              <th className="num">Bits / weight</th>
              <th className="num">Size</th>
              <th className="num">Time</th>
              <th className="num">Perplexity</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <Fragment key={v.id}>
                <Row
                  v={v}
                  fp32Bytes={fp32}
                  open={open === v.id}
                  onToggle={() => setOpen(open === v.id ? null : v.id)}
                />
                {open === v.id && (
                  <tr className="details-row">
                    <td colSpan={6}>
                      <VariantDetails v={v} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      {list.length === 1 && (
        <p className="hint">
          Pick a method on the left and press Quantize: each variant stays here beside fp32, to chart, chat with and
          compare.
        </p>
      )}
    </section>
  );
}

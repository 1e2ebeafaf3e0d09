// A chart's frame: title, the one-line caption saying how to read it, status, and export as
// PNG (the chart SVGs drawn on a canvas) and JSON (the numbers it shows).
import { useRef, useState, type ReactNode } from 'react';
import { downloadBlob, downloadJson, slug, svgsToPng } from './export.ts';
import './charts.css';

interface Props {
  title: string;
  caption: string;
  testId: string;
  /** What the JSON export contains; null disables both exports (nothing drawn yet). */
  json: unknown;
  status?: ReactNode; // e.g. "computed on the GPU in 12 ms"
  controls?: ReactNode;
  children: ReactNode;
  wide?: boolean;
}

export function ChartCard({ title, caption, testId, json, status, controls, children, wide }: Props) {
  const body = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const png = async () => {
    setError(null);
    try {
      const svgs = [
        ...(body.current?.querySelectorAll<SVGSVGElement>('.recharts-wrapper > svg.recharts-surface') ?? []),
      ];
      if (!svgs.length) throw new Error('nothing is drawn yet');
      downloadBlob(`${slug(title)}.png`, await svgsToPng(svgs, title, caption));
    } catch (e) {
      setError(`PNG export failed: ${(e as Error).message}`);
    }
  };
  return (
    <section className={wide ? 'card chart-card wide' : 'card chart-card'} data-testid={testId} aria-label={title}>
      <div className="card-head">
        <h2>{title}</h2>
        <div className="chart-actions">
          <button
            type="button"
            className="mini-button"
            onClick={() => void png()}
            disabled={json === null}
            data-testid={`${testId}-png`}
          >
            PNG
          </button>
          <button
            type="button"
            className="mini-button"
            onClick={() => downloadJson(`${slug(title)}.json`, json)}
            disabled={json === null}
            data-testid={`${testId}-json`}
          >
            JSON
          </button>
        </div>
      </div>
      <p className="caption">{caption}</p>
      {controls && <div className="chart-controls">{controls}</div>}
      <div className="chart-body" ref={body}>
        {children}
      </div>
      {status && <div className="chart-status">{status}</div>}
      {error && <div className="chart-status error-text">{error}</div>}
    </section>
  );
}

/** Placeholder inside a chart body while there is nothing to draw. */
export function ChartEmpty({ children, height = 220 }: { children: ReactNode; height?: number }) {
  return (
    <div className="chart-empty" style={{ height }}>
      {children}
    </div>
  );
}

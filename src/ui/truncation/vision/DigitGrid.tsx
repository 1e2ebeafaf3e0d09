// The sample digits with the shown model's prediction under each: red when wrong, marked when
// the truncation flipped a digit the fp32 model got right.
import { useEffect, useRef } from 'react';

interface CellProps {
  pixels: Float32Array; // [h, w] in [0, 1]
  width: number;
  height: number;
}

function DigitCanvas({ pixels, width, height }: CellProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const g = ref.current?.getContext('2d');
    if (!g) return;
    const img = g.createImageData(width, height);
    for (let p = 0; p < width * height; p++) {
      const v = Math.round(Math.min(1, Math.max(0, pixels[p])) * 255);
      img.data[4 * p] = v;
      img.data[4 * p + 1] = v;
      img.data[4 * p + 2] = v;
      img.data[4 * p + 3] = 255;
    }
    g.putImageData(img, 0, 0);
  }, [pixels, width, height]);
  return <canvas ref={ref} width={width} height={height} className="digit-canvas" aria-hidden />;
}

export interface DigitGridProps {
  samples: { indices: number[]; pixels: Float32Array; labels: number[] };
  width: number;
  height: number;
  predictions: Uint8Array | null; // of the shown point, for the whole data set
  reference: Uint8Array | null; // fp32 predictions
  pending: boolean; // the slider's point is still being computed
}

const label = (p: number | undefined): string => (p === undefined ? '…' : p === 255 ? '?' : String(p));

export function DigitGrid({ samples, width, height, predictions, reference, pending }: DigitGridProps) {
  const hw = width * height;
  return (
    <ol
      className={pending ? 'digit-grid pending' : 'digit-grid'}
      data-testid="digit-grid"
      aria-label="Sample digits with predicted labels"
    >
      {samples.indices.map((idx, i) => {
        const truth = samples.labels[i];
        const pred = predictions?.[idx];
        const wrong = pred !== undefined && pred !== truth;
        const flipped = wrong && reference !== null && reference[idx] === truth;
        const cls = ['digit', wrong ? 'wrong' : pred !== undefined ? 'right' : '', flipped ? 'flipped' : '']
          .filter(Boolean)
          .join(' ');
        return (
          <li
            key={idx}
            className={cls}
            data-testid="digit-cell"
            data-label={truth}
            data-pred={pred ?? ''}
            data-wrong={wrong}
            title={`#${idx}: label ${truth}, predicted ${label(pred)}${flipped ? ' (fp32 had it right)' : ''}`}
          >
            <DigitCanvas pixels={samples.pixels.subarray(i * hw, (i + 1) * hw)} width={width} height={height} />
            <span className="digit-pred">{label(pred)}</span>
          </li>
        );
      })}
    </ol>
  );
}

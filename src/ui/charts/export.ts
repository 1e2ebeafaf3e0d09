// Chart export: JSON of what a chart shows, and PNG by serializing the chart's SVG(s) onto a
// canvas (title and caption above). Charts use literal colours, so the SVG renders standalone.

export function downloadBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** JSON with non-finite numbers as null (JSON has no ∞). */
export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}

export const downloadJson = (name: string, data: unknown): void =>
  downloadBlob(name, new Blob([toJson(data)], { type: 'application/json' }));

/** A standalone copy of an inline SVG: namespace, size and fonts set on the root. */
export function standaloneSvg(svg: SVGSVGElement): { text: string; width: number; height: number } {
  const box = svg.getBoundingClientRect();
  const width = Math.max(1, Math.round(box.width || Number(svg.getAttribute('width')) || 600));
  const height = Math.max(1, Math.round(box.height || Number(svg.getAttribute('height')) || 300));
  const clone = svg.cloneNode(true) as SVGSVGElement;
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  // SVG presentation attributes, not a style attribute: the page's CSP forbids inline styles.
  clone.setAttribute('font-family', 'Inter, system-ui, sans-serif');
  clone.setAttribute('font-size', '12px');
  return { text: new XMLSerializer().serializeToString(clone), width, height };
}

function loadImage(svgText: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the chart SVG could not be drawn'));
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  });
}

/** Words of `text` in lines no wider than `max` pixels (as `measure` says). */
export function wrapWords(text: string, max: number, measure: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next) > max) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

const CAPTION_FONT = '12px Inter, system-ui, sans-serif';
const LINE = 16;

/** The SVGs stacked under a title and caption, on white, at 2× for sharpness. */
export async function svgsToPng(svgs: SVGSVGElement[], title: string, caption: string, scale = 2): Promise<Blob> {
  const parts = svgs.map(standaloneSvg);
  const pad = 16;
  const width = Math.max(320, ...parts.map((p) => p.width)) + 2 * pad;
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d');
  if (!g) throw new Error('no 2D canvas here');
  g.font = CAPTION_FONT;
  const lines = wrapWords(caption, width - 2 * pad, (s) => g.measureText(s).width);
  const head = pad + 24 + lines.length * LINE + 8;
  const height = head + parts.reduce((n, p) => n + p.height + 8, 0) + pad;
  canvas.width = width * scale;
  canvas.height = height * scale;
  g.scale(scale, scale); // (resizing the canvas reset the context)
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = '#1b1f24';
  g.font = '600 15px Inter, system-ui, sans-serif';
  g.fillText(title, pad, pad + 12);
  g.fillStyle = '#667085';
  g.font = CAPTION_FONT;
  lines.forEach((l, i) => g.fillText(l, pad, pad + 32 + i * LINE));
  let y = head;
  for (const p of parts) {
    g.drawImage(await loadImage(p.text), pad, y, p.width, p.height);
    y += p.height + 8;
  }
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'),
  );
}

/** File-name safe slug: "Weight histogram" → "weight-histogram". */
export const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
